import Tensors
import TestSupport
import Testing

@Suite("Smoke")
struct SmokeTests {
    @Test("broadcast add and mul gradients")
    func arithmetic() {
        let a = standardNormal([2, 3, 4], seed: 1)
        let b = standardNormal([3, 1], seed: 2)
        expectGradientsMatchFiniteDifferences([a, b]) { ($0[0] + $0[1]) * $0[0] - $0[1] / ($0[0].squared() + 1) }
    }

    @Test("conv2d stride 2 asymmetric padding gradients")
    func conv() {
        let x = standardNormal([2, 3, 6, 6], seed: 3)
        let w = standardNormal([4, 3, 3, 3], seed: 4, scale: 0.3)
        let b = standardNormal([4], seed: 5)
        expectGradientsMatchFiniteDifferences([x, w, b]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        }
        expectGradientsMatchFiniteDifferences([x, w, b]) { conv2d($0[0], weight: $0[1], bias: $0[2], padding: .uniform(1)) }
    }

    @Test("group norm + silu, softmax, matmul gradients")
    func misc() {
        let x = standardNormal([2, 4, 3, 3], seed: 6)
        let gamma = standardNormal([4], seed: 7)
        let beta = standardNormal([4], seed: 8)
        expectGradientsMatchFiniteDifferences([x, gamma, beta]) {
            $0[0].groupNormalized(groups: 2, gamma: $0[1], beta: $0[2], fusingSiLU: true)
        }
        expectGradientsMatchFiniteDifferences([x]) { $0[0].softmax(alongAxis: 1) }
        let a = standardNormal([2, 3, 5], seed: 9)
        let b = standardNormal([2, 4, 5], seed: 10)
        expectGradientsMatchFiniteDifferences([a, b]) { matmul($0[0], $0[1], transposeB: true) }
        let c = standardNormal([2, 3, 4], seed: 11)
        expectGradientsMatchFiniteDifferences([a, c]) { matmul($0[0], $0[1], transposeA: true) }
        expectGradientsMatchFiniteDifferences([c, a]) { matmul($0[0], $0[1], transposeA: true, transposeB: false) }
    }
}
