import Diffusion
import Models
import Tensors

extension UNet {
    /// This network as ε_θ for the samplers. `Diffusion` already hands it the 0-based model
    /// timestep (`DDPM.modelTimesteps`), the index google/ddpm-* checkpoints were trained with.
    /// `onCall` runs after each evaluation (progress reporting). Inference only: dropout off.
    public func noisePredictor(onCall: @escaping () -> Void = {}) -> NoisePredictor {
        var unused = SeededGenerator(seed: 0)  // dropout is off, so no random draws happen
        return { xt, modelTimesteps in
            defer { onCall() }
            return withoutGradients { self(xt, timesteps: modelTimesteps, training: false, rng: &unused) }
        }
    }
}
