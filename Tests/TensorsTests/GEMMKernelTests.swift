import CKernels
import TensorKernels
import Tensors
import TestSupport
import Testing

/// Our small-product GEMM kernel (CKernels/gemm.c, behind `Kernels.gemm`) against a float64
/// product, on sizes that hit every edge: row counts that are not a multiple of the 6-row block,
/// column tails of 1–7 and 8–15, leading dimensions wider than the extents, both transposes, α ≠ 1
/// and accumulation into C. Cells outside the m×n window of C must keep their sentinel.
@Suite("GEMM kernel")
struct GEMMKernelTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let m, n, k: Int
        var testDescription: String { "\(m)x\(n)x\(k)" }
    }
    static let cases = [
        Case(m: 1, n: 1, k: 1), Case(m: 5, n: 7, k: 3), Case(m: 6, n: 16, k: 8), Case(m: 7, n: 9, k: 33),
        Case(m: 13, n: 23, k: 17), Case(m: 64, n: 64, k: 64), Case(m: 35, n: 40, k: 96),
    ]

    @Test("c = α·op(a)·op(b) (+ c) matches float64 and leaves C's padding alone", arguments: cases)
    func matchesFloat64(_ c: Case) {
        let pad = 3
        let sentinel: Float = 12345
        let start = standardNormal([c.m * (c.n + pad)], seed: 4).scalars
        let ldc = c.n + pad
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            // op(A) is m×k: stored m×k (lda ≥ k) or k×m (lda ≥ m); op(B) likewise.
            let lda = (transposeA ? c.m : c.k) + pad
            let ldb = (transposeB ? c.k : c.n) + pad
            let a = standardNormal([(transposeA ? c.k : c.m) * lda], seed: 1).scalars
            let b = standardNormal([(transposeB ? c.n : c.k) * ldb], seed: 2).scalars
            func opA(_ i: Int, _ p: Int) -> Double { Double(transposeA ? a[p * lda + i] : a[i * lda + p]) }
            func opB(_ p: Int, _ j: Int) -> Double { Double(transposeB ? b[j * ldb + p] : b[p * ldb + j]) }
            for (alpha, accumulate) in [(Float(1), false), (1, true), (0.375, false), (-2, true)] {
                var out = start.enumerated().map { $0.offset % ldc < c.n ? $0.element : sentinel }
                ddpm_gemm(
                    transposeA ? 1 : 0, transposeB ? 1 : 0, c.m, c.n, c.k, alpha, a, lda, b, ldb, accumulate ? 1 : 0, &out,
                    ldc)
                var worst = 0.0
                for i in 0..<c.m {
                    for j in 0..<c.n {
                        var s = 0.0
                        for p in 0..<c.k { s += opA(i, p) * opB(p, j) }
                        s = Double(alpha) * s + (accumulate ? Double(start[i * ldc + j]) : 0)
                        worst = max(worst, abs(Double(out[i * ldc + j]) - s) / (Double(c.k).squareRoot() + 1))
                    }
                    for j in c.n..<ldc {
                        #expect(out[i * ldc + j] == sentinel, "row \(i) column \(j) past n was written")
                    }
                }
                let label = "transposes (\(transposeA), \(transposeB)) alpha \(alpha) accumulate \(accumulate)"
                #expect(worst < 1e-5, "\(label): error \(worst) per √k")
            }
        }
    }

    @Test("Kernels.gemm takes our kernel for small K and OpenBLAS for large K or β outside {0, 1}")
    func routing() {
        #expect(Kernels.usesOwnKernel(m: 64, k: 64, beta: 0))
        #expect(Kernels.usesOwnKernel(m: 256, k: 512, beta: 1))
        #expect(!Kernels.usesOwnKernel(m: 64, k: 513, beta: 0))
        #expect(!Kernels.usesOwnKernel(m: 512, k: 512, beta: 0))
        #expect(!Kernels.usesOwnKernel(m: 64, k: 64, beta: 0.5))
    }
}
