import Foundation
import Tensors

/// diffusers' `EulerAncestralDiscreteScheduler`: ancestral sampling with Euler steps in the
/// variance-exploding view x̃ = x₀ + σ ε (k-diffusion's `sample_euler_ancestral`, Crowson 2022,
/// "Euler a"): an Euler step of the probability-flow ODE (Karras et al. 2022, eq. 4) down to
/// σ_down < σ', then fresh noise back up to σ'. From σ = σ_i to σ' = σ_{i+1}:
///
///     σ_up   = √(σ'² (σ² − σ'²) / σ²),      σ_down = √(σ'² − σ_up²)
///     d      = (x̃ − x̂₀) / σ,                x̃' = x̃ + (σ_down − σ) · d + σ_up · z
///
/// so that x̃' has noise level σ' again (σ_down² + σ_up² = σ'²). x̂₀ = x̃ − σ ε̂ (epsilon) or
/// x̃/(σ² + 1) − σ/√(σ² + 1)·v (v_prediction); diffusers does not implement `sample`. The noise
/// levels are `EulerSigmaGrid`'s interpolated σ's (no Karras option), then 0; the last step is
/// deterministic (σ_up = 0).
public struct EulerAncestralDiscrete: Scheduler, Sendable {
    public struct Configuration: Sendable, Equatable {
        /// `prediction_type` (epsilon or v_prediction)
        public var prediction: Parameterization = .noise
        /// `timestep_spacing`
        public var timestepSpacing: TimestepSpacing = .linspace
        /// `steps_offset` (added to the leading grid only)
        public var stepsOffset: Int = 0

        public init(prediction: Parameterization = .noise, timestepSpacing: TimestepSpacing = .linspace, stepsOffset: Int = 0) {
            self.prediction = prediction
            self.timestepSpacing = timestepSpacing
            self.stepsOffset = stepsOffset
        }
    }

    public let configuration: Configuration
    /// diffusers' `scheduler.sigmas`: σ_0 > … > σ_{N−1} and 0.
    public let sigmas: [Double]
    public let modelTimesteps: [Double]
    public let initNoiseSigma: Double

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let name = "EulerAncestralDiscreteScheduler"
        let c = configuration
        try EulerSigmaGrid.validate(
            scheduler: name, steps: steps, trainTimesteps: schedule.timestepCount,
            stepsOffset: c.stepsOffset)
        guard c.prediction != .x0 else {
            throw .invalidSchedulerOption(
                scheduler: name, option: "prediction_type", value: "sample",
                accepted: "use epsilon or v_prediction (diffusers does not implement sample)")
        }
        let grid = EulerSigmaGrid.make(
            DiscreteSigmas(schedule), spacing: c.timestepSpacing, steps: steps,
            stepsOffset: c.stepsOffset, sigmaSpacing: .timesteps)
        self.configuration = c
        sigmas = grid.sigmas + [0]
        modelTimesteps = grid.timesteps
        initNoiseSigma = eulerInitNoiseSigma(sigmas, spacing: c.timestepSpacing)
    }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor {
        sample / Float((sigmas[index] * sigmas[index] + 1).squareRoot())
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let (from, to) = (sigmas[index], sigmas[index + 1])
        let up = (to * to * (from * from - to * to) / (from * from)).squareRoot()
        let down = (to * to - up * up).squareRoot()
        let x0 = eulerPredictedX0(configuration.prediction, modelOutput, sample: sample, sigma: from, velocitySigma: from)
        let derivative = (sample - x0) / Float(from)
        var previous = sample + derivative * Float(down - from)
        if up > 0 { previous = previous + noise() * Float(up) }
        return SchedulerStep(previous: previous, predictedX0: x0)
    }
}
