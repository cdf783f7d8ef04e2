import Foundation
import Tensors
import Testing

// Tensor+Arithmetic.swift: broadcasting binary ops, Float operands on either side, unary math.

@Suite("Arithmetic (NumPy broadcasting, PyTorch semantics)")
struct ArithmeticTests {
    static let cases: [OpCase] = binaryCases + scalarCases + unaryCases

    static let binaryCases: [OpCase] = ["234_31", "214_131", "same"].flatMap { shapes in
        [
            OpCase("add_\(shapes)") { $0[0] + $0[1] },
            OpCase("sub_\(shapes)") { $0[0] - $0[1] },
            OpCase("mul_\(shapes)") { $0[0] * $0[1] },
            OpCase("div_\(shapes)") { $0[0] / $0[1] },
        ]
    }

    static let scalarCases: [OpCase] = [
        OpCase("scalar_add_right") { $0[0] + 2.5 },
        OpCase("scalar_add_left") { 2.5 + $0[0] },
        OpCase("scalar_sub_right") { $0[0] - 1.5 },
        OpCase("scalar_sub_left") { 1.5 - $0[0] },
        OpCase("scalar_mul_right") { $0[0] * 3 },
        OpCase("scalar_mul_left") { 3 * $0[0] },
        OpCase("scalar_div_right") { $0[0] / 4 },
        OpCase("scalar_div_left") { 4 / $0[0] },
    ]

    static let unaryCases: [OpCase] = [
        OpCase("neg") { -$0[0] },
        OpCase("exp") { $0[0].exp() },
        OpCase("log") { $0[0].log() },
        OpCase("sqrt") { $0[0].squareRoot() },
        OpCase("square") { $0[0].squared() },
        OpCase("sigmoid") { $0[0].sigmoid() },
        OpCase("tanh") { $0[0].tanh() },
        OpCase("silu") { $0[0].silu() },
    ]

    @Test("value and input gradients match PyTorch", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("autodiff gradient matches central finite differences", arguments: cases)
    func matchesFiniteDifferences(_ c: OpCase) throws { try expectFiniteDifferencesMatch(c) }

    @Test("broadcasting follows NumPy: [2,1,4] ∘ [1,3,1] → [2,3,4], trailing axes aligned")
    func broadcastShape() {
        let a = Tensor(shape: [2, 1, 4], scalars: (0..<8).map(Float.init))
        let b = Tensor(shape: [1, 3, 1], scalars: [0, 10, 20])
        let c = a + b
        #expect(c.shape == [2, 3, 4])
        #expect(c.scalars[0..<4] == [0, 1, 2, 3])
        #expect(c.scalars[4..<8] == [10, 11, 12, 13])
        #expect(c.scalars[20..<24] == [24, 25, 26, 27])
        #expect((Tensor(shape: [4], scalars: [1, 2, 3, 4]) * Tensor(2)).scalars == [2, 4, 6, 8])
    }

    @Test("a gradient flowing along two paths is summed (x·x has gradient 2x)")
    func sharedInputAccumulates() {
        let x = Tensor(shape: [3], scalars: [1, -2, 3]).requiringGradient()
        let g = gradients(of: (x * x + x).sum(), withRespectTo: [x])[0]
        #expect(g.scalars == [3, -3, 7])
    }

    @Test("gradients of a broadcast operand sum over the broadcast axes")
    func broadcastGradientIsSummed() {
        let a = Tensor.ones([2, 3, 4])
        let b = Tensor(shape: [3, 1], scalars: [1, 2, 3]).requiringGradient()
        let g = gradients(of: (a * b).sum(), withRespectTo: [b])[0]
        #expect(g.shape == [3, 1])
        #expect(g.scalars == [8, 8, 8])
    }

    @Test("exp is accurate to 2e-7 relative over [-80, 80] and saturates without NaN")
    func fastExpAccuracy() {
        let xs = stride(from: Float(-80), through: 80, by: 0.37).map { $0 }
        let y = Tensor(shape: [xs.count], scalars: xs).exp().scalars
        for (x, v) in zip(xs, y) {
            let exact = Float(Foundation.exp(Double(x)))
            #expect(abs(v - exact) <= 4e-7 * exact, "exp(\(x)) = \(v), expected \(exact)")
        }
        let extremes = Tensor(shape: [2], scalars: [-200, 200]).exp().scalars
        #expect(extremes[0] >= 0 && extremes[0] < 1e-37)
        #expect(extremes[1].isFinite && extremes[1] > 1e38)
    }

    @Test("sigmoid and silu stay finite and saturate at ±30")
    func saturation() {
        let x = Tensor(shape: [2], scalars: [-30, 30])
        #expect(x.sigmoid().scalars.allSatisfy { $0.isFinite })
        #expect(abs(x.sigmoid().scalars[1] - 1) < 1e-6 && x.sigmoid().scalars[0] < 1e-12)
        #expect(abs(x.silu().scalars[1] - 30) < 1e-4 && abs(x.silu().scalars[0]) < 1e-10)
        #expect(x.tanh().scalars == [-1, 1])
    }
}
