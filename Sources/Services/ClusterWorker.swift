import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import Logging
import NUMA
import StraitsWire
import Synchronization
import Transport
import ZeroMQ

/// `straits-worker`: one host of a cluster. The main thread speaks to the coordinator (join,
/// heartbeats, commands, statistics); each device is a NUMA-pinned thread with its own data
/// sockets that carries out the commands (connect, probe, step) and reports back.
public struct ClusterWorker {
    let options: WorkerOptions

    public init(options: WorkerOptions) {
        self.options = options
    }

    /// What the device threads share with the control thread.
    final class Shared: @unchecked Sendable {
        // Unchecked Sendable: `group` and `layout` are written by the control thread before it
        // posts the command that makes device threads read them (the board's lock orders it).
        var group: DeviceGroup?
        var layout: ClusterLayout?
        var planner: ClusterPlanner?
        /// Hierarchical plans for all-reduces inside each region (training schedules that
        /// synchronise regions only every H steps).
        var regionalPlanner: ClusterPlanner?
        /// The job's training spec, when it is a training job (from the plan).
        var training: TrainingSpec?
        /// Whether the job goes on when members are lost (it has a quorum): training steps then
        /// keep the state they began from, for an attempt after a membership change.
        var elastic = false
        /// Raised when a new membership epoch supersedes the one the ranks run.
        let gate = EpochGate()
        var trainingDevices: [TrainingDevice] = []
        /// A file rank 0 made for the coordinator's run directory (its parameters at the end of
        /// a schedule), until the control thread sends it.
        let outgoingFile = Mutex<(name: String, bytes: [UInt8])?>(nil)
        var you = -1
        var timeout = Duration.seconds(60)
        let planes: [DataPlane]
        /// How the ranks wait for held messages' arrivals (`--arrival-wait`).
        let arrivalWait: WorkerOptions.ArrivalWait

        init(planes: [DataPlane], arrivalWait: WorkerOptions.ArrivalWait) {
            self.planes = planes
            self.arrivalWait = arrivalWait
            for plane in planes { plane.gate = gate }
        }
    }

    /// Runs the worker; returns its exit status (0: the job finished, 1: it failed or was
    /// aborted, 3: the coordinator refused the join).
    public func run() -> Int32 {
        do {
            return try runThrowing()
        } catch {
            log.info("\(error)")
            return 1
        }
    }

    private var name: String { "straits-worker \(options.region)/\(options.host)" }

    /// This worker's log (`straits-worker <region>/<host>: ...`).
    private var log: Logger { Logger(label: name) }

