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
                var wrong = 0
                for rank in 0..<ranks {
                    for index in 0..<count
                    where transport.element(rank, index) != ExactPattern.sum(index: index, ranks: ranks) {
                        wrong += 1
                    }
                }
                #expect(wrong == 0, "\(hosts) hosts, \(algorithm), \(count) elements: \(wrong) wrong")
            }
        }
    }
}
