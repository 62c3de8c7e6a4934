import Config
import Telemetry

/// What each schedule of a training job cost and reached, step by step, and the figures the
/// summary reports from it: final loss, time and WAN bytes to the target loss, WAN bytes
/// against DDP, and compute utilisation per region.
public struct TrainingLedger {
    public struct Step {
        /// Wall-clock time of the step, as the coordinator saw it (send to last result).
        public let wall: Double
        /// Mean of the ranks' minibatch losses.
        public let loss: Double
        public let wanBytes: Int
        public let lanBytes: Int
        /// Per region: the devices' summed compute time and how many devices.
        public let regionCompute: [Int: (compute: Double, devices: Int)]
        /// Per region: bytes its ranks sent to other regions.
        public var regionWanBytes: [Int: Int] = [:]

        public init(
            wall: Double, loss: Double, wanBytes: Int, lanBytes: Int,
            regionCompute: [Int: (compute: Double, devices: Int)], regionWanBytes: [Int: Int] = [:]
        ) {
            self.wall = wall
            self.loss = loss
            self.wanBytes = wanBytes
            self.lanBytes = lanBytes
            self.regionCompute = regionCompute
            self.regionWanBytes = regionWanBytes
        }
    }

    public struct Run {
        public let schedule: TrainingSpec.Schedule
        public var steps: [Step] = []

        public var wall: Double { steps.reduce(0) { $0 + $1.wall } }
        public var wanBytes: Int { steps.reduce(0) { $0 + $1.wanBytes } }
        public var lanBytes: Int { steps.reduce(0) { $0 + $1.lanBytes } }
    }

    public let spec: TrainingSpec
    public let regions: [String]
    public private(set) var runs: [Run] = []

    public init(spec: TrainingSpec, regions: [String]) {
        self.spec = spec
        self.regions = regions
    }

    public mutating func begin(_ schedule: TrainingSpec.Schedule) {
        runs.append(Run(schedule: schedule))
    }

    public mutating func record(_ step: Step) {
        runs[runs.count - 1].steps.append(step)
    }

    /// Mean loss over the trailing window ending at step `end` (exclusive); nil before a whole window.
    public func windowLoss(_ run: Run, end: Int) -> Double? {
        let window = min(spec.lossWindow, run.schedule.steps)
        guard end >= window, end <= run.steps.count else { return nil }
        return run.steps[(end - window)..<end].reduce(0) { $0 + $1.loss } / Double(window)
    }

    public func finalLoss(_ run: Run) -> Double? { windowLoss(run, end: run.steps.count) }

    /// The job's target loss, or what the first schedule ended at.
    public var target: Double? {
        if let target = spec.targetLoss { return target }
        guard let first = runs.first, first.steps.count == first.schedule.steps else { return nil }
        return finalLoss(first)
    }

    /// The first step whose trailing window mean is at or below `target`: steps taken, wall
    /// time and WAN bytes up to and including it.
    public func reached(_ run: Run, target: Double) -> (steps: Int, seconds: Double, wanBytes: Int)? {
        var seconds = 0.0
        var bytes = 0
        for (index, step) in run.steps.enumerated() {
            seconds += step.wall
            bytes += step.wanBytes
            // A small tolerance: the baseline's own final window must count as reaching itself.
            if let loss = windowLoss(run, end: index + 1), loss <= target * (1 + 1e-9) {
                return (index + 1, seconds, bytes)
            }
        }
        return nil
    }

    /// Per region: the devices' compute time over their wall-clock time (devices × run wall).
    public func computeUtilisation(_ run: Run) -> [String: Double] {
        var compute: [Int: Double] = [:]
        var devices: [Int: Int] = [:]
        for step in run.steps {
            for (region, sums) in step.regionCompute {
                compute[region, default: 0] += sums.compute
                devices[region] = sums.devices
            }
        }
        let wall = run.wall
        var result: [String: Double] = [:]
        for (region, name) in regions.enumerated() {
            let d = Double(devices[region] ?? 0)
            result[name] = d > 0 && wall > 0 ? (compute[region] ?? 0) / (d * wall) : 0
        }
        return result
    }

    /// The DDP baseline: the first uncompressed ddp schedule, else the first schedule.
    public var baseline: Run? {
        runs.first { $0.schedule.sync == .ddp && $0.schedule.compression == .none } ?? runs.first
    }

