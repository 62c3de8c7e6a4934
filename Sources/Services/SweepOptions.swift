import ArgumentParser
import Config
import StraitsWire
import Transport

/// Flags of `straits sweep`.
public struct SweepOptions: ParsableArguments, Sendable {
    public static let discussion = """
        Runs an all-reduce benchmark through a local cluster (coordinator, one gateway per region, \
        workers) at every point of a grid of WAN bandwidth × latency × algorithm, and prints the \
        measured time beside the model's prediction for each message size. Writes sweep.csv and \
        sweep.jsonl (and each point's run directory under runs/) into --out; `straits report DIR` \
        charts measured against predicted. Each point models this machine with the median of the \
        points' measurements so far (the hop between two processes, the cores), which it adds to \
        calibration.jsonl there, so that one noisy measurement does not set a point's model.

        With --job FILE (a kind: train job), every point trains instead: the job's schedules run \
        one after another as in a cluster run, and each schedule gives a row (final loss, time and \
        WAN bytes to the target loss, compute utilisation); --algo and --sizes do not apply.
        """

    @Option(help: ArgumentHelp("Train this job at every point (see above).", valueName: "file"))
    public var job: String?

    @Option(
        name: .customLong("bandwidth"), help: ArgumentHelp("WAN bandwidths, e.g. 100Mbps,1Gbps.", valueName: "list"),
        transform: { try FlagCheck.list($0, what: "rates like 100Mbps,1Gbps", Units.bitsPerSecond) })
    public var bandwidths: [Double] = [100e6, 1e9]

    @Option(
        name: .customLong("latency"),
        help: ArgumentHelp("One-way WAN latencies, e.g. 1ms,20ms,80ms.", valueName: "list"),
        transform: { try FlagCheck.list($0, what: "durations like 1ms,20ms", Units.seconds) })
    public var latencies: [Double] = [0.001, 0.020]

    @Option(
        name: .customLong("algo"), help: ArgumentHelp("ring (flat over every rank) and/or hier.", valueName: "list"),
        transform: { try FlagCheck.list($0, what: "ring or hier") { ["ring", "hier"].contains($0) ? $0 : nil } })
    public var algorithms: [String] = ["ring", "hier"]

    @Option(
        help: ArgumentHelp("Message sizes, e.g. 1M,16M,64M.", valueName: "list"),
        transform: { try FlagCheck.list($0, what: "sizes like 1M,16M (multiples of 4 bytes)", SweepOptions.floatBytes) }
    )
    public var sizes: [Int] = [1 << 20, 16 << 20]

    @Option(help: "Regions.") public var regions = 2
    @Option(help: "Hosts per region.") public var hosts = 1
    @Option(help: "Devices per host.") public var devices = 1

    @Option(
        name: .customLong("jitter"), help: ArgumentHelp("Jitter of every link.", valueName: "duration"),
        transform: { text in
            guard let seconds = Units.seconds(text) else {
                throw ValidationError("expected a duration like 1ms, got \"\(text)\"")
            }
            return seconds
        })
    public var jitterSeconds = 0.0

    @Option(name: [.customShort("n"), .customLong("iters")], help: "Timed iterations per size.")
    public var iterations = 3

    @Option(name: [.customShort("w"), .customLong("warmup")], help: "Warm-up iterations per size.")
    public var warmup = 1

    @Option(
        name: .customLong("timeout"),
        help: ArgumentHelp("Give up on one grid point after this many seconds.", valueName: "s"))
    public var timeoutSeconds = 600.0

    /// How the cluster's processes reach each other's data sockets (they share this machine).
    @Option(
        help: ArgumentHelp(
            "How workers and gateways reach each other.",
            discussion:
                "ipc: Unix-domain sockets, which cost the shared cores less per byte and per message than tcp on 127.0.0.1."
        ))
    public var transport = DataTransport.ipc

    /// Whether data frames carry a CRC32C of their payload (off unless asked: see the help).
    @Flag(
        help: ArgumentHelp(
            "CRC32C every data frame, as a cluster run does by default.",
            discussion:
                "A sweep measures the links, and leaves out the two passes over every byte a checksum costs the cores the ranks share."
        ))
    public var checksums = false

    /// The gateways' `--delivery-threads` (nil: their default).
    @Option(
        name: .customLong("delivery-threads"), help: ArgumentHelp("The gateways' --delivery-threads.", valueName: "n"))
    public var deliveryThreads: Int?

    @Option(name: .customLong("hold"), help: "The gateways' --hold.")
    var holdPlace: HoldPlace?

    @Option(
        name: .customLong("cpu-latency-us"), help: ArgumentHelp("The gateways' --cpu-latency-us.", valueName: "us|off"))
    var cpuLatencyBound: LatencyBound?

    @Option(name: .customLong("arrival-wait"), help: "The workers' --arrival-wait.")
    var arrivalWaitChoice: WorkerOptions.ArrivalWait?

    /// The job's `chunk`: every level's chunk size (nil: the planner's).
    @Option(
        name: .customLong("chunk"),
        help: ArgumentHelp("Every level's chunk size, e.g. 64K (default: the planner's).", valueName: "size"),
        transform: { text in
            guard let bytes = SweepOptions.floatBytes(text), bytes <= DataFrameHeader.maximumPayloadBytes else {
                throw ValidationError(
                    "expected a size like 64K (a multiple of 4 bytes, at most 16M), got \"\(text)\"")
            }
            return bytes
        })
    public var chunkBytes: Int?

    @Option(name: .customLong("out"), help: ArgumentHelp("Where the results go.", valueName: "dir"))
    public var output = "sweep"

    public init() {}

    /// Parses a command line (see `ParsableArguments.parsing`).
    public init(arguments: [String]) throws {
        self = try Self.parsing(arguments)
    }

    public func validate() throws {
        try FlagCheck.atLeast(regions, 2, "--regions")
        try FlagCheck.atLeast(hosts, 1, "--hosts")
        try FlagCheck.atLeast(devices, 1, "--devices")
        try FlagCheck.atLeast(iterations, 1, "--iters")
        try FlagCheck.atLeast(warmup, 0, "--warmup")
        try FlagCheck.positive(timeoutSeconds, "--timeout", maximum: 86_400)
        if let deliveryThreads { try FlagCheck.atLeast(deliveryThreads, 1, "--delivery-threads") }
        if let job, try JobSpec.load(path: job).kind != .train {
            throw ValidationError("--job: \(job) is not a kind: train job")
        }
    }

    /// The gateways' `--hold` (nil: their default).
    public var hold: String? { holdPlace?.rawValue }
    /// The gateways' `--cpu-latency-us` (nil: their default).
    public var cpuLatency: String? { cpuLatencyBound.map { $0.microseconds.map(String.init) ?? "off" } }
    /// The workers' `--arrival-wait` (nil: their default).
    public var arrivalWait: String? { arrivalWaitChoice?.rawValue }

    /// A size like 64K or 16M that holds a whole number of float32 values (nil otherwise).
    static func floatBytes(_ text: String) -> Int? {
        Units.bytes(text).flatMap { $0 > 0 && $0 % 4 == 0 ? $0 : nil }
    }
}
