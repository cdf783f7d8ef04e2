import Foundation
import Testing
import Tensors

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
        let x = randomTensor([3, 4], seed: 21, scale: 1.5)
        #expect(zip(x.erf().scalars, x.scalars).allSatisfy { abs($0 - Foundation.erf($1)) < 1e-6 })
        expectGradientsMatchFiniteDifferences([x]) { $0[0].erf() }
    }
}