    public func json(samplesPerStep: Int) -> JSONValue {
        let target = self.target
        let baseline = self.baseline
        let baselineReached = baseline.flatMap { run in target.flatMap { reached(run, target: $0) } }
        return .object([
            ("target_loss", target.map { .double($0) } ?? .null),
            (
                "target_from",
                .string(
                    spec.targetLoss != nil
                        ? "job" : "final loss of \(runs.first?.schedule.name ?? "the first schedule")")
            ),
            ("baseline", baseline.map { .string($0.schedule.name) } ?? .null),
            (
                "schedules",
                .array(
                    runs.map { run in
                        let hit = target.flatMap { reached(run, target: $0) }
                        let utilisation = computeUtilisation(run)
                        let wall = run.wall
                        func ratio(_ a: Double?, _ b: Double?) -> JSONValue {
                            guard let a, let b, b > 0 else { return .null }
                            return .double(a / b)
                        }
                        var fields: [(String, JSONValue)] = []
                        fields += [("name", .string(run.schedule.name)), ("sync", .string(run.schedule.sync.rawValue))]
                        fields += [
                            ("every", .int(run.schedule.every)),
                            ("compression", .string(run.schedule.compression.rawValue)),
                        ]
                        fields += [
                            ("outer_lr", .double(run.schedule.outerLearningRate)),
                            ("outer_momentum", .double(run.schedule.outerMomentum)),
                        ]
                        fields += [("steps", .int(run.steps.count)), ("steps_planned", .int(run.schedule.steps))]
                        fields += [("wall_s", .double(wall))]
                        fields += [("first_loss", run.steps.first.map { .double($0.loss) } ?? .null)]
                        fields += [("final_loss", finalLoss(run).map { .double($0) } ?? .null)]
                        fields += [("reached_target", .bool(hit != nil))]
                        fields += [("steps_to_target", hit.map { .int($0.steps) } ?? .null)]
                        fields += [("time_to_target_s", hit.map { .double($0.seconds) } ?? .null)]
                        fields += [("wan_bytes", .int(run.wanBytes)), ("lan_bytes", .int(run.lanBytes))]
                        fields += [("wan_bytes_to_target", hit.map { .int($0.wanBytes) } ?? .null)]
                        let perStep = Double(run.wanBytes) / Double(max(run.steps.count, 1))
                        let basePerStep = baseline.map { Double($0.wanBytes) / Double(max($0.steps.count, 1)) }
                        fields += [("wan_bytes_vs_ddp", ratio(perStep, basePerStep))]
                        fields += [
                            (
                                "wan_bytes_to_target_vs_ddp",
                                ratio(hit.map { Double($0.wanBytes) }, baselineReached.map { Double($0.wanBytes) })
                            )
                        ]
                        fields += [("time_to_target_vs_ddp", ratio(hit?.seconds, baselineReached?.seconds))]
                        fields += [
                            (
                                "samples_per_s",
                                .double(
                                    wall > 0 ? Double(run.steps.count * samplesPerStep * totalDevices(run)) / wall : 0)
                            )
                        ]
                        fields += [
                            ("compute_utilisation", .object(regions.map { ($0, .double(utilisation[$0] ?? 0)) }))
                        ]
                        fields += [
                            (
                                "regions",
                                .array(
                                    regions.indices.map { region in
                                        let devices = run.steps.first?.regionCompute[region]?.devices ?? 0
                                        let sent = run.steps.reduce(0) { $0 + ($1.regionWanBytes[region] ?? 0) }
                                        return .object([
                                            ("region", .string(regions[region])), ("devices", .int(devices)),
                                            (
                                                "samples_per_s",
                                                .double(
                                                    wall > 0
                                                        ? Double(run.steps.count * samplesPerStep * devices) / wall : 0)
                                            ),
                                            ("wan_tx_bytes", .int(sent)),
                                            ("wan_tx_gbps", .double(wall > 0 ? Double(sent) * 8 / wall / 1e9 : 0)),
                                            ("compute_utilisation", .double(utilisation[regions[region]] ?? 0)),
                                        ])
                                    })
                            )
                        ]
                        return .object(fields)
                    })
            ),
        ])
    }

    private func totalDevices(_ run: Run) -> Int {
        run.steps.first?.regionCompute.values.reduce(0) { $0 + $1.devices } ?? 0
    }
}
