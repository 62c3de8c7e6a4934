import Collectives

/// One message size of an all-reduce benchmark, as `straits bench allreduce` and the cluster's
/// bench job both report it: the slowest rank's time of each timed iteration, reduced to the
/// nccl-tests figures, one table row and one JSON line. One engine for both, so the two print
/// and record the same thing the same way.
public struct BenchRow: Sendable {
    public let sizeBytes: Int
    public let ranks: Int
    /// Seconds of each timed iteration, the slowest rank's.
    public let times: [Double]
    public let wrong: Int
    /// The plan, as the workers named it.
    public let plan: String
    /// The model's prediction, seconds (the cluster's bench job).
    public let predicted: Double?

    public init(sizeBytes: Int, ranks: Int, times: [Double], wrong: Int, plan: String, predicted: Double? = nil) {
        precondition(!times.isEmpty, "a benchmark row needs at least one timed iteration")
        self.sizeBytes = sizeBytes
        self.ranks = ranks
        self.times = times
        self.wrong = wrong
        self.plan = plan
        self.predicted = predicted
    }

    /// The median iteration; with an even count, the mean of the two middle ones.
    public var median: Double {
        let sorted = times.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The 99th percentile (the sample of that rank, nearest-rank).
    public var p99: Double {
        let sorted = times.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
    }

    /// Bytes per second of the median iteration, GB/s (1e9 B/s).
    public var algbw: Double { Double(sizeBytes) / median / 1e9 }

    /// `algbw × 2(P−1)/P`: what each rank's link carried, comparable across P.
    public var busbw: Double { ranks > 1 ? algbw * 2 * Double(ranks - 1) / Double(ranks) : 0 }

    /// The column heads, after nccl-tests' `all_reduce_perf`; the model's columns where it has one.
    public static func header(model: Bool) -> String {
        "#" + padded("size", 11) + padded("count", 12) + padded("type", 8) + padded("redop", 7) + padded("time(us)", 11)
            + padded("algbw(GB/s)", 13) + padded("busbw(GB/s)", 13) + padded("#wrong", 8)
            + (model ? padded("model(us)", 12) + padded("ratio", 7) : "") + "  plan"
    }

    /// The row under `header`.
    public var line: String {
        var text =
            padded(String(sizeBytes), 12, right: true) + padded(String(sizeBytes / 4), 12, right: true)
            + padded("float", 8, right: true) + padded("sum", 7, right: true)
            + padded(fixed(median * 1e6, 1), 11, right: true)
            + padded(fixed(algbw, 3), 13, right: true) + padded(fixed(busbw, 3), 13, right: true)
            + padded(String(wrong), 8, right: true)
        if let predicted {
            text +=
                padded(fixed(predicted * 1e6, 1), 12, right: true)
                + padded(fixed(median / predicted, 3), 7, right: true)
        }
        return text + "  " + plan
    }

    /// The closing lines: elements out of bounds over every row, and the mean busbw.
    public static func footer(_ rows: [BenchRow]) -> [String] {
        let wrong = rows.reduce(0) { $0 + $1.wrong }
        let average = rows.isEmpty ? 0 : rows.reduce(0) { $0 + $1.busbw } / Double(rows.count)
        return [
            "# Out of bounds values : \(wrong) \(wrong == 0 ? "OK" : "FAILED")",
            "# Avg bus bandwidth    : \(fixed(average, 3))",
        ]
    }
}
