/// What a user or a configuration can get wrong when building a schedule or a sampler.
///
/// Programmer errors (a timestep outside `1...T`, tensors of mismatched shapes) stop with a
/// `precondition` instead; see ARCHITECTURE.md §3 rule 3.
public enum DiffusionError: Error, Equatable, CustomStringConvertible {
    /// T must be at least 1.
    case timestepCountTooSmall(Int)
    /// Every β_t must lie strictly between 0 and 1; `t` is the paper's 1-based timestep.
    case betaOutOfRange(t: Int, beta: Double)
    /// A linear schedule needs 0 < start ≤ end < 1.
    case invalidLinearSchedule(start: Double, end: Double)
    /// A sampler cannot take more steps than the chain has, nor fewer than one.
    case invalidSamplingStepCount(requested: Int, timestepCount: Int)
    /// A spacing name that is not `leading`, `linspace` or `trailing`.
    case unknownTimestepSpacing(String)
    /// Respacing needs distinct timesteps in `1...T`.
    case invalidRespacedTimesteps(timesteps: [Int], timestepCount: Int)
    /// DDIM's η must be ≥ 0.
    case negativeEta(Double)
    /// A solver option with a value that solver does not accept (`accepted` says what it does).
    case invalidSchedulerOption(scheduler: String, option: String, value: String, accepted: String)

    public var description: String {
        switch self {
        case .timestepCountTooSmall(let count):
            "The diffusion chain needs at least one timestep (T = \(count)). Use T ≥ 1; the paper uses T = 1000."
        case .betaOutOfRange(let t, let beta):
            "β_\(t) = \(beta) is outside (0, 1). Every β_t must satisfy 0 < β_t < 1; "
                + "check the schedule's start and end values (the paper uses 1e-4 to 0.02)."
        case .invalidLinearSchedule(let start, let end):
            "A linear β schedule from \(start) to \(end) is invalid. Use 0 < start ≤ end < 1 (the paper: 1e-4 to 0.02)."
        case .invalidSamplingStepCount(let requested, let timestepCount):
            "Cannot sample with \(requested) steps from a chain of T = \(timestepCount) timesteps. "
                + "Choose a step count between 1 and \(timestepCount)."
        case .unknownTimestepSpacing(let name):
            "Unknown timestep spacing '\(name)'. Use one of: leading, linspace, trailing."
        case .invalidRespacedTimesteps(let timesteps, let timestepCount):
            "Respaced timesteps \(timesteps.prefix(8))\(timesteps.count > 8 ? "…" : "") must be distinct paper "
                + "timesteps in 1...\(timestepCount), at least one."
        case .negativeEta(let eta):
            "DDIM's η must be at least 0 (got \(eta)); η = 0 is deterministic DDIM, η = 1 matches DDPM's posterior variance."
        case .invalidSchedulerOption(let scheduler, let option, let value, let accepted):
            "\(scheduler): \(option) = \(value) is not supported; \(accepted)."
        }
    }
}
