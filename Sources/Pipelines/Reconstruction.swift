import Datasets
import Diffusion
import Foundation
import Tensors

/// What can be wrong with a reconstruction request, with the expected values and the fix.
public enum ReconstructionError: Error, CustomStringConvertible {
    case timestepOutOfRange(t: Int, timestepCount: Int)
    case noTimesteps
    case sampleCount(Int)
    case imageShape(expected: [Int], actual: [Int])
    case sampling(PipelineError)

    public var description: String {
        switch self {
        case .timestepOutOfRange(let t, let T):
            "t = \(t) is outside 0…\(T): t = 0 keeps the image itself and t = \(T) (the model's T) is almost pure noise; "
                + "pass timesteps from 0 to \(T), e.g. -t \(T),\(3 * T / 4),\(T / 2),\(T / 4),0."
        case .noTimesteps: "no timesteps given; pass at least one, e.g. -t 1000,750,500,250,0."
        case .sampleCount(let n): "the number of samples per timestep must be at least 1 (got \(n))."
        case .imageShape(let expected, let actual):
            "the image has shape \(actual) but the model takes \(expected) ([1, in_channels, sample_size, sample_size]); "
                + "load it with Interpolation.image(contentsOf:size:channels:), which converts and resizes, or use a model of that size."
        case .sampling(let e): "sampling from x_t failed: \(e.description)"
        }
    }
}

/// Samples that share a latent x_t (Ho et al. 2020 §4.3, Fig. 7): one real image x₀ encoded to
/// x_t ~ q(x_t | x₀) for each t with one shared ε, and several x₀ drawn from p_θ(x₀ | x_t). The
/// smaller t, the more of the image the samples keep; at t = T they are independent of it.
public struct Reconstruction: Sendable {
    /// x₀, `[1, C, H, W]` in [−1, 1].
    public let source: Tensor
    /// The paper timesteps, one row each (0: the image itself).
    public let timesteps: [Int]
    /// x_t for each row, `[R, C, H, W]` (x₀ itself where t = 0).
    public let encoded: Tensor
    /// The samples, `[R · K, C, H, W]`: row r holds r·K ..< (r + 1)·K.
    public let samples: Tensor
    public let samplesPerTimestep: Int

    /// The K samples of row `row`, `[K, C, H, W]`.
    public func samples(row: Int) -> Tensor {
        samples.sliced(alongAxis: 0, (row * samplesPerTimestep)..<((row + 1) * samplesPerTimestep))
    }

    /// The RMSE on the [0, 255] scale between each sample of row `row` and x₀, `[K]` (§4.3's distortion).
    public func distances(row: Int) -> [Double] {
        let drawn = samples(row: row)
        let d = source.shape.dropFirst().reduce(1, *)
        return (0..<samplesPerTimestep).map { k in
            let squared = (drawn.sliced(alongAxis: 0, k..<(k + 1)) - source).squared().sum().scalar
            return (Double(squared) / Double(d)).squareRoot() * 127.5
        }
    }

    /// The figure: a row per t, labelled "t = …", holding x_t, the K samples and x₀, each image
    /// `scale`× enlarged.
    public func figure(scale: Int = 3) throws(PipelineError) -> RasterImage {
        var tiles: [[Tensor]] = []
        for (row, _) in timesteps.enumerated() {
            let xt = encoded.sliced(alongAxis: 0, row..<(row + 1))
            let drawn = samples(row: row)
            tiles.append([xt] + (0..<samplesPerTimestep).map { drawn.sliced(alongAxis: 0, $0..<($0 + 1)) } + [source])
        }
        let headers = ["x_t"] + (0..<samplesPerTimestep).map { $0 == 0 ? "x0 ~ p(x0 | x_t)" : "" } + ["x0"]
        return try FigureGrid.image(tiles, rowLabels: timesteps.map { ["t = \($0)"] }, columnHeaders: headers, scale: scale)
    }
}

/// One image's progressive decompression (Ho et al. 2020 §4.3, Fig. 6 and Table 4): x̂₀(x_t) as
/// the receiver sees it at each t of one chain, with the rate sent so far and the distortion.
public struct ProgressiveDecompression: Sendable {
    /// x₀, `[1, C, H, W]`.
    public let source: Tensor
    /// The bound of this one chain: `rate(at:)`, `distortion`, `total`, and `csv` (Table 4).
    public let report: LikelihoodReport
    /// x_t and x̂₀ at about ten timesteps, T first.
    public let frames: [TrajectoryFrame]

    public var curve: RateDistortionCurve { RateDistortionCurve(report) }

    /// The figure: x_t (first row) and x̂₀(x_t) (second row) at the recorded timesteps, then x₀;
    /// under each column t, the rate in bits/dim and the RMSE (0–255).
    public func figure(scale: Int = 3) throws(PipelineError) -> RasterImage {
        let columns = frames.map { [$0.xt, $0.predictedX0] } + [[source, source]]
        let labels =
            frames.map {
                [
                    "t = \($0.t)", String(format: "%.3f b/d", report.rate(at: $0.t)),
                    String(format: "RMSE %.1f", report.distortion[$0.t - 1]),
                ]
            }
            + [["x0", String(format: "%.3f b/d", report.total), "RMSE 0"]]
        let grid = (0..<2).map { row in columns.map { $0[row] } }
        return try FigureGrid.image(grid, rowLabels: [["x_t"], ["x0 from x_t"]], columnHeaders: [], columnFooters: labels, scale: scale)
    }
}

