import TensorKernels
import Tensors
import TestSupport
import Testing

/// conv2d's `imageShift` and `residual`, fused into the output pass, against the plain
/// conv2d-then-add graph, on every engine (Winograd fuses them in its output transform, im2col in
/// its GEMM store, oneDNN adds them after).
@Suite("Convolution epilogues", .serialized)
struct ConvolutionEpilogueTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let batch, channels, outputChannels, size, kernel: Int
        var testDescription: String { "\(batch)x\(channels)x\(size)x\(size) -> \(outputChannels), \(kernel)x\(kernel)" }
    }
    // A Winograd-eligible 3×3 (a block holding tiles of two images, partial edge tiles), a 3×3
    // below Winograd's channel floor and a 1×1 (the attention projection).
    static let cases = [
        Case(batch: 3, channels: 32, outputChannels: 40, size: 7, kernel: 3),
        Case(batch: 2, channels: 8, outputChannels: 6, size: 5, kernel: 3),
        Case(batch: 2, channels: 12, outputChannels: 12, size: 4, kernel: 1),
    ]
    static let engines: [ConvolutionEngine] = [.winograd, .im2col] + (OneDNN.isAvailable ? [.oneDNN] : [])

    @Test("value and all five gradients equal conv2d followed by the two additions", arguments: cases)
    func matchesPlainGraph(_ c: Case) {
        let pad = Padding2D.uniform(c.kernel / 2)
        let x = standardNormal([c.batch, c.channels, c.size, c.size], seed: 61)
        let w = standardNormal([c.outputChannels, c.channels, c.kernel, c.kernel], seed: 62, scale: 0.2)
        let b = standardNormal([c.outputChannels], seed: 63)
        let shift = standardNormal([c.batch, c.outputChannels], seed: 64)
        let residual = standardNormal([c.batch, c.outputChannels, c.size, c.size], seed: 65)
        let probe = standardNormal(residual.shape, seed: 66)
        let geometry = ConvolutionGeometry(
            batch: c.batch, inputChannels: c.channels, height: c.size, width: c.size, outputChannels: c.outputChannels,
            kernelHeight: c.kernel, kernelWidth: c.kernel, stride: 1, padTop: pad.top, padBottom: pad.bottom, padLeft: pad.left,
            padRight: pad.right)
        let winograd = ConvolutionEngine.using(.winograd) { ConvolutionEngine.path(geometry) } == .winograd(tile: 4)
        #expect(winograd == (c.channels >= Winograd.minimumChannels && c.kernel == 3), "\(c): Winograd path")
        for engine in Self.engines {
            ConvolutionEngine.using(engine) {
                let fused = [x, w, b, shift, residual].map { $0.requiringGradient() }
                let y = conv2d(fused[0], weight: fused[1], bias: fused[2], padding: pad, imageShift: fused[3], residual: fused[4])
                let plain = [x, w, b, shift, residual].map { $0.requiringGradient() }
                let reference =
                    conv2d(plain[0], weight: plain[1], bias: plain[2], padding: pad)
                    + plain[3].reshaped(to: [c.batch, c.outputChannels, 1, 1]) + plain[4]
                let scale = max(1, reference.scalars.map(abs).max() ?? 0)
                #expect(y.maxAbsoluteDifference(reference.detached()) <= 1e-5 * scale, "\(engine): value")
                let grads = gradients(of: (y * probe).sum(), withRespectTo: fused)
                let expected = gradients(of: (reference * probe).sum(), withRespectTo: plain)
                for (name, (a, r)) in zip(["dx", "dw", "db", "dshift", "dresidual"], zip(grads, expected)) {
                    #expect(a.shape == r.shape, "\(engine) \(name): shape")
                    let s = max(1, r.scalars.map(abs).max() ?? 0)
                    #expect(a.maxAbsoluteDifference(r) <= 1e-5 * s, "\(engine) \(name): \(a.maxAbsoluteDifference(r))")
                }
            }
        }
    }

    @Test("each addend alone, without a bias, and through the recomputing convolution")
    func eachAlone() {
        let x = standardNormal([2, 32, 6, 6], seed: 71)
        let w = standardNormal([32, 32, 3, 3], seed: 72, scale: 0.1)
        let shift = standardNormal([2, 32], seed: 73)
        let residual = standardNormal([2, 32, 6, 6], seed: 74)
        let conv = conv2d(x, weight: w, padding: .uniform(1))
        let shifted = conv2d(x, weight: w, padding: .uniform(1), imageShift: shift)
        #expect(shifted.maxAbsoluteDifference(conv + shift.reshaped(to: [2, 32, 1, 1])) <= 1e-5)
        let added = conv2d(x, weight: w, padding: .uniform(1), residual: residual)
        #expect(added.maxAbsoluteDifference(conv + residual) <= 1e-5)
        expectGradientsMatchFiniteDifferences([x, w, shift, residual]) {
            conv2d(recomputing: { $0[0] * $0[0] }, of: [$0[0]], weight: $0[1], padding: .uniform(1), imageShift: $0[2], residual: $0[3])
        }
    }
}
