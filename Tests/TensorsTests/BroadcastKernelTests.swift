import CKernels
import TensorKernels
import Tensors
import TestSupport
import Testing

// The C rows behind Tensor's +, −, ×, ÷ (Sources/CKernels/elementwise.c): bit-identical to Swift's
// scalar operators on odd lengths (vector tails) and on every broadcast pattern the plan emits.

/// a op b by NumPy broadcasting, one element at a time through index arithmetic.
private func reference(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> [Float] {
    let rank = max(a.rank, b.rank)
    let sa = Array(repeating: 1, count: rank - a.rank) + a.shape
    let sb = Array(repeating: 1, count: rank - b.rank) + b.shape
    let shape = zip(sa, sb).map { $0 == 1 ? $1 : $0 }
    let (xa, xb) = (a.scalars, b.scalars)
    return (0..<shape.reduce(1, *)).map { flat in
        var (ia, ib, rest) = (0, 0, flat)
        var (stepA, stepB) = (1, 1)
        for d in stride(from: rank - 1, through: 0, by: -1) {
            let i = rest % shape[d]
            rest /= shape[d]
            ia += (sa[d] == 1 ? 0 : i) * stepA
            ib += (sb[d] == 1 ? 0 : i) * stepB
            stepA *= sa[d]
            stepB *= sb[d]
        }
        return op(xa[ia], xb[ib])
    }
}

@Suite("broadcasting binary kernels against a scalar reference")
struct BroadcastKernelTests {
    static let shapePairs: [([Int], [Int])] = [
        ([3, 1037], [3, 1037]),  // same shape, odd length
        ([3, 5, 7, 9], [3, 5, 1, 1]),  // h + time embedding
        ([3, 5, 7, 9], [1, 5, 1, 1]),  // per-channel
        ([3, 5, 1, 1], [3, 5, 7, 9]),  // broadcast on the left
        ([3, 5, 7, 9], [7, 9]),  // trailing block
        ([3, 5, 7, 9], [1]),  // scalar tensor on the right
        ([1], [2, 1037]),  // scalar tensor on the left
        ([2, 1, 13], [1, 3, 1]),  // both broadcast
        ([1], [1]),
        ([0, 5], [1, 5]),  // empty
    ]

    @Test("+, −, ×, ÷ give the scalar operators' bits", arguments: shapePairs)
    func matchesScalarReference(_ shapes: ([Int], [Int])) {
        let a = standardNormal(shapes.0, seed: 80)
        let b = standardNormal(shapes.1, seed: 81) + 3  // away from 0 for ÷
        let cases: [(Tensor, (Float, Float) -> Float)] = [(a + b, +), (a - b, -), (a * b, *), (a / b, /)]
        for (result, op) in cases {
            let expected = reference(a, b, op)
            #expect(result.scalars == expected)
        }
    }

    @Test("a Float operand gives the scalar operators' bits")
    func floatOperand() {
        let a = standardNormal([5, 1037], seed: 82)
        let plus = a.scalars.map { $0 + 0.3 }
        let times = a.scalars.map { $0 * 1.7 }
        #expect((a + 0.3).scalars == plus)
        #expect((a * 1.7).scalars == times)
    }

    @Test("BinaryOperator's raw values are CKernels' operator codes")
    func operatorCodes() {
        let swift = [BinaryOperator.add, .subtract, .multiply, .divide].map { Int($0.rawValue) }
        let c = [DDPM_ADD, DDPM_SUBTRACT, DDPM_MULTIPLY, DDPM_DIVIDE].map { Int($0) }
        #expect(swift == c)
    }
}
