import Collectives
import Foundation
import NUMA
import StraitsWire
import Topology
import Synchronization
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
        var trainingDevices: [TrainingDevice] = []
        var you = -1
        var timeout = Duration.seconds(60)
        let planes: [DataPlane]
        /// How the ranks wait for held messages' arrivals (`--arrival-wait`).
        let arrivalWait: WorkerOptions.ArrivalWait

        init(planes: [DataPlane], arrivalWait: WorkerOptions.ArrivalWait) {
            self.planes = planes
            self.arrivalWait = arrivalWait
        }
    }

    /// Runs the worker; returns its exit status (0: the job finished, 1: it failed or was
    /// aborted, 3: the coordinator refused the join).
    public func run() -> Int32 {
        do {
            return try runThrowing()
        } catch {
            say("\(error)")
            return 1
        }
    }

    private var name: String { "straits-worker \(options.region)/\(options.host)" }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data("\(name): \(line)\n".utf8))
    }

    private func runThrowing() throws -> Int32 {
        let topology = try NUMATopology.discover()
        var planes: [DataPlane] = []
        for device in 0..<options.devices {
            let plane = try DataPlane(
                rank: -1, bind: [options.transport.endpoint(address: options.bindAddress, name: "device\(device)"),
                                 "inproc://straits-worker-\(getpid())-\(device)"],
                maximumMessageBytes: (1 << 30) + 4096)
            plane.approachesArrivals = options.arrivalWait.approaches(advice: nil)
            planes.append(plane)
        }
        defer { for plane in planes { plane.removeSocketFiles() } }
        let shared = Shared(planes: planes, arrivalWait: options.arrivalWait)
        let board = try DeviceBoard(devices: options.devices)

        var control = try ZMQSocket(.dealer, linger: .seconds(1))
        try control.setReceiveHighWaterMark(1000)
        try control.connect(options.coordinator)
        let join = ControlMessage.Join(
            region: options.region, host: options.host, devices: options.devices, numaNodes: topology.nodes.count,
            endpoints: planes.map { $0.endpoints[0] }, pid: Int(getpid()))
        try ControlLink.send(.join(join), on: &control, version: options.protocolVersion)
        say("joining \(options.coordinator) with \(options.devices) device\(options.devices == 1 ? "" : "s") (\(topology))")

        var watch = CoordinatorWatch(endpoint: options.coordinator, heartbeatSeconds: options.heartbeatSeconds,
                                     deadAfterSeconds: options.deadAfterSeconds, joinTimeoutSeconds: options.joinTimeoutSeconds)
        var threads: [Thread] = []
        var pending: ControlMessage.Kind?
        var pendingStep: ControlMessage.Step?
        var pendingProbe: ControlMessage.Probe?
        var computeTotal = 0.0, commTotal = 0.0, stepsDone = 0
        // Commands wait here until the devices have finished the one before.
        var queue: [DeviceBoard.Command] = []

        func traffic() -> ControlMessage.Traffic {
            guard let layout = shared.layout else { return ControlMessage.Traffic() }
            var totals = ControlMessage.Traffic()
            let me = shared.you
            let myRegion = layout.workers.indices.contains(me) ? layout.workers[me].region : -1
            var arrivals: [Int: LatenessHistogram] = [:]
            for plane in planes {
                for (region, histogram) in plane.traffic.arrivalSnapshot() where layout.regions.indices.contains(region) {
                    arrivals[region, default: LatenessHistogram(limitMicroseconds: TrafficCounters.arrivalLimitMicroseconds)].merge(histogram)
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

        while true {
            if let failure = watch.failure() {
                say(failure)
                return 1
            }
            if let seq = watch.heartbeatDue() {
                try ControlLink.send(.heartbeat(.init(seq: seq, traffic: traffic(), computeS: computeTotal,
                                                      commS: commTotal, stepsDone: stepsDone)), on: &control)
            }

            // A command the devices finished?
            if let kind = pending, let outcomes = try? board.outcomes(timeout: 0) {
                pending = nil
                switch kind {
                case .probe:
                    if let probe = pendingProbe, probe.lead, case .probed(let link)? = outcomes[0] {
                        try ControlLink.send(.probed(.init(peerWorker: probe.peerWorker, link: link)), on: &control)
                    }
                case .step:
                    let step = pendingStep!
                    var devices: [ControlMessage.DeviceStep] = []
                    for device in 0..<options.devices {
                        if case .stepped(let result)? = outcomes[device] {
                            devices.append(result)
                            computeTotal += result.computeS
                            commTotal += result.commS
                        }
                    }
                    stepsDone += 1
                    let plan = shared.planner?.choose(bytes: step.bytes, chunkBytes: step.chunkBytes).description ?? ""
                    try ControlLink.send(.stepDone(.init(step: step.step, plan: plan, devices: devices, traffic: traffic())), on: &control)
                default:
                    break
                }
            }
            if pending == nil, !queue.isEmpty {
                let command = queue.removeFirst()
                switch command {
                case .connect(let plan):
                    // No device is running a command now, so the shared plan can change.
                    let layout = ClusterLayout(plan: plan)
                    shared.layout = layout
                    shared.you = plan.you
                    shared.timeout = .milliseconds(Int(plan.timeoutS * 1000))
                    let lan = LinkCost(alphaSeconds: plan.lan.alphaS, betaSecondsPerByte: plan.lan.betaSPerByte)
                    let wan = LinkCost(alphaSeconds: plan.wan.alphaS, betaSecondsPerByte: plan.wan.betaSPerByte)
                    shared.planner = ClusterPlanner(layout: layout, lan: lan, wan: wan, algo: plan.algo,
                                                    chunkBytes: plan.chunkBytes > 0 ? plan.chunkBytes : nil)
                    shared.regionalPlanner = ClusterPlanner(layout: layout, lan: lan, wan: wan, algo: "hier",
                                                            chunkBytes: plan.chunkBytes > 0 ? plan.chunkBytes : nil)
                    if let text = plan.job {
                        guard let training = try JobSpec.parse(text, file: "job (from the coordinator)").training else {
                            throw RuntimeError("the plan's job is not a training job")
                        }
                        shared.training = training
                    }
                    if shared.group == nil {
                        shared.group = try DeviceGroup(devices: options.devices, elementCount: max(plan.maxBytes / 4, 1), topology: topology)
                        for device in 0..<options.devices {
                            let thread = Thread { ClusterWorker.deviceLoop(device: device, shared: shared, board: board) }
                            thread.name = "device \(device)"
                            thread.start()
                            threads.append(thread)
                        }
                    }
                    for plane in planes { plane.checksums = plan.checksums }
                    if let training = shared.training, shared.trainingDevices.isEmpty, let group = shared.group {
                        shared.trainingDevices = (0..<options.devices).map {
                            TrainingDevice(device: $0, spec: training, plane: planes[$0], group: group, shared: shared)
                        }
                    }
                case .probe(let probe): pendingProbe = probe
                case .step(let step): pendingStep = step
                default: break
                }
                board.post(command)
                pending = command.kind
                continue
            }

            let frames = try ControlLink.receiveFrames(on: &control, timeout: watch.wait(cap: .milliseconds(200)), wakingOn: board.doorbell)
            if pending != nil {
                // A device failure surfaces here as a thrown error.
                do {
                    _ = try board.outcomes(timeout: 0)
                } catch {
                    try? ControlLink.send(.stop(.init(ok: false, reason: "\(name): \(error)")), on: &control)
                    Coordinator.flush()
                    say("failed: \(error)")
                    return 1
                }
            }
            guard let frames else { continue }
            guard let message = watch.accept(frames, who: name) else { continue }
            switch message {
            case .refuse(let refuse):
                say("refused by the coordinator: \(refuse.reason)")
                return 3
            case .heartbeat:
                break
            case .plan(let plan):
                let layout = ClusterLayout(plan: plan)
                guard plan.devicesPerWorker == options.devices, layout.workers.indices.contains(plan.you) else {
                    say("the plan does not fit this worker (\(plan.devicesPerWorker) devices per worker, you = \(plan.you))")
                    return 1
                }
                queue.append(.connect(plan))
            case .probe(let probe):
                queue.append(.probe(probe))
            case .step(let step):
                queue.append(.step(step))
            case .stop(let stop):
                if stop.ok {
                    // The devices are idle (their last command finished before the stop came).
                    for (device, plane) in planes.enumerated() where plane.approached > 0 {
                        let spun = Double(plane.spunNanoseconds)
                        say("device \(device) (rank \(plane.rank)): spun \(fixed(spun / 1e9, 3)) s before \(plane.approached) arrivals "
                            + "(\(Int(spun / Double(plane.approached) / 1000)) µs each), waking \(plane.approachEarly / 1000) µs early")
                    }
                    board.post(.quit)
                    say("job finished: \(stop.reason)")
                    return 0
                }
                say("the coordinator stopped the job: \(stop.reason)")
                return 1
            case .join, .probed, .stepDone:
                watch.drop(name, "a \(message.kind) message is for the coordinator")
            }
        }
    }

    /// A device thread: waits for commands and carries them out until `quit`.
    static func deviceLoop(device: Int, shared: Shared, board: DeviceBoard) {
        let plane = shared.planes[device]
        var seen = 0
        do {
            guard let group = shared.group else { throw RuntimeError("no device group") }
            try group.pin(device: device)
            while true {
                guard let (sequence, command) = board.next(after: seen, timeout: 1) else { continue }
                seen = sequence
                switch command {
                case .quit:
                    shared.trainingDevices[safe: device]?.close()
                    return
                case .connect(let plan):
                    let layout = ClusterLayout(plan: plan)
                    plane.rank = layout.rank(worker: plan.you, device: device)
                    plane.traffic.setRegions((0..<layout.ranks).map { layout.workers[layout.worker(ofRank: $0)].region })
                    let myRegion = layout.workers[plan.you].region
                    let gateway = plan.gateways?.first { $0.region == myRegion }
                    for peer in 0..<layout.ranks where peer != plane.rank {
                        let worker = layout.worker(ofRank: peer), peerDevice = peer - layout.workers[worker].firstRank
                        let peerRegion = layout.workers[worker].region
                        if let gateway, peerRegion != myRegion {
                            // Another region: through this region's gateway, which shapes the link.
                            try plane.connect(peer: peer, endpoint: gateway.endpoints[peerRegion], routedTo: peer)
                        } else {
                            let endpoint = worker == plan.you
                                ? "inproc://straits-worker-\(getpid())-\(peerDevice)"
                                : layout.workers[worker].endpoints[peerDevice]
                            try plane.connect(peer: peer, endpoint: endpoint)
                        }
                    }
                    board.finish(device: device, .done)
                case .probe(let probe):
                    guard device == 0, let layout = shared.layout else {
                        board.finish(device: device, .done)
                        continue
                    }
                    var collective = UInt64(probe.collective)
                    let peer = layout.rank(worker: probe.peerWorker, device: 0)
                    func measure() throws -> BenchWorker.ProbeResult {
                        try BenchWorker.probe(plane: plane, rank: plane.rank, peer: peer, ranks: layout.ranks, buffer: group.base(0),
                                              elements: group.elementCount, collective: &collective, timeout: shared.timeout)
                    }
                    let result = probe.direct == true
                        ? try plane.withDirectConnection(peer: peer, endpoint: layout.workers[probe.peerWorker].endpoints[0], measure)
                        : try measure()
                    board.finish(device: device, .probed(.init(alphaS: result.link.alphaSeconds, betaSPerByte: result.link.betaSecondsPerByte,
                                                               cpuPerMessageS: result.cpuPerMessageSeconds)))
                case .step(let step):
                    plane.approachesArrivals = shared.arrivalWait.approaches(advice: step.approachArrivals)
                    if let train = step.train {
                        guard let trainer = shared.trainingDevices[safe: device] else {
                            throw RuntimeError("a training step, but the plan carries no training job")
                        }
                        board.finish(device: device, .stepped(try trainer.step(step, train)))
                    } else {
                        board.finish(device: device, .stepped(try runStep(step, device: device, plane: plane, group: group, shared: shared)))
                    }
                }
            }
        } catch {
            shared.trainingDevices[safe: device]?.close()
            shared.group?.abort("device \(device) failed: \(error)")
            board.fail(device: device, "\(error)")
        }
    }

    /// One step on one device: emulated compute, then the all-reduce of the plan, timed per
    /// level, and the exact check of every element.
    static func runStep(_ step: ControlMessage.Step, device: Int, plane: DataPlane, group: DeviceGroup,
                        shared: Shared) throws -> ControlMessage.DeviceStep {
        guard let layout = shared.layout, let planner = shared.planner else { throw RuntimeError("step before the plan") }
        let rank = plane.rank, ranks = layout.ranks
        let count = step.bytes / 4
        guard count <= group.elementCount else {
            throw RuntimeError("step \(step.step) all-reduces \(step.bytes) bytes; buffers hold \(group.elementCount * 4)")
        }
        let timeout = shared.timeout
        let buffer = group.base(device)
        let fillStart = ContinuousClock.now
        ExactPattern.fill(buffer, count: count, rank: rank, ranks: ranks)
        var checkS = seconds(ContinuousClock.now - fillStart)

        let computeStart = ContinuousClock.now
        if step.computeS > 0 { Thread.sleep(forTimeInterval: step.computeS) }
        let computeS = seconds(ContinuousClock.now - computeStart)

        let choice = planner.choose(bytes: step.bytes, chunkBytes: step.chunkBytes)
        var collective = UInt64(step.collective)
        func run(_ schedule: CollectiveSchedule) throws {
            try ScheduleExecutor.run(schedule, buffer: buffer, elementCount: count, on: plane, collectiveID: collective,
                                     step: UInt64(step.step), timeout: timeout)
            collective += 1
        }
        // Every rank starts the timed part together: a barrier over the stream (or all ranks).
        let stream = choice.hierarchical ? layout.workers.indices.map { layout.rank(worker: $0, device: device) } : Array(0..<ranks)
        var barrier = CollectiveSchedule(rank: rank, ranks: ranks)
        DisseminationBarrier.append(to: &barrier, group: stream)
        let syncStart = ContinuousClock.now
        if choice.hierarchical { try group.synchronize(timeout: timeout, what: "step \(step.step) start") }
        try run(barrier)
        let syncS = seconds(ContinuousClock.now - syncStart)

        var hostS = 0.0, regionS = 0.0, wanS = 0.0
        let start = ContinuousClock.now
        var mark = start
        func lap() -> Double {
            let now = ContinuousClock.now
            defer { mark = now }
            return seconds(now - mark)
        }
        if choice.hierarchical {
            try group.reduceScatter(device: device, count: count, timeout: timeout)
            hostS += lap()
        }
        for phase in ClusterCollective.phases(choice: choice, layout: layout, rank: rank, device: device, count: count,
                                              slice: group.slice(device, of: count)) {
            try run(phase.schedule)
            switch phase.level {
            case .region: regionS += lap()
            case .wan: wanS += lap()
            case .flat: _ = lap()
            }
        }
        if choice.hierarchical {
            try group.allGather(device: device, count: count, timeout: timeout)
            hostS += lap()
        }
        let commS = seconds(ContinuousClock.now - start)
        // Check only once every rank has finished: ranks share this machine's cores, and a rank
        // that checked its result at once would take a core that a slower rank still needs,
        // slowing what that rank measures.
        if choice.hierarchical { try group.synchronize(timeout: timeout, what: "step \(step.step) end") }
        try run(barrier)
        let checkStart = ContinuousClock.now
        let wrong = ExactPattern.countWrong(buffer, count: count, ranks: ranks)
        checkS += seconds(ContinuousClock.now - checkStart)
        return ControlMessage.DeviceStep(rank: rank, computeS: computeS, commS: commS, hostS: hostS, regionS: regionS,
                                         wanS: wanS, syncS: syncS, checkS: checkS, wrong: wrong)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
