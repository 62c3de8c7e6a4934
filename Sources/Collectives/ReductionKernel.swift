/// The float32 sum kernels every all-reduce ends in.
///
/// They take raw pointers of any byte alignment, because payload frames arrive only 8-byte
/// aligned and slices start anywhere, and they load and store unaligned SIMD vectors, four at
/// a time, so the loop keeps two loads and one store in flight per cycle. Release builds on
/// x86-64 target AVX2 (see Package.swift), the same instructions a C `-O3 -march=native` loop
/// gets. Source and destination may be the same buffer but must not otherwise overlap.
public enum ReductionKernel {
    @usableFromInline typealias Vector = SIMD8<Float>
    @usableFromInline static let vectorBytes = MemoryLayout<Vector>.size
    @usableFromInline static let blockBytes = 4 * vectorBytes

    /// `dst[i] += src[i]` for `count` float32 elements.
    public static func sum(into dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer, count: Int) {
        sum(dst, src, into: dst, count: count)
    }

    /// `dst[i] = a[i] + b[i]` for `count` float32 elements; `dst` may be `a` or `b`.
    public static func sum(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, into dst: UnsafeMutableRawPointer, count: Int)
    {
        precondition(count >= 0, "element count \(count)")
        let bytes = count * MemoryLayout<Float>.size
        var offset = 0
        while offset + blockBytes <= bytes {
            let s0 =
                a.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                + b.loadUnaligned(fromByteOffset: offset, as: Vector.self)
            let s1 =
                a.loadUnaligned(fromByteOffset: offset + vectorBytes, as: Vector.self)
                + b.loadUnaligned(fromByteOffset: offset + vectorBytes, as: Vector.self)
            let s2 =
                a.loadUnaligned(fromByteOffset: offset + 2 * vectorBytes, as: Vector.self)
                + b.loadUnaligned(fromByteOffset: offset + 2 * vectorBytes, as: Vector.self)
            let s3 =
                a.loadUnaligned(fromByteOffset: offset + 3 * vectorBytes, as: Vector.self)
                + b.loadUnaligned(fromByteOffset: offset + 3 * vectorBytes, as: Vector.self)
            dst.storeBytes(of: s0, toByteOffset: offset, as: Vector.self)
            dst.storeBytes(of: s1, toByteOffset: offset + vectorBytes, as: Vector.self)
            dst.storeBytes(of: s2, toByteOffset: offset + 2 * vectorBytes, as: Vector.self)
            dst.storeBytes(of: s3, toByteOffset: offset + 3 * vectorBytes, as: Vector.self)
            offset += blockBytes
        }
        while offset + vectorBytes <= bytes {
            let s =
                a.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                + b.loadUnaligned(fromByteOffset: offset, as: Vector.self)
            dst.storeBytes(of: s, toByteOffset: offset, as: Vector.self)
            offset += vectorBytes
        }
        while offset < bytes {
            let s =
                a.loadUnaligned(fromByteOffset: offset, as: Float.self)
                + b.loadUnaligned(fromByteOffset: offset, as: Float.self)
            dst.storeBytes(of: s, toByteOffset: offset, as: Float.self)
            offset += MemoryLayout<Float>.size
        }
    }

    /// `dst[i] += src[i]` over typed buffers of equal length.
    public static func sum(into dst: UnsafeMutableBufferPointer<Float>, from src: UnsafeBufferPointer<Float>) {
        precondition(dst.count == src.count, "sum of \(src.count) elements into \(dst.count)")
        guard let dstBase = dst.baseAddress, let srcBase = src.baseAddress else { return }
        sum(into: UnsafeMutableRawPointer(dstBase), from: UnsafeRawPointer(srcBase), count: dst.count)
    }
}
