import Collectives
import StraitsWire
import Testing

/// The hierarchical all-reduce over regions of different sizes: each region's reduce-scatter,
/// the pieces between regions (cut at every region's segment boundaries), each region's
/// all-gather, phase after phase over the in-memory transport, exact on every rank.
@Suite("hierarchical all-reduce across regions of different sizes")
struct UnevenRegionsTests {
    static func layout(_ hosts: [Int]) -> ClusterLayout {
        var workers: [ControlMessage.PlanWorker] = []
        for (region, count) in hosts.enumerated() {
            for host in 0..<count {
                workers.append(
                    .init(worker: workers.count, region: region, host: host, firstRank: workers.count, endpoints: []))
            }
        }
        return ClusterLayout(regions: hosts.indices.map { "r\($0)" }, devicesPerWorker: 1, workers: workers)
    }

    /// Elements of every rank that are not the exact sum.
    static func wrong(_ transport: InMemoryTransport, ranks: Int, count: Int) -> Int {
        (0..<ranks).reduce(0) { wrong, rank in
            wrong
                + (0..<count).filter { transport.element(rank, $0) != ExactPattern.sum(index: $0, ranks: ranks) }.count
        }
    }

    @Test(
        "regions of 2 and 1, 3 and 2, 1, 2 and 3, 4 and 3 hosts; ring, rhd and rd between regions; sizes 0 to primes; exact",
        arguments: [[2, 1], [3, 2], [1, 2, 3], [4, 3], [2, 2]])
    func exact(hosts: [Int]) throws {
        let layout = Self.layout(hosts)
        for algorithm in [AllReduceAlgorithm.ring, .rhd, .rd] {
            for count in [0, 1, 7, 1009, 4099] {
                let choice = ClusterPlanner.Choice(
                    hierarchical: true, regionChunkBytes: 256, algorithm: algorithm, chunkBytes: 512,
                    regionHosts: hosts.max()!, regions: hosts.count, devices: 1)
                let ranks = layout.ranks
                let phases = (0..<ranks).map { rank in
                    ClusterCollective.phases(
                        choice: choice, layout: layout, rank: rank, device: 0, count: count,
                        slice: ElementRange(offset: 0, count: count))
                }
                var transport = InMemoryTransport(ranks: ranks, elementCount: count, misalignment: 1) {
                    ExactPattern.value(rank: $0, index: $1, ranks: ranks)
                }
                defer { transport.release() }
                for phase in 0..<phases[0].count {
                    try transport.run(phases.map { $0[phase].schedule }, seed: UInt64(count + phase))
                }
                let wrong = Self.wrong(transport, ranks: ranks, count: count)
                #expect(wrong == 0, "\(hosts) hosts, \(algorithm), \(count) elements: \(wrong) wrong")
            }
        }
    }

    /// Workers of `devices[region][host]` devices each, ranks numbered region → host → device.
    static func layout(devices: [[Int]]) -> ClusterLayout {
        var workers: [ControlMessage.PlanWorker] = []
        var firstRank = 0
        for (region, hosts) in devices.enumerated() {
            for (host, count) in hosts.enumerated() {
                var worker = ControlMessage.PlanWorker(
                    worker: workers.count, region: region, host: host, firstRank: firstRank, endpoints: [])
                if count != 2 { worker.devices = count }
                workers.append(worker)
                firstRank += count
            }
        }
        return ClusterLayout(regions: devices.indices.map { "r\($0)" }, devicesPerWorker: 2, workers: workers)
    }

    @Test(
        "hosts of different device counts (streams: the fewest): the shared-memory levels, the region and WAN phases and back, exact on every rank",
        arguments: [[[2, 3], [1]], [[3], [2, 2]], [[1, 4], [3], [2, 2, 2]], [[4, 4], [3, 5]]])
    func mixedDevices(devices: [[Int]]) throws {
        let layout = Self.layout(devices: devices)
        #expect(layout.streams == devices.flatMap { $0 }.min())
        #expect(layout.ranks == devices.flatMap { $0 }.reduce(0, +))
        for rank in 0..<layout.ranks {
            let worker = layout.worker(ofRank: rank)
            #expect(layout.rank(worker: worker, device: layout.device(ofRank: rank)) == rank)
        }
        let ranks = layout.ranks
        for count in [0, 5, 1009] {
            let choice = ClusterPlanner.Choice(
                hierarchical: true, regionChunkBytes: 256, algorithm: .ring, chunkBytes: 512,
                regionHosts: devices.map(\.count).max()!, regions: devices.count, devices: layout.streams)
            var transport = InMemoryTransport(ranks: ranks, elementCount: count, misalignment: 0) {
                ExactPattern.value(rank: $0, index: $1, ranks: ranks)
            }
            defer { transport.release() }
            // The shared-memory levels inside each worker: each slice s (s < streams) between
            // its owner, device s, and every other device: summed into the owner, or copied back.
            func sharedMemory(gather: Bool) {
                for worker in layout.workers.indices {
                    for slice in 0..<layout.streams {
                        let range = ClusterCollective.slice(device: slice, devices: layout.streams, count: count)
                        let owner = transport.base(layout.rank(worker: worker, device: slice))
                            .assumingMemoryBound(to: Float.self)
                        for device in 0..<layout.devices[worker] where device != slice {
                            let other = transport.base(layout.rank(worker: worker, device: device))
                                .assumingMemoryBound(to: Float.self)
                            for index in range.offset..<range.end {
                                if gather { other[index] = owner[index] } else { owner[index] += other[index] }
                            }
                        }
                    }
                }
            }
            sharedMemory(gather: false)
            let phases = (0..<ranks).map { rank in
                ClusterCollective.phases(
                    choice: choice, layout: layout, rank: rank, device: layout.device(ofRank: rank), count: count,
                    slice: ClusterCollective.slice(
                        device: layout.device(ofRank: rank), devices: layout.streams, count: count))
            }
            #expect(Set(phases.map(\.count)).count == 1, "every rank runs as many phases")
            for phase in 0..<phases[0].count {
                try transport.run(phases.map { $0[phase].schedule }, seed: UInt64(count + phase))
            }
            sharedMemory(gather: true)
            let wrong = Self.wrong(transport, ranks: ranks, count: count)
            #expect(wrong == 0, "\(devices), \(count) elements: \(wrong) wrong")
        }
    }
}
