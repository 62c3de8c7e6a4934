import ClusterCore
import Collectives
import Config
import Foundation
import Logging
import StraitsWire
import Telemetry
import Training
import Transport

extension Coordinator {
    /// Gradient bytes of a training job's model.
    var trainingBytes: Int? {
        job.training.map { MLP(layers: $0.model.layers).parameterCount * 4 }
    }

    /// How compute time is taken, in words for the log and the summary.
    public static func computeDescription(_ spec: TrainingSpec, model: MLP) -> String {
        let flops = model.flops(batch: spec.data.batch)
        let total = flops.forward + flops.backward.reduce(0, +)
        guard spec.compute.synthetic else {
            return "real: OpenBLAS sgemm on this machine's cores, \(fixed(total / 1e6, 1)) MFLOP per device step"
        }
        return "synthetic: \(fixed(total / 1e6, 1)) MFLOP per device step on \(spec.compute.device) "
            + "(\(fixed(spec.compute.peakFlops / 1e12, 0)) TFLOP/s at MFU \(fixed(spec.compute.mfu, 2))) × scale \(JSONValue.format(spec.compute.scale)) "
            + "= \(Units.formatDuration(seconds: spec.compute.seconds(flops: total))) per step; the real maths runs too and the step "
            + "is padded to that time (longer if the maths here takes longer)"
    }

