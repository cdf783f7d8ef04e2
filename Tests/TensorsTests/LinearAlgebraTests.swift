import Tensors
import TestSupport
import Testing

// Tensor+LinearAlgebra.swift: matmul (2-D and batched, every transpose combination) and linear.

@Suite("Linear algebra (torch.matmul, F.linear)")
struct LinearAlgebraTests {
    static let cases: [OpCase] =
        [("N", false), ("T", true)].flatMap { ta in
            [("N", false), ("T", true)].flatMap { tb in
                ["2d", "batched"].map { kind in
                    OpCase("matmul_\(kind)_\(ta.0)\(tb.0)", accumulating: true) {
                        matmul($0[0], $0[1], transposeA: ta.1, transposeB: tb.1)
                    }
                }
            }
        } + [
            OpCase("linear_bias", accumulating: true) { linear($0[0], weight: $0[1], bias: $0[2]) },
            OpCase("linear_nobias", accumulating: true) { linear($0[0], weight: $0[1], bias: nil) },
        ]

    @Test("value and input gradients match PyTorch", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("autodiff gradient matches central finite differences", arguments: cases)
    func matchesFiniteDifferences(_ c: OpCase) throws { try expectFiniteDifferencesMatch(c) }

    @Test("[[1,2],[3,4]] · [[5,6],[7,8]] = [[19,22],[43,50]], and transposes read the operand transposed")
    func smallProduct() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], scalars: [5, 6, 7, 8])
        #expect(matmul(a, b).scalars == [19, 22, 43, 50])
        #expect(matmul(a, b, transposeA: true).scalars == matmul(a.transposed(), b).scalars)
        #expect(matmul(a, b, transposeB: true).scalars == matmul(a, b.transposed()).scalars)
        #expect(matmul(a, b, transposeA: true, transposeB: true).scalars == matmul(a.transposed(), b.transposed()).scalars)
    }

    @Test("batched matmul equals one 2-D matmul per batch element")
    func batchedEqualsLoop() {
        let a = standardNormal([3, 4, 5], seed: 21)
        let b = standardNormal([3, 5, 2], seed: 22)
        let c = matmul(a, b)
        #expect(c.shape == [3, 4, 2])
        for i in 0..<3 {
            let ci = matmul(
                a.sliced(alongAxis: 0, i..<i + 1).reshaped(to: [4, 5]),
                b.sliced(alongAxis: 0, i..<i + 1).reshaped(to: [5, 2]))
            expectClose(c.sliced(alongAxis: 0, i..<i + 1).reshaped(to: [4, 2]), ci, absoluteTolerance: 1e-6, "batch \(i)")
        }
    }

    @Test("an empty inner dimension gives zeros (K = 0)")
    func emptyInnerDimension() {
        let c = matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]))
        #expect(c.shape == [2, 3])
        #expect(c.scalars == Array(repeating: 0, count: 6))
    }

    @Test("a large product (multi-threaded GEMM split) matches a naive triple loop")
    func largeProductMatchesNaive() {
        let (m, k, n) = (96, 80, 120)
        let a = standardNormal([m, k], seed: 23)
        let b = standardNormal([k, n], seed: 24)
        let (x, y) = (a.scalars, b.scalars)
        var naive = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for l in 0..<k { s += Double(x[i * k + l]) * Double(y[l * n + j]) }
                naive[i * n + j] = Float(s)
            }
        }
        expectClose(matmul(a, b), Tensor(shape: [m, n], scalars: naive), absoluteTolerance: 1e-4, relativeTolerance: 1e-5, "GEMM")
    }
}
