/// The integer pattern that all-reduce checks use, after Gloo's: element `j` of rank `r` is
/// `(j mod K)·P + r`, with `K = ⌊2^24 / P²⌋`, so every partial sum, in any order, is an integer
/// below 2^24 and exact in float32. The sum over ranks is `(j mod K)·P² + P(P−1)/2`.
public enum ExactPattern {
    /// How often the pattern repeats, so sums stay exact.
    public static func period(ranks: Int) -> Int {
        max(1, (1 << 24) / (ranks * ranks))
    }

    /// Element `index` of rank `rank`.
    public static func value(rank: Int, index: Int, ranks: Int) -> Float {
        Float((index % period(ranks: ranks)) * ranks + rank)
    }

    /// The exact sum of element `index` over all ranks.
    public static func sum(index: Int, ranks: Int) -> Float {
        Float((index % period(ranks: ranks)) * ranks * ranks + ranks * (ranks - 1) / 2)
    }

    /// Writes rank `rank`'s first `count` elements as float32 at `buffer` (any alignment).
    ///
    /// A period at a time, so the loop is a multiply-add of the index, with no division per
    /// element as `value` has.
    public static func fill(_ buffer: UnsafeMutableRawPointer, count: Int, rank: Int, ranks: Int) {
        let period = period(ranks: ranks)
        let scale = Float(ranks)
        let offset = Float(rank)
        forEachPeriod(count: count, period: period) { start, length in
            if Int(bitPattern: buffer) % MemoryLayout<Float>.alignment == 0 {
                let elements = (buffer + start * 4).assumingMemoryBound(to: Float.self)
                for index in 0..<length { elements[index] = Float(index) * scale + offset }
            } else {
                for index in 0..<length {
                    buffer.storeBytes(
                        of: Float(index) * scale + offset, toByteOffset: (start + index) * 4, as: Float.self)
                }
            }
        }
    }

    /// How many of the `count` float32 elements at `buffer` differ from the exact sum.
    public static func countWrong(_ buffer: UnsafeRawPointer, count: Int, ranks: Int) -> Int {
        let period = period(ranks: ranks)
        let scale = Float(ranks * ranks)
        let offset = Float(ranks * (ranks - 1) / 2)
        var wrong = 0
        forEachPeriod(count: count, period: period) { start, length in
            if Int(bitPattern: buffer) % MemoryLayout<Float>.alignment == 0 {
                let elements = (buffer + start * 4).assumingMemoryBound(to: Float.self)
                for index in 0..<length { wrong &+= elements[index] != Float(index) * scale + offset ? 1 : 0 }
            } else {
                for index in 0..<length {
                    let value = buffer.loadUnaligned(fromByteOffset: (start + index) * 4, as: Float.self)
                    wrong &+= value != Float(index) * scale + offset ? 1 : 0
                }
            }
        }
        return wrong
    }

    /// Calls `body(start, length)` for each stretch of `count` elements that starts a period.
    private static func forEachPeriod(count: Int, period: Int, _ body: (Int, Int) -> Void) {
        var start = 0
        while start < count {
            body(start, min(period, count - start))
            start += period
        }
    }
}
