/// How late deliveries went out against their due time: a histogram of 1 µs buckets up to
/// 100 ms (or `limitMicroseconds`; later ones share the last bucket), for percentiles without
/// keeping every sample.
public struct LatenessHistogram: Sendable {
    private var buckets: [Int]
    public private(set) var count = 0
    public private(set) var maxMicroseconds = 0.0

    public init(limitMicroseconds: Int = 100_000) {
        buckets = [Int](repeating: 0, count: limitMicroseconds + 1)
    }

    /// Adds `other`'s samples (of the same limit).
    public mutating func merge(_ other: LatenessHistogram) {
        precondition(other.buckets.count == buckets.count, "merging histograms of different limits")
        for index in other.buckets.indices where other.buckets[index] != 0 { buckets[index] += other.buckets[index] }
        count += other.count
        maxMicroseconds = max(maxMicroseconds, other.maxMicroseconds)
    }

    public mutating func record(nanoseconds: Int64) {
        let microseconds = max(0, Double(nanoseconds) / 1000)
        buckets[min(Int(microseconds), buckets.count - 1)] += 1
        count += 1
        maxMicroseconds = max(maxMicroseconds, microseconds)
    }

    /// The `fraction` percentile in microseconds (the bucket's upper edge); 0 when empty.
    ///
    /// The walk starts at the latest bucket and goes down, since it is asked for high
    /// percentiles under the gateway's shared lock: it visits the buckets from the maximum to
    /// the percentile, not all of them.
    public func percentile(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        let target = max(Int((Double(count) * fraction).rounded(.up)), 1)
        // The target-th sample in ascending order is in the highest bucket that, with every
        // bucket above it, holds more than `count - target` samples.
        var above = 0
        var index = min(Int(maxMicroseconds), buckets.count - 1)
        while index > 0 && above + buckets[index] <= count - target {
            above += buckets[index]
            index -= 1
        }
        return Double(index + 1)
    }
}
