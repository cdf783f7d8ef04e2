import Tensors
import Testing

// Tensor+Reduction.swift: sum and mean over axes, mean squared error.

@Suite("Reduction (sum, mean, F.mse_loss)")
struct ReductionTests {
    static let cases: [OpCase] =
        [("drop", false), ("keep", true)].flatMap { tag, keep in
            [
                OpCase("sum_axis1_\(tag)") { $0[0].sum(alongAxes: [1], keepingDimensions: keep) },
                OpCase("sum_axes02_\(tag)") { $0[0].sum(alongAxes: [0, 2], keepingDimensions: keep) },
                OpCase("sum_axis_last_\(tag)") { $0[0].sum(alongAxes: [-1], keepingDimensions: keep) },
                OpCase("mean_axis1_\(tag)") { $0[0].mean(alongAxes: [1], keepingDimensions: keep) },
                OpCase("mean_axes02_\(tag)") { $0[0].mean(alongAxes: [0, 2], keepingDimensions: keep) },
            ]
        } + [
            OpCase("sum_all") { $0[0].sum() },
            OpCase("mean_all") { $0[0].mean() },
            OpCase("mse") { meanSquaredError($0[0], $0[1]) },
        ]

    @Test("value and input gradients match PyTorch", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("autodiff gradient matches central finite differences", arguments: cases)
    func matchesFiniteDifferences(_ c: OpCase) throws { try expectFiniteDifferencesMatch(c) }

    @Test("sum over [2,3] rows and columns; axes in any order, negative axes count from the end")
    func smallSums() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(x.sum(alongAxes: [0]).scalars == [5, 7, 9])
        #expect(x.sum(alongAxes: [1], keepingDimensions: true).shape == [2, 1])
        #expect(x.sum(alongAxes: [-1]).scalars == [6, 15])
        #expect(x.sum(alongAxes: [1, 0]).scalars == [21])
        #expect(x.sum().shape == [])
        #expect(x.sum().scalar == 21)
        #expect(x.mean().scalar == 3.5)
        #expect(x.sum(alongAxes: []).scalars == x.scalars)
    }

    @Test("a long sum (blocked, multi-threaded path) of 100 000 ones is exact")
    func longSum() {
        #expect(Tensor.ones([100_000]).sum().scalar == 100_000)
        #expect(Tensor.ones([3, 70_000]).sum(alongAxes: [1]).scalars == [70_000, 70_000, 70_000])
    }

    @Test("mean squared error of [1,2,3] against [1,0,0] is 13/3, gradient 2(p − t)/n")
    func mseValue() {
        let p = Tensor(shape: [3], scalars: [1, 2, 3]).requiringGradient()
        let t = Tensor(shape: [3], scalars: [1, 0, 0])
        let loss = meanSquaredError(p, t)
        #expect(abs(loss.scalar - 13.0 / 3) < 1e-6)
        let g = gradients(of: loss, withRespectTo: [p])[0]
        expectClose(g, Tensor(shape: [3], scalars: [0, 4.0 / 3, 2]), absoluteTolerance: 1e-6, "gradient")
    }
}
