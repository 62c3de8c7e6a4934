import StraitsWire

/// Collects the workers' results of the step in flight: one `step_done` from each worker in the
/// plan, for that step and no other.
public struct StepCollector: Sendable {
    /// What became of a result.
    public enum Outcome: Equatable, Sendable {
        /// Taken; `complete` once every worker's is in.
        case accepted(complete: Bool)
        /// Not for the step in flight, or from a peer that is not in the plan.
        case dropped(reason: String)
    }

    /// Workers in the plan.
    public let workers: Int
    /// The step in flight (-1 before the first).
    public private(set) var step = -1
    public private(set) var results: [Int: ControlMessage.StepDone] = [:]

    public init(workers: Int) {
        self.workers = workers
    }

    /// A new step is sent out: results of earlier ones are no longer taken.
    public mutating func begin(step: Int) {
        self.step = step
        results = [:]
    }

    /// A worker's result; `worker` is its place in the plan (nil: not in it), `label` how logs name it.
    public mutating func onStepDone(_ done: ControlMessage.StepDone, worker: Int?, label: String) -> Outcome {
        guard let worker, worker >= 0, worker < workers, done.step == step else {
            return .dropped(reason: "step_done for step \(done.step) from \(label) (running step \(step))")
        }
        guard results[worker] == nil else {
            return .dropped(reason: "a second step_done for step \(done.step) from \(label)")
        }
        results[worker] = done
        return .accepted(complete: isComplete)
    }

    public var isComplete: Bool { results.count == workers }

    /// Workers in the plan whose result has not come, in plan order.
    public var missing: [Int] { (0..<workers).filter { results[$0] == nil } }
}

/// A finished step summed over its ranks: the slowest rank's times per level, wrong elements,
/// losses, bytes and per-region sums.
public struct StepTally: Sendable {
    /// A region's devices in one step.
    public struct RegionSums: Equatable, Sendable {
        public var computeS = 0.0
        public var commS = 0.0
        public var devices = 0
        public init() {}
    }

    public var commS = 0.0, hostS = 0.0, regionS = 0.0, wanS = 0.0
    public var wrong = 0
    /// The plan the workers ran (as the last worker named it).
    public var plan = ""
    public var regionSums: [Int: RegionSums] = [:]
    /// Training steps: each rank's loss, in worker then device order.
    public var losses: [(rank: Int, loss: Double)] = []
    /// Bytes all ranks sent to other regions, and inside their regions.
    public var wanBytes = 0, lanBytes = 0
    /// Bytes each region's ranks sent to other regions.
    public var regionWanBytes: [Int: Int] = [:]
    /// At the end of a schedule: each rank's CRC32C of its parameters.
    public var parameterChecksums: [Int: UInt32] = [:]
    /// The earliest start of any rank's timed part to the latest end, seconds, where every rank
    /// said when (cluster time); nil otherwise.
    public var makespanS: Double?

    /// Sums `results` (by worker place in the plan); `regionOf` gives a worker's region index.
    public init(results: [Int: ControlMessage.StepDone], regionOf: (Int) -> Int) {
        var earliest = Int.max
        var latest = Int.min
        var timed = true
        for (worker, done) in results.sorted(by: { $0.key < $1.key }) {
            let region = regionOf(worker)
            plan = done.plan
            for device in done.devices {
                commS = max(commS, device.commS)
                hostS = max(hostS, device.hostS)
                regionS = max(regionS, device.regionS)
                wanS = max(wanS, device.wanS)
                wrong += device.wrong
                regionSums[region, default: RegionSums()].computeS += device.computeS
                regionSums[region, default: RegionSums()].commS += device.commS
                regionSums[region, default: RegionSums()].devices += 1
                if let loss = device.loss { losses.append((device.rank, loss)) }
                if let crc = device.parametersChecksum { parameterChecksums[device.rank] = crc }
                wanBytes += device.wanBytes ?? 0
                regionWanBytes[region, default: 0] += device.wanBytes ?? 0
                lanBytes += device.lanBytes ?? 0
                if let start = device.startNs, let end = device.endNs {
                    earliest = min(earliest, start)
                    latest = max(latest, end)
                } else {
                    timed = false
                }
            }
        }
        if timed && latest >= earliest { makespanS = Double(latest - earliest) / 1e9 }
    }
}
