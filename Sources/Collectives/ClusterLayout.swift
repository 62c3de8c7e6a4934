import StraitsWire

/// Who is where in a plan, and the groups of each level of the hierarchical all-reduce:
/// ranks are numbered region → host → device, so `hier` runs, for device `d` of each worker,
/// a reduce-scatter among the region's hosts, an all-reduce of the owned part among the
/// regions (one per host position), and the all-gather back.
///
/// Workers may bring different numbers of devices. Then the hierarchical all-reduce runs
/// `streams` streams, as many as the worker with the fewest devices has: inside each worker the
/// shared-memory level cuts the buffer into that many slices, owned by its first devices, and
/// the other devices take part in the shared-memory levels only.
public struct ClusterLayout: Sendable, Equatable {
    public let regions: [String]
    /// The devices of a worker whose plan entry does not say otherwise.
    public let devicesPerWorker: Int
    public let workers: [ControlMessage.PlanWorker]
    /// Each worker's devices, in `workers` order.
    public let devices: [Int]
    public let ranks: Int
    /// Streams of the hierarchical all-reduce: the fewest devices of any worker.
    public let streams: Int

    public init(plan: ControlMessage.Plan) {
        self.init(regions: plan.regions, devicesPerWorker: plan.devicesPerWorker, workers: plan.workers)
    }

    public init(regions: [String], devicesPerWorker: Int, workers: [ControlMessage.PlanWorker]) {
        self.regions = regions
        self.devicesPerWorker = devicesPerWorker
        self.workers = workers
        devices = workers.map { $0.devices ?? devicesPerWorker }
        ranks = devices.reduce(0, +)
        streams = devices.min() ?? devicesPerWorker
    }

    /// Whether every worker has `devicesPerWorker` devices.
    public var isUniformDevices: Bool { devices.allSatisfy { $0 == devicesPerWorker } }

    public func worker(ofRank rank: Int) -> Int {
        if isUniformDevices { return rank / devicesPerWorker }
        // The last worker whose first rank is at or below `rank`.
        var low = 0
        var high = workers.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if workers[middle].firstRank <= rank { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// A rank's device in its worker.
    public func device(ofRank rank: Int) -> Int { rank - workers[worker(ofRank: rank)].firstRank }

    /// The ranks the hierarchical plan's barrier and streams run over for `device`: device
    /// `device` of every worker; a device beyond the streams only itself.
    public func stream(device: Int, rank: Int) -> [Int] {
        device < streams ? workers.indices.map { self.rank(worker: $0, device: device) } : [rank]
    }

    /// Ranks of the region's workers.
    public func ranks(inRegion region: Int) -> Int {
        workers.indices.filter { workers[$0].region == region }.reduce(0) { $0 + devices[$1] }
    }

    public func region(ofRank rank: Int) -> Int { workers[worker(ofRank: rank)].region }

    public func rank(worker: Int, device: Int) -> Int { workers[worker].firstRank + device }

    /// Workers of each region, in host order.
    public var workersByRegion: [[Int]] {
        regions.indices.map { region in workers.indices.filter { workers[$0].region == region } }
    }

    /// Whether every region has the same number of hosts (then each host's segment meets one
    /// segment of every other region between regions).
    public var isUniform: Bool { Set(workersByRegion.map(\.count)).count == 1 }

    /// Device `device`'s stream among the hosts of `worker`'s region (region level).
    public func regionGroup(worker: Int, device: Int) -> [Int] {
        workersByRegion[workers[worker].region].map { rank(worker: $0, device: device) }
    }

    /// Device `device`'s stream among the regions, at `worker`'s host position (wan level).
    public func wanGroup(worker: Int, device: Int) -> [Int] {
        let position = workersByRegion[workers[worker].region].firstIndex(of: worker)!
        return workersByRegion.map { rank(worker: $0[position], device: device) }
    }
}
