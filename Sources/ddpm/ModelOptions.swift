import ArgumentParser
import Diffusion
import Pipelines

/// The model and reverse-process options that `sample` and `interpolate` share.
struct ModelOptions: ParsableArguments {
    @Option(help: "A diffusers model directory or a swift-ddpm checkpoint (default: the shipped Fashion-MNIST model).")
    var model: String?

    @Flag(help: "Use the raw weights of a checkpoint instead of its EMA.")
    var raw = false

    @Option(help: "Override the reverse variance: fixed-small (β̃) or fixed-large (β).")
    var variance: VarianceKind?

    @Option(help: "Override clipping of predicted x0 to [-1, 1] (true/false).")
    var clipSample: Bool?

    @Option(help: "Timestep spacing for respaced sampling: leading, linspace or trailing.")
    var spacing: String = "leading"

    @Flag(help: "DDIM with clipping: recompute the noise from the clipped x0 (diffusers' use_clipped_model_output=True; default: keep it, as DDIMPipeline does).")
    var recomputeNoiseAfterClipping = false

    enum VarianceKind: String, ExpressibleByArgument { case fixedSmall = "fixed-small", fixedLarge = "fixed-large" }

    func validate() throws {
        guard TimestepSpacing(rawValue: spacing) != nil else {
            throw ValidationError("--spacing must be leading, linspace or trailing (got '\(spacing)').")
        }
    }

    /// The sampling pipeline: the model, its scheduler_config.json (or the paper's settings) and the overrides.
    func pipeline() throws -> (pipeline: SamplingPipeline, scheduler: SchedulerConfiguration, source: String) {
        let (unet, loaded, source) = try loadModel(model, raw: raw)
        var scheduler = loaded
        if let variance { scheduler.varianceType = variance == .fixedSmall ? "fixed_small" : "fixed_large" }
        if let clipSample { scheduler.clipSample = clipSample }
        var pipeline = SamplingPipeline(unet: unet, diffusion: try scheduler.diffusion())
        pipeline.spacing = TimestepSpacing(rawValue: spacing)!
        pipeline.setAlphaToOne = scheduler.setAlphaToOne
        pipeline.recomputeNoiseAfterClipping = recomputeNoiseAfterClipping
        return (pipeline, scheduler, source)
    }
}
