import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import Logging
import StraitsWire
import Telemetry
import Transport

extension Coordinator {
    /// One step, across all ranks: wall time and the ranks' results summed (`StepTally`).
    struct StepResult {
        let wall: Double
        let tally: StepTally
        var comm: Double { tally.commS }
        var wrong: Int { tally.wrong }
        var plan: String { tally.plan }
    }

    /// A sync job: its steps, each an emulated compute and the all-reduce of the gradient bytes.
    func runSteps(from first: Int = 0) throws {
        log.info(
            "running \(job.steps) steps: compute \(Units.formatDuration(seconds: job.computeSeconds)), all-reduce \(job.gradientBytes) bytes"
        )
        var lastPrint = clock.now()
        for step in first..<job.steps {
            let result = try runStep(
                step, bytes: job.gradientBytes, computeS: job.computeSeconds, collective: CollectiveIDs.step(step))
            saveState(nextStep: step + 1, collective: CollectiveIDs.step(step + 1))
            if step == job.steps - 1 || clock.now() - lastPrint > 2_000_000_000 {
                lastPrint = clock.now()
                log.info(
                    "step \(step + 1)/\(job.steps): \(fixed(result.wall * 1e3, 1)) ms, comm \(fixed(result.comm * 1e3, 1)) ms, \(result.wrong) wrong"
                )
            }
            if result.wrong > 0 {
                throw Abort(description: "step \(step): \(result.wrong) elements of the all-reduce are wrong")
            }
        }
    }

    /// The all-reduce a bench step of `bytes` runs, the chunk sent with it where the model chose
    /// one (`CollectiveSimulator.modelChoice`), and the model's prediction.
    func modelChoice(bytes: Int) -> (
        chunk: Int?, choice: ClusterPlanner.Choice, prediction: CollectiveSimulator.Prediction
    ) {
        simulator!.modelChoice(planner!, bytes: bytes)
    }

    /// What a rank that approaches an arrival spins for it, as the model counts it: half the
    /// longest it may (`OvershootWindow.ceiling`); on this kind of virtual machine ranks wake
    /// 160–300 µs early and spin 40–160 µs an arrival.
    static let spinPerArrivalSeconds = Double(OvershootWindow.ceiling) / 2 / 1e9

    /// Runs one step on every worker and logs it (steps.jsonl per rank, a step record per region).
    func runStep(
        _ step: Int, bytes: Int, computeS: Double, collective: Int, train: ControlMessage.TrainStep? = nil,
        scheduleName: String? = nil, approachArrivals: Bool? = nil, chunkBytes: Int? = nil
    ) throws -> StepResult {
        var start = clock.now()
        for action in faults.onStep(step, now: start) { carryOut(action) }
        for kill in faults.dueKills(now: start) { carryOut(kill, step: step) }
        var startDate = Date()
        // An elastic job retries the step over the survivors when a worker of it is lost, and
        // takes workers that joined in before it begins.
        var transfer: [ControlMessage.StateTransfer]?
        let crossesRegions =
            topology.regions.count > 1 && (train.map { $0.gradients == .all || $0.outer } ?? true)
        var retried = false
        while true {
            if crossesRegions { try awaitGateways(step: step) }
            if elasticity.pending { transfer = try nextEpoch(step: step) }
            elasticity.stepCrossesRegions = crossesRegions
            faultLedger.attemptBegins(now: clock.now())
            steps.begin(step: step)
            var message = ControlMessage.Step(
                step: step, bytes: bytes, computeS: computeS, collective: collective, train: train,
                approachArrivals: approachArrivals, chunkBytes: chunkBytes)
            if epoch > 1 { message.epoch = epoch }
            if elastic { message.train?.checksum = true }
            message.train?.state = transfer
            if message.train?.outer == true, let weights = outerWeights(step: step) {
                message.train?.outerWeights = weights
                run.event(
                    "outer_weights",
                    [("step", .int(step)), ("epoch", .int(epoch)), ("weights", .array(weights.map { .double($0) }))])
            }
            let frames = ControlMessage.step(message).encoded()
            for index in order.indices { try send(frames: frames, to: worker(index).route) }
            let limitS = job.timeoutSeconds + computeS + 5
            try pump(
                until: { self.steps.isComplete || self.elasticity.stepLost },
                deadline: start + Self.nanoseconds(limitS),
                timeoutMessage: {
                    let missing = self.steps.missing.map { self.worker($0).label }
                    return
                        "step \(step) did not finish within \(JSONValue.format(limitS)) s; waiting on \(missing.joined(separator: ", "))"
                })
            if steps.isComplete && !elasticity.stepLost { break }
            run.event("step_retried", [("step", .int(step)), ("epoch", .int(epoch + 1))])
            faultLedger.attemptGivenUp(seconds: Double(clock.now() - start) / 1e9)
            retried = true
            start = clock.now()
            startDate = Date()
        }
        elasticity.unsynced = []
        elasticity.stepCrossesRegions = false
        if !elasticity.recovering.isEmpty, elasticity.gatewaysDown.isEmpty { recovered(step: step) }
        let wall = Double(clock.now() - start) / 1e9
        let tally = StepTally(results: steps.results) { self.worker($0).region }
        let timestamp = RunDirectory.timestamp(startDate)
        for (index, done) in steps.results.sorted(by: { $0.key < $1.key }) {
            let member = worker(index)
            for device in done.devices {
                let waitS = device.waitS ?? max(0, wall - device.computeS - device.commS - device.syncS - device.checkS)
                let training = train.map { train in
                    StepRecord.Training(
                        schedule: scheduleName ?? "", scheduleStep: train.index, wallS: wall,
                        gradientSync: train.gradients.rawValue, outerSync: train.outer, outerS: device.outerS ?? 0,
                        emulatedComputeS: device.emulatedS, lanBytes: device.lanBytes ?? 0,
                        wanBytes: device.wanBytes ?? 0)
                }
                let record = StepRecord(
                    step: step, rank: device.rank, region: member.join.region, host: member.join.host,
                    device: device.rank - firstRank(ofPosition: index), bytes: bytes, computeS: device.computeS,
                    commS: device.commS, hostS: device.hostS, regionS: device.regionS, wanS: device.wanS,
                    syncS: device.syncS, checkS: device.checkS, waitS: waitS, wrong: device.wrong, loss: device.loss,
                    plan: done.plan, training: training)
                run.steps.append(encoding: Stamped(record, at: timestamp))
                let parts: [(String, Double)] =
                    train == nil
                    ? [
                        ("compute", device.computeS), ("barrier", device.syncS), ("all-reduce", device.commS),
                        ("check", device.checkS),
                    ]
                    : [("compute", device.computeS), ("wait", waitS), ("outer", device.outerS ?? 0)]
                trace.step(
                    step, start: start, worker: order[index], workerName: member.label, rank: device.rank, parts: parts,
                    args: scheduleName.map { [("schedule", .string($0))] } ?? [])
            }
        }
        for record in records.onStep(step, wallS: wall, membership: membership, regionSums: tally.regionSums) {
            run.regions[record.region]?.append(encoding: Stamped(record))
        }
        latestStep = step
        stepsFinished += 1
        let samples = rankCount * job.samplesPerStep
        samplesFinished += samples
        faultLedger.stepDone(
            samples: samples, seconds: wall, hosts: order.count, fullHosts: topology.hostCount, retried: retried,
            now: clock.now())
        return StepResult(wall: wall, tally: tally)
    }
}
