import Tensors
import TestSupport
import Testing

@Test("meanSquaredError gradient on rank-4 tensors")
func mseRank4() {
    let a = standardNormal([2, 1, 16, 16], seed: 1)
    let b = standardNormal([2, 1, 16, 16], seed: 2)
    expectGradientsMatchFiniteDifferences([a, b], step: 1e-2) { meanSquaredError($0[0], $0[1]) }
    let v = a.requiringGradient()
    let g = gradients(of: meanSquaredError(v, b), withRespectTo: [v])[0]
    #expect(g.shape == a.shape)
}
