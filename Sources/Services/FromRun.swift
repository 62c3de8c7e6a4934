import Collectives
import Config
import Emulation
import Foundation
import StraitsWire
import Telemetry
import Training

/// `straits simulate --from-run RUN_DIR`: a local training run rebuilt from its run directory
/// and predicted by the model, schedule by schedule, beside what the run measured.
///
/// What is taken from the run: the topology and job, where each rank ran (plan.json), the costs
/// the coordinator measured for its model (the uncontended LAN, the gateways' hop, this
/// machine's cores: plan.json), the gradient buckets it used (events.jsonl), and each step's
/// compute and the rest of a step that is not communication (steps.jsonl: the slowest rank's
/// `compute_s`, and the step's wall time less its slowest rank's compute, wait and outer
/// synchronisation: the optimiser's update and the control round trip). What is predicted: the
/// communication a step waits for (each bucket's all-reduce, timed by `CollectiveSimulator`,
/// behind the backward pass), the outer synchronisations, and the bytes that cross regions.
public struct FromRun {
    public struct Schedule: Sendable, Equatable {
        public var name: String
        public var sync: String
        public var steps: Int
        public var measuredStepSeconds: Double
        public var predictedStepSeconds: Double
        public var measuredWANBytes: Double
        public var predictedWANBytes: Double
        /// Steps to the target loss, as the run counted them (nil: not reached).
        public var stepsToTarget: Int?
        public var measuredTimeToTargetSeconds: Double?
        /// Why this schedule is not predicted (nil: it is).
        public var unmodelled: String?

        public var predictedTimeToTargetSeconds: Double? {
            stepsToTarget.map { Double($0) * predictedStepSeconds }
        }
    }

    /// A bench job's size: its measured makespan against the rebuilt model's.
    public struct BenchSize: Sendable, Equatable {
        public var bytes: Int
        public var measuredSeconds: Double
        public var predictedSeconds: Double
    }

    public let runDirectory: String
    public let topology: ClusterTopology
    public let job: JobSpec
    public let layout: ClusterLayout
    let planner: ClusterPlanner
    let regional: ClusterPlanner
    let simulator: CollectiveSimulator
    /// Training runs: the job, its model and the buckets the run used.
    let training: (spec: TrainingSpec, model: MLP, buckets: [[Int]])?

