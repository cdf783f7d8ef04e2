import Foundation
import Tensors

/// diffusers' `HeunDiscreteScheduler`: Heun's 2nd-order method on the probability-flow ODE in the
/// variance-exploding view x̃ = x₀ + σ ε (Karras et al. 2022, arXiv:2206.00364, Algorithm 1).
/// Each step from σ_i to σ_{i+1} takes two network evaluations,
///
///     d   = (x̃_i − x̂₀(x̃_i, σ_i)) / σ_i,             x̂ = x̃_i + (σ_{i+1} − σ_i) d      (Euler)
///     d'  = (x̂ − x̂₀(x̂, σ_{i+1})) / σ_{i+1},         x̃_{i+1} = x̃_i + (σ_{i+1} − σ_i)(d + d')/2
///
/// except the last (σ_{i+1} = 0), which is the Euler step alone: 2N − 1 evaluations. The
/// evaluation list interleaves like diffusers' `timesteps` (t_0, t_1, t_1, …, t_{N−1}, t_{N−1});
/// even evaluations are Euler steps, odd ones corrections, and the Euler step's d, dt and x̃_i
/// are kept in the value between the two. x̂₀ = x̃ − σ ε̂, the output, or x̃/(σ² + 1) −
/// σ/√(σ² + 1)·v, optionally clamped (`clip_sample`). The noise levels come from `EulerSigmaGrid`.
public struct HeunDiscrete: Scheduler, Sendable {
    public typealias SigmaSpacing = EulerDiscrete.SigmaSpacing

    public struct Configuration: Sendable, Equatable {
        /// `prediction_type`
        public var prediction: Parameterization = .noise
        /// `timestep_spacing`
        public var timestepSpacing: TimestepSpacing = .linspace
        /// `steps_offset` (added to the leading grid only)
        public var stepsOffset: Int = 0
        /// `use_karras_sigmas` / `use_exponential_sigmas` (`use_beta_sigmas` is not supported)
        public var sigmaSpacing: SigmaSpacing = .timesteps
        /// `clip_sample`
        public var clipSample: Bool = false
        /// `clip_sample_range`
        public var clipSampleRange: Double = 1

        public init(
            prediction: Parameterization = .noise, timestepSpacing: TimestepSpacing = .linspace, stepsOffset: Int = 0,
            sigmaSpacing: SigmaSpacing = .timesteps, clipSample: Bool = false, clipSampleRange: Double = 1
        ) {
            self.prediction = prediction
            self.timestepSpacing = timestepSpacing
            self.stepsOffset = stepsOffset
            self.sigmaSpacing = sigmaSpacing
            self.clipSample = clipSample
            self.clipSampleRange = clipSampleRange
        }
    }

    public let configuration: Configuration
    /// diffusers' `scheduler.sigmas`: σ_0, σ_1, σ_1, …, σ_{N−1}, σ_{N−1}, 0 (2N values).
    public let sigmas: [Double]
    public let modelTimesteps: [Double]
    public let initNoiseSigma: Double
    /// The Euler half of the step in progress: d, σ_{i+1} − σ_i and x̃_i.
    private var pending: (derivative: Tensor, dt: Double, sample: Tensor)?

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let name = "HeunDiscreteScheduler"
        let c = configuration
        try EulerSigmaGrid.validate(
            scheduler: name, steps: steps, trainTimesteps: schedule.timestepCount,
            stepsOffset: c.stepsOffset)
        guard c.clipSampleRange > 0 else {
            throw .invalidSchedulerOption(
                scheduler: name, option: "clip_sample_range", value: "\(c.clipSampleRange)",
                accepted: "use a range > 0")
        }
        let grid = EulerSigmaGrid.make(
            DiscreteSigmas(schedule), spacing: c.timestepSpacing, steps: steps,
            stepsOffset: c.stepsOffset, sigmaSpacing: c.sigmaSpacing)
        self.configuration = c
        sigmas = [grid.sigmas[0]] + grid.sigmas.dropFirst().flatMap { [$0, $0] } + [0]
        modelTimesteps = [grid.timesteps[0]] + grid.timesteps.dropFirst().flatMap { [$0, $0] }
        initNoiseSigma = eulerInitNoiseSigma(sigmas, spacing: c.timestepSpacing)
    }

    /// Whether evaluation `index` is the correction of a Heun step (odd), not an Euler step.
    public func isCorrection(_ index: Int) -> Bool { index % 2 == 1 }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor {
        sample / Float((sigmas[index] * sigmas[index] + 1).squareRoot())
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let correction = isCorrection(index)
        precondition(correction == (pending != nil), "[HeunDiscrete] evaluation \(index) out of order")
        // diffusers' σ and σ_next: sigmas[index], sigmas[index + 1] for the Euler step;
        // sigmas[index − 1], sigmas[index] for the correction, whose x̂₀ is at σ_next.
        let (sigma, next) = correction ? (sigmas[index - 1], sigmas[index]) : (sigmas[index], sigmas[index + 1])
        let at = correction ? next : sigma
        var x0 = eulerPredictedX0(configuration.prediction, modelOutput, sample: sample, sigma: at, velocitySigma: at)
        if configuration.clipSample {
            let r = Float(configuration.clipSampleRange)
            x0 = x0.clamped(lower: -r, upper: r)
        }
        let derivative = (sample - x0) / Float(at)
        if let (first, dt, start) = pending {
            pending = nil
            return SchedulerStep(previous: start + (first + derivative) / 2 * Float(dt), predictedX0: x0)
        }
        let dt = next - sigma
        if index + 1 < modelTimesteps.count { pending = (derivative, dt, sample) }
        return SchedulerStep(previous: sample + derivative * Float(dt), predictedX0: x0)
    }
}
