import CKernels
import Tensors
import TestSupport
import Testing

/// The register-blocked products between the Winograd transforms (CKernels/winograd_product.c)
/// against a float64 product, on sizes that hit every edge: row counts that are not a multiple of
/// the 6-row block, column tails of 1–7 and 8–15, leading dimensions wider than the extents, and
/// accumulation into C. Cells outside the m×n window of C must keep their sentinel.
@Suite("Winograd product kernel")
struct WinogradProductTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let m, n, k: Int
        var testDescription: String { "\(m)x\(n)x\(k)" }
    }
    static let cases = [
        Case(m: 1, n: 1, k: 1), Case(m: 5, n: 7, k: 3), Case(m: 6, n: 16, k: 8), Case(m: 7, n: 9, k: 33),
        Case(m: 13, n: 23, k: 17), Case(m: 64, n: 64, k: 64), Case(m: 35, n: 40, k: 96),
    ]

    @Test("c (+)= a·b and c (+)= a·btᵀ match float64 and leave C's padding alone", arguments: cases)
    func matchesFloat64(_ c: Case) {
        let (lda, ldb, ldc) = (c.k + 3, c.n + 5, c.n + 2)
        let a = standardNormal([c.m * lda], seed: 1).scalars
        let b = standardNormal([c.k * ldb], seed: 2).scalars
        let bt = standardNormal([c.n * (c.k + 1)], seed: 3).scalars
        let start = standardNormal([c.m * ldc], seed: 4).scalars
        let sentinel: Float = 12345
        for transposed in [false, true] {
            for accumulate in [false, true] {
                var out = start.enumerated().map { $0.offset % ldc < c.n ? $0.element : sentinel }
                if transposed {
                    ddpm_winograd_product_transposed(c.m, c.n, c.k, a, lda, bt, c.k + 1, &out, ldc, accumulate ? 1 : 0)
                } else {
                    ddpm_winograd_product(c.m, c.n, c.k, a, lda, b, ldb, &out, ldc, accumulate ? 1 : 0)
                }
                var worst = 0.0
                for i in 0..<c.m {
                    for j in 0..<c.n {
                        var s = accumulate ? Double(start[i * ldc + j]) : 0
                        for p in 0..<c.k {
                            let bv = transposed ? bt[j * (c.k + 1) + p] : b[p * ldb + j]
                            s += Double(a[i * lda + p]) * Double(bv)
                        }
                        worst = max(worst, abs(Double(out[i * ldc + j]) - s) / (Double(c.k).squareRoot() + 1))
                    }
                    for j in c.n..<ldc {
                        #expect(out[i * ldc + j] == sentinel, "row \(i) column \(j) past n was written")
                    }
                }
                #expect(worst < 1e-5, "transposed \(transposed) accumulate \(accumulate): error \(worst) (per √k)")
            }
        }
    }
}
