import COpenBLAS

/// Single-precision matrix products through OpenBLAS, row-major, one BLAS thread per caller:
/// each device is already a thread of its own, and ranks outnumber cores.
public enum BLAS {
    /// Sets OpenBLAS to one thread; call once before any product.
    public static func useOneThread() {
        openblas_set_num_threads(1)
    }

    /// C = α·op(A)·op(B) + β·C, with op(A) m×k, op(B) k×n and C m×n, all row-major and dense.
    @inlinable
    public static func gemm(
        _ a: UnsafePointer<Float>, transposeA: Bool = false,
        _ b: UnsafePointer<Float>, transposeB: Bool = false,
        into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0
    ) {
        let rowMajor: Int32 = 101
        let noTranspose: Int32 = 111
        let transpose: Int32 = 112
        cblas_sgemm(
            rowMajor, transposeA ? transpose : noTranspose, transposeB ? transpose : noTranspose,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n), beta, c, Int32(n))
    }
}
