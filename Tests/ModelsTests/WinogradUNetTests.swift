import Models
import TensorKernels
import Tensors
import TestSupport
import Testing

/// The diffusers parity fixtures have 8 and 16 channels, below `Winograd.minimumChannels`, so they
/// never reach our Winograd path; this runs the small preset (32/64 channels, where it is used)
/// under `.winograd` and under the im2col reference. 1e-4 of each tensor's largest |value|, the
/// parity suites' tolerance; F(4×4)'s error per convolution is ~1e-5 (WinogradTests).
@Suite("U-Net under Winograd", .serialized)
struct WinogradUNetTests {
    @Test("small32Grey output and parameter gradients: Winograd equals im2col to 1e-4 relative")
    func agreesWithIm2col() throws {
        let geometry = ConvolutionGeometry(
            batch: 2, inputChannels: 32, height: 32, width: 32, outputChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 1,
            padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        let x = standardNormal([2, 1, 32, 32], seed: 5)
        let target = standardNormal([2, 1, 32, 32], seed: 6)
        func run(_ engine: ConvolutionEngine) throws -> [Tensor] { try ConvolutionEngine.using(engine) { try runPreferred(engine) } }
        func runPreferred(_ engine: ConvolutionEngine) throws -> [Tensor] {
            if engine == .winograd { #expect(ConvolutionEngine.path(geometry) == .winograd(tile: 4)) }
            let unet = try UNet(.small32Grey, seed: 0)
            let parameters = unet.namedParameters().map(\.parameter)
            var rng = SeededGenerator(seed: 1)
            let y = unet(x, timesteps: [10, 500], rng: &rng)
            let loss = meanSquaredError(y, target)
            return [y.detached()] + gradients(of: loss, withRespectTo: parameters.map(\.value))
        }
        let (fast, reference) = (try run(.winograd), try run(.im2col))
        #expect(fast.count == reference.count)
        var worst: Float = 0
        for (i, (a, r)) in zip(fast, reference).enumerated() {
            let scale = max(r.scalars.map(abs).max() ?? 0, 1e-12)
            let e = a.maxAbsoluteDifference(r) / scale
            worst = max(worst, e)
            #expect(e <= 1e-4, "tensor \(i) (0 = output, then parameter gradients): relative difference \(e)")
        }
        print("WinogradUNetTests: largest relative difference Winograd vs im2col \(worst)")
    }

    @Test("recomputing SiLU(GroupNorm(x)) in the backward pass changes no gradient")
    func recomputationKeepsGradients() throws {
        let x = standardNormal([2, 1, 32, 32], seed: 7)
        let target = standardNormal([2, 1, 32, 32], seed: 8)
        func run(recomputing: Bool) throws -> [Tensor] {
            let unet = try UNet(.small32Grey, seed: 0)
            unet.recomputesActivations = recomputing
            var rng = SeededGenerator(seed: 1)
            let loss = meanSquaredError(unet(x, timesteps: [10, 500], rng: &rng), target)
            return gradients(of: loss, withRespectTo: unet.namedParameters().map(\.parameter.value))
        }
        let (recomputed, kept) = (try run(recomputing: true), try run(recomputing: false))
        #expect(recomputed.count == kept.count)
        for (i, (a, r)) in zip(recomputed, kept).enumerated() {
            let scale = max(r.scalars.map(abs).max() ?? 0, 1e-12)
            #expect(a.maxAbsoluteDifference(r) / scale <= 1e-6, "parameter gradient \(i)")
        }
    }
}
