import Testing

@testable import Transport

@Suite("lateness histogram")
struct LatenessHistogramTests {
    @Test("percentiles are the upper edge of the bucket that holds the sample of that rank")
    func percentiles() {
        var histogram = LatenessHistogram()
        #expect(histogram.percentile(0.99) == 0)
        // 1 … 200 µs, one sample each, given in nanoseconds (the 200th 0.4 µs past 200).
        for microseconds in 1...200 {
            histogram.record(nanoseconds: Int64(microseconds) * 1000 + (microseconds == 200 ? 400 : 0))
        }
        #expect(histogram.count == 200)
        #expect(histogram.percentile(0.99) == 199)  // the 198th sample, 198 µs, in bucket [198, 199)
        #expect(histogram.percentile(0.5) == 101)
        #expect(histogram.percentile(1.0) == 201)
        #expect(histogram.percentile(0.001) == 2)
        #expect(histogram.maxMicroseconds == 200.4)
    }

    @Test("early deliveries count as on time; later than the last bucket share it")
    func edges() {
        var histogram = LatenessHistogram()
        histogram.record(nanoseconds: -5000)
        histogram.record(nanoseconds: 250_000_000)
        #expect(histogram.percentile(0.5) == 1)
        #expect(histogram.percentile(0.99) == 100_001)
        #expect(histogram.maxMicroseconds == 250_000)
    }
}
