import Foundation

/// Flags of `straits-coordinator`.
public struct CoordinatorOptions: Sendable {
    public var topologyPath = "Deploy/topologies/default.yaml"
    public var jobPath = "Deploy/jobs/default.yaml"
    public var runDirectory = ""
    public var bind = "tcp://127.0.0.1:*"
    public var heartbeatSeconds = 0.5
    public var deadAfterSeconds = 5.0
    public var joinTimeoutSeconds = 60.0
    public var checksums = true
    /// Whether traffic between regions goes through the regions' gateways (shaped).
    public var gateways = true
    /// Whether the gateways' links allow for the hops to and from the gateway (cut-through).
    public var cutThrough = true
    /// A file of earlier runs' machine measurements to pool this run's with (`CalibrationPool`).
    public var calibrationPool: String?

    public static let help = """
        USAGE: straits-coordinator --topology FILE --job FILE --run-dir DIR [options]

        The control plane of a Straits cluster: admits the workers the topology lists, assigns
        ranks region → host → device, measures the links, plans the all-reduce, drives the job
        step by step (for a training job: what each step synchronises where, and the gradient
        buckets), and writes the run directory (plan.json, regions/*.jsonl, links.jsonl,
        steps.jsonl, bench.jsonl, events.jsonl, summary.json; model-<schedule>.bin when
        training). Exits 0 when the job finished, 1 when it failed (a worker died, refused or
        timed out), 2 on a bad topology or job file.

        OPTIONS:
          --topology FILE        topology YAML (default Deploy/topologies/default.yaml)
          --job FILE             job YAML (default Deploy/jobs/default.yaml)
          --run-dir DIR          where the run's files go (default runs/<timestamp>)
          --bind ENDPOINT        control endpoint (default tcp://127.0.0.1:*, a free port); the
                                 endpoint bound is written to DIR/coordinator.endpoint
          --heartbeat-ms MS      heartbeat interval both ways (default 500)
          --dead-after-s S       a worker silent this long is dead (default 5)
          --join-timeout-s S     give up if the topology's hosts have not all joined (default 60)
          --no-checksums         send data frames without a CRC32C of the payload
          --no-gateways          let workers of different regions talk directly (unshaped);
                                 by default the coordinator waits for one straits-gateway per
                                 region and routes every inter-region message through it
          --store-and-forward    gateways add their own hops to every message's time (a whole
                                 message's trip from its sender and on to its receiver); by
                                 default each link allows for them (cut-through, as a router),
                                 at the fastest LAN measured
          --calibration-pool FILE
                                 append this run's machine measurements (the hop between two
                                 processes, the cores' rates, a message's processor time) to
                                 FILE, and model with the median of every run's in it (a sweep
                                 gives its points one, so that one noisy measurement does not
                                 set a point's model)
          -h, --help             show this help

        """

    public init(arguments: [String]) throws {
        var flags = FlagReader(command: "straits-coordinator", arguments: arguments)
        while let flag = flags.next() {
            switch flag {
            case "--topology": topologyPath = try flags.value(flag)
            case "--job": jobPath = try flags.value(flag)
            case "--run-dir": runDirectory = try flags.value(flag)
            case "--bind": bind = try flags.value(flag)
            case "--heartbeat-ms": heartbeatSeconds = try flags.positive(flag) / 1000
            case "--dead-after-s": deadAfterSeconds = try flags.positive(flag)
            case "--join-timeout-s": joinTimeoutSeconds = try flags.positive(flag)
            case "--no-checksums": checksums = false
            case "--no-gateways": gateways = false
            case "--store-and-forward": cutThrough = false
            case "--calibration-pool": calibrationPool = try flags.value(flag)
            default: throw flags.unknown(flag)
            }
        }
        if runDirectory.isEmpty {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            runDirectory = "runs/" + formatter.string(from: Date())
        }
    }
}
