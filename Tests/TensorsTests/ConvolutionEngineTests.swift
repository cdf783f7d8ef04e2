import TensorKernels
import Tensors
import TestSupport
import Testing

/// oneDNN (when it loads) must agree with the portable im2col + BLAS path on every geometry the
/// U-Net uses: 3×3 stride 1 pad 1, 3×3 stride 2 with TF 'SAME' (bottom/right) padding, and 1×1.
@Suite("Convolution engines", .serialized)
struct ConvolutionEngineTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String, input: [Int], outputChannels: Int, kernel: Int, stride: Int, padding: Padding2D
        var testDescription: String { name }
    }
    static let cases = [
        Case(name: "3x3 stride 1 pad 1", input: [3, 8, 9, 7], outputChannels: 16, kernel: 3, stride: 1, padding: .uniform(1)),
        Case(
            name: "3x3 stride 2 SAME", input: [2, 16, 8, 8], outputChannels: 8, kernel: 3, stride: 2,
            padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1)),
        Case(name: "1x1", input: [2, 8, 5, 5], outputChannels: 4, kernel: 1, stride: 1, padding: .uniform(0)),
        Case(name: "3x3 one input channel", input: [4, 1, 6, 6], outputChannels: 8, kernel: 3, stride: 1, padding: .uniform(1)),
    ]

    @Test(
        "oneDNN equals im2col: forward, backward-data, backward-weights, bias",
        .enabled(if: OneDNN.isAvailable, "oneDNN (libdnnl) did not load on this machine: there is no second engine to compare"),
        arguments: cases)
    func enginesAgree(_ c: Case) {
        let x = standardNormal(c.input, seed: 1)
        let w = standardNormal([c.outputChannels, c.input[1], c.kernel, c.kernel], seed: 2, scale: 0.2)
        let b = standardNormal([c.outputChannels], seed: 3)
        func run(_ engine: ConvolutionEngine) -> [Tensor] { ConvolutionEngine.using(engine) { runPreferred() } }
        func runPreferred() -> [Tensor] {
            let vars = [x, w, b].map { $0.requiringGradient() }
            let y = conv2d(vars[0], weight: vars[1], bias: vars[2], stride: c.stride, padding: c.padding)
            let probe = standardNormal(y.shape, seed: 4)
            return [y.detached()] + gradients(of: (y * probe).sum(), withRespectTo: vars)
        }
        let (fast, reference) = (run(.oneDNN), run(.im2col))
        for (name, (a, r)) in zip(["y", "dx", "dw", "db"], zip(fast, reference)) {
            let scale = max(1, r.scalars.map(abs).max() ?? 0)
            #expect(a.maxAbsoluteDifference(r) <= 1e-5 * scale, "\(name): oneDNN vs im2col differ by \(a.maxAbsoluteDifference(r))")
        }
    }
}
