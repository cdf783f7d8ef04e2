import ArgumentParser
import Diffusion
import Pipelines

/// The model and reverse-process options that `sample`, `evaluate` and `interpolate` share.
struct ModelOptions: ParsableArguments {
    @Option(help: "A diffusers model directory or a swift-ddpm checkpoint (default: the shipped Fashion-MNIST model).")
    var model: String?

    @Flag(help: "Use the raw weights of a checkpoint instead of its EMA.")
    var raw = false

    @Option(help: "Override the reverse variance: fixed-small (β̃) or fixed-large (β).")
    var variance: VarianceKind?

    @Option(help: "Override clipping of predicted x0 to [-1, 1] (true/false; ddpm and ddim).")
    var clipSample: Bool?

    @Option(help: "Override the scheduler config's timestep spacing: leading, linspace or trailing.")
    var spacing: TimestepSpacing?

    @Flag(help: "DDIM with clipping: recompute the noise from the clipped x0 (diffusers' use_clipped_model_output=True; default: keep it, as DDIMPipeline does).")
    var recomputeNoiseAfterClipping = false

    enum VarianceKind: String, ExpressibleByArgument { case fixedSmall = "fixed-small", fixedLarge = "fixed-large" }

    /// The model with its scheduler configuration (`--scheduler-config` and the overrides applied).
    func load(_ sampling: SamplerOptions? = nil) throws -> LoadedModel {
        var loaded = try LoadedModel(model, raw: raw)
        if let sampling { loaded = try sampling.applied(to: loaded) }
        if let variance { loaded.scheduler.varianceType = variance == .fixedSmall ? "fixed_small" : "fixed_large" }
        if let clipSample { loaded.scheduler.clipSample = clipSample }
        return loaded
    }

    /// The sampling pipeline of `loaded` with this command's overrides.
    func pipeline(for loaded: LoadedModel) throws -> SamplingPipeline {
        var pipeline = try loaded.pipeline()
        pipeline.spacing = spacing
        pipeline.recomputeNoiseAfterClipping = recomputeNoiseAfterClipping
        return pipeline
    }
}
