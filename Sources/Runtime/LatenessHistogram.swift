/// How late deliveries went out against their due time: a histogram of 1 µs buckets up to
/// 100 ms (later ones share the last bucket), for percentiles without keeping every sample.
struct LatenessHistogram {
    private var buckets = [Int](repeating: 0, count: 100_001)
    private(set) var count = 0
    private(set) var maxMicroseconds = 0.0

    mutating func record(nanoseconds: Int64) {
        let microseconds = max(0, Double(nanoseconds) / 1000)
        buckets[min(Int(microseconds), buckets.count - 1)] += 1
        count += 1
        maxMicroseconds = max(maxMicroseconds, microseconds)
    }

    /// The `fraction` percentile in microseconds (the bucket's upper edge); 0 when empty.
    func percentile(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        let target = Int((Double(count) * fraction).rounded(.up))
        var seen = 0
        for (index, n) in buckets.enumerated() {
            seen += n
            if seen >= target { return Double(index + 1) }
        }
        return Double(buckets.count)
    }
}
