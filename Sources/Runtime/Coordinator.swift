import Collectives
import Foundation
import Synchronization
import StraitsWire
import Telemetry
import Topology
import ZeroMQ

/// `straits-coordinator`: admits the topology's workers, plans, drives the job step by step,
/// watches heartbeats, and writes the run directory. One thread; every wait has a deadline.
public final class Coordinator {
    /// An admitted worker.
    struct Member {
        let route: [UInt8]
        let join: ControlMessage.Join
        let region: Int
        var lastHeard: ContinuousClock.Instant
        var traffic = ControlMessage.Traffic()
        var computeS = 0.0
        var commS = 0.0
        var stepsDone = 0
        var label: String { "\(join.region)/host \(join.host) (pid \(join.pid))" }
    }

    /// Why the job ended early.
    struct Abort: Error, CustomStringConvertible {
        let description: String
    }

    let options: CoordinatorOptions
    let topology: ClusterTopology
    let job: JobSpec
    let run: RunDirectory
    private let router: SocketBox
    private var members: [Member] = []
    /// Workers in rank order (indices into `members`), once the plan is made.
    private var order: [Int] = []
    private var joining = true
    private var dropped = 0
    private var failure: String?
    private var probed: ControlMessage.Probed?
    private var stepResults: [Int: ControlMessage.StepDone] = [:]
    private var currentStep = -1
    private var nextHeartbeat = ContinuousClock.now
    private var heartbeatSeq = 0
    private let started = Date()
    // Per-second records: when the last was written and the totals it saw.
    private var lastRecord = ContinuousClock.now
    private var recorded: [Int: RegionTotals] = [:]
    private var recordedLinks: [String: (offered: Int, delivered: Int)] = [:]
    private var latestStep = -1
    private var stepsFinished = 0
    private var samplesFinished = 0

    struct RegionTotals {
        var wanTx = 0, wanRx = 0, lanTx = 0, lanRx = 0
        var computeS = 0.0, commS = 0.0
        var stepsDone = 0
    }

    public init(options: CoordinatorOptions) throws {
        self.options = options
        topology = try ClusterTopology.load(path: options.topologyPath)
        job = try JobSpec.load(path: options.jobPath)
        if job.algorithm == "hier", Set(topology.regions.map(\.hosts)).count > 1 {
            throw ConfigError(file: options.jobPath, line: 1, field: "algo",
                              message: "hier needs the same number of hosts in every region (the topology has \(topology.regions.map { "\($0.name): \($0.hosts)" }.joined(separator: ", "))); use auto or ring")
        }
        if Set(topology.regions.map(\.devicesPerHost)).count > 1 {
            throw ConfigError(file: options.topologyPath, line: 1, field: "regions",
                              message: "every host needs the same devices_per_host for now (got \(topology.regions.map { "\($0.name): \($0.devicesPerHost)" }.joined(separator: ", ")))")
        }
        run = try RunDirectory(path: options.runDirectory, regionNames: topology.regions.map(\.name),
                               topologyFile: options.topologyPath, jobFile: options.jobPath)
        var socket = try ZMQSocket(.router, linger: .milliseconds(500))
        try socket.setRouterMandatory(true)
        try socket.setMaximumMessageSize(4 << 20)
        try socket.setReceiveHighWaterMark(10_000)
        let endpoint = try socket.bind(options.bind)
        router = SocketBox(socket)
        try Data((endpoint + "\n").utf8).write(to: URL(fileURLWithPath: options.runDirectory + "/coordinator.endpoint"))
        say("listening on \(endpoint); run directory \(options.runDirectory)")
        run.event("start", [("endpoint", .string(endpoint)), ("topology", .string(topology.name)), ("job", .string(job.name)),
                            ("hosts", .int(topology.hostCount)), ("ranks", .int(topology.deviceCount))])
    }

    func say(_ line: String) {
        FileHandle.standardOutput.write(Data(("straits-coordinator: " + line + "\n").utf8))
    }

    /// Set by SIGINT or SIGTERM: the job ends as an abort, with its records and summary written.
    private static let interrupted = Atomic<Int32>(0)
    private var signalSources: [any DispatchSourceSignal] = []

