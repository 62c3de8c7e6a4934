import Collectives

/// The flags of `straits bench allreduce`, after nccl-tests' `all_reduce_perf`.
public struct BenchOptions: Sendable, Equatable {
    public var minBytes = 32 << 20
    public var maxBytes = 32 << 20
    public var stepFactor = 2
    public var iterations = 20
    public var warmupIterations = 5
    public var check = true
    public var ranks = 2
    public var devicesPerWorker = 1
    public var transport = "tcp"
    public var algorithm: AllReduceAlgorithm? = nil
    public var jsonPath: String? = nil
    /// Chunk size of the message-passing parts, bytes (nil: the planner's choice).
    public var chunkBytes: Int? = nil
    /// Seconds one collective may take before the run fails.
    public var timeoutSeconds = 120

    public init() {}

    public static let help = """
        USAGE: straits bench allreduce [options]

        Runs an all-reduce benchmark over local rank processes it starts itself (as mpirun -np P
        would), in the style of nccl-tests' all_reduce_perf. Reports, for each size, the median
        over iterations of the slowest rank's time (each iteration starts after a barrier),
        algbw = size / time and busbw = algbw × 2(P−1)/P, in GB/s (1e9 B/s).

        OPTIONS:
          -b, --minbytes SIZE        smallest message (default 32M); K, M, G = 1024-based
          -e, --maxbytes SIZE        largest message (default 32M)
          -f, --stepfactor N         multiply the size by N each step (default 2)
          -n, --iters N              timed iterations per size (default 20)
          -w, --warmup-iters N       untimed iterations first (default 5)
          -c, --check 0|1            check every element against the exact sum (default 1);
                                     element j of rank r = (j mod 2^24/P²)·P + r
          --ranks P                  ranks in all (default 2)
          --devices-per-worker D     ranks per worker process, run as NUMA-pinned threads
                                     sharing memory (default 1)
          --transport tcp|ipc|inproc between workers (default tcp); inproc runs every rank as a
                                     thread of one process
          --algo ring|rhd|rd|hier|auto
                                     algorithm (default auto: the α-β planner picks per size)
          --chunk SIZE               chunk size of the message-passing parts (default: the
                                     planner's choice per size)
          --json FILE                also write one JSON line per size to FILE
          --timeout SECONDS          fail if one all-reduce takes longer (default 120)
          -h, --help                 show this help

        Exits non-zero if any element is wrong or any rank fails.
        """

    /// Parses the flags; throws a message naming the flag and what it expected.
    public init(arguments: [String]) throws {
        self.init()
        var index = 0
        func value(_ flag: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw RuntimeError("\(flag): expected a value") }
            return arguments[index]
        }
        func integer(_ flag: String, _ text: String, minimum: Int) throws -> Int {
            guard let number = Int(text), number >= minimum else {
                throw RuntimeError("\(flag): expected a whole number ≥ \(minimum), got \"\(text)\"")
            }
            return number
        }
        while index < arguments.count {
            let flag = arguments[index]
            switch flag {
            case "-b", "--minbytes": minBytes = try Self.parseSize(try value(flag), flag: flag)
            case "-e", "--maxbytes": maxBytes = try Self.parseSize(try value(flag), flag: flag)
            case "-f", "--stepfactor": stepFactor = try integer(flag, try value(flag), minimum: 2)
            case "-n", "--iters": iterations = try integer(flag, try value(flag), minimum: 1)
            case "-w", "--warmup-iters": warmupIterations = try integer(flag, try value(flag), minimum: 0)
            case "-c", "--check":
                let text = try value(flag)
                guard text == "0" || text == "1" else { throw RuntimeError("\(flag): expected 0 or 1, got \"\(text)\"") }
                check = text == "1"
            case "--ranks": ranks = try integer(flag, try value(flag), minimum: 1)
            case "--devices-per-worker": devicesPerWorker = try integer(flag, try value(flag), minimum: 1)
            case "--transport":
                transport = try value(flag)
                guard ["tcp", "ipc", "inproc"].contains(transport) else {
                    throw RuntimeError("--transport: expected tcp, ipc or inproc, got \"\(transport)\"")
                }
            case "--algo":
                let text = try value(flag)
                if text == "auto" {
                    algorithm = nil
                } else if let chosen = AllReduceAlgorithm(rawValue: text) {
                    algorithm = chosen
                } else {
                    throw RuntimeError("--algo: expected ring, rhd, rd, hier or auto, got \"\(text)\"")
                }
            case "--json": jsonPath = try value(flag)
            case "--chunk":
                let size = try Self.parseSize(try value(flag), flag: flag)
                guard size >= 4 else { throw RuntimeError("--chunk: expected at least 4 bytes, got \(size)") }
                chunkBytes = size
            case "--timeout": timeoutSeconds = try integer(flag, try value(flag), minimum: 1)
            default: throw RuntimeError("unknown option \(flag); see straits bench allreduce --help")
            }
            index += 1
        }
        guard minBytes <= maxBytes else { throw RuntimeError("-b \(minBytes) is larger than -e \(maxBytes)") }
        if transport == "inproc" { devicesPerWorker = ranks }
        guard ranks % devicesPerWorker == 0 else {
            throw RuntimeError("--ranks \(ranks) is not a multiple of --devices-per-worker \(devicesPerWorker)")
        }
    }

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
        var list = ["-b", "\(minBytes)", "-e", "\(maxBytes)", "-f", "\(stepFactor)", "-n", "\(iterations)",
                    "-w", "\(warmupIterations)", "-c", check ? "1" : "0", "--ranks", "\(ranks)",
                    "--devices-per-worker", "\(devicesPerWorker)", "--transport", transport,
                    "--algo", algorithm?.rawValue ?? "auto", "--timeout", "\(timeoutSeconds)"]
        if let jsonPath { list += ["--json", jsonPath] }
        if let chunkBytes { list += ["--chunk", "\(chunkBytes)"] }
        return list
    }

    static func parseSize(_ text: String, flag: String) throws -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        let upper = text.uppercased()
        if let last = upper.last, let unit = units[last], let number = Int(upper.dropLast()), number >= 0 { return number * unit }
        if let number = Int(upper), number >= 0 { return number }
        throw RuntimeError("\(flag): expected a size like 64K, 16M or 4096, got \"\(text)\"")
    }
}
