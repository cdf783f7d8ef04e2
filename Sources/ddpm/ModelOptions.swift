import ArgumentParser
import Diffusion
import Pipelines

extension VarianceOverride: ExpressibleByArgument {}

/// The model and reverse-process options that `sample`, `evaluate`, `interpolate` and
/// `reconstruct` share; what they mean is the library's (`SamplingOverrides`).
struct ModelOptions: ParsableArguments {
    @Option(
        help:
            "A diffusers model directory or a swift-ddpm checkpoint (default: the shipped Fashion-MNIST model; evaluate: the model to sample from or bound)."
    )
    var model: String?

    @Flag(help: "Use the raw weights of a checkpoint instead of its EMA.")
    var raw = false

    @Option(help: "Override the reverse variance (fixed-small: β̃; fixed-large: β).")
    var variance: VarianceOverride?

    @Flag(inversion: .prefixedNo, help: "Override clipping of predicted x0 to [-1, 1] (ddpm and ddim).")
    var clipSample: Bool?

    @Option(help: "Override the scheduler config's timestep spacing.")
    var spacing: TimestepSpacing?

    @Flag(
        help:
            "DDIM with clipping: recompute the noise from the clipped x0 (diffusers' use_clipped_model_output=True; default: keep it, as DDIMPipeline does)."
    )
    var recomputeNoiseAfterClipping = false

    /// These options (and `--scheduler-config` of `sampling`) as the library's overrides.
    func overrides(_ sampling: SamplerOptions? = nil) -> SamplingOverrides {
        SamplingOverrides(
            schedulerConfig: sampling?.schedulerConfig, variance: variance, clipSample: clipSample, spacing: spacing,
            recomputeNoiseAfterClipping: recomputeNoiseAfterClipping)
    }

    /// The model with its scheduler configuration (`--scheduler-config` and the overrides applied).
    func load(_ sampling: SamplerOptions? = nil) throws(PipelineError) -> LoadedModel {
        try LoadedModel(model, raw: raw, overrides: overrides(sampling))
    }

    /// The sampling pipeline of `loaded` with this command's overrides.
    func pipeline(for loaded: LoadedModel) throws(PipelineError) -> SamplingPipeline {
        try loaded.pipeline(overrides())
    }
}