    private func runThrowing() throws -> Int32 {
        options.watch.injectClockOffset()
        try options.security.apply(bindsOffLoopback: options.bind.offLoopback, log: log)
        let topology = try NUMATopology.discover()
        var planes: [DataPlane] = []
        for device in 0..<options.devices {
            let plane = try DataPlane(
                rank: -1,
                bind: [
                    options.bind.transport.endpoint(address: options.bind.address, name: "device\(device)"),
                    "inproc://straits-worker-\(getpid())-\(device)",
                ])
            plane.approachesArrivals = options.arrivalWait.approaches(advice: nil)
            planes.append(plane)
        }
        defer { for plane in planes { plane.removeSocketFiles() } }
        let shared = Shared(planes: planes, arrivalWait: options.arrivalWait)
        let board = try DeviceBoard(devices: options.devices)

        var control = try ZMQSocket(.dealer, linger: .seconds(1))
        try LinkSecurity.client(&control)
        try control.setReceiveHighWaterMark(1000)
        try control.connect(options.coordinator)
        var join = ControlMessage.Join(
            region: options.region, host: options.host, devices: options.devices, numaNodes: topology.nodes.count,
            endpoints: planes.map { DataTransport.advertised($0.endpoints[0], address: options.bind.advertiseAddress) },
            pid: Int(getpid()))
        join.job = options.watch.jobID
        try ControlLink.send(.join(join), on: &control, version: options.protocolVersion)
        log.info(
            "joining \(options.coordinator) with \(options.devices) device\(options.devices == 1 ? "" : "s") (\(topology))"
        )

        var watch = CoordinatorWatch(
            endpoint: options.coordinator, heartbeatSeconds: options.heartbeatSeconds,
            deadAfterSeconds: options.deadAfterSeconds, joinTimeoutSeconds: options.joinTimeoutSeconds)
        var threads: [Thread] = []
        var commands = WorkerCommandQueue()
        /// The membership epoch of the latest plan (0 before the first).
        var epoch = 0
        func traffic() -> ControlMessage.Traffic { Self.traffic(planes: planes, shared: shared) }

        /// Carries out what the command queue decided.
        func carryOut(_ directives: [WorkerCommandQueue.Directive]) throws {
            for directive in directives {
                switch directive {
                case .post(let command):
                    if case .connect(let plan) = command {
                        // No device is running a command now, so the shared plan can change.
                        try setUp(
                            plan, shared: shared, planes: planes, topology: topology, board: board, threads: &threads)
                    }
                    board.post(.run(command))
                case .sendProbed(let probed):
                    try ControlLink.send(.probed(probed), on: &control)
                case .sendStepDone(let step, let devices):
                    // Rank 0's parameters go first, so that they are there when the step is done.
                    if let file = shared.outgoingFile.withLock({ file in
                        defer { file = nil }
                        return file
                    }) {
                        for part in ControlMessage.ModelPart.parts(of: file.bytes, file: file.name) {
                            try ControlLink.send(.modelPart(part), on: &control)
                        }
                    }
                    let plan = shared.planner?.choose(bytes: step.bytes, chunkBytes: step.chunkBytes).description ?? ""
                    var done = ControlMessage.StepDone(
                        step: step.step, plan: plan, devices: devices, traffic: traffic())
                    done.epoch = step.epoch
                    try ControlLink.send(.stepDone(done), on: &control)
                }
            }
        }

        while true {
            if let failure = watch.failure() {
                log.error("\(failure)")
                return 1
            }
            try watch.joinSuccessorIfDue(join, epoch: epoch, on: &control, log: log)
            if let seq = watch.heartbeatDue() {
                try ControlLink.send(
                    .heartbeat(
                        .init(
                            seq: seq, traffic: traffic(), computeS: commands.computeS,
                            commS: commands.commS, stepsDone: commands.stepsDone)), on: &control)
            }
            // A command the devices finished? (A device failure surfaces here as a thrown error.)
            if commands.running != nil {
                do {
                    if let outcomes = try board.outcomes(timeout: 0) {
                        try carryOut(commands.onFinished((0..<options.devices).map { outcomes[$0] ?? .done }))
                    }
                } catch let error as RuntimeError {
                    try? ControlLink.send(.stop(.init(ok: false, reason: "\(name): \(error)")), on: &control)
                    Coordinator.flush()
                    log.error("failed: \(error)")
                    return 1
                }
            }

            let frames = try watch.receive(
                on: &control, timeout: watch.wait(cap: .milliseconds(200)), wakingOn: board.doorbell)
            guard let frames else { continue }
            guard let message = watch.accept(frames, who: name) else { continue }
            switch message {
            case .refuse(let refuse):
                log.info("refused by the coordinator: \(refuse.reason)")
                return 3
            case .heartbeat:
                try watch.measureClockOnce(on: &control, options: options.watch, log: log)
            case .plan(let plan):
                let layout = ClusterLayout(plan: plan)
                guard layout.workers.indices.contains(plan.you), layout.devices[plan.you] == options.devices else {
                    log.info(
                        "the plan does not fit this worker (you = \(plan.you), with \(layout.devices[safe: plan.you].map(String.init) ?? "no") devices; this worker has \(options.devices))"
                    )
                    return 1
                }
                if epoch > 0, plan.epoch > epoch {
                    // Members changed: what the devices run now is given up (the coordinator
                    // sends the step again), and what waits for them with it.
                    log.info(
                        "membership epoch \(plan.epoch): \(layout.workers.count) workers, \(layout.ranks) ranks; this worker is \(plan.you)"
                    )
                    commands.supersede()
                    if commands.running != nil {
                        shared.gate.raise()
                        for plane in planes { plane.releases.doorbell.ring() }
                        shared.group?.abort("membership epoch \(epoch) was superseded by \(plan.epoch)")
                    }
                }
                epoch = max(epoch, plan.epoch)
                watch.successorWait = plan.successorWaitS.map { .milliseconds(Int($0 * 1000)) }
                try carryOut(commands.onCommand(.connect(plan)))
            case .probe(let probe):
                try carryOut(commands.onCommand(.probe(probe)))
            case .step(let step):
                try carryOut(commands.onCommand(.step(step)))
            case .stop(let stop):
                if stop.ok {
                    // The devices are idle (their last command finished before the stop came).
                    for (device, plane) in planes.enumerated() where plane.approached > 0 {
                        let spun = Double(plane.spunNanoseconds)
                        log.info(
                            Logger.Message(
                                stringLiteral:
                                    "device \(device) (rank \(plane.rank)): spun \(fixed(spun / 1e9, 3)) s before \(plane.approached) arrivals "
                                    + "(\(Int(spun / Double(plane.approached) / 1000)) µs each), waking \(plane.approachEarly / 1000) µs early"
                            ))
                    }
                    board.post(.quit)
                    log.info("job finished: \(stop.reason)")
                    return 0
                }
                log.info("the coordinator stopped the job: \(stop.reason)")
                return 1
            case .clock:
                break  // a late answer to a clock measurement
            case .join, .probed, .stepDone, .modelPart:
                watch.drop(name, "a \(message.kind) message is for the coordinator")
            case .fault, .inject:
                watch.drop(name, "a \(message.kind) message is not for a worker")
            case .kill(let kill):
                log.error("killed by fault \(kill.fault) of the job: \(kill.reason)")
                Foundation.kill(getpid(), SIGKILL)
            }
        }
    }

