import Tensors
import TestSupport
import Testing

/// The fused attention op (Tensor+Attention.swift, Kernels.attention) against the composite
/// matmul → softmax → matmul it replaces: values with and without recording, gradients of all
/// three inputs (a single item, too: its GEMMs then split over the threads), and the gradients
/// against finite differences on a small case.
@Suite("Fused attention")
struct AttentionTests {
    static func composite(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float) -> Tensor {
        matmul(v, matmul(q, k, transposeA: true, scale: scale).softmax(alongAxis: -1), transposeB: true)
    }

    @Test("values and gradients equal matmul → softmax → matmul", arguments: [(3, 5, 7), (2, 64, 256), (5, 16, 64), (1, 8, 40)])
    func matchesComposite(_ shape: (Int, Int, Int)) {
        let (b, d, t) = shape
        let scale = 1 / Float(d).squareRoot()
        let inputs = (0..<3).map { standardNormal([b, d, t], seed: UInt64(40 + $0)).requiringGradient() }
        let probe = standardNormal([b, d, t], seed: 44)
        let fused = attention(query: inputs[0], key: inputs[1], value: inputs[2], scale: scale)
        let reference = Self.composite(inputs[0], inputs[1], inputs[2], scale: scale)
        #expect(fused.maxAbsoluteDifference(reference) < 2e-6, "forward differs by \(fused.maxAbsoluteDifference(reference))")
        let inference = withoutGradients { attention(query: inputs[0], key: inputs[1], value: inputs[2], scale: scale) }
        #expect(inference.maxAbsoluteDifference(fused) == 0, "inference and recorded forward differ")
        let got = gradients(of: (fused * probe).sum(), withRespectTo: inputs)
        let want = gradients(of: (reference * probe).sum(), withRespectTo: inputs)
        for (name, (g, w)) in zip(["dq", "dk", "dv"], zip(got, want)) {
            let scaleOf = max(1, w.scalars.map(abs).max() ?? 0)
            #expect(g.maxAbsoluteDifference(w) < 1e-5 * scaleOf, "\(name) differs by \(g.maxAbsoluteDifference(w))")
        }
    }

    @Test("gradients match finite differences")
    func finiteDifferences() {
        let inputs = (0..<3).map { standardNormal([2, 3, 4], seed: UInt64(50 + $0)) }
        expectGradientsMatchFiniteDifferences(inputs) { attention(query: $0[0], key: $0[1], value: $0[2], scale: 0.7) }
    }

    @Test("refuses operands of different shapes, naming [attention] and the shapes")
    func shapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = attention(query: Tensor.zeros([1, 2, 3]), key: Tensor.zeros([1, 2, 4]), value: Tensor.zeros([1, 2, 3]), scale: 1)
        }
        expectStopped(result, with: "[attention] query, key and value must be [B, d, T] of one shape, got [1, 2, 3], [1, 2, 4], [1, 2, 3]")
    }
}
