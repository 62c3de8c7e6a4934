import ArgumentParser
import Foundation
import Transport

/// Flags of `straits-coordinator`.
public struct CoordinatorOptions: ParsableArguments, Sendable {
    public static let discussion = """
        The control plane of a Straits cluster: admits the workers the topology lists, assigns \
        ranks region → host → device, measures the links, plans the all-reduce, drives the job \
        step by step (for a training job: what each step synchronises where, and the gradient \
        buckets), and writes the run directory (plan.json, regions/*.jsonl, links.jsonl, \
        steps.jsonl, bench.jsonl, events.jsonl, summary.json; model-<schedule>.bin when \
        training). Exits 0 when the job finished, 1 when it failed (a worker died, refused or \
        timed out), 2 on a bad topology or job file, 130 when interrupted.
        """

    @Option(name: .customLong("topology"), help: ArgumentHelp("Topology YAML.", valueName: "file"))
    public var topologyPath = "Deploy/topologies/default.yaml"

    @Option(name: .customLong("job"), help: ArgumentHelp("Job YAML.", valueName: "file"))
    public var jobPath = "Deploy/jobs/default.yaml"

    @Option(
        name: .customLong("run-dir"),
        help: ArgumentHelp("Where the run's files go (default runs/<timestamp>).", valueName: "dir"))
    var runDirectoryFlag: String?

    @Option(
        help: ArgumentHelp(
            "Control endpoint (a free port by default); the endpoint bound is written to <dir>/coordinator.endpoint.",
            valueName: "endpoint"))
    public var bind = "tcp://127.0.0.1:*"

    @Option(
        name: .customLong("advertise-address"),
        help: ArgumentHelp(
            "Address the workers and gateways reach the coordinator at, in the endpoint it writes and logs (default: the bound one).",
            discussion: "Needed when --bind binds every interface, e.g. tcp://0.0.0.0:5555.",
            valueName: "addr"))
    public var advertiseAddress: String?

    @Option(name: .customLong("heartbeat-ms"), help: ArgumentHelp("Heartbeat interval both ways.", valueName: "ms"))
    var heartbeatMilliseconds = 500.0

    @Option(name: .customLong("dead-after-s"), help: ArgumentHelp("A member silent this long is dead.", valueName: "s"))
    public var deadAfterSeconds = 5.0

    @Option(
        name: .customLong("join-timeout-s"),
        help: ArgumentHelp(
            "Give up if the topology's hosts have not all joined by then.", valueName: "s"))
    public var joinTimeoutSeconds = 60.0

    @Flag(name: .customLong("no-checksums"), help: "Send data frames without a CRC32C of the payload.")
    var noChecksums = false

    @Flag(
        name: .customLong("no-gateways"),
        help: ArgumentHelp(
            "Let workers of different regions talk directly (unshaped).",
            discussion:
                "By default the coordinator waits for one straits-gateway per region and routes every message between regions through it."
        ))
    var noGateways = false

    @Flag(
        name: .customLong("store-and-forward"),
        help: ArgumentHelp(
            "Gateways add their own hops to every message's time.",
            discussion:
                "A whole message's trip from its sender and on to its receiver; by default each link allows for them (cut-through, as a router), at the fastest LAN measured."
        ))
    var storeAndForward = false

    @Option(
        name: .customLong("calibration-pool"),
        help: ArgumentHelp(
            "Pool this run's machine measurements with earlier runs' in this file.",
            discussion:
                "Appends the hop between two processes, the cores' rates and a message's processor time to the file, and models with the median of every run's in it (a sweep gives its points one, so that one noisy measurement does not set a point's model).",
            valueName: "file"))
    public var calibrationPool: String?

    @Option(
        name: .customLong("job-id"),
        help: ArgumentHelp(
            "This job's identity (default: made at start); written to <dir>/job.id. A join naming another job is refused.",
            valueName: "id"))
    var jobIDFlag: String?

    @Option(
        name: .customLong("resume"),
        help: ArgumentHelp(
            "Take over the job of a coordinator of this run directory that died.",
            discussion:
                "An elastic job's coordinator (one with a quorum:) writes <dir>/coordinator-state.json after every step. Its successor reads the topology, job, job id and endpoint from the directory, binds the same endpoint, appends to the same files, waits for the members to join again and goes on from the first step not finished.",
            valueName: "dir"))
    public var resumeDirectory: String?

    @Option(
        name: .customLong("successor-wait-s"),
        help: ArgumentHelp(
            "Elastic jobs: how long the members wait for a successor (--resume) when this coordinator goes silent.",
            valueName: "s"))
    public var successorWaitSeconds = 30.0

    @OptionGroup public var security: SecurityOptions

    public init() {}

    /// Parses a command line (see `ParsableArguments.parsing`).
    public init(arguments: [String]) throws {
        self = try Self.parsing(arguments)
    }

    public mutating func validate() throws {
        if let directory = resumeDirectory {
            // The run directory holds what the job ran with, and who it was.
            func read(_ name: String) throws -> String {
                guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else {
                    throw ValidationError("--resume \(directory): no \(name) there (not a coordinator's run directory)")
                }
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            runDirectoryFlag = directory
            topologyPath = directory + "/topology.yaml"
            jobPath = directory + "/job.yaml"
            jobIDFlag = try read("job.id")
            if bind == "tcp://127.0.0.1:*" { bind = try read("coordinator.endpoint") }
        }
        try FlagCheck.positive(successorWaitSeconds, "--successor-wait-s", maximum: 86_400)
        if let bound = DataTransport.host(ofTCP: bind) {
            try FlagCheck.advertise(bind: bound.host, advertise: advertiseAddress, "--bind")
        }
        try security.check(bindsOffLoopback: bindsOffLoopback, what: "--bind \(bind)")
        if let jobIDFlag {
            try FlagCheck.jobID(jobIDFlag)
        } else {
            jobIDFlag = String(format: "%016llx", UInt64.random(in: .min ... .max))
        }
        try FlagCheck.positive(heartbeatMilliseconds, "--heartbeat-ms")
        try FlagCheck.positive(deadAfterSeconds, "--dead-after-s", maximum: 86_400)
        try FlagCheck.positive(joinTimeoutSeconds, "--join-timeout-s", maximum: 86_400)
        if runDirectoryFlag == nil {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            runDirectoryFlag = "runs/" + formatter.string(from: Date())
        }
    }

    public var runDirectory: String { runDirectoryFlag ?? "runs/unnamed" }
    /// This job's identity, which joins must name when they name one.
    public var jobID: String { jobIDFlag ?? "unnamed" }

    /// Whether the control socket binds where other hosts can reach it (TCP, not loopback).
    public var bindsOffLoopback: Bool {
        DataTransport.host(ofTCP: bind).map { !DataTransport.isLoopback(address: $0.host) } ?? false
    }

    public var heartbeatSeconds: Double { heartbeatMilliseconds / 1000 }
    public var checksums: Bool { !noChecksums }
    /// Whether traffic between regions goes through the regions' gateways (shaped).
    public var gateways: Bool { !noGateways }
    /// Whether the gateways' links allow for the hops to and from the gateway (cut-through).
    public var cutThrough: Bool { !storeAndForward }
}
