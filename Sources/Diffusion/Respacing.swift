import Foundation

/// How S sampling timesteps are picked from a chain of T (diffusers' `timestep_spacing`; its
/// names, its 0-based arithmetic, then +1 to paper timesteps). With T = 1000, S = 10:
///
///     leading   1, 101, 201, …, 901     (diffusers' default; never visits t = T)
///     linspace  1, 112, 223, …, 1000    (round-half-to-even of linspace(0, T−1, S), + 1)
///     trailing  100, 200, …, 1000       (round(T − i·T/S), i = 0…S−1)
public enum TimestepSpacing: String, CaseIterable, Sendable {
    case leading, linspace, trailing

    /// The spacing named `name` (as in diffusers' scheduler configs).
    public init(parsing name: String) throws(DiffusionError) {
        guard let spacing = TimestepSpacing(rawValue: name) else { throw .unknownTimestepSpacing(name) }
        self = spacing
    }

    /// `steps` paper timesteps of a chain of `timestepCount`, descending (the order of sampling).
    public func timesteps(steps: Int, timestepCount: Int) throws(DiffusionError) -> [Int] {
        guard timestepCount >= 1 else { throw .timestepCountTooSmall(timestepCount) }
        guard steps >= 1, steps <= timestepCount else {
            throw .invalidSamplingStepCount(requested: steps, timestepCount: timestepCount)
        }
        let (n, count) = (steps, timestepCount)
        let modelTimesteps: [Int]  // diffusers' 0-based values, descending
        switch self {
        case .leading:
            modelTimesteps = (0..<n).reversed().map { $0 * (count / n) }
        case .linspace:
            let step = n > 1 ? Double(count - 1) / Double(n - 1) : 0
            modelTimesteps = (0..<n).reversed().map { (Double($0) * step).rounded(.toNearestOrEven) }.map { Int($0) }
        case .trailing:
            let ratio = Double(count) / Double(n)
            modelTimesteps = (0..<n).map { Int((Double(count) - Double($0) * ratio).rounded(.toNearestOrEven)) - 1 }
        }
        return modelTimesteps.map { $0 + 1 }
    }
}

extension DDPM {
    /// The chain restricted to `steps` timesteps chosen by `spacing` (Nichol & Dhariwal 2021 §4):
    /// see `respaced(timesteps:)`.
    public func respaced(steps: Int, spacing: TimestepSpacing = .leading) throws(DiffusionError) -> DDPM {
        try respaced(timesteps: spacing.timesteps(steps: steps, timestepCount: schedule.timestepCount))
    }

    /// The chain restricted to the paper timesteps τ_1 < … < τ_S (any order given), keeping ᾱ:
    ///
    ///     ᾱ'_i = ᾱ_{τ_i},   β'_i = 1 − ᾱ_{τ_i} / ᾱ_{τ_{i−1}},   ᾱ_{τ_0} = 1
    ///
    /// so each step jumps the whole stride, with the posterior variance of that jump (β̃'_i). The
    /// network still sees τ_i − 1 (`modelTimesteps`). This is what diffusers' DDPMScheduler does
    /// since its PR #2076; before it, a strided step used ᾱ_{τ_i − 1} and produced noise.
    public func respaced(timesteps: [Int]) throws(DiffusionError) -> DDPM {
        let tau = timesteps.sorted()
        guard !tau.isEmpty, Set(tau).count == tau.count, tau.first! >= 1, tau.last! <= schedule.timestepCount else {
            throw .invalidRespacedTimesteps(timesteps: timesteps, timestepCount: schedule.timestepCount)
        }
        var previousAlphaBar = 1.0
        let betas = tau.map { t in
            defer { previousAlphaBar = schedule.alphaBar(t) }
            return 1 - schedule.alphaBar(t) / previousAlphaBar
        }
        return DDPM(
            schedule: try NoiseSchedule(betas: betas), parameterization: parameterization, variance: variance,
            clipDenoised: clipDenoised, originalTimesteps: tau.map { originalTimesteps?[$0 - 1] ?? $0 })
    }
}
