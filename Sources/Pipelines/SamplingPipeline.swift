import Diffusion
import Foundation
import Models
import Tensors

/// Which reverse process draws the samples.
public enum Sampler: Equatable, Sendable {
    /// Ancestral sampling (Algorithm 2) on all T steps, or respaced to `steps` (Nichol & Dhariwal §4).
    case ddpm(steps: Int?)
    /// DDIM (Song et al. 2021) on `steps` timesteps with stochasticity η.
    case ddim(steps: Int, eta: Double)
}

/// Draws samples from a U-Net: Algorithm 2 or DDIM, from seeded (or given) x_T, in batches.
public struct SamplingPipeline {
    public let unet: UNet
    public let diffusion: DDPM
    public var spacing: TimestepSpacing = .leading
    public var setAlphaToOne = true
    /// DDIM with clipping: recompute ε̂ from the clipped x̂₀ (diffusers' `use_clipped_model_output=True`).
    /// The default, false, keeps the network's ε̂ as diffusers' DDIMPipeline does.
    public var recomputeNoiseAfterClipping = false

    public init(unet: UNet, diffusion: DDPM) {
        self.unet = unet
        self.diffusion = diffusion
    }

    /// The number of network evaluations `sampler` makes per batch (from x_T, or from x_t at `startingAt`).
    public func stepCount(_ sampler: Sampler, startingAt t: Int? = nil) -> Int {
        let T = diffusion.schedule.timestepCount
        guard let t else {
            switch sampler {
            case .ddpm(let steps): return steps ?? T
            case .ddim(let steps, _): return steps
            }
        }
        switch sampler {
        case .ddpm(nil): return t
        case .ddpm(let steps?), .ddim(let steps, _):
            return 1 + ((try? spacing.timesteps(steps: steps, timestepCount: T)) ?? []).filter { $0 < t }.count
        }
    }

    /// Samples from x_T (`[N, C, H, W]`), recording the process at `recordingAt` (paper timesteps
    /// of the training chain). `onStep` is called after every network evaluation.
    ///
    /// With `startingAt` t, `xT` is instead x_t at paper timestep t of the training chain (an
    /// encoded image, Ho et al. §4.3): the sampler runs from t, visiting t and then its own
    /// timesteps below t (all of t…1 for `.ddpm(steps: nil)`).
    public func sample(from xT: Tensor, startingAt t: Int? = nil, sampler: Sampler, seed: UInt64, recordingAt: Set<Int> = [],
                       onStep: @escaping () -> Void = {}) throws(PipelineError) -> SamplingResult {
        var rng = SeededGenerator(seed: seed)
        let predictor = unet.noisePredictor(onCall: onStep)
        let T = diffusion.schedule.timestepCount
        if let t, !(1...T).contains(t) { throw .invalid("cannot start sampling at t = \(t); the model's chain has t = 1…\(T)") }
        do {
            switch sampler {
            case .ddpm(nil):
                return diffusion.sample(from: xT, startingAt: t ?? T, using: &rng, recordingAt: recordingAt, predictNoise: predictor)
            case .ddpm(let steps?):
                var visited = try spacing.timesteps(steps: steps, timestepCount: T)
                if let t { visited = [t] + visited.filter { $0 < t } }
                return try diffusion.respaced(timesteps: visited)
                    .sample(from: xT, using: &rng, recordingAt: recordingAt, predictNoise: predictor)
            case let .ddim(steps, eta):
                var ddim = try DDIM(diffusion, steps: steps, spacing: spacing, eta: eta, setAlphaToOne: setAlphaToOne,
                                    recomputeNoiseAfterClipping: recomputeNoiseAfterClipping)
                if let t { ddim = try ddim.startingAt(t) }
                return ddim.sample(from: xT, using: &rng, recordingAt: recordingAt, predictNoise: predictor)
            }
        } catch { throw .invalid(error.description) }
    }

    /// Standard normal x_T for `count` images of the network's size, seeded.
    public func initialNoise(count: Int, imageSize: Int, seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor.randomNormal([count, unet.configuration.inChannels, imageSize, imageSize], using: &rng)
    }

    /// About `count` evenly spaced paper timesteps of the chain `sampler` visits, for Fig. 6-style
    /// process images (always including the first and the last).
    public func recordingTimesteps(_ sampler: Sampler, count: Int = 10) throws(PipelineError) -> Set<Int> {
        let visited: [Int]
        do {
            switch sampler {
            case .ddpm(nil): visited = Array((1...diffusion.schedule.timestepCount).reversed())
            case .ddpm(let steps?): visited = try spacing.timesteps(steps: steps, timestepCount: diffusion.schedule.timestepCount)
            case .ddim(let steps, _): visited = try spacing.timesteps(steps: steps, timestepCount: diffusion.schedule.timestepCount)
            }
        } catch { throw .invalid(error.description) }
        let n = min(count, visited.count)
        guard n > 1 else { return Set(visited.prefix(1)) }
        return Set((0..<n).map { visited[$0 * (visited.count - 1) / (n - 1)] })
    }
}
