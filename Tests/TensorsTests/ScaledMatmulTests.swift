import Tensors
import TestSupport
import Testing

@Suite("matmul with a scale folded into the GEMM")
struct ScaledMatmulTests {
    @Test("scale · op(a) · op(b) equals the product times the scale, value and gradient")
    func scaled() {
        let a = standardNormal([2, 3, 5], seed: 21)
        let b = standardNormal([2, 4, 5], seed: 22)
        let folded = matmul(a, b, transposeB: true, scale: 0.25)
        let separate = matmul(a, b, transposeB: true) * 0.25
        #expect(folded.maxAbsoluteDifference(separate) < 1e-6)
        expectGradientsMatchFiniteDifferences([a, b]) { matmul($0[0], $0[1], transposeB: true, scale: 0.25) }
        let c = standardNormal([2, 5, 3], seed: 23)
        expectGradientsMatchFiniteDifferences([c, b]) { matmul($0[0], $0[1], transposeA: true, transposeB: true, scale: -1.5) }
    }
}
