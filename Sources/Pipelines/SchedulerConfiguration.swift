import Diffusion
import Foundation

/// A diffusers `scheduler_config.json`: the training chain's keys (typed, with DDPMScheduler's
/// defaults for absent keys; `diffusion()` turns them into our `DDPM`) and every key as written
/// (`options`), from which `SchedulerFactory` builds any solver as diffusers' `from_config` does.
/// This file and `SchedulerFactory*.swift` are the only places that know diffusers' key names.
public struct SchedulerConfiguration: Codable, Equatable, Sendable {
    public var className = "DDPMScheduler"
    public var numTrainTimesteps = 1000
    public var betaStart = 0.0001
    public var betaEnd = 0.02
    public var betaSchedule = "linear"
    public var varianceType = "fixed_small"
    public var clipSample = true
    public var predictionType = "epsilon"
    public var setAlphaToOne = true
    public var timestepSpacing = "leading"
    /// Every key of the JSON file as written (empty for a configuration built in code). Solvers read
    /// their options here; the schedule and prediction type always come from the typed fields.
    public var options: [String: ConfigValue] = [:]

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case varianceType = "variance_type"
        case clipSample = "clip_sample"
        case predictionType = "prediction_type"
        case setAlphaToOne = "set_alpha_to_one"
        case timestepSpacing = "timestep_spacing"
    }

    public init() {}

    /// The paper's CIFAR-10 sampling setting: σ_t² = β_t (fixed_large), x̂₀ clipped as in the original code.
    public static let paper: SchedulerConfiguration = {
        var c = SchedulerConfiguration()
        c.varianceType = "fixed_large"
        return c
    }()

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SchedulerConfiguration()
        className = try c.decodeIfPresent(String.self, forKey: .className) ?? d.className
        numTrainTimesteps = try c.decodeIfPresent(Int.self, forKey: .numTrainTimesteps) ?? d.numTrainTimesteps
        betaStart = try c.decodeIfPresent(Double.self, forKey: .betaStart) ?? d.betaStart
        betaEnd = try c.decodeIfPresent(Double.self, forKey: .betaEnd) ?? d.betaEnd
        betaSchedule = try c.decodeIfPresent(String.self, forKey: .betaSchedule) ?? d.betaSchedule
        varianceType = try c.decodeIfPresent(String.self, forKey: .varianceType) ?? d.varianceType
        clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample) ?? d.clipSample
        predictionType = try c.decodeIfPresent(String.self, forKey: .predictionType) ?? d.predictionType
        setAlphaToOne = try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne) ?? d.setAlphaToOne
        timestepSpacing = try c.decodeIfPresent(String.self, forKey: .timestepSpacing) ?? d.timestepSpacing
        options = try decoder.singleValueContainer().decode([String: ConfigValue].self)
    }
    /// The diffusion process this configuration describes.
    public func diffusion() throws(PipelineError) -> DDPM {
        let kind: BetaSchedule
        switch betaSchedule {
        case "linear": kind = .linear(start: betaStart, end: betaEnd)
        case "squaredcos_cap_v2": kind = .cosine()
        default: throw .unsupported("beta_schedule '\(betaSchedule)' (use 'linear' or 'squaredcos_cap_v2')")
        }
        let variance: ReverseVariance
        switch varianceType {
        case "fixed_small", "fixed_small_log": variance = .fixedSmall
        case "fixed_large", "fixed_large_log": variance = .fixedLarge
        case "learned_range": variance = .learnedRange
        default: throw .unsupported("variance_type '\(varianceType)' (use fixed_small, fixed_large or learned_range)")
        }
        let parameterization: Parameterization
        switch predictionType {
        case "epsilon": parameterization = .noise
        case "sample": parameterization = .x0
        case "v_prediction": parameterization = .velocity
        default: throw .unsupported("prediction_type '\(predictionType)' (use epsilon, sample or v_prediction)")
        }
        let schedule: NoiseSchedule
        do { schedule = try NoiseSchedule(kind, timestepCount: numTrainTimesteps) } catch { throw .diffusion(error) }
        return DDPM(schedule: schedule, parameterization: parameterization, variance: variance, clipDenoised: clipSample)
    }
}
