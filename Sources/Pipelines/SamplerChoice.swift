import Diffusion
import Foundation

/// What a command samples for. Only the default differs, never the draws: with the same sampler
/// and seed, `ddpm sample` and `ddpm evaluate --model` draw the same images (`sampleBatches`).
public enum SamplingPurpose: Sendable {
    /// Looking at samples: a DDPMScheduler config means DDIM-50, 20× fewer network calls than T.
    case preview
    /// FID/IS: a DDPMScheduler config means Algorithm 2 on all T steps, as the paper's numbers.
    case evaluation

    /// The sampler a DDPMScheduler config means for this purpose.
    public var ddpmSchedulerMeans: SamplerKind { self == .preview ? .ddim : .ddpm }
}

extension Sampler {
    /// The sampler a command's options choose for `model`: `kind` if given, else the one its
    /// scheduler config means for `purpose`; the other options override the solver's defaults
    /// and are refused, naming the samplers that take them, where they do not apply.
    public init(
        choosing kind: SamplerKind?, steps: Int? = nil, eta: Double? = nil, order: Int? = nil, karras: Bool? = nil,
        for model: LoadedModel, purpose: SamplingPurpose
    ) throws(PipelineError) {
        let chosen: SamplerKind
        if let kind {
            chosen = kind
        } else {
            chosen = try SamplerKind(configuration: model.scheduler, ddpmSchedulerMeans: purpose.ddpmSchedulerMeans)
        }
        self.init(chosen, steps: steps, eta: eta, order: order, karras: karras)
        try validate()
    }

    /// The sampler `interpolate` and `reconstruct` decode x_t with: `kind` on a chain of `steps`
    /// (nil: its default), with η only where it applies (DDIM). Refuses a chain longer than the
    /// model's T and a start `t` beyond it, naming the options (`--sampling-steps`, `-t`).
    public static func decodingLatent(
        _ kind: SamplerKind, steps: Int?, eta: Double, startingAt t: Int? = nil,
        timestepCount T: Int
    ) throws(PipelineError) -> Sampler {
        if let t, t > T { throw .invalid("-t \(t) is more than the model's T = \(T).") }
        if let steps, steps > T { throw .invalid("--sampling-steps \(steps) is more than the model's T = \(T).") }
        return Sampler(kind, steps: steps, eta: kind.takesEta ? eta : nil)
    }
}

/// `--variance`: the reverse-process variance a model's scheduler config can be overridden with.
public enum VarianceOverride: String, CaseIterable, Sendable {
    /// σ² = β̃ (diffusers' fixed_small).
    case fixedSmall = "fixed-small"
    /// σ² = β (fixed_large; the paper's CIFAR-10 choice).
    case fixedLarge = "fixed-large"

    /// The scheduler config's `variance_type` value.
    public var schedulerValue: String { self == .fixedSmall ? "fixed_small" : "fixed_large" }
}

/// The overrides of a model's sampling settings that the commands share; nil or false keeps the model's.
public struct SamplingOverrides: Sendable {
    /// A diffusers scheduler_config.json to sample with instead of the model's.
    public var schedulerConfig: String?
    public var variance: VarianceOverride?
    /// Clipping of the predicted x₀ to [−1, 1].
    public var clipSample: Bool?
    /// The scheduler config's `timestep_spacing`.
    public var spacing: TimestepSpacing?
    /// DDIM with clipping: recompute ε̂ from the clipped x̂₀ (diffusers' `use_clipped_model_output`).
    public var recomputeNoiseAfterClipping = false

    public init(
        schedulerConfig: String? = nil, variance: VarianceOverride? = nil, clipSample: Bool? = nil,
        spacing: TimestepSpacing? = nil, recomputeNoiseAfterClipping: Bool = false
    ) {
        (self.schedulerConfig, self.variance, self.clipSample) = (schedulerConfig, variance, clipSample)
        (self.spacing, self.recomputeNoiseAfterClipping) = (spacing, recomputeNoiseAfterClipping)
    }
}

extension LoadedModel {
    /// Loads `path` (nil: the shipped model) with `overrides` applied: the scheduler config
    /// first (it replaces the model's), then the variance and the clipping on top of it.
    public init(_ path: String?, raw: Bool = false, overrides: SamplingOverrides) throws(PipelineError) {
        try self.init(path, raw: raw)
        if let file = overrides.schedulerConfig {
            try useScheduler(try SchedulerConfiguration.read(contentsOf: URL(fileURLWithPath: file)))
        }
        if let variance = overrides.variance { scheduler.varianceType = variance.schedulerValue }
        if let clipSample = overrides.clipSample { scheduler.clipSample = clipSample }
    }

    /// The sampling pipeline of this model with the overrides that act at sampling time.
    public func pipeline(_ overrides: SamplingOverrides) throws(PipelineError) -> SamplingPipeline {
        var pipeline = try pipeline()
        pipeline.spacing = overrides.spacing
        pipeline.recomputeNoiseAfterClipping = overrides.recomputeNoiseAfterClipping
        return pipeline
    }
}
