import Diffusion
import Models
import Tensors

extension UNet {
    /// This network as ε_θ for the samplers. `Diffusion` already hands it the 0-based model
    /// timestep (`DDPM.modelTimesteps`), the index google/ddpm-* checkpoints were trained with.
    /// `onCall` runs after each evaluation (progress reporting). Inference only: dropout off.
    ///
    /// A class-conditional model predicts here without a class: ε̂(x_t, ∅) with its null label
    /// (the unconditional model that class dropout trained), e.g. for bits/dim; check
    /// `configuration.checkUnconditionalPrediction()` first, as a model without a null label has none.
    public func noisePredictor(onCall: @escaping () -> Void = {}) -> NoisePredictor {
        var unused = SeededGenerator(seed: 0)  // dropout is off, so no random draws happen
        let null = configuration.takesClassLabels ? configuration.nullClassLabel : nil
        precondition(
            null != nil || !configuration.isClassConditional,
            "[UNet] a class-conditional model without a null label has no unconditional prediction")
        return { xt, modelTimesteps in
            defer { onCall() }
            let labels = null.map { Array(repeating: $0, count: xt.shape[0]) }
            return withoutGradients { self(xt, timesteps: modelTimesteps, classLabels: labels, training: false, rng: &unused) }
        }
    }
}

extension UNetConfiguration {
    /// Refuses, with the reason, a class-conditional model that cannot predict without a class
    /// (no null label: trained without class dropout, or made elsewhere).
    public func checkUnconditionalPrediction() throws(PipelineError) {
        guard isClassConditional, !(takesClassLabels && nullClassLabel != nil) else { return }
        throw .classCondition(
            "this class-conditional model has no null label (null_class_label in config.json), so it cannot predict without a class; this command needs an unconditional prediction"
        )
    }
}
