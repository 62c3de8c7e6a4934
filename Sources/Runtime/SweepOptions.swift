import Config

/// Flags of `straits sweep`.
public struct SweepOptions: Sendable {
    public var bandwidths: [Double] = [100e6, 1e9]
    public var latencies: [Double] = [0.001, 0.020]
    public var algorithms: [String] = ["ring", "hier"]
    public var sizes: [Int] = [1 << 20, 16 << 20]
    public var regions = 2
    public var hosts = 1
    public var devices = 1
    public var iterations = 3
    public var warmup = 1
    public var jitterSeconds = 0.0
    public var output = "sweep"
    public var timeoutSeconds = 600.0
    /// Whether data frames carry a CRC32C of their payload (off unless asked: see the help).
    public var checksums = false
    /// How the cluster's processes reach each other's data sockets (they share this machine).
    public var transport = DataTransport.ipc
    /// A training job to run at every point instead of the all-reduce benchmark.
    public var job: String?
    /// The gateways' `--delivery-threads` (nil: their default).
    public var deliveryThreads: Int?
    /// The gateways' `--hold` (nil: their default).
    public var hold: String?
    /// The gateways' `--cpu-latency-us` (nil: their default).
    public var cpuLatency: String?
    /// The workers' `--arrival-wait` (nil: their default).
    public var arrivalWait: String?
    /// The job's `chunk`: every level's chunk size (nil: the planner's).
    public var chunkBytes: Int?

    public static let help = """
        USAGE: straits sweep [options]

        Runs an all-reduce benchmark through a local cluster (coordinator, one gateway per region,
        workers) at every point of a grid of WAN bandwidth × latency × algorithm, and prints the
        measured time beside the model's prediction for each message size. Writes sweep.csv and
        sweep.jsonl (and each point's run directory under runs/) into --out; `straits report DIR`
        charts measured against predicted. Each point models this machine with the median of the
        points' measurements so far (the hop between two processes, the cores), which it adds to
        calibration.jsonl there, so that one noisy measurement does not set a point's model.

        With --job FILE (a kind: train job), every point trains instead: the job's schedules run
        one after another as in a cluster run, and each schedule gives a row (final loss, time and
        WAN bytes to the target loss, compute utilisation); --algo and --sizes do not apply.

        OPTIONS:
          --job FILE          train this job at every point (see above)
          --bandwidth LIST    WAN bandwidths, e.g. 100Mbps,1Gbps (default 100Mbps,1Gbps)
          --latency LIST      one-way WAN latencies, e.g. 1ms,20ms,80ms (default 1ms,20ms)
          --algo LIST         ring (flat over every rank) and/or hier (default ring,hier)
          --sizes LIST        message sizes, e.g. 1M,16M,64M (default 1M,16M)
          --regions R         regions (default 2)
          --hosts H           hosts per region (default 1)
          --devices D         devices per host (default 1)
          --jitter T          jitter of every link (default 0)
          -n, --iters N       timed iterations per size (default 3)
          -w, --warmup N      warm-up iterations per size (default 1)
          --timeout S         give up on one grid point after S seconds (default 600)
          --transport tcp|ipc how workers and gateways reach each other: ipc (default),
                              Unix-domain sockets, which cost the shared cores less per byte
                              and per message than tcp on 127.0.0.1
          --checksums         CRC32C every data frame, as a cluster run does by default; a
                              sweep measures the links, and leaves out the two passes over
                              every byte a checksum costs the cores the ranks share
          --delivery-threads N
                              the gateways' --delivery-threads (see straits-gateway --help)
          --hold receiver|gateway
                              the gateways' --hold (see straits-gateway --help)
          --cpu-latency-us N|off
                              the gateways' --cpu-latency-us (see straits-gateway --help)
          --arrival-wait auto|approach|timer
                              the workers' --arrival-wait (see straits-worker --help)
          --chunk SIZE        every level's chunk size, e.g. 64K (default: the planner's)
          --out DIR           where the results go (default sweep)
          -h, --help          show this help

        """

    public init(arguments: [String]) throws {
        var flags = FlagReader(command: "straits sweep", arguments: arguments)
        func list<T>(_ flag: String, _ parse: (String) -> T?, what: String) throws -> [T] {
            let text = try flags.value(flag)
            let items = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            var values: [T] = []
            for item in items {
                guard let value = parse(item) else { throw RuntimeError("straits sweep: \(flag): expected \(what), got \"\(item)\"") }
                values.append(value)
            }
            guard !values.isEmpty else { throw RuntimeError("straits sweep: \(flag) needs at least one value") }
            return values
        }
        while let flag = flags.next() {
            switch flag {
            case "--bandwidth": bandwidths = try list(flag, Units.bitsPerSecond, what: "rates like 100Mbps,1Gbps")
            case "--latency": latencies = try list(flag, Units.seconds, what: "durations like 1ms,20ms")
            case "--algo": algorithms = try list(flag, { ["ring", "hier"].contains($0) ? $0 : nil }, what: "ring or hier")
            case "--sizes":
                sizes = try list(flag, Self.floatBytes,
                                 what: "sizes like 1M,16M (multiples of 4 bytes)")
            case "--regions": regions = try flags.integer(flag, minimum: 2)
            case "--hosts": hosts = try flags.integer(flag, minimum: 1)
            case "--devices": devices = try flags.integer(flag, minimum: 1)
            case "--jitter":
                let text = try flags.value(flag)
                guard let jitter = Units.seconds(text) else { throw RuntimeError("straits sweep: --jitter: expected a duration, got \"\(text)\"") }
                jitterSeconds = jitter
            case "-n", "--iters": iterations = try flags.integer(flag, minimum: 1)
            case "-w", "--warmup": warmup = try flags.integer(flag, minimum: 0)
            case "--timeout": timeoutSeconds = try flags.positive(flag)
            case "--out": output = try flags.value(flag)
            case "--checksums": checksums = true
            case "--delivery-threads": deliveryThreads = try flags.integer(flag, minimum: 1)
            case "--hold":
                let value = try flags.value(flag)
                _ = try GatewayOptions.receiverHolds(value, command: "straits sweep")
                hold = value
            case "--cpu-latency-us": cpuLatency = try flags.microsecondsOrOff(flag).map(String.init) ?? "off"
            case "--arrival-wait":
                let value = try flags.value(flag)
                _ = try WorkerOptions.ArrivalWait.parse(value, command: "straits sweep")
                arrivalWait = value
            case "--chunk":
                let text = try flags.value(flag)
                guard let bytes = Self.floatBytes(text) else {
                    throw RuntimeError("straits sweep: --chunk: expected a size like 64K (a multiple of 4 bytes), got \"\(text)\"")
                }
                chunkBytes = bytes
            case "--transport": transport = try DataTransport.parse(try flags.value(flag), command: "straits sweep")
            case "--job":
                let path = try flags.value(flag)
                guard try JobSpec.load(path: path).kind == .train else {
                    throw RuntimeError("straits sweep: --job: \(path) is not a kind: train job")
                }
                job = path
            default: throw flags.unknown(flag)
            }
        }
    }

    /// A size like 64K or 16M that holds a whole number of float32 values (nil otherwise).
    static func floatBytes(_ text: String) -> Int? {
        Units.bytes(text).flatMap { $0 > 0 && $0 % 4 == 0 ? $0 : nil }
    }
}
