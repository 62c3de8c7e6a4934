import ArgumentParser
import Collectives
import StraitsWire
import Transport

/// The flags of `straits bench allreduce`, after nccl-tests' `all_reduce_perf`.
public struct BenchOptions: ParsableArguments, Sendable {
    public static let discussion = """
        Runs an all-reduce benchmark over local rank processes it starts itself (as mpirun -np P \
        would), in the style of nccl-tests' all_reduce_perf. Reports, for each size, the median \
        over iterations of the slowest rank's time (each iteration starts after a barrier), \
        algbw = size / time and busbw = algbw × 2(P−1)/P, in GB/s (1e9 B/s). Exits non-zero if \
        any element is wrong or any rank fails.
        """

    @Option(
        name: [.customShort("b"), .customLong("minbytes")],
        help: ArgumentHelp(
            "Smallest message; K, M, G are 1024-based.", valueName: "size"))
    var minSize = ByteCount(32 << 20)

    @Option(
        name: [.customShort("e"), .customLong("maxbytes")], help: ArgumentHelp("Largest message.", valueName: "size"))
    var maxSize = ByteCount(32 << 20)

    @Option(name: [.customShort("f"), .customLong("stepfactor")], help: "Multiply the size by this each step.")
    public var stepFactor = 2

    @Option(name: [.customShort("n"), .customLong("iters")], help: "Timed iterations per size.")
    public var iterations = 20

    @Option(name: [.customShort("w"), .customLong("warmup-iters")], help: "Untimed iterations first.")
    public var warmupIterations = 5

    @Option(
        name: [.customShort("c"), .customLong("check")],
        help: ArgumentHelp(
            "Check every element against the exact sum (1) or not (0).",
            discussion:
                "Element j of rank r = (j mod 2^24/P²)·P + r, so every partial sum is an exact float32 integer.",
            valueName: "0|1"))
    var checkFlag = 1

    @Option(help: "Ranks in all.")
    public var ranks = 2

    @Option(
        name: .customLong("devices-per-worker"),
        help: ArgumentHelp(
            "Ranks per worker process, run as NUMA-pinned threads sharing memory.", valueName: "d"))
    public var devicesPerWorker = 1

    @Option(
        help: ArgumentHelp(
            "Between workers: tcp (ZMTP on each rank's own thread; libzmq with --keys), zmq (libzmq over TCP), ipc, shm (rings in shared memory), or inproc (every rank a thread of one process).",
            valueName: "tcp|zmq|ipc|shm|inproc"),
        transform: { text in
            guard BenchOptions.transports.contains(text) else {
                throw ValidationError(
                    "expected one of \(BenchOptions.transports.joined(separator: ", ")), got \"\(text)\"")
            }
            return text
        })
    public var transport = "tcp"
    /// What `--transport` takes.
    static let transports = ["tcp", "zmq", "ipc", "shm", "inproc"]

    @Option(
        help: ArgumentHelp(
            "CurveZMQ keys (straits keys DIR): every socket of the ranks and the launcher uses CURVE, to measure what it costs.",
            valueName: "dir"))
    public var keys: String?

    @Option(name: .customLong("algo"), help: "Algorithm (auto: the α-β planner picks per size).")
    var algorithmChoice = AlgorithmChoice.auto

    @Option(
        name: .customLong("chunk"),
        help: ArgumentHelp(
            "Chunk size of the message-passing parts (default: the planner's choice per size).", valueName: "size"))
    var chunk: ByteCount?

    @Option(
        name: .customLong("json"),
        help: ArgumentHelp("Also write one JSON line per size to this file.", valueName: "file"))
    public var jsonPath: String?

    /// Seconds one collective may take before the run fails.
    @Option(
        name: .customLong("timeout"), help: ArgumentHelp("Fail if one all-reduce takes longer.", valueName: "seconds"))
    public var timeoutSeconds = 120

    public init() {}

    /// Parses a command line (see `ParsableArguments.parsing`).
    public init(arguments: [String]) throws {
        self = try Self.parsing(arguments)
    }

    public mutating func validate() throws {
        try FlagCheck.atLeast(stepFactor, 2, "-f/--stepfactor")
        try FlagCheck.atLeast(iterations, 1, "-n/--iters")
        try FlagCheck.atLeast(warmupIterations, 0, "-w/--warmup-iters")
        try FlagCheck.atLeast(ranks, 1, "--ranks")
        try FlagCheck.atLeast(devicesPerWorker, 1, "--devices-per-worker")
        try FlagCheck.atLeast(timeoutSeconds, 1, "--timeout")
        guard checkFlag == 0 || checkFlag == 1 else {
            throw ValidationError("-c/--check expects 0 or 1, got \(checkFlag)")
        }
        guard maxSize.bytes <= 16 << 30 else {
            throw ValidationError("-e/--maxbytes: at most 16G, got \(maxSize.bytes)")
        }
        guard minBytes <= maxBytes else { throw ValidationError("-b \(minBytes) is larger than -e \(maxBytes)") }
        if let chunk, chunk.bytes < 4 || chunk.bytes > DataFrameHeader.maximumPayloadBytes {
            throw ValidationError(
                "--chunk: expected 4 bytes to \(DataFrameHeader.maximumPayloadBytes >> 20)M (the most one message carries), got \(chunk.bytes)"
            )
        }
        if transport == "inproc" { devicesPerWorker = ranks }
        guard ranks % devicesPerWorker == 0 else {
            throw ValidationError("--ranks \(ranks) is not a multiple of --devices-per-worker \(devicesPerWorker)")
        }
        if algorithm == .direct && !sharesBuffers {
            throw ValidationError(
                "--algo direct reduces straight from the other ranks' buffers: it needs --transport shm and one device per worker"
            )
        }
    }

    /// Whether each rank's buffer is in shared memory, mapped by the others (`--algo direct`):
    /// over shm with one device per worker.
    public var sharesBuffers: Bool { transport == "shm" && devicesPerWorker == 1 }

    public var minBytes: Int { minSize.bytes }
    public var maxBytes: Int { maxSize.bytes }
    public var check: Bool { checkFlag == 1 }
    public var algorithm: AllReduceAlgorithm? { algorithmChoice.algorithm }
    /// Chunk size of the message-passing parts, bytes (nil: the planner's choice).
    public var chunkBytes: Int? { chunk?.bytes }
    public var workers: Int { ranks / devicesPerWorker }

    /// The message sizes, from -b to -e by -f, rounded down to whole float32 elements.
    public var sizes: [Int] {
        var sizes: [Int] = []
        var size = minBytes
        while size <= maxBytes {
            sizes.append(size / 4 * 4)
            if size > maxBytes / stepFactor { break }
            size *= stepFactor
        }
        return sizes
    }

    /// The flags that reproduce these options, for the worker processes.
    public var arguments: [String] {
        var list = [
            "-b", "\(minBytes)", "-e", "\(maxBytes)", "-f", "\(stepFactor)", "-n", "\(iterations)",
            "-w", "\(warmupIterations)", "-c", check ? "1" : "0", "--ranks", "\(ranks)",
            "--devices-per-worker", "\(devicesPerWorker)", "--transport", transport,
            "--algo", algorithm?.rawValue ?? "auto", "--timeout", "\(timeoutSeconds)",
        ]
        if let jsonPath { list += ["--json", jsonPath] }
        if let chunkBytes { list += ["--chunk", "\(chunkBytes)"] }
        if let keys { list += ["--keys", keys] }
        return list
    }
}