extension SamplingPipeline {
    /// Fig. 7 for `image` (`[1, C, H, W]` or `[C, H, W]` in [−1, 1], the model's size): for each
    /// t in `timesteps` (0…T), x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε (eq. 4) with one ε (from `seed`)
    /// for every t, then `samples` draws of x₀ by `sampler` started at t (seed `seed + 1 + row`).
    /// t = 0 returns the image itself. Ancestral sampling (`.ddpm`) or DDIM with η > 0 gives
    /// distinct samples; DDIM with η = 0 is deterministic, so a row repeats one image.
    /// `onStep` runs after every network evaluation.
    public func reconstruct(
        _ image: Tensor, at timesteps: [Int], samples: Int, sampler: Sampler, seed: UInt64,
        onStep: @escaping () -> Void = {}
    ) throws(ReconstructionError) -> Reconstruction {
        let x0 = try checkedImage(image)
        let T = diffusion.schedule.timestepCount
        guard !timesteps.isEmpty else { throw .noTimesteps }
        guard samples >= 1 else { throw .sampleCount(samples) }
        if let bad = timesteps.first(where: { !(0...T).contains($0) }) { throw .timestepOutOfRange(t: bad, timestepCount: T) }
        var rng = SeededGenerator(seed: seed)
        let noise = Tensor.randomNormal(x0.shape, using: &rng)
        var encoded: [Tensor] = []
        var rows: [Tensor] = []
        for (row, t) in timesteps.enumerated() {
            guard t > 0 else {
                encoded.append(x0)
                rows.append(Tensor.concatenated(Array(repeating: x0, count: samples), alongAxis: 0))
                continue
            }
            let xt = diffusion.noised(x0, at: [t], noise: noise)  // eq. 4
            encoded.append(xt)
            do {
                rows.append(
                    try sample(
                        from: Tensor.concatenated(Array(repeating: xt, count: samples), alongAxis: 0),
                        startingAt: t, sampler: sampler, seed: seed &+ 1 &+ UInt64(row), onStep: onStep
                    ).sample)
            } catch { throw .sampling(error) }
        }
        return Reconstruction(
            source: x0, timesteps: timesteps, encoded: Tensor.concatenated(encoded, alongAxis: 0),
            samples: Tensor.concatenated(rows, alongAxis: 0), samplesPerTimestep: samples)
    }

    /// Fig. 6 / Table 4 for `image` (as in `reconstruct`, on the 8-bit grid): the progressive
    /// code of `DDPM.progressiveCode` on the model's full chain (T network evaluations), seeded,
    /// with x_t and x̂₀ recorded at about `frameCount` timesteps.
    public func progressiveDecompression(
        _ image: Tensor, seed: UInt64, frameCount: Int = 10,
        onStep: @escaping () -> Void = {}
    ) throws(ReconstructionError) -> ProgressiveDecompression {
        let x0 = try checkedImage(image)
        let recording: Set<Int>
        do {
            try unet.configuration.checkUnconditionalPrediction()
            recording = try recordingTimesteps(.ddpm(steps: nil), count: frameCount)
        } catch { throw .sampling(error) }
        var rng = SeededGenerator(seed: seed)
        let code = diffusion.progressiveCode(
            x0, using: &rng, recordingAt: recording,
            predictNoise: unet.noisePredictor(onCall: onStep))
        return ProgressiveDecompression(source: x0, report: LikelihoodReport(batches: [code.bound]), frames: code.frames)
    }

    /// `image` as `[1, C, H, W]` of the network's channels and size.
    func checkedImage(_ image: Tensor) throws(ReconstructionError) -> Tensor {
        let x0 = image.rank == 3 ? image.reshaped(to: [1] + image.shape) : image
        let size = unet.configuration.sampleSize
        let expected = [
            1, unet.configuration.inChannels, size ?? (x0.rank == 4 ? x0.shape[2] : 0), size ?? (x0.rank == 4 ? x0.shape[3] : 0),
        ]
        guard x0.shape == expected else { throw .imageShape(expected: expected, actual: image.shape) }
        return x0
    }
}

extension Reconstruction {
    /// The rows drawn when none are given: t = T, 3T/4, T/2, T/4 and 0 (the image itself), Fig. 7's spread.
    public static func defaultTimesteps(timestepCount T: Int) -> [Int] { [T, 3 * T / 4, T / 2, T / 4, 0] }

    /// The seed of the progressive chain of a run seeded `seed`, apart from the reconstruction's
    /// own (`seed` for ε, `seed + 1 + row` for the rows), so the two never share noise.
    public static func progressiveSeed(_ seed: UInt64) -> UInt64 { seed &+ 1000 }
}
