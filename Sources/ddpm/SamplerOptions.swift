import ArgumentParser
import Diffusion
import Pipelines

extension SamplerKind: ExpressibleByArgument {}
extension TimestepSpacing: ExpressibleByArgument {}

/// The sampler options that `sample` and `evaluate --model` share; the library decides what they mean.
struct SamplerOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The sampler (default: the scheduler config's class; for a DDPMScheduler config, ddim for sample and ddpm for evaluate).",
            valueName: SamplerKind.allCases.map(\.rawValue).joined(separator: "|")))
    var sampler: SamplerKind?

    @Option(
        help:
            "Sampling steps, diffusers' num_inference_steps (default: T for ddpm, 50 for ddim, 20 for the other solvers; heun makes 2N-1 network evaluations)."
    )
    var steps: Int?

    @Option(help: "DDIM stochasticity η (0 = deterministic, 1 = DDPM-like); ddim only.")
    var eta: Double?

    @Option(help: "Solver order 1-3 (deis, dpm-solver++, dpm-solver++-sde, dpm-solver++-singlestep, unipc).")
    var order: Int?

    @Flag(inversion: .prefixedNo, help: "Karras et al. noise levels (use_karras_sigmas; the σ-based solvers).")
    var karras: Bool?

    @Option(help: "A diffusers scheduler_config.json to sample with instead of the model's (reproduces a diffusers setup exactly).")
    var schedulerConfig: String?

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1 (got \(steps)).") }
        if let eta, !(eta >= 0 && eta.isFinite) { throw ValidationError("--eta must be a finite number >= 0 (got \(eta)).") }
        if let order, !(1...3).contains(order) { throw ValidationError("--order must be 1, 2 or 3 (got \(order)).") }
    }

    /// The sampler these options choose for `model` (the library's `Sampler(choosing:…)`).
    func sampler(for model: LoadedModel, purpose: SamplingPurpose) throws(PipelineError) -> Sampler {
        try Sampler(choosing: sampler, steps: steps, eta: eta, order: order, karras: karras, for: model, purpose: purpose)
    }
}