    /// Sets the plan up before the devices connect: layout, planners, training, and on the
    /// first plan the device group and its threads.
    private func setUp(
        _ plan: ControlMessage.Plan, shared: Shared, planes: [DataPlane], topology: NUMATopology,
        board: DeviceBoard, threads: inout [Thread]
    ) throws {
        let layout = ClusterLayout(plan: plan)
        shared.layout = layout
        shared.you = plan.you
        shared.timeout = .milliseconds(Int(plan.timeoutS * 1000))
        let lan = LinkCost(alphaSeconds: plan.lan.alphaS, betaSecondsPerByte: plan.lan.betaSPerByte)
        let wan = LinkCost(alphaSeconds: plan.wan.alphaS, betaSecondsPerByte: plan.wan.betaSPerByte)
        shared.planner = ClusterPlanner(
            layout: layout, lan: lan, wan: wan, algo: plan.algo,
            chunkBytes: plan.chunkBytes > 0 ? plan.chunkBytes : nil)
        shared.regionalPlanner = ClusterPlanner(
            layout: layout, lan: lan, wan: wan, algo: .hier,
            chunkBytes: plan.chunkBytes > 0 ? plan.chunkBytes : nil)
        if let text = plan.job {
            let job = try JobSpec.parse(text, file: "job (from the coordinator)")
            guard let training = job.training else {
                throw RuntimeError(.protocolViolation, "the plan's job is not a training job")
            }
            shared.training = training
            shared.elastic = job.quorum != nil
        }
        if shared.group == nil {
            shared.group = try DeviceGroup(
                devices: options.devices, elementCount: max(plan.maxBytes / 4, 1), topology: topology)
            for device in 0..<options.devices {
                let thread = Thread { ClusterWorker.deviceLoop(device: device, shared: shared, board: board) }
                thread.name = "device \(device)"
                thread.start()
                threads.append(thread)
            }
        }
        // A new epoch: the devices gave up the old one's work and are idle.
        shared.group?.slices = layout.streams
        for plane in planes {
            plane.checksums = plan.checksums
            if plane.epoch != UInt32(clamping: plan.epoch) { plane.enter(epoch: UInt32(clamping: plan.epoch)) }
        }
        shared.gate.lower()
        shared.group?.resume()
        if let training = shared.training, shared.trainingDevices.isEmpty, let group = shared.group {
            shared.trainingDevices = (0..<options.devices).map {
                TrainingDevice(device: $0, spec: training, plane: planes[$0], group: group, shared: shared)
            }
        }
    }

    /// What this worker's ranks sent and received, by LAN and by WAN peer region, and how late
    /// they took held messages.
    static func traffic(planes: [DataPlane], shared: Shared) -> ControlMessage.Traffic {
        guard let layout = shared.layout else { return ControlMessage.Traffic() }
        var totals = ControlMessage.Traffic()
        let me = shared.you
        let myRegion = layout.workers.indices.contains(me) ? layout.workers[me].region : -1
        var arrivals: [Int: LatenessHistogram] = [:]
        for plane in planes {
            for (region, histogram) in plane.traffic.arrivalSnapshot() where layout.regions.indices.contains(region) {
                arrivals[
                    region, default: LatenessHistogram(limitMicroseconds: TrafficCounters.arrivalLimitMicroseconds)
                ].merge(histogram)
            }
            totals.rejectedMessages += plane.rejected
            for (peer, counts) in plane.traffic.snapshot() where peer >= 0 && peer < layout.ranks {
                let worker = layout.worker(ofRank: peer)
                if worker == me { continue }  // same host: shared memory or inproc, not the network
                let region = layout.workers[worker].region
                if region == myRegion {
                    totals.lanTxBytes += counts.sentBytes
                    totals.lanRxBytes += counts.receivedBytes
                } else {
                    totals.wanTxBytes[layout.regions[region], default: 0] += counts.sentBytes
                    totals.wanRxBytes[layout.regions[region], default: 0] += counts.receivedBytes
                }
            }
        }
        if !arrivals.isEmpty {
            totals.arrivals = arrivals.reduce(into: [:]) { result, entry in
                result[layout.regions[entry.key]] = ControlMessage.Arrivals(
                    messages: entry.value.count, lateP50Us: entry.value.percentile(0.5),
                    lateP99Us: entry.value.percentile(0.99), lateMaxUs: entry.value.maxMicroseconds)
            }
        }
        return totals
    }

}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
