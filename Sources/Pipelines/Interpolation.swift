import Datasets
import Diffusion
import Foundation
import Tensors

/// Interpolation between two images through the diffusion latent (Ho et al. 2020 §4.3, App. D,
/// Figure 8): encode both sources to x_t with q(x_t | x₀) and the same noise ε, mix
/// x̄_t = (1 − λ) x_t + λ x'_t, and decode x̄_t with the reverse process from t.
public struct Interpolation: Sendable {
    /// The two source images, `[2, C, H, W]` in [−1, 1].
    public let sources: Tensor
    /// The mixing weights λ, in the order of `mixed` and `decoded`.
    public let lambdas: [Double]
    /// The paper timestep both sources were diffused to.
    public let t: Int
    /// x_t and x'_t, `[2, C, H, W]`.
    public let encoded: Tensor
    /// x̄_t for each λ, `[K, C, H, W]`.
    public let mixed: Tensor
    /// The reverse process's x₀ for each λ, `[K, C, H, W]` (λ = 0 and 1: reconstructions of the sources).
    public let decoded: Tensor

    /// `count` evenly spaced values from 0 to 1 (0 and 1 included; a single value is 0.5).
    public static func evenlySpacedLambdas(_ count: Int) -> [Double] {
        precondition(count >= 1, "[Interpolation] at least one λ, got \(count)")
        return count == 1 ? [0.5] : (0..<count).map { Double($0) / Double(count - 1) }
    }

    /// The figure: a first row of source 1, the decoded images for each λ, source 2; a second row
    /// of x_t, the mixed x̄_t for each λ, x'_t. `[2(K + 2), C, H, W]`, for a grid of K + 2 columns.
    public var strip: Tensor {
        let first = sources.sliced(alongAxis: 0, 0..<1)
        let second = sources.sliced(alongAxis: 0, 1..<2)
        let xt = encoded.sliced(alongAxis: 0, 0..<1)
        let xtPrime = encoded.sliced(alongAxis: 0, 1..<2)
        return Tensor.concatenated([first, decoded, second, xt, mixed, xtPrime], alongAxis: 0)
    }

    /// An image file's pixels as a `[1, C, H, W]` model input in [−1, 1]: converted to `channels`,
    /// resized on the shorter side and centre-cropped to `size`, as `ImageFolder` prepares data.
    public static func image(contentsOf url: URL, size: Int, channels: Int) throws(PipelineError) -> Tensor {
        do {
            return tensor(try ImageCodecs.decode(contentsOf: url), size: size, channels: channels)
        } catch { throw .dataset(error) }
    }

    /// Image `index` of a dataset as a `[1, C, H, W]` model input, resized and cropped to `size`
    /// if the dataset's images have another size. The channel counts must agree.
    public static func image(_ set: ImageSet, at index: Int, size: Int, channels: Int) throws(PipelineError) -> Tensor {
        guard (0..<set.count).contains(index) else {
            throw .invalid("image index \(index) is out of range: the dataset has \(set.count) images (0…\(set.count - 1))")
        }
        if set.height == size, set.width == size, set.channels == channels { return set.batch(indices: [index]) }
        let plane = set.height * set.width
        let bytes = Array(set.image(at: index))
        var pixels = [UInt8](repeating: 0, count: bytes.count)
        for i in 0..<plane { for c in 0..<set.channels { pixels[i * set.channels + c] = bytes[c * plane + i] } }
        return tensor(
            RasterImage(width: set.width, height: set.height, channels: set.channels, pixels: pixels),
            size: size, channels: channels)
    }

    static func tensor(_ raster: RasterImage, size: Int, channels: Int) -> Tensor {
        let prepared = raster.converted(toChannels: channels).resizedAndCentreCropped(to: size)
        let plane = size * size
        var scalars = [Float](repeating: 0, count: channels * plane)
        for i in 0..<plane {
            for c in 0..<channels { scalars[c * plane + i] = Float(prepared.pixels[i * channels + c]) / 127.5 - 1 }
        }
        return Tensor(shape: [1, channels, size, size], scalars: scalars)
    }
}

extension SamplingPipeline {
    /// Interpolates between `first` and `second` (each `[1, C, H, W]` or `[C, H, W]` in [−1, 1]) at
    /// paper timestep `t` (Ho et al. use 500 of 1000): both are encoded with one draw of ε (from
    /// `seed`), mixed for each λ, and decoded by `sampler` from t. Every λ is decoded with the same
    /// reverse-process noise (seeded by `seed + 1`), so the strip varies only with λ; with
    /// deterministic DDIM, λ = 0 and λ = 1 are exactly the reconstructions of the sources.
    /// `onStep` is called after every network evaluation. A class-conditional model decodes every
    /// λ as class `label` at guidance scale w (`ClassConditioning`).
    public func interpolate(
        _ first: Tensor, _ second: Tensor, at t: Int, lambdas: [Double], sampler: Sampler,
        seed: UInt64, label: Int? = nil, guidanceScale: Double = 1,
        onStep: @escaping () -> Void = {}
    ) throws(PipelineError) -> Interpolation {
        let classes = label.map { ClassConditioning(labels: [$0], guidanceScale: guidanceScale) }
        let channels = unet.configuration.inChannels
        func batched(_ x: Tensor) -> Tensor { x.rank == 3 ? x.reshaped(to: [1] + x.shape) : x }
        let (a, b) = (batched(first), batched(second))
        guard a.rank == 4, a.shape[0] == 1, a.shape[1] == channels, a.shape == b.shape else {
            throw .invalid("interpolation needs two images of one shape [1, \(channels), H, W]; got \(first.shape) and \(second.shape)")
        }
        let T = diffusion.schedule.timestepCount
        guard (1...T).contains(t) else { throw .invalid("t = \(t) is outside the model's chain 1…\(T)") }
        guard !lambdas.isEmpty else { throw .invalid("no interpolation weights λ given") }
        let sources = Tensor.concatenated([a, b], alongAxis: 0)
        var rng = SeededGenerator(seed: seed)
        let noise = Tensor.randomNormal(a.shape, using: &rng)
        let encoded = diffusion.noised(sources, at: [t, t], noise: Tensor.concatenated([noise, noise], alongAxis: 0))  // eq. 4
        let (xt, xtPrime) = (encoded.sliced(alongAxis: 0, 0..<1), encoded.sliced(alongAxis: 0, 1..<2))
        var mixed: [Tensor] = []
        var decoded: [Tensor] = []
        for lambda in lambdas {
            let x = Float(1 - lambda) * xt + Float(lambda) * xtPrime
            mixed.append(x)
            decoded.append(try sample(from: x, startingAt: t, sampler: sampler, seed: seed &+ 1, classes: classes, onStep: onStep).sample)
        }
        return Interpolation(
            sources: sources, lambdas: lambdas, t: t, encoded: encoded,
            mixed: Tensor.concatenated(mixed, alongAxis: 0), decoded: Tensor.concatenated(decoded, alongAxis: 0))
    }
}
