import Foundation
import Tensors
import TestSupport
import Testing

@Suite("Clamp and erf")
struct SpecialTests {
    @Test("clamped limits values and passes gradients only inside the range")
    func clamp() {
        let x = Tensor(shape: [5], scalars: [-2, -0.5, 0, 0.7, 3])
        #expect(x.clamped(lower: -1, upper: 1).scalars == [-1, -0.5, 0, 0.7, 1])
        let v = x.requiringGradient()
        let g = gradients(of: (v.clamped(lower: -1, upper: 1) * 2).sum(), withRespectTo: [v])[0]
        #expect(g.scalars == [0, 2, 2, 2, 0])
    }

    @Test("erf matches Foundation and its gradient matches finite differences")
    func erf() {
        let x = standardNormal([3, 4], seed: 21, scale: 1.5)
        #expect(zip(x.erf().scalars, x.scalars).allSatisfy { abs($0 - Foundation.erf($1)) < 1e-6 })
        expectGradientsMatchFiniteDifferences([x]) { $0[0].erf() }
    }
}

@Suite("Broadcast pullbacks")
struct BroadcastPullbackTests {
    @Test("A mean over some axes followed by a full mean has a gradient of the input's shape")
    func meanOfMean() {
        let x = standardNormal([2, 1, 2, 2], seed: 31).requiringGradient()
        let g = gradients(of: (x * 0.5).mean(alongAxes: [1, 2, 3]).mean(), withRespectTo: [x])[0]
        #expect(g.shape == [2, 1, 2, 2])
        #expect(g.scalars.allSatisfy { abs($0 - 0.0625) < 1e-7 })
        #expect(Tensor(shape: [1], scalars: [3]).broadcasted(to: [2, 3]).scalars == [3, 3, 3, 3, 3, 3])
    }
}
