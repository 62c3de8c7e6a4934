import Testing

@testable import Collectives

@Suite("float32 sum kernel")
struct ReductionKernelTests {
    /// Element counts: empty, one, primes around every unrolling boundary, and 64 MiB.
    static let counts = [0, 1, 2, 3, 5, 7, 13, 31, 37, 61, 67, 127, 131, 1021, 65_521, 1_000_003, 16 << 20]

    /// Byte offsets of destination and source from a page boundary: aligned, 8-byte aligned
    /// (as frames arrive), and misaligned even for float32.
    static let offsets: [(dst: Int, src: Int)] = [(0, 0), (8, 8), (4, 12), (1, 3), (2, 7), (3, 0), (0, 5)]

    @Test("matches a scalar reference at every length and misaligned offset", arguments: counts)
    func matchesScalarReference(count: Int) {
        let offsets = count > 1_000_000 ? [(dst: 1, src: 3), (dst: 8, src: 4)] : Self.offsets
        for (dstOffset, srcOffset) in offsets {
            let bytes = count * 4
            let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes + 16, alignment: 4096)
            let src = UnsafeMutableRawPointer.allocate(byteCount: bytes + 16, alignment: 4096)
            defer {
                dst.deallocate()
                src.deallocate()
            }
            var expected = [Float](repeating: 0, count: count)
            for index in 0..<count {
                // Values whose sums round: the kernel must round exactly as scalar addition does.
                let a = Float(index % 1009) * 1.1 - 300.7
                let b = Float((index * 7) % 997) * 0.3 + 1e-3
                (dst + dstOffset).storeBytes(of: a, toByteOffset: index * 4, as: Float.self)
                (src + srcOffset).storeBytes(of: b, toByteOffset: index * 4, as: Float.self)
                expected[index] = a + b
            }
            // Guard bytes after the end must stay untouched.
            (dst + dstOffset + bytes).storeBytes(of: 0xDEAD_BEEF as UInt32, as: UInt32.self)

            ReductionKernel.sum(into: dst + dstOffset, from: src + srcOffset, count: count)

            var mismatches = 0
            for index in 0..<count
            where (dst + dstOffset).loadUnaligned(fromByteOffset: index * 4, as: Float.self) != expected[index] {
                mismatches += 1
            }
            #expect(mismatches == 0, "count \(count), dst offset \(dstOffset), src offset \(srcOffset)")
            #expect((dst + dstOffset + bytes).loadUnaligned(as: UInt32.self) == 0xDEAD_BEEF)
        }
    }

    @Test("out-of-place sum and typed buffers")
    func outOfPlaceAndTyped() {
        let a: [Float] = (0..<1001).map { Float($0) * 0.5 }
        let b: [Float] = (0..<1001).map { Float($0) * -0.25 + 3 }
        var out = [Float](repeating: .nan, count: 1001)
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                out.withUnsafeMutableBytes { out in
                    ReductionKernel.sum(a.baseAddress!, b.baseAddress!, into: out.baseAddress!, count: 1001)
                }
            }
        }
        #expect(out == zip(a, b).map { $0 + $1 })

        var typed = a
        typed.withUnsafeMutableBufferPointer { dst in
            b.withUnsafeBufferPointer { src in ReductionKernel.sum(into: dst, from: src) }
        }
        #expect(typed == out)
    }
}
