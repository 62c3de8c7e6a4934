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
    public static func fill(_ buffer: UnsafeMutableRawPointer, count: Int, rank: Int, ranks: Int) {
        for index in 0..<count {
            buffer.storeBytes(of: value(rank: rank, index: index, ranks: ranks), toByteOffset: index * 4, as: Float.self)
        }
    }

    /// How many of the `count` float32 elements at `buffer` differ from the exact sum.
    public static func countWrong(_ buffer: UnsafeRawPointer, count: Int, ranks: Int) -> Int {
        var wrong = 0
        for index in 0..<count where buffer.loadUnaligned(fromByteOffset: index * 4, as: Float.self) != sum(index: index, ranks: ranks) {
            wrong += 1
        }
        return wrong
    }
}
