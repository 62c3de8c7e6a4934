import ClusterCore
import Collectives
import Config
import Emulation
import Foundation
import Logging
import StraitsWire
import Synchronization
import Telemetry
import Training
import Transport
import ZeroMQ

/// `straits-coordinator`: admits the topology's workers, plans, drives the job step by step,
/// watches heartbeats, and writes the run directory. One thread; every wait has a deadline.
///
/// This is the shell: the decisions are the cores' (`Membership` admits and declares members
/// dead, `StepCollector` and `StepTally` gather a step, `RecordAccumulator` makes the records,
/// `LinkCalibration` says what to probe); the shell reads the socket and the clock, hands the
/// cores each event with the time, and carries out what they return.
public final class Coordinator {
    /// Why the job ended early.
    struct Abort: Error, CustomStringConvertible {
        let description: String
    }

    let options: CoordinatorOptions
    let topology: ClusterTopology
    let job: JobSpec
    let run: RunDirectory
    let clock: any MonotonicClock = SystemClock.shared
    let log = Logger(label: "straits-coordinator")
    let router: SocketBox
    var membership: Membership
    var steps: StepCollector
    var records: RecordAccumulator
    /// Workers in rank order (indices into `membership.workers`), once the plan is made.
    var order: [Int] = [] {
        didSet {
            positionInOrder = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
            var next = 0
            rankStarts = order.map { index in
                defer { next += membership.workers[index].join.devices }
                return next
            }
            rankCount = next
        }
    }
    /// Each worker's place in `order`.
    var positionInOrder: [Int: Int] = [:]
    /// The first rank of the worker at each place of `order` (workers may bring different numbers
    /// of devices), and the ranks of the plan now.
    private(set) var rankStarts: [Int] = []
    private(set) var rankCount = 0
    var dropped = 0
    var refused = 0
    var failure: String?
    /// Members found dead (silent too long, or their connection closed).
    var dead = Set<Membership.MemberID>()
    /// Files the workers send for the run directory (the models at the end of each schedule).
    var files = FileAssembly()
    var probed: ControlMessage.Probed?
    let started = Date()
    var latestStep = -1
    var stepsFinished = 0
    var samplesFinished = 0
    /// Training jobs: each schedule's steps, for the summary.
    var ledger: TrainingLedger?
    var planner: ClusterPlanner?
    var simulator: CollectiveSimulator?
    /// The job's link faults: when each begins and ends (`faults:` in the job).
    var faults: FaultSchedule
    /// The run's timeline, written as trace.json at its end.
    var trace = TraceRecorder()
    /// The membership epoch: 1 from the first plan, one more at each change of members.
    var epoch = 1
    /// The job file's text, as training plans carry it.
    var jobText: String?
    /// The links as measured when the job was planned; later epochs' plans reuse them.
    var measuredLinks:
        (lan: ControlMessage.LinkParameters, wan: ControlMessage.LinkParameters, hop: ControlMessage.LinkParameters?)?
    /// The model's declared links and costs, for the planner and model of later epochs.
    var modelLinks: [Int: [Int: LinkSpec]]?
    var modelCosts = CollectiveSimulator.Costs(lan: LinkCost.unmeasured)
    /// Elastic jobs: membership changes not yet carried into a new epoch.
    var elasticity = Elasticity()
    /// Each fault's course and what the faults cost (summary.json's `faults` and `goodput`).
    var faultLedger = FaultLedger()
    /// A successor's (`--resume`): the state its predecessor last wrote.
    var savedState: SavedState?
    /// The epoch whose replicas were last found to agree.
    var checkedEpoch = 1

