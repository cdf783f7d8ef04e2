import Foundation

/// The noise levels σ_0 > σ_1 > … of diffusers' Euler-family schedulers (EulerDiscrete,
/// EulerAncestralDiscrete, HeunDiscrete `set_timesteps`), before the final σ is appended:
///
/// 1. model timesteps t_i for N steps of a chain of T (stored by diffusers as float32):
///
///        linspace  linspace(0, T − 1, N)[::-1]                       (fractional)
///        leading   arange(N) · ⌊T/N⌋ [::-1] + steps_offset
///        trailing  round(arange(T, 0, −T/N)) − 1
///
/// 2. σ_i = σ(t_i) by linear interpolation of the training σ's (`np.interp`), or, for Euler's
///    `log_linear`, N + 1 values evenly spaced in log σ from σ_{T−1} to σ_0;
/// 3. optionally replaced by N Karras et al. 2022 (eq. 5, ρ = 7) or log-evenly spaced values between
///    σ_min and σ_max (the configured ones, else the last and first of step 2), with timesteps
///    t_i = `_sigma_to_t`(σ_i) (interpolation in log σ).
///
/// Values are rounded to Float32 as diffusers stores them, so model timesteps equal diffusers'.
enum EulerSigmaGrid {
    /// How the noise levels are chosen once the timesteps are (diffusers' `use_karras_sigmas`,
    /// `use_exponential_sigmas`; `use_beta_sigmas` is not supported).
    typealias Spacing = EulerDiscrete.SigmaSpacing

    static func float32(_ x: Double) -> Double { Double(Float(x)) }

    /// Step 1: the model timesteps of `spacing`, descending.
    static func timesteps(_ spacing: TimestepSpacing, steps n: Int, trainTimesteps: Int, stepsOffset: Int) -> [Double] {
        switch spacing {
        case .linspace:
            guard n > 1 else { return [0] }
            let step = Double(trainTimesteps - 1) / Double(n - 1)
            return (0..<n).reversed().map { float32($0 == n - 1 ? Double(trainTimesteps - 1) : Double($0) * step) }
        case .leading:
            return (0..<n).reversed().map { Double($0 * (trainTimesteps / n) + stepsOffset) }
        case .trailing:
            return SolverTimesteps.grid(.trailing, steps: n, trainTimesteps: trainTimesteps).map(Double.init)
        }
    }

    /// Steps 1–3: model timesteps (one per Euler step) and their σ's (N of them, or N + 1 for
    /// `logLinear`, whose last σ is never a model input).
    static func make(
        _ trained: DiscreteSigmas, spacing: TimestepSpacing, steps n: Int, stepsOffset: Int,
        sigmaSpacing: Spacing, logLinear: Bool = false, sigmaMinimum: Double? = nil,
        sigmaMaximum: Double? = nil
    ) -> (timesteps: [Double], sigmas: [Double]) {
        var timesteps = timesteps(spacing, steps: n, trainTimesteps: trained.count, stepsOffset: stepsOffset)
        var sigmas: [Double]
        if logLinear {
            let (high, low) = (log(trained.values[trained.count - 1]), log(trained.values[0]))
            sigmas = (0...n).map { i in exp(high + Double(i) / Double(n) * (low - high)) }
        } else {
            sigmas = timesteps.map(trained.interpolated(at:))
        }
        let minimum = sigmaMinimum ?? sigmas[sigmas.count - 1]
        let maximum = sigmaMaximum ?? sigmas[0]
        switch sigmaSpacing {
        case .timesteps: break
        case .karras:
            sigmas = DiscreteSigmas.karras(count: n, minimum: minimum, maximum: maximum)
        case .exponential:
            let (high, low) = (log(maximum), log(minimum))
            sigmas = (0..<n).map { i in exp(n > 1 ? high + Double(i) / Double(n - 1) * (low - high) : high) }
        }
        if sigmaSpacing != .timesteps { timesteps = sigmas.map { float32(trained.timestep(forSigma: $0)) } }
        return (timesteps, sigmas.map(float32))
    }

    /// The `invalidSchedulerOption` errors common to the three schedulers.
    static func validate(scheduler: String, steps: Int, trainTimesteps: Int, stepsOffset: Int) throws(DiffusionError) {
        guard steps >= 1, steps <= trainTimesteps else {
            throw .invalidSamplingStepCount(requested: steps, timestepCount: trainTimesteps)
        }
        guard stepsOffset >= 0, stepsOffset < trainTimesteps else {
            throw .invalidSchedulerOption(
                scheduler: scheduler, option: "steps_offset", value: "\(stepsOffset)",
                accepted: "use an offset in 0..<\(trainTimesteps)")
        }
    }
}