    private func watchSignals() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { Coordinator.interrupted.store(signalNumber, ordering: .relaxed) }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Runs the job to its end; returns the exit status (0 finished, 1 failed, 130 interrupted).
    public func runJob() -> Int32 {
        watchSignals()
        do {
            try admitWorkers()
            try plan()
            switch job.kind {
            case .sync: try runSteps()
            case .bench: try runBench()
            }
            writeRecords(final: true)
            for member in members { try? send(.stop(.init(ok: true, reason: "job \(job.name) finished")), to: member.route) }
            run.event("finish", [("steps", .int(stepsFinished))])
            writeSummary(status: "ok", reason: nil)
            say("job \(job.name) finished: \(stepsFinished) steps in \(JSONValue.format((Date().timeIntervalSince(started) * 1000).rounded() / 1000)) s")
            return 0
        } catch {
            let reason = "\(error)"
            writeRecords(final: true)
            for member in members { try? send(.stop(.init(ok: false, reason: reason)), to: member.route) }
            run.event("abort", [("reason", .string(reason))])
            writeSummary(status: "failed", reason: reason)
            FileHandle.standardError.write(Data("straits-coordinator: job aborted: \(reason)\n".utf8))
            return Self.interrupted.load(ordering: .relaxed) != 0 ? 130 : 1
        }
    }

    // MARK: Phases

