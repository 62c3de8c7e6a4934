import Testing

@testable import Collectives

@Suite("ExactPattern")
struct ExactPatternTests {
    @Test(
        "fill and countWrong agree with the per-element formulas across periods, at any alignment",
        arguments: [16, 64, 100, 1000])
    func bulkMatchesFormulas(ranks: Int) {
        let count = 2 * ExactPattern.period(ranks: ranks) + 17
        for misalignment in [0, 1, 4] {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 4 + misalignment, alignment: 16)
            defer { raw.deallocate() }
            let buffer = raw + misalignment
            let rank = ranks - 1
            ExactPattern.fill(buffer, count: count, rank: rank, ranks: ranks)
            let values = (0..<count).map { buffer.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
            #expect(values == (0..<count).map { ExactPattern.value(rank: rank, index: $0, ranks: ranks) })

            for index in 0..<count {
                buffer.storeBytes(
                    of: ExactPattern.sum(index: index, ranks: ranks), toByteOffset: index * 4, as: Float.self)
            }
            #expect(ExactPattern.countWrong(buffer, count: count, ranks: ranks) == 0)
            for index in [0, count / 2, count - 1] {
                buffer.storeBytes(
                    of: ExactPattern.sum(index: index, ranks: ranks) + 1, toByteOffset: index * 4, as: Float.self)
            }
            #expect(ExactPattern.countWrong(buffer, count: count, ranks: ranks) == 3)
        }
    }
}
