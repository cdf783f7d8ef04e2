import Foundation
import Tensors

/// diffusers' `EulerDiscreteScheduler`: Euler's method on the probability-flow ODE in the
/// variance-exploding view x̃ = x_t/√ᾱ_t = x₀ + σ ε (Karras et al. 2022, arXiv:2206.00364,
/// Algorithm 2 without the Heun correction; eq. 4 with σ(t) = t):
///
///     γ_i = min(S_churn / N, √2 − 1) if S_tmin ≤ σ_i ≤ S_tmax, else 0;   σ̂ = σ_i (1 + γ_i)
///     x̂   = x̃_i + S_noise · √(σ̂² − σ_i²) · z                             (only when γ_i > 0)
///     d   = (x̂ − x̂₀) / σ̂,      x̃_{i+1} = x̂ + (σ_{i+1} − σ̂) · d
///
/// with x̂₀ = x̂ − σ̂ ε̂ (epsilon), the network's output (sample), or x̂/(σ² + 1) − σ/√(σ² + 1)·v
/// (v_prediction, at σ_i). The network sees x̃_i/√(σ_i² + 1) = x_t, before the churn: unlike
/// Algorithm 2 it is not re-evaluated at (x̂, σ̂), so with epsilon d = ε̂(x̃_i). The noise levels σ_i come from
/// `EulerSigmaGrid` (interpolated at diffusers' fractional timesteps, or Karras/exponential), the
/// last is 0 or σ of the first training timestep. S_churn = 0 (the default) is deterministic.
public struct EulerDiscrete: Scheduler, Sendable {
    /// How the N noise levels are chosen once the timestep grid is.
    public enum SigmaSpacing: Sendable, Equatable {
        /// σ(t_i) at the grid's timesteps (all three `use_*_sigmas` false).
        case timesteps
        /// Karras et al. 2022 eq. 5, ρ = 7 (`use_karras_sigmas`).
        case karras
        /// Evenly spaced in log σ (`use_exponential_sigmas`).
        case exponential
    }

    /// How σ is read off the training schedule (`interpolation_type`).
    public enum Interpolation: Sendable, Equatable {
        /// σ(t) by linear interpolation at the timesteps (`"linear"`).
        case linear
        /// N + 1 values evenly spaced in log σ over the whole schedule, independent of the
        /// timesteps (`"log_linear"`); the N steps then stop at σ of timestep 0, not at the final σ.
        case logLinear
    }

    /// What the network is given as its timestep (`timestep_type`).
    public enum TimestepType: Sendable, Equatable {
        /// The model timestep t_i (`"discrete"`).
        case discrete
        /// c_noise = ¼ log σ_i (Karras et al. 2022, Table 1), only with v_prediction (`"continuous"`;
        /// with other prediction types diffusers uses discrete timesteps, and so does this).
        case continuous
    }

    /// The noise level after the last step (`final_sigmas_type`).
    public enum FinalSigma: Sendable, Equatable {
        /// 0: the last step lands on x₀ (`"zero"`).
        case zero
        /// σ of the first training timestep (`"sigma_min"`).
        case sigmaMinimum
    }

    public struct Configuration: Sendable, Equatable {
        /// `prediction_type`
        public var prediction: Parameterization = .noise
        /// `timestep_spacing`
        public var timestepSpacing: TimestepSpacing = .linspace
        /// `steps_offset` (added to the leading grid only, as in diffusers)
        public var stepsOffset: Int = 0
        /// `interpolation_type`
        public var interpolation: Interpolation = .linear
        /// `use_karras_sigmas` / `use_exponential_sigmas` (`use_beta_sigmas` is not supported)
        public var sigmaSpacing: SigmaSpacing = .timesteps
        /// `sigma_min`: the smallest Karras/exponential σ (nil: the last interpolated σ)
        public var sigmaMinimum: Double? = nil
        /// `sigma_max`: the largest Karras/exponential σ (nil: the first interpolated σ)
        public var sigmaMaximum: Double? = nil
        /// `timestep_type`
        public var timestepType: TimestepType = .discrete
        /// `final_sigmas_type`
        public var finalSigma: FinalSigma = .zero
        /// S_churn: `step(s_churn=)`, a call argument in diffusers, not a config key (0: deterministic)
        public var churn: Double = 0
        /// S_tmin: `step(s_tmin=)`
        public var churnMinimumSigma: Double = 0
        /// S_tmax: `step(s_tmax=)`
        public var churnMaximumSigma: Double = .infinity
        /// S_noise: `step(s_noise=)`
        public var churnNoise: Double = 1

