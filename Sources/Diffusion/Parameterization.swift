import Tensors

/// What the network's output means (diffusers' `prediction_type`).
public enum Parameterization: Sendable, Equatable {
    /// ε_θ(x_t, t): the noise that was added (Ho et al. §3.2, eq. 11; the paper's choice).
    case noise
    /// x̂₀ directly (the paper's "μ̃ prediction" ablation predicts the mean; this predicts x₀).
    case x0
    /// v = √ᾱ_t·ε − √(1 − ᾱ_t)·x₀ (Salimans & Ho 2022, "progressive distillation", §4).
    case velocity
}

// Conversions between ε, x₀ and v for a given x_t. Each takes paper timesteps `t`, one per sample;
// tensors are `[N, …]` and coefficients broadcast per sample.
extension NoiseSchedule {
    /// x̂₀ = √(1/ᾱ_t)·x_t − √(1/ᾱ_t − 1)·ε (eq. 15, the inverse of eq. 4).
    public func predictedX0(fromNoise noise: Tensor, xt: Tensor, at t: [Int]) -> Tensor {
        coefficient(sqrtRecipAlphaBar, at: t, like: xt) * xt
            - coefficient(sqrtRecipAlphaBarMinusOne, at: t, like: xt) * noise
    }

    /// ε = (x_t − √ᾱ_t·x₀) / √(1 − ᾱ_t) (eq. 4 solved for ε).
    public func noise(fromX0 x0: Tensor, xt: Tensor, at t: [Int]) -> Tensor {
        (xt - coefficient(sqrtAlphaBar, at: t, like: xt) * x0) / coefficient(sqrtOneMinusAlphaBar, at: t, like: xt)
    }

    /// v = √ᾱ_t·ε − √(1 − ᾱ_t)·x₀.
    public func velocity(x0: Tensor, noise: Tensor, at t: [Int]) -> Tensor {
        coefficient(sqrtAlphaBar, at: t, like: x0) * noise - coefficient(sqrtOneMinusAlphaBar, at: t, like: x0) * x0
    }

    /// x₀ = √ᾱ_t·x_t − √(1 − ᾱ_t)·v.
    public func predictedX0(fromVelocity v: Tensor, xt: Tensor, at t: [Int]) -> Tensor {
        coefficient(sqrtAlphaBar, at: t, like: xt) * xt - coefficient(sqrtOneMinusAlphaBar, at: t, like: xt) * v
    }

    /// ε = √(1 − ᾱ_t)·x_t + √ᾱ_t·v.
    public func noise(fromVelocity v: Tensor, xt: Tensor, at t: [Int]) -> Tensor {
        coefficient(sqrtOneMinusAlphaBar, at: t, like: xt) * xt + coefficient(sqrtAlphaBar, at: t, like: xt) * v
    }
}

extension Parameterization {
    /// The (ε̂, x̂₀) pair that a network output stands for at x_t.
    public func noiseAndX0(
        from output: Tensor, xt: Tensor, at t: [Int], schedule: NoiseSchedule
    ) -> (noise: Tensor, x0: Tensor) {
        switch self {
        case .noise:
            return (output, schedule.predictedX0(fromNoise: output, xt: xt, at: t))
        case .x0:
            return (schedule.noise(fromX0: output, xt: xt, at: t), output)
        case .velocity:
            return (
                schedule.noise(fromVelocity: output, xt: xt, at: t),
                schedule.predictedX0(fromVelocity: output, xt: xt, at: t)
            )
        }
    }

    /// The regression target of the network for x₀ and the noise ε that made x_t (Algorithm 1).
    public func target(x0: Tensor, noise: Tensor, at t: [Int], schedule: NoiseSchedule) -> Tensor {
        switch self {
        case .noise: noise
        case .x0: x0
        case .velocity: schedule.velocity(x0: x0, noise: noise, at: t)
        }
    }
}
