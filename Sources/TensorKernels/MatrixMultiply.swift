import CKernels
import Foundation

#if canImport(Accelerate)
    import Accelerate
#else
    import CBLAS
#endif

extension Kernels {
    /// The one GEMM entry point of the code base (row-major):
    ///
    ///     C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C
    ///
    /// BLAS runs single-threaded; this function splits the larger of M and N across
    /// `ComputeSettings.threadCount` threads itself, so callers that already run in parallel
    /// (convolution per image) pass `parallel: false` and never oversubscribe the cores.
    package static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true
    ) {
        BLASThreads.configure
        guard m > 0, n > 0 else { return }
        let threads = parallel && 2 * m * n * k >= 1 << 21 ? ComputeSettings.threadCount : 1
        if threads <= 1 {
            sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        if n >= m {
            parallelFor(n, grain: 16) { r in
                let bOffset = transposeB ? r.lowerBound * ldb : r.lowerBound
                sgemm(transposeA, transposeB, m, r.count, k, alpha, a, lda, b + bOffset, ldb, beta, c + r.lowerBound, ldc)
            }
        } else {
            parallelFor(m, grain: 16) { r in
                let aOffset = transposeA ? r.lowerBound : r.lowerBound * lda
                sgemm(
                    transposeA, transposeB, r.count, n, k, alpha, a + aOffset, lda, b, ldb, beta,
                    c + r.lowerBound * ldc, ldc)
            }
        }
    }

    /// Our kernel (CKernels/gemm.c) for the small products: K up to 512 and op(A) within 512 KiB
    /// (L2), β 0 or 1; OpenBLAS for the rest, where its cache blocking pays for its packing.
    /// `DDPM_GEMM=blas` sends everything to OpenBLAS (A/B benchmarks).
    @inline(__always)
    package static func usesOwnKernel(m: Int, k: Int, beta: Float) -> Bool {
        !gemmForcesBLAS && (beta == 0 || beta == 1) && k <= 512 && m * k <= 1 << 17
    }
    private static let gemmForcesBLAS = ProcessInfo.processInfo.environment["DDPM_GEMM"] == "blas"

    @inline(__always)
    private static func sgemm(
        _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        if k == 0 {  // BLAS leaves C untouched only for beta == 1; make the k = 0 case explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if usesOwnKernel(m: m, k: k, beta: beta) {
            ddpm_gemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta == 0 ? 0 : 1, c, ldc)
            return
        }
        cblas_sgemm(
            CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// OpenBLAS must not start its own threads: ours already use every core.
private enum BLASThreads {
    static let configure: Void = {
        #if !canImport(Accelerate)
            openblas_set_num_threads(1)
        #endif
    }()
}
