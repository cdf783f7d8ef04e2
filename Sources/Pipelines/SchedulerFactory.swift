import Diffusion

/// Builds the `Scheduler` a `Sampler` means for a model, the way diffusers' `from_config` builds a
/// scheduler class from a model's scheduler_config.json: the keys the class shares with the file
/// carry over (timestep_spacing, steps_offset, prediction_type, …), the rest take the class's
/// defaults, and the sampler's explicit options (`--steps`, `--order`, `--karras`, `--spacing`,
/// `--eta`) override both. The noise schedule and the prediction type are always the model's.
extension SamplingPipeline {
    public func scheduler(for sampler: Sampler, startingAt t: Int? = nil) throws(PipelineError) -> any Scheduler {
        try sampler.validate()
        let T = diffusion.schedule.timestepCount
        let steps = sampler.steps ?? sampler.kind.defaultSteps(timestepCount: T)
        guard steps <= T else { throw .invalid("--steps \(steps) is more than the model's T = \(T)") }
        if let t, !(1...T).contains(t) { throw .invalid("cannot start sampling at t = \(t); the model's chain has t = 1…\(T)") }
        var options = configuration.options
        if let spacing { options["timestep_spacing"] = .string(spacing.rawValue) }
        let reader = ConfigReader(options: options, className: sampler.kind.className)
        do {
            switch sampler.kind {
            case .ddpm:
                let spacing = try reader.spacing(default: .leading)
                // All T steps of Algorithm 2, or the chain respaced to `steps` (Nichol & Dhariwal §4).
                guard steps != T else { return AncestralSampler(diffusion, startingAt: t) }
                var visited = try spacing.timesteps(steps: steps, timestepCount: T)
                if let t { visited = [t] + visited.filter { $0 < t } }
                return AncestralSampler(try diffusion.respaced(timesteps: visited))
            case .ddim:
                let spacing = try reader.spacing(default: .leading)
                let ddim = try DDIM(
                    diffusion, steps: steps, spacing: spacing, eta: sampler.eta ?? 0, setAlphaToOne: setAlphaToOne,
                    recomputeNoiseAfterClipping: recomputeNoiseAfterClipping)
                return try t.map { t throws(DiffusionError) in try ddim.startingAt(t) } ?? ddim
            default:
                guard t == nil else {
                    throw PipelineError.unsupported(
                        "starting from an intermediate t with \(sampler.kind.rawValue) (interpolate and reconstruct use ddpm or ddim)")
                }
                return try solver(sampler.kind, steps: steps, order: sampler.order, karras: sampler.karras, reader: reader)
            }
        } catch let e as DiffusionError { throw .diffusion(e) } catch let e as PipelineError { throw e } catch {
            throw .invalid("\(error)")
        }
    }
}