    /// Reads a run directory.
    public init(runDirectory: String) throws {
        self.runDirectory = runDirectory
        func object(_ file: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: runDirectory + "/" + file))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw SimulateError("\(runDirectory)/\(file): not a JSON object")
            }
            return object
        }
        topology = try ClusterTopology.load(path: runDirectory + "/topology.yaml")
        let job = try JobSpec.load(path: runDirectory + "/job.yaml")
        self.job = job
        let plan = try object("plan.json")
        func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
        func link(_ value: Any?) throws -> LinkCost {
            guard let fields = value as? [String: Any], let alpha = number(fields["alpha_s"]),
                let beta = number(fields["beta_s_per_byte"])
            else { throw SimulateError("\(runDirectory)/plan.json: a link without alpha_s and beta_s_per_byte") }
            return LinkCost(alphaSeconds: alpha, betaSecondsPerByte: beta)
        }
        let names = topology.regions.map(\.name)
        let devices = (plan["devices_per_worker"] as? Int) ?? topology.regions[0].devicesPerHost
        let workers = try (plan["workers"] as? [[String: Any]] ?? []).enumerated().map { index, worker in
            guard let region = (worker["region"] as? String).flatMap({ names.firstIndex(of: $0) }) else {
                throw SimulateError("\(runDirectory)/plan.json: worker \(index) of an unknown region")
            }
            return ControlMessage.PlanWorker(
                worker: index, region: region, host: worker["host"] as? Int ?? 0, firstRank: index * devices,
                endpoints: [])
        }
        guard !workers.isEmpty else { throw SimulateError("\(runDirectory)/plan.json: no workers") }
        layout = ClusterLayout(regions: names, devicesPerWorker: devices, workers: workers)
        let links = plan["planner_links"] as? [String: Any] ?? [:]
        let lan = try link(links["lan"])
        let wan = try link(links["wan"])
        planner = ClusterPlanner(layout: layout, lan: lan, wan: wan, algo: job.algorithm, chunkBytes: job.chunkBytes)
        regional = ClusterPlanner(layout: layout, lan: lan, wan: wan, algo: .hier, chunkBytes: job.chunkBytes)
        let gateways = !(plan["gateways"] as? [Any] ?? []).isEmpty
        var declared: [Int: [Int: LinkSpec]]?
        if gateways {
            var byRegion: [Int: [Int: LinkSpec]] = [:]
            for link in topology.links {
                byRegion[names.firstIndex(of: link.from)!, default: [:]][names.firstIndex(of: link.to)!] = link.spec
            }
            declared = byRegion
        }
        var costs = CollectiveSimulator.Costs(
            lan: try link(plan["model_lan"]),
            gatewayHop: plan["gateway_hop"] is [String: Any] ? try link(plan["gateway_hop"]) : nil)
        if let cores = plan["model_cores"] as? [String: Any], let count = number(cores["cores"]),
            let reduce = number(cores["reduce_bytes_per_s"]), let copy = number(cores["copy_bytes_per_s"]),
            let checksum = number(cores["checksum_bytes_per_s"])
        {
            costs.cores = count
            costs.reduceSecondsPerByte = 1 / reduce
            costs.copySecondsPerByte = 1 / copy
            costs.checksumSecondsPerByte = cores["checksums"] as? Bool == false ? 0 : 1 / checksum
            costs.messageSeconds = number(cores["message_cpu_s"]) ?? 0
        }
        simulator = CollectiveSimulator(layout: layout, links: declared, costs: costs)
        guard let spec = job.training else {
            training = nil
            return
        }
        // The buckets the run used last (planned from measured compute, when it planned twice).
        let model = MLP(layers: spec.model.layers)
        let events = try RunReport.readLines(runDirectory + "/events.jsonl")
        if let last = events.last(where: { $0["event"] as? String == "buckets" }),
            let list = last["buckets"] as? [[Int]], !list.isEmpty
        {
            training = (spec, model, list)
        } else {
            training = (spec, model, BucketPlanner.fixed(model, bytes: spec.bucketBytes ?? 25 << 20))
        }
    }

    /// A bench job's sizes: each measured makespan (`time_us` in bench.jsonl) against the model
    /// rebuilt from the run, for the all-reduce the coordinator chose (`modelChoice`).
    public func predictBench() throws -> [BenchSize] {
        try RunReport.readLines(runDirectory + "/bench.jsonl").map { row in
            let bytes = row["size_bytes"] as? Int ?? 0
            return BenchSize(
                bytes: bytes, measuredSeconds: ((row["time_us"] as? NSNumber)?.doubleValue ?? 0) / 1e6,
                predictedSeconds: simulator.modelChoice(planner, bytes: bytes).prediction.seconds)
        }
    }

    /// Each schedule of the run: measured and predicted.
    public func predict() throws -> [Schedule] {
        guard let (spec, model, buckets) = training else {
            throw SimulateError("\(runDirectory): a \(job.kind.rawValue) job; schedules are a training job's")
        }
        let summary = try RunReport.readLines(runDirectory + "/summary.json").first ?? [:]
        guard let training = summary["training"] as? [String: Any],
            let schedules = training["schedules"] as? [[String: Any]]
        else { throw SimulateError("\(runDirectory)/summary.json has no training figures") }
        let steps = try RunReport.readLines(runDirectory + "/steps.jsonl")
        var results: [Schedule] = []
        for (index, measured) in schedules.enumerated() {
            let name = measured["name"] as? String ?? "?"
            let declared = spec.schedules[min(index, spec.schedules.count - 1)]
            var result = Schedule(
                name: name, sync: declared.sync.rawValue, steps: measured["steps"] as? Int ?? 0,
                measuredStepSeconds: 0, predictedStepSeconds: 0,
                measuredWANBytes: (measured["wan_bytes"] as? NSNumber)?.doubleValue ?? 0, predictedWANBytes: 0,
                stepsToTarget: measured["steps_to_target"] as? Int,
                measuredTimeToTargetSeconds: (measured["time_to_target_s"] as? NSNumber)?.doubleValue)
            // Per step: the wall time, the slowest rank's compute, and what is neither compute
            // nor communication.
            var byStep: [Int: [[String: Any]]] = [:]
            for record in steps where record["schedule"] as? String == name {
                byStep[record["schedule_step"] as? Int ?? 0, default: []].append(record)
            }
            guard !byStep.isEmpty else {
                result.unmodelled = "no steps in steps.jsonl"
                results.append(result)
                continue
            }
            func value(_ record: [String: Any], _ key: String) -> Double {
                (record[key] as? NSNumber)?.doubleValue ?? 0
            }
            var walls: [Double] = []
            var computes: [Double] = []
            var rests: [Double] = []
            for records in byStep.values {
                let wall = value(records[0], "wall_s")
                walls.append(wall)
                computes.append(records.map { value($0, "compute_s") }.max() ?? 0)
                let busiest =
                    records.map { value($0, "compute_s") + value($0, "wait_s") + value($0, "outer_s") }.max() ?? 0
                rests.append(max(0, wall - busiest))
            }
            let mean = { (values: [Double]) in values.reduce(0, +) / Double(max(values.count, 1)) }
            result.measuredStepSeconds = mean(walls)
            guard declared.compression == .none else {
                result.unmodelled =
                    "the model sends float32; \(declared.compression.rawValue) on the WAN is not modelled"
                results.append(result)
                continue
            }
            let compute = mean(computes)
            let everyRank = declared.sync == .ddp
            let wait = exposedWait(compute: compute, everyRank: everyRank, spec: spec, model: model, buckets: buckets)
            let outerSteps =
                declared.sync == .ddp
                ? 0 : (0..<byStep.count).filter { ($0 + 1) % declared.every == 0 || $0 == byStep.count - 1 }.count
            let outer =
                declared.sync == .ddp
                ? 0 : buckets.reduce(0.0) { $0 + allReduceSeconds(bytes: $1[1] * 4, everyRank: true) }
            result.predictedStepSeconds =
                compute + mean(rests) + wait + outer * Double(outerSteps) / Double(byStep.count)
            let perStepWAN = everyRank ? buckets.reduce(0.0) { $0 + wanBytes(bytes: $1[1] * 4) } : 0
            let perOuterWAN = everyRank ? 0 : buckets.reduce(0.0) { $0 + wanBytes(bytes: $1[1] * 4) }
            result.predictedWANBytes = perStepWAN * Double(byStep.count) + perOuterWAN * Double(outerSteps)
            results.append(result)
        }
        return results
    }

    /// One bucket's all-reduce: across every rank, or inside each region.
    func allReduceSeconds(bytes: Int, everyRank: Bool) -> Double {
        let choice = everyRank ? planner.choose(bytes: bytes) : regional.choose(bytes: bytes)
        return simulator.prediction(choice, bytes: bytes, acrossRegions: everyRank, barrier: false).seconds
    }

    /// How long a rank waits after its backward pass for its buckets: each bucket is handed to
    /// the communication thread when the backward pass has filled it (layer times shared out of
    /// `compute` by FLOPs), and they are reduced one after another.
    func exposedWait(compute: Double, everyRank: Bool, spec: TrainingSpec, model: MLP, buckets: [[Int]]) -> Double {
        let backward = BucketPlanner.backwardSeconds(model, batch: spec.data.batch, computeSeconds: compute)
        let forward = compute - backward.reduce(0, +)
        var done = forward
        var finish = 0.0
        var layer = model.depth - 1
        for bucket in buckets {
            // The bucket is ready once every layer down to the one holding its first weight is done.
            while layer >= 0 && model.weightOffsets[layer] >= bucket[0] {
                done += backward[layer]
                layer -= 1
            }
            finish = max(finish, done) + allReduceSeconds(bytes: bucket[1] * 4, everyRank: everyRank)
        }
        return max(0, finish - compute)
    }

    /// Bytes every rank sends to ranks of other regions in one all-reduce of `bytes` across
    /// every rank, data-frame headers included.
    func wanBytes(bytes: Int) -> Double {
        let choice = planner.choose(bytes: bytes)
        let count = bytes / 4
        var sent = 0.0
        for rank in 0..<layout.ranks {
            let device = rank % layout.devicesPerWorker
            for phase in ClusterCollective.phases(
                choice: choice, layout: layout, rank: rank, device: device, count: count,
                slice: ClusterCollective.slice(device: device, devices: layout.devicesPerWorker, count: count))
            {
                for operation in phase.schedule.operations where operation.kind.isSend {
                    guard layout.region(ofRank: rank) != layout.region(ofRank: operation.kind.peer) else { continue }
                    sent += Double(operation.range.count * 4 + DataFrameHeader.size)
                }
            }
        }
        return sent
    }

    /// A schedule's figures as `--json` writes them.
    public static func json(_ schedule: Schedule) -> [(String, JSONValue)] {
        func optional(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
        return [
            ("schedule", .string(schedule.name)), ("sync", .string(schedule.sync)), ("steps", .int(schedule.steps)),
            ("measured_step_s", .double(schedule.measuredStepSeconds)),
            ("predicted_step_s", schedule.unmodelled == nil ? .double(schedule.predictedStepSeconds) : .null),
            ("measured_wan_bytes", .double(schedule.measuredWANBytes)),
            ("predicted_wan_bytes", schedule.unmodelled == nil ? .double(schedule.predictedWANBytes) : .null),
            ("steps_to_target", schedule.stepsToTarget.map { .int($0) } ?? .null),
            ("measured_time_to_target_s", optional(schedule.measuredTimeToTargetSeconds)),
            (
                "predicted_time_to_target_s",
                schedule.unmodelled == nil ? optional(schedule.predictedTimeToTargetSeconds) : .null
            ),
            ("unmodelled", schedule.unmodelled.map { .string($0) } ?? .null),
        ]
    }

    /// A bench job's sizes for people.
    public static func table(_ sizes: [BenchSize], runDirectory: String) -> String {
        var lines = ["run \(runDirectory) (a bench job): each size's makespan against the model rebuilt from the run"]
        lines.append(RunReport.row(["size", "measured ms", "model ms", "ratio"], width: 14))
        for size in sizes {
            lines.append(
                RunReport.row(
                    [
                        String(size.bytes), String(format: "%.3f", size.measuredSeconds * 1e3),
                        String(format: "%.3f", size.predictedSeconds * 1e3),
                        size.predictedSeconds > 0
                            ? String(format: "%.3f", size.measuredSeconds / size.predictedSeconds) : "-",
                    ], width: 14))
        }
        return lines.joined(separator: "\n")
    }

    /// The schedules for people: measured, predicted and their ratio.
    public static func table(_ schedules: [Schedule], runDirectory: String) -> String {
        var lines = ["run \(runDirectory), as the model predicts it from what the run measured"]
        lines.append(
            RunReport.row(
                ["schedule", "step ms", "model ms", "ratio", "WAN MB", "model MB", "ratio", "to target s", "model s"],
                width: 12))
        for schedule in schedules {
            guard schedule.unmodelled == nil else {
                lines.append("\(schedule.name): \(schedule.unmodelled!)")
                continue
            }
            func ratio(_ a: Double, _ b: Double) -> String { b > 0 ? String(format: "%.3f", a / b) : "-" }
            lines.append(
                RunReport.row(
                    [
                        schedule.name, String(format: "%.2f", schedule.measuredStepSeconds * 1e3),
                        String(format: "%.2f", schedule.predictedStepSeconds * 1e3),
                        ratio(schedule.measuredStepSeconds, schedule.predictedStepSeconds),
                        String(format: "%.2f", schedule.measuredWANBytes / 1e6),
                        String(format: "%.2f", schedule.predictedWANBytes / 1e6),
                        ratio(schedule.measuredWANBytes, schedule.predictedWANBytes),
                        schedule.measuredTimeToTargetSeconds.map { String(format: "%.1f", $0) } ?? "-",
                        schedule.predictedTimeToTargetSeconds.map { String(format: "%.1f", $0) } ?? "-",
                    ], width: 12))
        }
        return lines.joined(separator: "\n")
    }
}