    public init(options: CoordinatorOptions) throws {
        self.options = options
        topology = try ClusterTopology.load(path: options.topologyPath)
        job = try JobSpec.load(path: options.jobPath)
        try Self.check(job: job, jobPath: options.jobPath, topology: topology, topologyPath: options.topologyPath)
        // A successor keeps the faults of the steps to come: those at a time after the first
        // step began, or at a step already run, were the first coordinator's.
        let resuming = options.resumeDirectory != nil
        faults = try FaultSchedule(
            faults: resuming ? job.faults.filter { $0.atStep != nil } : job.faults,
            kills: resuming ? job.kills.filter { $0.atStep != nil } : job.kills, topology: topology,
            file: options.jobPath)
        if !job.faults.isEmpty && (topology.regions.count < 2 || !options.gateways) {
            throw ConfigError(
                .unsupported, file: options.jobPath, line: job.faults[0].line, field: "faults",
                message:
                    "the gateways carry out link faults: this run has none (\(topology.regions.count < 2 ? "one region" : "--no-gateways"))"
            )
        }
        run = try RunDirectory(
            path: options.runDirectory, regionNames: topology.regions.map(\.name),
            topologyFile: options.topologyPath, jobFile: options.jobPath, resuming: resuming)
        if resuming {
            guard job.quorum != nil else {
                throw RuntimeError(
                    .invalidArgument, "--resume: job \(job.name) has no quorum:, so its coordinator wrote no state")
            }
            savedState = try SavedState.load(runDirectory: options.runDirectory)
        }
        // A run that dies before its end (SIGKILL, a power cut) leaves a summary that says so.
        run.write(
            "summary.json",
            .object([
                ("status", "running"), ("reason", .null), ("job", .string(job.name)),
                ("kind", .string(job.kind.rawValue)), ("topology", .string(topology.name)),
                ("started", .string(RunDirectory.timestamp(started))), ("pid", .int(Int(getpid()))),
                ("resumed_at_step", savedState.map { .int($0.nextStep) } ?? .null),
            ]))
        try options.security.apply(bindsOffLoopback: options.bindsOffLoopback, log: log)
        var socket = try ZMQSocket(.router, linger: .milliseconds(500))
        try LinkSecurity.server(&socket)
        try socket.setRouterMandatory(true)
        try socket.setMaximumMessageSize(4 << 20)
        try socket.setReceiveHighWaterMark(10_000)
        let endpoint = DataTransport.advertised(try socket.bind(options.bind), address: options.advertiseAddress)
        router = SocketBox(socket)
        let now = clock.now()
        membership = Membership(
            topology: topology,
            timing: .init(
                heartbeat: Self.nanoseconds(options.heartbeatSeconds),
                deadAfter: Self.nanoseconds(options.deadAfterSeconds)),
            gateways: options.gateways, now: now, jobID: options.jobID)
        membership.rejoins = job.quorum != nil
        // A successor's members are already the job's: they join again, into a running job.
        if resuming { membership.closeAdmission() }
        steps = StepCollector(workers: topology.hostCount)
        records = RecordAccumulator(topology: topology, samplesPerStep: job.samplesPerStep, now: now)
        // The job id first: a launcher that sees the endpoint finds the id beside it.
        try Data((options.jobID + "\n").utf8).write(to: URL(fileURLWithPath: options.runDirectory + "/job.id"))
        try Data((endpoint + "\n").utf8).write(to: URL(fileURLWithPath: options.runDirectory + "/coordinator.endpoint"))
        log.info("listening on \(endpoint); run directory \(options.runDirectory)")
        run.event(
            resuming ? "successor_start" : "start",
            [
                ("endpoint", .string(endpoint)), ("topology", .string(topology.name)), ("job", .string(job.name)),
                ("job_id", .string(options.jobID)),
                ("hosts", .int(topology.hostCount)), ("ranks", .int(topology.deviceCount)),
            ])
    }

    /// What the job asks of the topology that the schedules cannot do yet.
    static func check(job: JobSpec, jobPath: String, topology: ClusterTopology, topologyPath: String) throws {
        if let quorum = job.quorum {
            if job.kind == .bench {
                throw ConfigError(
                    .unsupported, file: jobPath, line: quorum.line, field: "quorum",
                    message: "a bench job measures a fixed set of ranks: it takes no quorum")
            }
            if quorum.hosts > topology.hostCount || quorum.regions > topology.regions.count {
                throw ConfigError(
                    .invalidValue, file: jobPath, line: quorum.line, field: "quorum",
                    message:
                        "asks for \(quorum.hosts) hosts across \(quorum.regions) regions; topology \(topology.name) has \(topology.hostCount) hosts in \(topology.regions.count) regions"
                )
            }
        }
        if Set(topology.regions.map(\.devicesPerHost)).count > 1, job.kind == .bench {
            let devices = topology.regions.map { "\($0.name): \($0.devicesPerHost)" }.joined(separator: ", ")
            throw ConfigError(
                .unsupported, file: topologyPath, line: 1, field: "regions",
                message:
                    "a bench job measures hosts alike: every host needs the same devices_per_host (got \(devices)); sync and train jobs take any"
            )
        }
    }