    /// Runs each of the job's schedules in turn from the same initial parameters and data.
    func runTraining(resuming state: SavedState? = nil) throws {
        guard let spec = job.training else { return }
        let model = MLP(layers: spec.model.layers)
        let bytes = model.parameterCount * 4
        ledger =
            try state.map {
                try Self.ledger(
                    spec: spec, regions: topology.regions.map(\.name), runDirectory: run.path, before: $0.nextStep)
            } ?? TrainingLedger(spec: spec, regions: topology.regions.map(\.name))
        log.info(
            Logger.Message(
                stringLiteral:
                    "training an MLP \(model.layers.map(String.init).joined(separator: "→")): \(model.parameterCount) parameters, "
                    + "\(AllReducePlan.formatBytes(bytes)) of gradients, batch \(spec.data.batch) per device on \(topology.deviceCount) devices"
            ))
        log.info(Logger.Message(stringLiteral: "compute: " + Self.computeDescription(spec, model: model)))
        // Buckets: the job's size, or planned from each layer's compute time (emulated, then
        // measured after a few steps) and the model's all-reduce time for each grouping.
        func plan(computeSeconds: Double, basis: String) -> [[Int]] {
            guard let planner, let simulator else { return BucketPlanner.fixed(model, bytes: 25 << 20) }
            let backward = BucketPlanner.backwardSeconds(model, batch: spec.data.batch, computeSeconds: computeSeconds)
            let (buckets, finish) = BucketPlanner.fastest(model, backward: backward) {
                simulator.predict(planner.choose(bytes: $0), bytes: $0)
            }
            let sizes = buckets.map { AllReducePlan.formatBytes($0[1] * 4) }.joined(separator: ", ")
            log.info(
                Logger.Message(
                    stringLiteral:
                        "buckets planned from \(basis) compute (\(fixed(computeSeconds * 1e3, 1)) ms per step): \(buckets.count) [\(sizes)], "
                        + "last all-reduce predicted to end \(fixed(finish * 1e3, 1)) ms after the backward pass starts"
                ))
            run.event(
                "buckets",
                [
                    ("basis", .string(basis)), ("compute_s", .double(computeSeconds)),
                    ("buckets", .array(buckets.map { .array($0.map { .int($0) }) })),
                    ("predicted_finish_s", .double(finish)),
                ])
            return buckets
        }
        let flops = model.flops(batch: spec.data.batch)
        var buckets: [[Int]]
        var planned = true
        if let size = spec.bucketBytes {
            buckets = BucketPlanner.fixed(model, bytes: size)
        } else if spec.compute.synthetic {
            buckets = plan(
                computeSeconds: spec.compute.seconds(flops: flops.forward + flops.backward.reduce(0, +)),
                basis: "emulated")
            planned = false
        } else {
            buckets = BucketPlanner.fixed(model, bytes: 25 << 20)
            planned = false
        }
        if spec.bucketBytes != nil || !spec.compute.synthetic {
            log.info(
                Logger.Message(
                    stringLiteral:
                        "buckets: \(buckets.count) of at least \(AllReducePlan.formatBytes(spec.bucketBytes ?? 25 << 20))"
                        + (spec.bucketBytes == nil ? " until compute is measured" : "")))
        }
        var measuredCompute: [Double] = []
        var step = 0
        var collective = CollectiveIDs.firstStep
        if let state {
            // Where the first coordinator stood: the next step, its ids, the buckets it planned.
            step = state.nextStep
            collective = state.collective
            buckets = state.buckets ?? buckets
            planned = state.bucketsPlanned ?? planned
            measuredCompute = state.measuredCompute ?? []
        }
        let first = (schedule: state?.schedule ?? 0, step: state?.scheduleStep ?? 0)
        for (index, schedule) in spec.schedules.enumerated() where index >= first.schedule {
            let from = index == first.schedule ? first.step : 0
            guard from < schedule.steps else { continue }
            if from > 0 {
                log.info("schedule \(index + 1)/\(spec.schedules.count) \(schedule.name): resuming at step \(from + 1)")
                if ledger!.runs.last?.schedule.name != schedule.name { ledger!.begin(schedule) }
            } else {
                ledger!.begin(schedule)
                let syncText =
                    switch schedule.sync {
                    case .ddp: "gradients all-reduced across every rank every step"
                    case .hierarchicalLocal:
                        "gradients inside each region every step, parameters averaged across regions every \(schedule.every)"
                    case .diloco:
                        "inner \(spec.optimizer.name.rawValue) inside each region, outer Nesterov (lr \(JSONValue.format(schedule.outerLearningRate)), momentum \(JSONValue.format(schedule.outerMomentum))) every \(schedule.every)"
                    }
                log.info(
                    "schedule \(index + 1)/\(spec.schedules.count) \(schedule.name): \(schedule.steps) steps, \(syncText); WAN \(schedule.compression == .none ? "fp32" : schedule.compression.rawValue)"
                )
                run.event(
                    "schedule",
                    [
                        ("name", .string(schedule.name)), ("sync", .string(schedule.sync.rawValue)),
                        ("every", .int(schedule.every)), ("compression", .string(schedule.compression.rawValue)),
                        ("steps", .int(schedule.steps)),
                    ])
            }
            var lastPrint = clock.now()
            elasticity.lastOuter = step - 1
            let fileName = schedule.name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }
            for i in from..<schedule.steps {
                let last = i == schedule.steps - 1
                let outer = schedule.sync != .ddp && ((i + 1) % schedule.every == 0 || last)
                let modelFile = "model-\(String(fileName)).bin"
                let train = ControlMessage.TrainStep(
                    schedule: index, index: i, gradients: schedule.sync == .ddp ? .all : .region, outer: outer,
                    buckets: buckets, save: last ? modelFile : nil)
                // Rank 0 sends its parameters after the last step, in parts, before its result.
                if last { files.expect(file: modelFile, bytes: bytes) }
                let result = try runStep(
                    step, bytes: bytes, computeS: 0, collective: collective, train: train, scheduleName: schedule.name)
                if last, files.awaits(modelFile) {
                    throw Abort(
                        description: "schedule \(schedule.name) ended without rank 0's parameters (\(modelFile))")
                }
                if outer {
                    elasticity.lastOuter = step
                    elasticity.freshSince = [:]
                }
                step += 1
                collective += CollectiveIDs.trainingStepSpan(buckets: buckets.count)
                defer {
                    saveState(
                        nextStep: step, collective: collective,
                        training: .init(
                            schedule: index, step: i + 1, buckets: buckets, planned: planned,
                            measuredCompute: measuredCompute))
                }
                // Re-plan the buckets once from measured compute (steps 1…3; step 0 warms up).
                if !planned, i >= 1 {
                    let sums = result.tally.regionSums.values
                    measuredCompute.append(
                        sums.reduce(0) { $0 + $1.computeS } / Double(max(sums.reduce(0) { $0 + $1.devices }, 1)))
                    if measuredCompute.count == 3 {
                        buckets = plan(computeSeconds: measuredCompute.reduce(0, +) / 3, basis: "measured")
                        planned = true
                    }
                }
                let loss = result.tally.losses.map(\.loss).reduce(0, +) / Double(max(result.tally.losses.count, 1))
                if let bad = result.tally.losses.first(where: { !$0.loss.isFinite }) {
                    throw Abort(
                        description:
                            "schedule \(schedule.name) step \(i): rank \(bad.rank)'s loss is \(bad.loss): training diverged; lower optimizer.lr"
                    )
                }
                if elastic, !last {
                    try checkReplicas(
                        result.tally.parameterChecksums, acrossRegions: schedule.sync == .ddp || outer,
                        schedule: schedule.name, step: i)
                }
                if last {
                    let distinct = Set(result.tally.parameterChecksums.values)
                    let ranks = rankCount
                    guard distinct.count == 1, result.tally.parameterChecksums.count == ranks else {
                        let table = result.tally.parameterChecksums.sorted { $0.key < $1.key }.map {
                            "rank \($0.key): \(String($0.value, radix: 16))"
                        }
                        throw Abort(
                            description:
                                "schedule \(schedule.name) ended with replicas that differ (CRC32C of the parameters: \(table.joined(separator: ", ")))"
                        )
                    }
                    run.event(
                        "replicas_identical",
                        [
                            ("schedule", .string(schedule.name)),
                            ("crc32c", .string(String(distinct.first!, radix: 16))),
                            ("file", .string(run.path + "/" + modelFile)),
                        ])
                }
                ledger!.record(
                    .init(
                        wall: result.wall, loss: loss, wanBytes: result.tally.wanBytes, lanBytes: result.tally.lanBytes,
                        regionCompute: result.tally.regionSums.mapValues {
                            (compute: $0.computeS, devices: $0.devices)
                        },
                        regionWanBytes: result.tally.regionWanBytes))
                if last || clock.now() - lastPrint > 2_000_000_000 {
                    lastPrint = clock.now()
                    let sofar = ledger!.runs.last!
                    log.info(
                        Logger.Message(
                            stringLiteral:
                                "\(schedule.name) step \(i + 1)/\(schedule.steps): loss \(fixed(loss, 4)), \(fixed(result.wall * 1e3, 1)) ms/step, "
                                + "\(fixed(sofar.wall, 1)) s, WAN \(fixed(Double(sofar.wanBytes) / 1e6, 1)) MB"))
                }
            }
        }
        printTrainingTable()
    }

    /// Elastic jobs, every step: the replicas agree (every rank's CRC32C of its parameters), across
    /// every rank where the step synchronised across regions, else inside each region. The first
    /// check of each new epoch is recorded: it shows that workers that joined took the state.
    func checkReplicas(_ checksums: [Int: UInt32], acrossRegions: Bool, schedule: String, step: Int) throws {
        let ranks = rankCount
        let groups = Dictionary(grouping: checksums) { acrossRegions ? 0 : worker(position(ofRank: $0.key)).region }
        let disagree = groups.values.filter { Set($0.map(\.value)).count > 1 }
        guard checksums.count == ranks, disagree.isEmpty else {
            let table = checksums.sorted { $0.key < $1.key }.map { "rank \($0.key): \(String($0.value, radix: 16))" }
            throw Abort(
                description:
                    "schedule \(schedule) step \(step) (epoch \(epoch)): replicas that should agree differ (CRC32C of the parameters: \(table.joined(separator: ", ")))"
            )
        }
        guard checkedEpoch != epoch else { return }
        checkedEpoch = epoch
        run.event(
            "replicas_identical",
            [
                ("schedule", .string(schedule)), ("step", .int(step)), ("epoch", .int(epoch)),
                ("ranks", .int(ranks)), ("across_regions", .bool(acrossRegions)),
                ("crc32c", .array(Set(checksums.values).sorted().map { .string(String($0, radix: 16)) })),
            ])
    }

    /// The schedules side by side: loss, wall-clock, WAN bytes, time to the target loss.
    func printTrainingTable() {
        guard let ledger else { return }
        let target = ledger.target
        let baseline = ledger.baseline
        emit(
            "#" + padded("schedule", 19) + padded("steps", 7, right: true) + padded("final loss", 12, right: true)
                + padded("wall(s)", 10, right: true)
                + padded("WAN(MB)", 11, right: true) + padded("WAN/step vs ddp", 17, right: true)
                + padded("to target(s)", 14, right: true)
                + padded("WAN to target(MB)", 19, right: true) + "  compute utilisation")
        for run in ledger.runs {
            let hit = target.flatMap { ledger.reached(run, target: $0) }
            let perStep = Double(run.wanBytes) / Double(max(run.steps.count, 1))
            let basePerStep = baseline.map { Double($0.wanBytes) / Double(max($0.steps.count, 1)) } ?? 0
            let utilisation = ledger.computeUtilisation(run)
            emit(
                " " + padded(run.schedule.name, 19) + padded(String(run.steps.count), 7, right: true)
                    + padded(ledger.finalLoss(run).map { fixed($0, 4) } ?? "-", 12, right: true)
                    + padded(fixed(run.wall, 1), 10, right: true)
                    + padded(fixed(Double(run.wanBytes) / 1e6, 1), 11, right: true)
                    + padded(basePerStep > 0 ? fixed(perStep / basePerStep, 3) : "-", 17, right: true)
                    + padded(hit.map { fixed($0.seconds, 1) } ?? "not reached", 14, right: true)
                    + padded(hit.map { fixed(Double($0.wanBytes) / 1e6, 1) } ?? "-", 19, right: true)
                    + "  "
                    + ledger.regions.map { "\($0) \(fixed(100 * (utilisation[$0] ?? 0), 1))%" }.joined(separator: ", "))
        }
        if let target {
            let window = min(job.training?.lossWindow ?? 0, ledger.runs.first?.schedule.steps ?? 0)
            emit(
                "# target loss \(fixed(target, 4)) (\(job.training?.targetLoss != nil ? "from the job" : "final loss of \(ledger.runs.first?.schedule.name ?? "")"), mean of \(window) steps)"
            )
        }
    }
}
