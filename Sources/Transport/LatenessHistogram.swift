import Histogram

/// How late deliveries went out against their due time (or ranks took held messages): an HDR
/// histogram (hdrhistogram-swift) of whole microseconds up to `limitMicroseconds` (later ones
/// count at the limit), for percentiles without keeping every sample. Values under 2048 µs are
/// exact; above that within 0.1%.
public struct LatenessHistogram: Sendable {
    private var histogram: Histogram<UInt64>
    private let limit: UInt64
    public private(set) var maxMicroseconds = 0.0

    public init(limitMicroseconds: Int = 100_000) {
        limit = UInt64(max(limitMicroseconds, 2))
        histogram = Histogram(highestTrackableValue: limit, numberOfSignificantValueDigits: .three)
    }

    /// Samples recorded.
    public var count: Int { Int(histogram.totalCount) }

    /// Adds `other`'s samples (of the same limit).
    public mutating func merge(_ other: LatenessHistogram) {
        precondition(other.limit == limit, "merging histograms of different limits")
        histogram.add(other.histogram)
        maxMicroseconds = max(maxMicroseconds, other.maxMicroseconds)
    }

    /// One sample; early (negative) counts as on time.
    public mutating func record(nanoseconds: Int64) {
        let microseconds = max(0, Double(nanoseconds) / 1000)
        _ = histogram.record(min(UInt64(microseconds), limit))
        maxMicroseconds = max(maxMicroseconds, microseconds)
    }

    /// The `fraction` percentile in microseconds: the upper edge of the whole microsecond that
    /// holds the sample of that rank; 0 when empty.
    public func percentile(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        return Double(histogram.valueAtPercentile(fraction * 100) + 1)
    }
}