        public init(
            prediction: Parameterization = .noise, timestepSpacing: TimestepSpacing = .linspace, stepsOffset: Int = 0,
            interpolation: Interpolation = .linear, sigmaSpacing: SigmaSpacing = .timesteps,
            sigmaMinimum: Double? = nil, sigmaMaximum: Double? = nil, timestepType: TimestepType = .discrete,
            finalSigma: FinalSigma = .zero, churn: Double = 0, churnMinimumSigma: Double = 0,
            churnMaximumSigma: Double = .infinity, churnNoise: Double = 1
        ) {
            self.prediction = prediction
            self.timestepSpacing = timestepSpacing
            self.stepsOffset = stepsOffset
            self.interpolation = interpolation
            self.sigmaSpacing = sigmaSpacing
            self.sigmaMinimum = sigmaMinimum
            self.sigmaMaximum = sigmaMaximum
            self.timestepType = timestepType
            self.finalSigma = finalSigma
            self.churn = churn
            self.churnMinimumSigma = churnMinimumSigma
            self.churnMaximumSigma = churnMaximumSigma
            self.churnNoise = churnNoise
        }
    }

    public let configuration: Configuration
    /// diffusers' `scheduler.sigmas`: σ_0 > σ_1 > … and the final σ (one more than evaluations).
    public let sigmas: [Double]
    public let modelTimesteps: [Double]
    public let initNoiseSigma: Double

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let name = "EulerDiscreteScheduler"
        let c = configuration
        try EulerSigmaGrid.validate(
            scheduler: name, steps: steps, trainTimesteps: schedule.timestepCount,
            stepsOffset: c.stepsOffset)
        for (option, value) in [("sigma_min", c.sigmaMinimum), ("sigma_max", c.sigmaMaximum)] {
            if let value, !(value > 0 && value.isFinite) {
                throw .invalidSchedulerOption(
                    scheduler: name, option: option, value: "\(value)",
                    accepted: "use a finite σ > 0, or none for the schedule's own")
            }
        }
        guard c.churn >= 0, c.churnNoise >= 0 else {
            throw .invalidSchedulerOption(
                scheduler: name, option: "s_churn, s_noise",
                value: "\(c.churn), \(c.churnNoise)", accepted: "both must be ≥ 0")
        }
        let trained = DiscreteSigmas(schedule)
        let grid = EulerSigmaGrid.make(
            trained, spacing: c.timestepSpacing, steps: steps, stepsOffset: c.stepsOffset,
            sigmaSpacing: c.sigmaSpacing, logLinear: c.interpolation == .logLinear,
            sigmaMinimum: c.sigmaMinimum, sigmaMaximum: c.sigmaMaximum)
        let last = c.finalSigma == .zero ? 0 : EulerSigmaGrid.float32(trained.values[0])
        self.configuration = c
        self.sigmas = grid.sigmas + [last]
        if c.timestepType == .continuous && c.prediction == .velocity {
            modelTimesteps = sigmas.dropLast().map { EulerSigmaGrid.float32(0.25 * Foundation.log($0)) }
        } else {
            modelTimesteps = grid.timesteps
        }
        initNoiseSigma = eulerInitNoiseSigma(sigmas, spacing: c.timestepSpacing)
    }

    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor {
        sample / Float((sigmas[index] * sigmas[index] + 1).squareRoot())
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let c = configuration
        let sigma = sigmas[index]
        let gamma =
            c.churnMinimumSigma <= sigma && sigma <= c.churnMaximumSigma
            ? min(c.churn / Double(sigmas.count - 1), 2.0.squareRoot() - 1) : 0
        let sigmaHat = sigma * (gamma + 1)
        var x = sample
        if gamma > 0 { x = x + Float((sigmaHat * sigmaHat - sigma * sigma).squareRoot()) * (noise() * Float(c.churnNoise)) }
        let x0 = eulerPredictedX0(c.prediction, modelOutput, sample: x, sigma: sigmaHat, velocitySigma: sigma)
        let derivative = (x - x0) / Float(sigmaHat)
        return SchedulerStep(previous: x + derivative * Float(sigmas[index + 1] - sigmaHat), predictedX0: x0)
    }
}

/// diffusers' `init_noise_sigma` for the Euler family: max σ for linspace and trailing spacing,
/// √(max σ² + 1) for leading (the VP scale of x_T).
func eulerInitNoiseSigma(_ sigmas: [Double], spacing: TimestepSpacing) -> Double {
    let maximum = sigmas.max()!
    return spacing == .leading ? (maximum * maximum + 1).squareRoot() : maximum
}

/// x̂₀ of the variance-exploding sample x̃ at noise level σ (Karras et al. 2022, Table 1 with
/// c_skip, c_out for each prediction type, as diffusers' Euler schedulers form it): ε̂ uses
/// `sigma` (σ̂ with churn), v uses `velocitySigma`.
func eulerPredictedX0(
    _ prediction: Parameterization, _ output: Tensor, sample x: Tensor, sigma: Double,
    velocitySigma: Double
) -> Tensor {
    switch prediction {
    case .noise: return x - Float(sigma) * output
    case .x0: return output
    case .velocity:
        let s = velocitySigma
        return output * Float(-s / (s * s + 1).squareRoot()) + x / Float(s * s + 1)
    }
}