    /// Set by SIGINT or SIGTERM: the job ends as an abort, with its records and summary written.
    static let interrupted = Atomic<Int32>(0)
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
            if let state = savedState {
                try resumeMembership(state)
                try restoreLinks()
                switch job.kind {
                case .sync: try runSteps(from: state.nextStep)
                case .bench: throw Abort(description: "a bench job cannot be resumed")
                case .train: try runTraining(resuming: state)
                }
            } else {
                try admitWorkers()
                try plan()
                switch job.kind {
                case .sync: try runSteps()
                case .bench: try runBench()
                case .train: try runTraining()
                }
            }
            try awaitGatewayReports()
            writeRecords(kind: .final)
            run.write("trace.json", trace.json(closingAt: clock.now()))
            stopEveryone(ok: true, reason: "job \(job.name) finished")
            run.event("finish", [("steps", .int(stepsFinished))])
            writeSummary(status: "ok", reason: nil)
            log.info(
                "job \(job.name) finished: \(stepsFinished) steps in \(JSONValue.format((Date().timeIntervalSince(started) * 1000).rounded() / 1000)) s"
            )
            return 0
        } catch {
            let reason = "\(error)"
            writeRecords(kind: .final)
            run.write("trace.json", trace.json(closingAt: clock.now()))
            stopEveryone(ok: false, reason: reason)
            run.event("abort", [("reason", .string(reason))])
            writeSummary(status: "failed", reason: reason)
            log.error("job aborted: \(reason)")
            return Self.interrupted.load(ordering: .relaxed) != 0 ? 130 : 1
        }
    }

    private func stopEveryone(ok: Bool, reason: String) {
        for member in membership.everyone { try? send(.stop(.init(ok: ok, reason: reason)), to: member.route) }
        Self.flush()
    }

    /// Waits for every worker and gateway of the topology to join.
    private func admitWorkers() throws {
        let deadline = clock.now() + Self.nanoseconds(options.joinTimeoutSeconds)
        log.info(
            "waiting for \(topology.hostCount) workers (\(topology.regions.map { "\($0.name): \($0.hosts)×\($0.devicesPerHost)" }.joined(separator: ", ")))"
        )
        let gatewaysNeeded = membership.gatewaysNeeded
        if gatewaysNeeded > 0 { log.info("and \(gatewaysNeeded) gateways, one per region") }
        try pump(
            until: { self.membership.isComplete }, deadline: deadline,
            timeoutMessage: {
                "only \(self.membership.workers.count) of \(self.topology.hostCount) workers and \(self.membership.gateways.count) of \(gatewaysNeeded) gateways joined within \(JSONValue.format(self.options.joinTimeoutSeconds)) s; missing: \(self.membership.missing.joined(separator: ", "))"
            })
        membership.closeAdmission()
    }

    /// Waits for a heartbeat from every gateway sent after now, so the last records count
    /// everything the links carried.
    private func awaitGatewayReports() throws {
        let since = clock.now()
        guard !membership.gateways.isEmpty else { return }
        try pump(
            until: { self.membership.gateways.values.allSatisfy { $0.lastHeard > since } },
            deadline: since + 3_000_000_000,
            timeoutMessage: { "no final report from the gateways within 3 s" })
    }

    /// The worker at place `index` of the plan.
    func worker(_ index: Int) -> Membership.Member { membership.workers[order[index]] }

    /// Gives libzmq's I/O thread time to put the last messages (the stops) on the wire before
    /// the process exits: `exit` does not wait for it, and a worker that misses its stop would
    /// wait out the heartbeat deadline.
    static func flush() {
        usleep(300_000)
    }

    static func nanoseconds(_ seconds: Double) -> Int64 {
        Int64((seconds * 1e9).rounded())
    }
}
