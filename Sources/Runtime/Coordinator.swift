import Collectives
import Emulation
import Foundation
import Synchronization
import StraitsWire
import Telemetry
import Topology
import Training
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
        /// A gateway's link counters, by destination region.
        var links: [ControlMessage.LinkStats] = []
        var isGateway: Bool { join.role == "gateway" }
        var label: String { isGateway ? "gateway \(join.region) (pid \(join.pid))" : "\(join.region)/host \(join.host) (pid \(join.pid))" }
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
    var members: [Member] = []
    /// Each region's gateway, when WAN traffic goes through gateways.
    private var gateways: [Int: Member] = [:]
    private var expectsGateways: Bool { options.gateways && topology.regions.count > 1 }
    /// Workers in rank order (indices into `members`), once the plan is made.
    var order: [Int] = []
    private var joining = true
    private var dropped = 0
    private var failure: String?
    private var probed: ControlMessage.Probed?
    private var stepResults: [Int: ControlMessage.StepDone] = [:]
    private var currentStep = -1
    private var nextHeartbeat = ContinuousClock.now
    private var heartbeatSeq = 0
    let started = Date()
    // Per-second records: when the last was written and the totals it saw.
    private var lastRecord = ContinuousClock.now
    private var recorded: [Int: RegionTotals] = [:]
    private var recordedLinks: [String: (offered: Int, delivered: Int)] = [:]
    private var recordedLinkStats: [String: ControlMessage.LinkStats] = [:]
    /// Per region: its gateway's offered and delivered bytes, delivered messages and summed queueing delay at the last record.
    private var recordedGatewayTotals: [Int: (Int, Int, Int, Double)] = [:]
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
        if let training = job.training, training.schedules.contains(where: { $0.sync != .ddp }), Set(topology.regions.map(\.hosts)).count > 1 {
            throw ConfigError(file: options.jobPath, line: 1, field: "schedules",
                              message: "schedules that synchronise inside regions need the same number of hosts in every region (the topology has \(topology.regions.map { "\($0.name): \($0.hosts)" }.joined(separator: ", ")))")
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
            case .train: try runTraining()
            }
            try awaitGatewayReports()
            writeRecords(final: true)
            for member in members + gateways.values { try? send(.stop(.init(ok: true, reason: "job \(job.name) finished")), to: member.route) }
            Self.flush()
            run.event("finish", [("steps", .int(stepsFinished))])
            writeSummary(status: "ok", reason: nil)
            say("job \(job.name) finished: \(stepsFinished) steps in \(JSONValue.format((Date().timeIntervalSince(started) * 1000).rounded() / 1000)) s")
            return 0
        } catch {
            let reason = "\(error)"
            writeRecords(final: true)
            for member in members + gateways.values { try? send(.stop(.init(ok: false, reason: reason)), to: member.route) }
            Self.flush()
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
        let gatewaysNeeded = expectsGateways ? topology.regions.count : 0
        if gatewaysNeeded > 0 { say("and \(gatewaysNeeded) gateways, one per region") }
        try pump(until: { self.members.count == self.topology.hostCount && self.gateways.count == gatewaysNeeded }, deadline: deadline) {
            var missing: [String] = []
            if gatewaysNeeded > 0 {
                for (index, region) in self.topology.regions.enumerated() where self.gateways[index] == nil { missing.append("gateway \(region.name)") }
            }
            for region in self.topology.regions {
                for host in 0..<region.hosts where !self.members.contains(where: { $0.join.region == region.name && $0.join.host == host }) {
                    missing.append("\(region.name)/host \(host)")
                }
            }
            return "only \(self.members.count) of \(self.topology.hostCount) workers and \(self.gateways.count) of \(gatewaysNeeded) gateways joined within \(JSONValue.format(self.options.joinTimeoutSeconds)) s; missing: \(missing.joined(separator: ", "))"
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
        let maxBytes = job.kind == .bench ? job.benchSizes.max() ?? job.maxBytes : trainingBytes ?? job.gradientBytes
        let jobText = job.kind == .train ? try String(contentsOfFile: options.jobPath, encoding: .utf8) : nil
        let planGateways = gateways.isEmpty ? nil
            : gateways.keys.sorted().map { ControlMessage.PlanGateway(region: $0, endpoints: gateways[$0]!.join.endpoints) }
        func planMessage(_ you: Int, lan: ControlMessage.LinkParameters, wan: ControlMessage.LinkParameters) -> ControlMessage.Plan {
            ControlMessage.Plan(epoch: 1, you: you, regions: topology.regions.map(\.name), devicesPerWorker: devices,
                                workers: workers, algo: job.algorithm, chunkBytes: job.chunkBytes ?? 0, maxBytes: maxBytes,
                                checksums: options.checksums, timeoutS: job.timeoutSeconds, lan: lan, wan: wan, gateways: planGateways,
                                job: jobText)
        }
        for gateway in gateways.values { try send(.plan(planMessage(-1, lan: unmeasured, wan: unmeasured)), to: gateway.route) }
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
                ("cpu_per_message_s", link.cpuPerMessageS.map { .double($0) } ?? .null),
            ]))
        }
        for region in layout.workersByRegion where region.count >= 2 {
            let link = try probe(region[0], region[1], collective: &collective)
            lanLinks.append(link)
            record("lan", region[0], region[1], link)
        }
        // No LAN pair (one host per region) but gateways: measure a hop between two processes
        // all the same, between the first hosts of two regions straight, not through the gateways
        // (first: its last message is direct, so it has arrived before the next probe's first,
        // which goes through a gateway).
        var hopMeasured: ControlMessage.LinkParameters?
        if lanLinks.isEmpty && !gateways.isEmpty && layout.workersByRegion.count >= 2 {
            let (from, to) = (layout.workersByRegion[0][0], layout.workersByRegion[1][0])
            let link = try probe(from, to, collective: &collective, direct: true)
            hopMeasured = link
            record("hop", from, to, link)
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
        func fastest(_ links: [ControlMessage.LinkParameters]) -> ControlMessage.LinkParameters? {
            guard !links.isEmpty else { return nil }
            return ControlMessage.LinkParameters(alphaS: links.map(\.alphaS).min()!, betaSPerByte: links.map(\.betaSPerByte).min()!)
        }
        // With one host per region there is no LAN pair to measure: a hop between two processes
        // stands in, or without gateways this machine's loopback TCP as probes between hosts
        // measure it here (plan.json says so).
        let lan = slowest(lanLinks) ?? hopMeasured ?? Self.assumedLAN
        let wan = slowest(wanLinks) ?? lan
        if lanLinks.isEmpty && hopMeasured == nil {
            measured.append(.object([("kind", "lan"), ("assumed", true), ("alpha_s", .double(lan.alphaS)),
                                     ("beta_s_per_byte", .double(lan.betaSPerByte)), ("bandwidth_gbps", .double(8 / lan.betaSPerByte / 1e9))]))
        }
        // What a hop between two processes costs here uncontended: the fastest LAN pair measured
        // (interference only ever slows a probe down). The model's LAN, which adds contention
        // itself; and what the gateways allow for their own hops (cut-through), so that a hop
        // slower than that makes a message later than its link, never earlier.
        let measuredHop = fastest(lanLinks) ?? lan
        // With a calibration pool (a sweep's), the model and the gateways use the median of every
        // run's measurement so far, this one's included (`CalibrationPool`).
        let pool = try options.calibrationPool.map { try CalibrationPool(path: $0) }
        var own = CalibrationPool.Sample(hopAlphaS: measuredHop.alphaS, hopBetaSPerByte: measuredHop.betaSPerByte)
        let uncontended = pool.map { pool in
            let pooled = pool.pooled(with: own)
            return ControlMessage.LinkParameters(alphaS: pooled.hopAlphaS!, betaSPerByte: pooled.hopBetaSPerByte!)
        } ?? measuredHop
        let hop: ControlMessage.LinkParameters? = gateways.isEmpty || !options.cutThrough ? nil : uncontended
        if let hop {
            for gateway in gateways.values {
                var message = planMessage(-1, lan: lan, wan: wan)
                message.gatewayHop = hop
                try send(.plan(message), to: gateway.route)
            }
        }
        for (index, member) in order.enumerated() { try send(.plan(planMessage(index, lan: lan, wan: wan)), to: members[member].route) }

        let planner = ClusterPlanner(layout: layout, lan: LinkCost(alphaSeconds: lan.alphaS, betaSecondsPerByte: lan.betaSPerByte),
                                     wan: LinkCost(alphaSeconds: wan.alphaS, betaSecondsPerByte: wan.betaSPerByte), algo: job.algorithm,
                                     chunkBytes: job.chunkBytes)
        self.planner = planner
        // The model: the declared links when gateways shape them, the uncontended LAN for the rest.
        var declared: [Int: [Int: LinkSpec]]?
        if !gateways.isEmpty {
            declared = [:]
            for link in topology.links {
                let from = topology.regions.firstIndex { $0.name == link.from }!, to = topology.regions.firstIndex { $0.name == link.to }!
                declared![from, default: [:]][to] = link.spec
            }
        }
        var costs = CollectiveSimulator.Costs(lan: LinkCost(alphaSeconds: uncontended.alphaS, betaSecondsPerByte: uncontended.betaSPerByte),
                                              gatewayHop: hop.map { LinkCost(alphaSeconds: $0.alphaS, betaSecondsPerByte: $0.betaSPerByte) })
        // A local cluster's processes share this machine's cores: the model shares them too, at
        // what they measure here (the workers are idle now).
        let local = members.allSatisfy { $0.join.endpoints.allSatisfy(Self.isLoopback) }
            && gateways.values.allSatisfy { $0.join.endpoints.allSatisfy { $0.isEmpty || Self.isLoopback($0) } }
        var calibration = local ? HostCalibration.measure() : nil
        if var measured = calibration {
            // What a message costs the cores beyond its bytes, as the probes between two
            // processes measured it (the LAN pairs, or the direct hop).
            let perMessage = (lanLinks.isEmpty ? [hopMeasured].compactMap { $0 } : lanLinks).compactMap(\.cpuPerMessageS)
            var messageSeconds = perMessage.isEmpty ? 0 : perMessage.median
            own.cores = measured.cores
            own.reduceSPerByte = measured.reduceSecondsPerByte
            own.copySPerByte = measured.copySecondsPerByte
            own.checksumSPerByte = measured.checksumSecondsPerByte
            own.messageCPUS = messageSeconds
            if let pooled = pool?.pooled(with: own) {
                measured.cores = pooled.cores!
                measured.reduceSecondsPerByte = pooled.reduceSPerByte!
                measured.copySecondsPerByte = pooled.copySPerByte!
                measured.checksumSecondsPerByte = pooled.checksumSPerByte!
                messageSeconds = pooled.messageCPUS!
                calibration = measured
            }
            costs.cores = measured.cores
            costs.reduceSecondsPerByte = measured.reduceSecondsPerByte
            costs.copySecondsPerByte = measured.copySecondsPerByte
            costs.checksumSecondsPerByte = options.checksums ? measured.checksumSecondsPerByte : 0
            costs.messageSeconds = messageSeconds
        }
        try pool?.record(own)
        simulator = CollectiveSimulator(layout: layout, links: declared, costs: costs)
        let sizes = job.kind == .bench ? job.benchSizes : [trainingBytes ?? job.gradientBytes]
        let poolJSON: JSONValue = pool.map { .object([("file", .string($0.path)), ("runs", .int($0.earlier.count + 1)), ("own", own.json)]) } ?? .null
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
                         ("latency_s", .double(link.latencySeconds)), ("jitter_s", .double(link.jitterSeconds)),
                         ("burst_bytes", .int(link.burstBytes))])
            })),
            ("links_measured", .array(measured)),
            ("planner_links", .object([
                ("lan", .object([("alpha_s", .double(lan.alphaS)), ("beta_s_per_byte", .double(lan.betaSPerByte))])),
                ("wan", .object([("alpha_s", .double(wan.alphaS)), ("beta_s_per_byte", .double(wan.betaSPerByte))])),
            ])),
            ("wan_path", .string(wanPath)),
            ("model_lan", .object([("alpha_s", .double(uncontended.alphaS)), ("beta_s_per_byte", .double(uncontended.betaSPerByte))])),
            ("calibration_pool", poolJSON),
            ("gateway_hop", hop.map { .object([("alpha_s", .double($0.alphaS)), ("beta_s_per_byte", .double($0.betaSPerByte)),
                                               ("measured_as", .string(!lanLinks.isEmpty ? "lan" : hopMeasured != nil ? "hop" : "assumed"))]) } ?? .null),
            ("model_cores", calibration.map { c in
                .object([("cores", .double(c.cores)), ("threads", .int(c.threads)),
                         ("reduce_bytes_per_s", .double(1 / c.reduceSecondsPerByte)), ("copy_bytes_per_s", .double(1 / c.copySecondsPerByte)),
                         ("checksum_bytes_per_s", .double(1 / c.checksumSecondsPerByte)), ("checksums", .bool(options.checksums)),
                         ("message_cpu_s", .double(costs.messageSeconds))])
            } ?? .null),
            ("gateways", .array(gateways.keys.sorted().map { region in
                .object([("region", .string(topology.regions[region].name)), ("pid", .int(gateways[region]!.join.pid)),
                         ("ingress", .array(gateways[region]!.join.endpoints.map { .string($0) }))])
            })),
            ("collectives", .array(sizes.map { size in
                let choice = job.kind == .bench ? modelChoice(bytes: size).choice : planner.choose(bytes: size)
                return .object([("size_bytes", .int(size)), ("plan", .string(choice.description))])
            })),
        ])
        run.write("plan.json", planJSON)
        run.event("plan", [("ranks", .int(layout.ranks)), ("workers", .int(order.count))])
        say("plan: \(layout.ranks) ranks on \(order.count) workers; measured lan α \(fixed(lan.alphaS * 1e6, 1)) µs, \(fixed(1 / lan.betaSPerByte / 1e9, 2)) GB/s; wan α \(fixed(wan.alphaS * 1e6, 1)) µs, \(fixed(1 / wan.betaSPerByte / 1e9, 2)) GB/s; \(planner.choose(bytes: sizes.last!).description)")
    }

    /// Waits for a heartbeat from every gateway sent after now, so the last records count
    /// everything the links carried.
    private func awaitGatewayReports() throws {
        let since = ContinuousClock.now
        guard !gateways.isEmpty else { return }
        try pump(until: { self.gateways.values.allSatisfy { $0.lastHeard > since } }, deadline: since + .seconds(3)) {
            "no final report from the gateways within 3 s"
        }
    }

    /// Whether `endpoint` is on this machine (ipc, inproc, or TCP on a loopback address).
    static func isLoopback(_ endpoint: String) -> Bool {
        ["ipc://", "inproc://", "tcp://127.", "tcp://localhost:", "tcp://[::1]:"].contains { endpoint.hasPrefix($0) }
    }

    private func probe(_ a: Int, _ b: Int, collective: inout Int, direct: Bool = false) throws -> ControlMessage.LinkParameters {
        probed = nil
        try send(.probe(.init(peerWorker: b, lead: true, collective: collective, direct: direct ? true : nil)), to: members[order[a]].route)
        try send(.probe(.init(peerWorker: a, lead: false, collective: collective, direct: direct ? true : nil)), to: members[order[b]].route)
        collective += 128
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

    /// The all-reduce a bench step of `bytes` runs, the chunk sent with it where the model chose
    /// one (`CollectiveSimulator.modelChoice`), and the model's prediction.
    func modelChoice(bytes: Int) -> (chunk: Int?, choice: ClusterPlanner.Choice, prediction: CollectiveSimulator.Prediction) {
        simulator!.modelChoice(planner!, bytes: bytes)
    }

    private func runBench() throws {
        let sizes = job.benchSizes
        let ranks = topology.deviceCount
        say("all-reduce benchmark over the cluster: \(ranks) ranks, sizes \(sizes.first!)…\(sizes.last!), \(job.iterations) iterations after \(job.warmupIterations) warm-up")
        emit("#" + pad("size", 11) + pad("count", 12) + pad("type", 8) + pad("redop", 7) + pad("time(us)", 11) + pad("algbw(GB/s)", 13) + pad("busbw(GB/s)", 13) + pad("#wrong", 8) + pad("model(us)", 12) + pad("ratio", 7) + "  plan")
        var step = 0
        var busTotal = 0.0
        // The workers' data transport, from their endpoints.
        let transport = Set(members.flatMap { $0.join.endpoints.compactMap { DataTransport(endpoint: $0)?.rawValue } })
            .sorted().joined(separator: "+")
        for size in sizes {
            var times: [Double] = [], levels: [(host: Double, region: Double, wan: Double)] = []
            var wrong = 0
            var planText = ""
            let (chunk, choice, prediction) = modelChoice(bytes: size)
            // Ranks that leave it to the coordinator spin for arrivals only where the model, with
            // those spins on the cores, leaves this machine's cores at least half idle: elsewhere
            // a spin takes a core the other ranks' and the gateways' work needs, and costs more
            // time than the wake-up it saves.
            let approach = prediction.coresBusy(spinningPerArrival: Self.spinPerArrivalSeconds).map { $0 < SweepReport.headroomBusy }
            for iteration in 0..<(job.warmupIterations + job.iterations) {
                let result = try runStep(step, bytes: size, computeS: 0, collective: Self.firstStepCollective + step * 8,
                                         approachArrivals: approach, chunkBytes: chunk)
                step += 1
                wrong += result.wrong
                planText = result.plan
                if iteration >= job.warmupIterations {
                    times.append(result.comm)
                    levels.append((result.host, result.region, result.wan))
                }
            }
            let sorted = times.sorted()
            let median = times.median
            let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
            let algbw = Double(size) / median / 1e9
            let busbw = algbw * 2 * Double(ranks - 1) / Double(ranks)
            busTotal += busbw
            let predicted = prediction.seconds
            let linkSeconds = simulator!.busiestLinkSeconds(choice, bytes: size)
            let host = levels.map(\.host).median, regionLevel = levels.map(\.region).median, wanLevel = levels.map(\.wan).median
            // Per level: the bytes each rank all-reduces there, and busbw over that level's ranks.
            let hostsPerRegion = max(choice.regionHosts, 1), regionCount = max(choice.regions, 1), devices = max(choice.devices, 1)
            func levelBusbw(_ bytes: Double, _ p: Int, _ seconds: Double) -> Double {
                p > 1 && seconds > 0 ? bytes / seconds / 1e9 * 2 * Double(p - 1) / Double(p) : 0
            }
            let sliceBytes = Double(size) / Double(devices)
            emit(pad(String(size), 12, right: true) + pad(String(size / 4), 12, right: true) + pad("float", 8, right: true)
                  + pad("sum", 7, right: true) + pad(fixed(median * 1e6, 1), 11, right: true) + pad(fixed(algbw, 3), 13, right: true)
                  + pad(fixed(busbw, 3), 13, right: true) + pad(String(wrong), 8, right: true)
                  + pad(fixed(predicted * 1e6, 1), 12, right: true) + pad(fixed(median / predicted, 3), 7, right: true) + "  " + planText)
            run.bench.append(.object([
                ("size_bytes", .int(size)), ("count", .int(size / 4)), ("ranks", .int(ranks)), ("algo", .string(planText)),
                ("transport", .string(transport)), ("time_us", .double(median * 1e6)), ("p50_us", .double(median * 1e6)),
                ("p99_us", .double(p99 * 1e6)), ("algbw_gbps", .double(algbw)), ("busbw_gbps", .double(busbw)), ("wrong", .int(wrong)),
                ("predicted_us", .double(predicted * 1e6)), ("ratio", .double(median / predicted)),
                // The busiest link's serialisation time against the whole: bandwidth is the bound
                // when it is at least 90% of the model's time (so that a faithful emulation keeps
                // that link at least 90% busy); utilisation is its share of the measured time.
                ("link_bound", .bool(linkSeconds >= 0.9 * predicted)), ("link_utilisation", .double(linkSeconds / median)),
                // How busy the model keeps this machine's cores (a local cluster's model only).
                ("model_cores_busy", prediction.coresBusy.map { .double($0) } ?? .null),
                // Whether ranks left to choose (`--arrival-wait auto`) approached arrivals.
                ("approach_arrivals", approach.map { .bool($0) } ?? .null),
                ("hierarchical", .bool(choice.hierarchical)),
                ("host_us", .double(host * 1e6)), ("region_us", .double(regionLevel * 1e6)), ("wan_us", .double(wanLevel * 1e6)),
                ("host_busbw_gbps", .double(levelBusbw(Double(size), devices, host))),
                ("region_busbw_gbps", .double(levelBusbw(sliceBytes, hostsPerRegion, regionLevel))),
                ("wan_busbw_gbps", .double(levelBusbw(sliceBytes / Double(hostsPerRegion), regionCount, wanLevel))),
            ]))
            if wrong > 0 { throw Abort(description: "size \(size): \(wrong) elements of the all-reduce are wrong") }
        }
        emit("# Avg bus bandwidth    : \(fixed(busTotal / Double(sizes.count), 3))")
    }

    /// What a rank that approaches an arrival spins for it, as the model counts it: half the
    /// longest it may (`OvershootWindow.ceiling`); on this kind of virtual machine ranks wake
    /// 160–300 µs early and spin 40–160 µs an arrival.
    static let spinPerArrivalSeconds = Double(OvershootWindow.ceiling) / 2 / 1e9

    /// One step, across all ranks: wall time, the slowest rank's all-reduce and level times.
    struct StepResult {
        let wall: Double, comm: Double, host: Double, region: Double, wan: Double
        let wrong: Int
        let plan: String
        /// Training steps: each rank's loss, the bytes all ranks sent across and inside
        /// regions, and per region the devices' summed compute time.
        var losses: [(rank: Int, loss: Double)] = []
        var wanBytes = 0, lanBytes = 0
        var regionCompute: [Int: (compute: Double, devices: Int)] = [:]
        /// At the end of a schedule: each rank's CRC32C of its parameters.
        var parameterChecksums: [Int: UInt32] = [:]
        /// Training steps: bytes each region's ranks sent to other regions.
        var regionWanBytes: [Int: Int] = [:]
    }

    /// Runs one step on every worker and logs it. Returns the step's wall time, the slowest
    /// rank's all-reduce time, wrong elements and the plan.
    func runStep(_ step: Int, bytes: Int, computeS: Double, collective: Int, train: ControlMessage.TrainStep? = nil,
                 scheduleName: String? = nil, approachArrivals: Bool? = nil, chunkBytes: Int? = nil) throws -> StepResult {
        stepResults = [:]
        currentStep = step
        let start = ContinuousClock.now
        let startDate = Date()
        for member in order {
            try send(.step(.init(step: step, bytes: bytes, computeS: computeS, collective: collective, train: train,
                                 approachArrivals: approachArrivals, chunkBytes: chunkBytes)), to: members[member].route)
        }
        let deadline = ContinuousClock.now + .milliseconds(Int((job.timeoutSeconds + computeS) * 1000) + 5000)
        try pump(until: { self.stepResults.count == self.order.count }, deadline: deadline) {
            let missing = self.order.indices.filter { self.stepResults[$0] == nil }.map { self.members[self.order[$0]].label }
            return "step \(step) did not finish within \(JSONValue.format(self.job.timeoutSeconds + computeS + 5)) s; waiting on \(missing.joined(separator: ", "))"
        }
        let wall = Self.seconds(ContinuousClock.now - start)
        let layoutRegions = topology.regions.map(\.name)
        var comm = 0.0, wrong = 0, host = 0.0, regionLevel = 0.0, wanLevel = 0.0
        var plan = ""
        var regionSums: [Int: (compute: Double, comm: Double, devices: Int)] = [:]
        var losses: [(rank: Int, loss: Double)] = [], wanBytes = 0, lanBytes = 0
        var parameterChecksums: [Int: UInt32] = [:]
        var regionWanBytes: [Int: Int] = [:]
        for (worker, done) in stepResults.sorted(by: { $0.key < $1.key }) {
            let member = members[order[worker]]
            plan = done.plan
            for device in done.devices {
                comm = max(comm, device.commS)
                host = max(host, device.hostS)
                regionLevel = max(regionLevel, device.regionS)
                wanLevel = max(wanLevel, device.wanS)
                wrong += device.wrong
                regionSums[member.region, default: (0, 0, 0)].compute += device.computeS
                regionSums[member.region, default: (0, 0, 0)].comm += device.commS
                regionSums[member.region, default: (0, 0, 0)].devices += 1
                if let loss = device.loss { losses.append((device.rank, loss)) }
                if let crc = device.parametersChecksum { parameterChecksums[device.rank] = crc }
                wanBytes += device.wanBytes ?? 0
                regionWanBytes[member.region, default: 0] += device.wanBytes ?? 0
                lanBytes += device.lanBytes ?? 0
                var fields: [(String, JSONValue)] = [
                    ("t", .string(RunDirectory.timestamp(startDate))), ("step", .int(step)), ("rank", .int(device.rank)),
                    ("region", .string(member.join.region)), ("host", .int(member.join.host)),
                    ("device", .int(device.rank - worker * topology.regions[0].devicesPerHost)),
                    ("bytes", .int(bytes)), ("compute_s", .double(device.computeS)), ("comm_s", .double(device.commS)),
                    ("host_s", .double(device.hostS)), ("region_s", .double(device.regionS)), ("wan_s", .double(device.wanS)),
                    ("sync_s", .double(device.syncS)), ("check_s", .double(device.checkS)),
                    ("wait_s", .double(device.waitS ?? max(0, wall - device.computeS - device.commS - device.syncS - device.checkS))),
                    ("wrong", .int(device.wrong)),
                    ("loss", device.loss.map { .double($0) } ?? .null), ("plan", .string(done.plan)),
                ]
                if let train {
                    fields += [
                        ("schedule", .string(scheduleName ?? "")), ("schedule_step", .int(train.index)), ("wall_s", .double(wall)),
                        ("gradient_sync", .string(train.gradients)), ("outer_sync", .bool(train.outer)),
                        ("outer_s", .double(device.outerS ?? 0)), ("emulated_compute_s", device.emulatedS.map { .double($0) } ?? .null),
                        ("lan_bytes", .int(device.lanBytes ?? 0)), ("wan_bytes", .int(device.wanBytes ?? 0)),
                    ]
                }
                run.steps.append(.object(fields))
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
        return StepResult(wall: wall, comm: comm, host: host, region: regionLevel, wan: wanLevel, wrong: wrong, plan: plan,
                          losses: losses, wanBytes: wanBytes, lanBytes: lanBytes,
                          regionCompute: regionSums.mapValues { (compute: $0.compute, devices: $0.devices) },
                          parameterChecksums: parameterChecksums, regionWanBytes: regionWanBytes)
    }

    private var stepTotals: [Int: RegionTotals] = [:]
    /// Training jobs: each schedule's steps, for the summary.
    var ledger: TrainingLedger?
    var planner: ClusterPlanner?
    /// The LAN cost assumed when no region has two hosts to measure it between.
    static let assumedLAN = ControlMessage.LinkParameters(alphaS: 80e-6, betaSPerByte: 1 / 1.0e9)
    var simulator: CollectiveSimulator?

    private var wanPath: String {
        if topology.regions.count < 2 { return "one region: no WAN" }
        return gateways.isEmpty ? "direct worker-to-worker sockets, unshaped (--no-gateways)"
            : "through each region's gateway, shaped to the topology's links"
    }
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
                for member in members + gateways.values { try? send(.heartbeat(.init(seq: heartbeatSeq)), to: member.route) }
                nextHeartbeat = now + heartbeat
            }
            for member in members + gateways.values where now - member.lastHeard > deadAfter {
                let reason = "\(member.isGateway ? "" : "worker ")\(member.label) sent nothing for \(JSONValue.format(Self.seconds(now - member.lastHeard).rounded(toPlaces: 1))) s (dead after \(JSONValue.format(options.deadAfterSeconds)) s)"
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
        if who == nil, let region = gateways.first(where: { $0.value.route == route })?.key {
            gateways[region]!.lastHeard = .now
            switch message {
            case .heartbeat(let beat):
                if let links = beat.links { gateways[region]!.links = links }
            case .stop(let stop):
                run.event("gateway_failed", [("region", .string(topology.regions[region].name)), ("reason", .string(stop.reason))])
                failure = "gateway \(topology.regions[region].name) failed: \(stop.reason)"
            default:
                drop("a \(message.kind) message from gateway \(topology.regions[region].name)")
            }
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
        if join.role == "gateway" {
            guard expectsGateways else {
                return refuse(route, "gateway \(join.region) (pid \(join.pid)): this run takes no gateways (\(topology.regions.count == 1 ? "one region" : "--no-gateways"))")
            }
            if let existing = gateways[region] {
                return refuse(route, "gateway \(join.region) (pid \(join.pid)): region \(join.region) already has its gateway (pid \(existing.join.pid))")
            }
            guard join.endpoints.count == topology.regions.count else {
                return refuse(route, "gateway \(join.region) (pid \(join.pid)): \(join.endpoints.count) ingress endpoints for \(topology.regions.count) regions")
            }
            gateways[region] = Member(route: route, join: join, region: region, lastHeard: .now)
            run.event("join", [("role", "gateway"), ("region", .string(join.region)), ("pid", .int(join.pid))])
            say("admitted gateway \(join.region) (pid \(join.pid))")
            try? send(.heartbeat(.init(seq: heartbeatSeq)), to: route)
            return
        }
        if let role = join.role {
            return refuse(route, "\(label): unknown role \"\(role)\" (expected a worker, or role gateway)")
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

    /// Sends to a worker or gateway. A peer whose connection is gone (it exited or was killed:
    /// libzmq says host unreachable) is recorded as dead and ends the job.
    private func send(_ message: ControlMessage, to route: [UInt8]) throws {
        do {
            try ControlLink.send(message, on: &router.socket, to: route)
        } catch let error as ZMQError where error.code == .hostUnreachable {
            guard let peer = (members + gateways.values).first(where: { $0.route == route }) else { throw error }
            let reason = "\(peer.isGateway ? "" : "worker ")\(peer.label) is gone: its connection closed (it exited or was killed)"
            run.event("worker_dead", [("region", .string(peer.join.region)), ("host", .int(peer.join.host)),
                                      ("pid", .int(peer.join.pid)), ("reason", .string(reason))])
            throw Abort(description: reason)
        }
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
            var record = regionRecord(
                kind: final ? "final" : "second", region: region.name, window: window, step: latestStep, now: current, then: previous,
                samples: steps * devicesPerHost * region.hosts * job.samplesPerStep,
                computeS: (current.computeS - previous.computeS) / Double(devices), commS: (current.commS - previous.commS) / Double(devices))
            if let gateway = gateways[index], case .object(var fields) = record {
                // What the region's gateway put on its outbound links in the window, and how long
                // messages waited for them (mean over delivered messages).
                let previousStats = recordedGatewayTotals[index] ?? (0, 0, 0, 0.0)
                let offered = gateway.links.reduce(0) { $0 + $1.offeredBytes }
                let delivered = gateway.links.reduce(0) { $0 + $1.deliveredBytes }
                let messages = gateway.links.reduce(0) { $0 + $1.deliveredMessages }
                let delay = gateway.links.reduce(0) { $0 + $1.queueDelaySSum }
                recordedGatewayTotals[index] = (offered, delivered, messages, delay)
                let windowMessages = messages - previousStats.2
                fields += [
                    ("gateway_offered_bytes", .int(offered - previousStats.0)), ("gateway_delivered_bytes", .int(delivered - previousStats.1)),
                    ("wan_queue_delay_ms", .double(windowMessages > 0 ? (delay - previousStats.3) / Double(windowMessages) * 1e3 : 0)),
                ]
                record = .object(fields)
            }
            run.regions[region.name]?.append(record)
        }
        recorded = totals
        let timestamp = RunDirectory.timestamp()
        for link in topology.links {
            var fields: [(String, JSONValue)] = [
                ("t", .string(timestamp)), ("kind", .string(final ? "final" : "second")), ("from", .string(link.from)),
                ("to", .string(link.to)), ("window_s", .double(window)), ("bandwidth_bps", .double(link.bitsPerSecond)),
                ("latency_s", .double(link.latencySeconds)),
            ]
            let key = link.from + "→" + link.to
            let from = topology.regions.firstIndex { $0.name == link.from }!
            if let stats = gateways[from]?.links.first(where: { $0.to == link.to }) {
                // Counted by the gateway that shapes the link.
                let previous = recordedLinkStats[key]
                recordedLinkStats[key] = stats
                let offered = stats.offeredBytes - (previous?.offeredBytes ?? 0)
                let delivered = stats.deliveredBytes - (previous?.deliveredBytes ?? 0)
                let messages = stats.deliveredMessages - (previous?.deliveredMessages ?? 0)
                let busy = stats.busyS - (previous?.busyS ?? 0)
                let delay = stats.queueDelaySSum - (previous?.queueDelaySSum ?? 0)
                fields += [
                    ("offered_bytes", .int(offered)), ("delivered_bytes", .int(delivered)),
                    ("offered_gbps", .double(Double(offered) * 8 / window / 1e9)),
                    ("delivered_gbps", .double(Double(delivered) * 8 / window / 1e9)),
                    ("utilisation", .double(busy / window)), ("queued_bytes", .int(stats.queuedBytes)),
                    ("queue_delay_ms", .double(messages > 0 ? delay / Double(messages) * 1e3 : 0)),
                    ("queue_delay_max_ms", .double(stats.queueDelaySMax * 1e3)),
                    ("late_p99_us", .double(stats.lateP99Us)), ("shaped", true),
                ]
                // Counted by the ranks that took the messages: how late after they arrived (the
                // worst receiving host's percentiles).
                let receivers = members.filter { topology.regions[$0.region].name == link.to }.compactMap { $0.traffic.arrivals?[link.from] }
                if !receivers.isEmpty {
                    fields += [
                        ("arrivals", .int(receivers.reduce(0) { $0 + $1.messages })),
                        ("arrival_late_p50_us", .double(receivers.map(\.lateP50Us).max()!)),
                        ("arrival_late_p99_us", .double(receivers.map(\.lateP99Us).max()!)),
                        ("arrival_late_max_us", .double(receivers.map(\.lateMaxUs).max()!)),
                    ]
                }
            } else {
                // No gateway: what the workers sent and received.
                let offered = members.filter { topology.regions[$0.region].name == link.from }.reduce(0) { $0 + ($1.traffic.wanTxBytes[link.to] ?? 0) }
                let delivered = members.filter { topology.regions[$0.region].name == link.to }.reduce(0) { $0 + ($1.traffic.wanRxBytes[link.from] ?? 0) }
                let previous = recordedLinks[key] ?? (0, 0)
                recordedLinks[key] = (offered, delivered)
                let offeredDelta = offered - previous.offered, deliveredDelta = delivered - previous.delivered
                fields += [
                    ("offered_bytes", .int(offeredDelta)), ("delivered_bytes", .int(deliveredDelta)),
                    ("offered_gbps", .double(Double(offeredDelta) * 8 / window / 1e9)),
                    ("delivered_gbps", .double(Double(deliveredDelta) * 8 / window / 1e9)),
                    ("queue_delay_ms", .null), ("shaped", false),
                ]
            }
            run.links.append(.object(fields))
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
            ("compute", .string(job.training.map { Self.computeDescription($0, model: MLP(layers: $0.model.layers)) }
                ?? (job.computeSeconds > 0 ? "emulated: \(Units.formatDuration(seconds: job.computeSeconds)) sleep per step" : "none"))),
            ("wan_path", .string(wanPath)),
            ("bytes_sent", .int(sent)), ("bytes_received", .int(received)), ("bytes_balanced", .bool(sent == received)),
            ("dropped_control_messages", .int(dropped)),
            ("rejected_data_messages", .int(members.reduce(0) { $0 + $1.traffic.rejectedMessages })),
            ("regions", .array(regions)),
            ("training", ledger?.json(samplesPerStep: job.samplesPerStep) ?? .null),
        ]))
    }

    /// Gives libzmq's I/O thread time to put the last messages (the stops) on the wire before
    /// the process exits: `exit` does not wait for it, and a worker that misses its stop would
    /// wait out the heartbeat deadline.
    static func flush() {
        usleep(300_000)
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
