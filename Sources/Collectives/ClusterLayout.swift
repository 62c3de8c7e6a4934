import StraitsWire

/// Who is where in a plan, and the groups of each level of the hierarchical all-reduce:
/// ranks are numbered region → host → device, so `hier` runs, for device `d` of each worker,
/// a reduce-scatter among the region's hosts, an all-reduce of the owned part among the
/// regions (one per host position), and the all-gather back.
public struct ClusterLayout: Sendable, Equatable {
    public let regions: [String]
    public let devicesPerWorker: Int
    public let workers: [ControlMessage.PlanWorker]

    public init(plan: ControlMessage.Plan) {
        regions = plan.regions
        devicesPerWorker = plan.devicesPerWorker
        workers = plan.workers
    }

    public init(regions: [String], devicesPerWorker: Int, workers: [ControlMessage.PlanWorker]) {
        self.regions = regions
        self.devicesPerWorker = devicesPerWorker
        self.workers = workers
    }

    public var ranks: Int { workers.count * devicesPerWorker }

    public func worker(ofRank rank: Int) -> Int { rank / devicesPerWorker }

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