    private func admitWorkers() throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(options.joinTimeoutSeconds * 1000))
        say("waiting for \(topology.hostCount) workers (\(topology.regions.map { "\($0.name): \($0.hosts)×\($0.devicesPerHost)" }.joined(separator: ", ")))")
        try pump(until: { self.members.count == self.topology.hostCount }, deadline: deadline) {
            var missing: [String] = []
            for region in self.topology.regions {
                for host in 0..<region.hosts where !self.members.contains(where: { $0.join.region == region.name && $0.join.host == host }) {
                    missing.append("\(region.name)/host \(host)")
                }
            }
            return "only \(self.members.count) of \(self.topology.hostCount) workers joined within \(JSONValue.format(self.options.joinTimeoutSeconds)) s; missing: \(missing.joined(separator: ", "))"
        }
        joining = false
    }

    private func plan() throws {
        order = members.indices.sorted {
            (members[$0].region, members[$0].join.host) < (members[$1].region, members[$1].join.host)
        }
        let devices = topology.regions[0].devicesPerHost
        let workers = order.enumerated().map { index, member in
            ControlMessage.PlanWorker(worker: index, region: members[member].region, host: members[member].join.host,
                                      firstRank: index * devices, endpoints: members[member].join.endpoints)
        }
        let unmeasured = ControlMessage.LinkParameters(alphaS: LinkCost.unmeasured.alphaSeconds, betaSPerByte: LinkCost.unmeasured.betaSecondsPerByte)
        let maxBytes = job.kind == .bench ? job.benchSizes.last ?? job.maxBytes : job.gradientBytes
        func planMessage(_ you: Int, lan: ControlMessage.LinkParameters, wan: ControlMessage.LinkParameters) -> ControlMessage.Plan {
            ControlMessage.Plan(epoch: 1, you: you, regions: topology.regions.map(\.name), devicesPerWorker: devices,
                                workers: workers, algo: job.algorithm, chunkBytes: 0, maxBytes: maxBytes,
                                checksums: options.checksums, timeoutS: job.timeoutSeconds, lan: lan, wan: wan)
        }
        for (index, member) in order.enumerated() { try send(.plan(planMessage(index, lan: unmeasured, wan: unmeasured)), to: members[member].route) }

        // α and β per link: between the first two hosts of each region (lan) and between the
        // first hosts of each pair of regions (wan). The planner takes the slowest of each kind.
        let layout = ClusterLayout(regions: topology.regions.map(\.name), devicesPerWorker: devices, workers: workers)
        var measured: [JSONValue] = []
        var lanLinks: [ControlMessage.LinkParameters] = [], wanLinks: [ControlMessage.LinkParameters] = []
        var collective = 1
        func record(_ kind: String, _ from: Int, _ to: Int, _ link: ControlMessage.LinkParameters) {
            measured.append(.object([
                ("kind", .string(kind)), ("from", .string(members[order[from]].label)), ("to", .string(members[order[to]].label)),
                ("alpha_s", .double(link.alphaS)), ("beta_s_per_byte", .double(link.betaSPerByte)),
                ("bandwidth_gbps", .double(8 / link.betaSPerByte / 1e9)),
            ]))
        }
        for region in layout.workersByRegion where region.count >= 2 {
            let link = try probe(region[0], region[1], collective: &collective)
            lanLinks.append(link)
            record("lan", region[0], region[1], link)
        }
        for a in layout.workersByRegion.indices {
            for b in layout.workersByRegion.indices where b > a {
                let (from, to) = (layout.workersByRegion[a][0], layout.workersByRegion[b][0])
                let link = try probe(from, to, collective: &collective)
                wanLinks.append(link)
                record("wan", from, to, link)
            }
        }
        func slowest(_ links: [ControlMessage.LinkParameters]) -> ControlMessage.LinkParameters? {
            guard !links.isEmpty else { return nil }
            return ControlMessage.LinkParameters(alphaS: links.map(\.alphaS).max()!, betaSPerByte: links.map(\.betaSPerByte).max()!)
        }
        let lan = slowest(lanLinks) ?? slowest(wanLinks) ?? unmeasured
        let wan = slowest(wanLinks) ?? lan
        for (index, member) in order.enumerated() { try send(.plan(planMessage(index, lan: lan, wan: wan)), to: members[member].route) }

        let planner = ClusterPlanner(layout: layout, lan: LinkCost(alphaSeconds: lan.alphaS, betaSecondsPerByte: lan.betaSPerByte),
                                     wan: LinkCost(alphaSeconds: wan.alphaS, betaSecondsPerByte: wan.betaSPerByte), algo: job.algorithm)
        let sizes = job.kind == .bench ? job.benchSizes : [job.gradientBytes]
        let planJSON: JSONValue = .object([
            ("epoch", 1), ("topology", .string(topology.name)), ("job", .string(job.name)),
            ("ranks", .int(layout.ranks)), ("devices_per_worker", .int(devices)), ("algo", .string(job.algorithm)),
            ("checksums", .bool(options.checksums)),
            ("workers", .array(order.enumerated().map { index, member in
                let m = members[member]
                return .object([("worker", .int(index)), ("region", .string(m.join.region)), ("host", .int(m.join.host)),
                                ("pid", .int(m.join.pid)), ("numa_nodes", .int(m.join.numaNodes)),
                                ("ranks", .array((0..<devices).map { .int(index * devices + $0) })),
                                ("endpoints", .array(m.join.endpoints.map { .string($0) }))])
            })),
            ("links_declared", .array(topology.links.map { link in
                .object([("from", .string(link.from)), ("to", .string(link.to)), ("bandwidth_bps", .double(link.bitsPerSecond)),
                         ("latency_s", .double(link.latencySeconds)), ("jitter_s", .double(link.jitterSeconds))])
            })),
            ("links_measured", .array(measured)),
            ("planner_links", .object([
                ("lan", .object([("alpha_s", .double(lan.alphaS)), ("beta_s_per_byte", .double(lan.betaSPerByte))])),
                ("wan", .object([("alpha_s", .double(wan.alphaS)), ("beta_s_per_byte", .double(wan.betaSPerByte))])),
            ])),
            ("wan_path", "direct worker-to-worker sockets (no gateway shaping in this build)"),
            ("collectives", .array(sizes.map { size in
                let choice = planner.choose(bytes: size)
                return .object([("size_bytes", .int(size)), ("plan", .string(choice.description))])
            })),
        ])
        run.write("plan.json", planJSON)
        run.event("plan", [("ranks", .int(layout.ranks)), ("workers", .int(order.count))])
        say("plan: \(layout.ranks) ranks on \(order.count) workers; measured lan α \(fixed(lan.alphaS * 1e6, 1)) µs, \(fixed(1 / lan.betaSPerByte / 1e9, 2)) GB/s; wan α \(fixed(wan.alphaS * 1e6, 1)) µs, \(fixed(1 / wan.betaSPerByte / 1e9, 2)) GB/s; \(planner.choose(bytes: sizes.last!).description)")
    }

    private func probe(_ a: Int, _ b: Int, collective: inout Int) throws -> ControlMessage.LinkParameters {
        probed = nil
        try send(.probe(.init(peerWorker: b, lead: true, collective: collective)), to: members[order[a]].route)
        try send(.probe(.init(peerWorker: a, lead: false, collective: collective)), to: members[order[b]].route)
        collective += 64
        try pump(until: { self.probed != nil }, deadline: .now + .seconds(30)) { "no probe result from worker \(a) within 30 s" }
        return probed!.link
    }

    private func runSteps() throws {
        say("running \(job.steps) steps: compute \(Units.formatDuration(seconds: job.computeSeconds)), all-reduce \(job.gradientBytes) bytes")
        var lastPrint = ContinuousClock.now
        for step in 0..<job.steps {
            let result = try runStep(step, bytes: job.gradientBytes, computeS: job.computeSeconds, collective: Self.firstStepCollective + step * 8)
            if step == job.steps - 1 || ContinuousClock.now - lastPrint > .seconds(2) {
                lastPrint = ContinuousClock.now
                say("step \(step + 1)/\(job.steps): \(fixed(result.wall * 1e3, 1)) ms, comm \(fixed(result.comm * 1e3, 1)) ms, \(result.wrong) wrong")
            }
            if result.wrong > 0 { throw Abort(description: "step \(step): \(result.wrong) elements of the all-reduce are wrong") }
        }
    }

    private func runBench() throws {
        let sizes = job.benchSizes
        let ranks = topology.deviceCount
        say("all-reduce benchmark over the cluster: \(ranks) ranks, sizes \(sizes.first!)…\(sizes.last!), \(job.iterations) iterations after \(job.warmupIterations) warm-up")
        emit("#" + pad("size", 11) + pad("count", 12) + pad("type", 8) + pad("redop", 7) + pad("time(us)", 11) + pad("algbw(GB/s)", 13) + pad("busbw(GB/s)", 13) + pad("#wrong", 8) + "  plan")
        var step = 0
        var busTotal = 0.0
        for size in sizes {
            var times: [Double] = []
            var wrong = 0
            var planText = ""
            for iteration in 0..<(job.warmupIterations + job.iterations) {
                let result = try runStep(step, bytes: size, computeS: 0, collective: Self.firstStepCollective + step * 8)
                step += 1
                wrong += result.wrong
                planText = result.plan
                if iteration >= job.warmupIterations { times.append(result.comm) }
            }
            let sorted = times.sorted()
            let median = sorted[sorted.count / 2]
            let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
            let algbw = Double(size) / median / 1e9
            let busbw = algbw * 2 * Double(ranks - 1) / Double(ranks)
            busTotal += busbw
            emit(pad(String(size), 12, right: true) + pad(String(size / 4), 12, right: true) + pad("float", 8, right: true)
                  + pad("sum", 7, right: true) + pad(fixed(median * 1e6, 1), 11, right: true) + pad(fixed(algbw, 3), 13, right: true)
                  + pad(fixed(busbw, 3), 13, right: true) + pad(String(wrong), 8, right: true) + "  " + planText)
            run.bench.append(.object([
                ("size_bytes", .int(size)), ("count", .int(size / 4)), ("ranks", .int(ranks)), ("algo", .string(planText)),
                ("transport", "tcp"), ("time_us", .double(median * 1e6)), ("p50_us", .double(median * 1e6)),
                ("p99_us", .double(p99 * 1e6)), ("algbw_gbps", .double(algbw)), ("busbw_gbps", .double(busbw)), ("wrong", .int(wrong)),
            ]))
            if wrong > 0 { throw Abort(description: "size \(size): \(wrong) elements of the all-reduce are wrong") }
        }
        emit("# Avg bus bandwidth    : \(fixed(busTotal / Double(sizes.count), 3))")
    }

    /// Runs one step on every worker and logs it. Returns the step's wall time, the slowest
    /// rank's all-reduce time, wrong elements and the plan.
    private func runStep(_ step: Int, bytes: Int, computeS: Double, collective: Int) throws -> (wall: Double, comm: Double, wrong: Int, plan: String) {
        stepResults = [:]
        currentStep = step
        let start = ContinuousClock.now
        let startDate = Date()
        for member in order { try send(.step(.init(step: step, bytes: bytes, computeS: computeS, collective: collective)), to: members[member].route) }
        let deadline = ContinuousClock.now + .milliseconds(Int((job.timeoutSeconds + computeS) * 1000) + 5000)
        try pump(until: { self.stepResults.count == self.order.count }, deadline: deadline) {
            let missing = self.order.indices.filter { self.stepResults[$0] == nil }.map { self.members[self.order[$0]].label }
            return "step \(step) did not finish within \(JSONValue.format(self.job.timeoutSeconds + computeS + 5)) s; waiting on \(missing.joined(separator: ", "))"
        }
        let wall = Self.seconds(ContinuousClock.now - start)
        let layoutRegions = topology.regions.map(\.name)
        var comm = 0.0, wrong = 0
        var plan = ""
        var regionSums: [Int: (compute: Double, comm: Double, devices: Int)] = [:]
        for (worker, done) in stepResults.sorted(by: { $0.key < $1.key }) {
            let member = members[order[worker]]
            plan = done.plan
            for device in done.devices {
                comm = max(comm, device.commS)
                wrong += device.wrong
                regionSums[member.region, default: (0, 0, 0)].compute += device.computeS
                regionSums[member.region, default: (0, 0, 0)].comm += device.commS
                regionSums[member.region, default: (0, 0, 0)].devices += 1
                run.steps.append(.object([
                    ("t", .string(RunDirectory.timestamp(startDate))), ("step", .int(step)), ("rank", .int(device.rank)),
                    ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                    ("device", .int(device.rank - worker * topology.regions[0].devicesPerHost)),
                    ("bytes", .int(bytes)), ("compute_s", .double(device.computeS)), ("comm_s", .double(device.commS)),
                    ("host_s", .double(device.hostS)), ("region_s", .double(device.regionS)), ("wan_s", .double(device.wanS)),
                    ("sync_s", .double(device.syncS)), ("check_s", .double(device.checkS)),
                    ("wait_s", .double(max(0, wall - device.computeS - device.commS - device.syncS - device.checkS))),
                    ("wrong", .int(device.wrong)),
                    ("loss", .null), ("plan", .string(done.plan)),
                ]))
            }
        }
        // Per-region step record, from the traffic each worker reported with its result.
        let before = stepTotals
        stepTotals = regionTotals()
        for (region, name) in layoutRegions.enumerated() {
            let now = stepTotals[region] ?? RegionTotals(), then = before[region] ?? RegionTotals()
            let sums = regionSums[region] ?? (0, 0, 1)
            let devices = max(sums.devices, 1)
            run.regions[name]?.append(regionRecord(
                kind: "step", region: name, window: wall, step: step, now: now, then: then,
                samples: devices * job.samplesPerStep, computeS: sums.compute / Double(devices), commS: sums.comm / Double(devices)))
        }
        latestStep = step
        stepsFinished += 1
        samplesFinished += topology.deviceCount * job.samplesPerStep
        return (wall, comm, wrong, plan)
    }

    private var stepTotals: [Int: RegionTotals] = [:]
    /// Collective ids below this are the probes'; each step uses up to eight from here on.
    static let firstStepCollective = 1 << 20

    // MARK: The message pump

    /// Serves the control socket until `done()` holds: admits joins, takes heartbeats and
    /// results, sends heartbeats, writes per-second records, and fails the job on a dead or
    /// failed worker or when `deadline` passes.
    private func pump(until done: () -> Bool, deadline: ContinuousClock.Instant, timeoutMessage: () -> String) throws {
        let heartbeat = Duration.milliseconds(Int(options.heartbeatSeconds * 1000))
        let deadAfter = Duration.milliseconds(Int(options.deadAfterSeconds * 1000))
        while !done() {
            if let failure { throw Abort(description: failure) }
            let signalNumber = Self.interrupted.load(ordering: .relaxed)
            if signalNumber != 0 {
                throw Abort(description: "interrupted by \(signalNumber == SIGINT ? "SIGINT" : "SIGTERM") at step \(max(currentStep, 0))")
            }
            let now = ContinuousClock.now
            if now >= deadline { throw Abort(description: timeoutMessage()) }
            if now >= nextHeartbeat {
                heartbeatSeq += 1
                for member in members { try? send(.heartbeat(.init(seq: heartbeatSeq)), to: member.route) }
                nextHeartbeat = now + heartbeat
            }
            for member in members where now - member.lastHeard > deadAfter {
                let reason = "worker \(member.label) sent nothing for \(JSONValue.format(Self.seconds(now - member.lastHeard).rounded(toPlaces: 1))) s (dead after \(JSONValue.format(options.deadAfterSeconds)) s)"
                run.event("worker_dead", [("region", .string(member.join.region)), ("host", .int(member.join.host)),
                                          ("pid", .int(member.join.pid)), ("reason", .string(reason))])
                throw Abort(description: reason)
            }
            if !joining && now - lastRecord >= .seconds(1) { writeRecords(final: false) }
            let wait = min(nextHeartbeat - now, deadline - now, .milliseconds(100))
            guard let frames = try ControlLink.receiveFrames(on: &router.socket, timeout: max(wait, .milliseconds(1))) else { continue }
            handle(frames)
        }
    }

    private func handle(_ frames: [[UInt8]]) {
        guard frames.count >= 2 else {
            drop("a message of \(frames.count) frame\(frames.count == 1 ? "" : "s") (expected routing id, envelope, body)")
            return
        }
        let route = frames[0]
        let who = members.firstIndex { $0.route == route }
        let message: ControlMessage
        do {
            message = try ControlMessage(frames: Array(frames.dropFirst()))
        } catch {
            if case .versionMismatch = error {
                refuse(route, "\(error); upgrade the worker or the coordinator so both speak version \(ControlMessage.protocolVersion)")
                return
            }
            drop("from \(who.map { members[$0].label } ?? "an unknown peer"): \(error)")
            return
        }
        if case .join(let join) = message {
            admit(join, route: route)
            return
        }
        guard let who else {
            drop("a \(message.kind) message from a peer that has not joined")
            return
        }
        members[who].lastHeard = .now
        switch message {
        case .heartbeat(let beat):
            if let traffic = beat.traffic { members[who].traffic = traffic }
            if let compute = beat.computeS { members[who].computeS = compute }
            if let comm = beat.commS { members[who].commS = comm }
            if let steps = beat.stepsDone { members[who].stepsDone = steps }
        case .probed(let result):
            probed = result
        case .stepDone(let done):
            guard let worker = order.firstIndex(of: who), done.step == currentStep else {
                drop("step_done for step \(done.step) from \(members[who].label) (running step \(currentStep))")
                return
            }
            members[who].traffic = done.traffic
            members[who].computeS += done.devices.reduce(0) { $0 + $1.computeS }
            members[who].commS += done.devices.reduce(0) { $0 + $1.commS }
            stepResults[worker] = done
        case .stop(let stop):
            let reason = "worker \(members[who].label) failed: \(stop.reason)"
            run.event("worker_failed", [("region", .string(members[who].join.region)), ("host", .int(members[who].join.host)),
                                        ("reason", .string(stop.reason))])
            failure = reason
        case .join, .refuse, .plan, .probe, .step:
            drop("a \(message.kind) message from \(members[who].label), which only the coordinator sends")
        }
    }

    private func admit(_ join: ControlMessage.Join, route: [UInt8]) {
        let label = "\(join.region)/host \(join.host) (pid \(join.pid))"
        guard joining else { return refuse(route, "\(label): the job has already started; joining mid-job is not supported") }
        guard let region = topology.regions.firstIndex(where: { $0.name == join.region }) else {
            return refuse(route, "\(label): topology \(topology.name) has no region \"\(join.region)\" (regions: \(topology.regions.map(\.name).joined(separator: ", ")))")
        }
        let spec = topology.regions[region]
        guard join.host < spec.hosts else {
            return refuse(route, "\(label): region \(spec.name) has \(spec.hosts) host\(spec.hosts == 1 ? "" : "s") (0…\(spec.hosts - 1)) in topology \(topology.name)")
        }
        guard join.devices == spec.devicesPerHost, join.endpoints.count == join.devices else {
            return refuse(route, "\(label): brings \(join.devices) devices and \(join.endpoints.count) endpoints; region \(spec.name) has \(spec.devicesPerHost) devices per host")
        }
        if let existing = members.first(where: { $0.join.region == join.region && $0.join.host == join.host }) {
            return refuse(route, "\(label): \(join.region)/host \(join.host) has already joined as pid \(existing.join.pid)")
        }
        if members.contains(where: { $0.route == route }) {
            return refuse(route, "\(label): this connection has already joined")
        }
        members.append(Member(route: route, join: join, region: region, lastHeard: .now))
        run.event("join", [("region", .string(join.region)), ("host", .int(join.host)), ("pid", .int(join.pid)),
                           ("devices", .int(join.devices)), ("numa_nodes", .int(join.numaNodes))])
        say("admitted \(label): \(join.devices) device\(join.devices == 1 ? "" : "s"), \(join.numaNodes) NUMA node\(join.numaNodes == 1 ? "" : "s") (\(members.count)/\(topology.hostCount))")
        try? send(.heartbeat(.init(seq: heartbeatSeq)), to: route)
    }

    private func refuse(_ route: [UInt8], _ reason: String) {
        run.event("refused", [("reason", .string(reason))])
        say("refused a join: \(reason)")
        try? send(.refuse(.init(reason: reason)), to: route)
    }

    private func drop(_ reason: String) {
        dropped += 1
        if dropped <= 20 || dropped % 1000 == 0 {
            run.event("dropped", [("count", .int(dropped)), ("reason", .string(reason))])
        }
        ControlLink.logDropped("straits-coordinator", count: dropped, reason)
    }

    private func send(_ message: ControlMessage, to route: [UInt8]) throws {
        try ControlLink.send(message, on: &router.socket, to: route)
    }

    // MARK: Records

    private func regionTotals() -> [Int: RegionTotals] {
        var totals: [Int: RegionTotals] = [:]
        for member in members {
            var entry = totals[member.region] ?? RegionTotals()
            entry.wanTx += member.traffic.wanTxBytes.values.reduce(0, +)
            entry.wanRx += member.traffic.wanRxBytes.values.reduce(0, +)
            entry.lanTx += member.traffic.lanTxBytes
            entry.lanRx += member.traffic.lanRxBytes
            entry.computeS += member.computeS
            entry.commS += member.commS
            entry.stepsDone += member.stepsDone
            totals[member.region] = entry
        }
        return totals
    }

    private func regionRecord(kind: String, region: String, window: Double, step: Int, now: RegionTotals, then: RegionTotals,
                              samples: Int, computeS: Double, commS: Double) -> JSONValue {
        let window = max(window, 1e-9)
        let wanTx = now.wanTx - then.wanTx, wanRx = now.wanRx - then.wanRx
        let lanTx = now.lanTx - then.lanTx, lanRx = now.lanRx - then.lanRx
        return .object([
            ("t", .string(RunDirectory.timestamp())), ("kind", .string(kind)), ("region", .string(region)),
            ("window_s", .double(window)), ("step", .int(step)),
            ("wan_tx_bytes", .int(wanTx)), ("wan_rx_bytes", .int(wanRx)),
            ("wan_tx_gbps", .double(Double(wanTx) * 8 / window / 1e9)), ("wan_rx_gbps", .double(Double(wanRx) * 8 / window / 1e9)),
            ("lan_tx_bytes", .int(lanTx)), ("lan_rx_bytes", .int(lanRx)),
            ("lan_gbps", .double(Double(lanTx) * 8 / window / 1e9)),
            ("samples_per_s", .double(Double(samples) / window)), ("compute_s", .double(computeS)), ("comm_s", .double(commS)),
        ])
    }

    /// The per-second records: per region (`regions/<region>.jsonl`) and per WAN link (`links.jsonl`).
    private func writeRecords(final: Bool) {
        let now = ContinuousClock.now
        let window = Self.seconds(now - lastRecord)
        guard window > 0, !members.isEmpty else { return }
        lastRecord = now
        let totals = regionTotals()
        let devicesPerHost = topology.regions[0].devicesPerHost
        for (index, region) in topology.regions.enumerated() {
            let current = totals[index] ?? RegionTotals(), previous = recorded[index] ?? RegionTotals()
            let devices = max(region.hosts * devicesPerHost, 1)
            let steps = (current.stepsDone - previous.stepsDone) / max(region.hosts, 1)
            run.regions[region.name]?.append(regionRecord(
                kind: final ? "final" : "second", region: region.name, window: window, step: latestStep, now: current, then: previous,
                samples: steps * devicesPerHost * region.hosts * job.samplesPerStep,
                computeS: (current.computeS - previous.computeS) / Double(devices), commS: (current.commS - previous.commS) / Double(devices)))
        }
        recorded = totals
        let timestamp = RunDirectory.timestamp()
        for link in topology.links {
            let offered = members.filter { topology.regions[$0.region].name == link.from }.reduce(0) { $0 + ($1.traffic.wanTxBytes[link.to] ?? 0) }
            let delivered = members.filter { topology.regions[$0.region].name == link.to }.reduce(0) { $0 + ($1.traffic.wanRxBytes[link.from] ?? 0) }
            let key = link.from + "→" + link.to
            let previous = recordedLinks[key] ?? (0, 0)
            recordedLinks[key] = (offered, delivered)
            let offeredDelta = offered - previous.offered, deliveredDelta = delivered - previous.delivered
            run.links.append(.object([
                ("t", .string(timestamp)), ("kind", .string(final ? "final" : "second")), ("from", .string(link.from)),
                ("to", .string(link.to)), ("window_s", .double(window)),
                ("offered_bytes", .int(offeredDelta)), ("delivered_bytes", .int(deliveredDelta)),
                ("offered_gbps", .double(Double(offeredDelta) * 8 / window / 1e9)),
                ("delivered_gbps", .double(Double(deliveredDelta) * 8 / window / 1e9)),
                ("bandwidth_bps", .double(link.bitsPerSecond)), ("queue_delay_ms", .null), ("shaped", false),
            ]))
        }
    }

    private func writeSummary(status: String, reason: String?) {
        let totals = regionTotals()
        let wall = Date().timeIntervalSince(started)
        var sent = 0, received = 0
        for member in members {
            sent += member.traffic.lanTxBytes + member.traffic.wanTxBytes.values.reduce(0, +)
            received += member.traffic.lanRxBytes + member.traffic.wanRxBytes.values.reduce(0, +)
        }
        let devicesPerHost = topology.regions[0].devicesPerHost
        let regions: [JSONValue] = topology.regions.enumerated().map { index, region in
            let t = totals[index] ?? RegionTotals()
            let busy = t.computeS + t.commS
            return .object([
                ("region", .string(region.name)), ("hosts", .int(region.hosts)), ("devices", .int(region.hosts * devicesPerHost)),
                ("wan_tx_bytes", .int(t.wanTx)), ("wan_rx_bytes", .int(t.wanRx)), ("lan_tx_bytes", .int(t.lanTx)), ("lan_rx_bytes", .int(t.lanRx)),
                ("compute_s", .double(t.computeS / Double(max(region.hosts * devicesPerHost, 1)))),
                ("comm_s", .double(t.commS / Double(max(region.hosts * devicesPerHost, 1)))),
                ("comm_share", .double(busy > 0 ? t.commS / busy : 0)),
                ("samples_per_s", .double(wall > 0 ? Double(stepsFinished * region.hosts * devicesPerHost * job.samplesPerStep) / wall : 0)),
            ])
        }
        run.write("summary.json", .object([
            ("status", .string(status)), ("reason", reason.map { .string($0) } ?? .null),
            ("job", .string(job.name)), ("kind", .string(job.kind.rawValue)), ("topology", .string(topology.name)),
            ("workers", .int(members.count)), ("ranks", .int(topology.deviceCount)),
            ("steps", .int(stepsFinished)), ("samples", .int(samplesFinished)), ("wall_s", .double(wall)),
            ("started", .string(RunDirectory.timestamp(started))), ("finished", .string(RunDirectory.timestamp())),
            ("compute", .string(job.computeSeconds > 0 ? "emulated: \(Units.formatDuration(seconds: job.computeSeconds)) sleep per step" : "none")),
            ("wan_path", "direct worker-to-worker sockets (no gateway shaping in this build)"),
            ("bytes_sent", .int(sent)), ("bytes_received", .int(received)), ("bytes_balanced", .bool(sent == received)),
            ("dropped_control_messages", .int(dropped)),
            ("rejected_data_messages", .int(members.reduce(0) { $0 + $1.traffic.rejectedMessages })),
            ("regions", .array(regions)),
        ]))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
