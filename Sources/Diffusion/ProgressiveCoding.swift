import Foundation
import Tensors

// Progressive lossy compression (Ho et al. 2020 §4.3, Algorithms 3 and 4): the sender transmits
// x_T ~ q(x_T | x₀), then x_{t−1} ~ q(x_{t−1} | x_t, x₀) coded with p_θ(x_{t−1} | x_t) for
// t = T, …, 1, and finally x₀ with the decoder p_θ(x₀ | x₁). Each step costs its bound term
// L_{t−1} = KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t)) in bits, and the receiver holding x_t
// can already show x̂₀(x_t) (eq. 15).

/// One image sent through the progressive code: the bound terms and distortions along one chain,
/// and x_t with x̂₀ at the recorded timesteps (the paper's Fig. 6, Table 4 for one image).
public struct ProgressiveCode: Sendable {
    /// The bits of each step along the chain actually sent, in the layout of `LikelihoodBound`
    /// (its `terms[t − 1]` and `distortion[t − 1]` are those of the x_t on this chain).
    public let bound: LikelihoodBound
    /// x_t as the receiver has it and x̂₀(x_t), at the recorded paper timesteps, T first.
    public let frames: [TrajectoryFrame]
}

extension DDPM {
    /// Runs the progressive code on `x0` (`[N, C, H, W]` in [−1, 1] on the 8-bit grid): x_T from
    /// q(x_T | x₀), then x_{t−1} ~ q(x_{t−1} | x_t, x₀) = N(μ̃_t(x₀, x_t), β̃_t I) (eqs. 6, 7), the
    /// draws the receiver decodes (Algorithm 4). At each t the network predicts x̂₀(x_t); the term
    /// L_{t−1} (the decoder NLL at t = 1, eq. 13) and the distortion ‖x₀ − x̂₀‖²/D are those of
    /// `likelihoodBound`, but on this one chain instead of a fresh x_t per timestep.
    /// T network evaluations; `onTimestep(t)` runs after each.
    public func progressiveCode(
        _ x0: Tensor, using rng: inout SeededGenerator, recordingAt: Set<Int> = [],
        predictNoise: NoisePredictor, onTimestep: (Int) -> Void = { _ in }
    ) -> ProgressiveCode {
        withoutGradients {
            let n = x0.shape[0]
            let T = schedule.timestepCount
            let prior = priorTerm(x0).scalars.map(Double.init)
            var total = prior
            var terms = [Double](repeating: 0, count: T)
            var distortion = terms
            var frames: [TrajectoryFrame] = []
            // 1. send x_T ~ q(x_T | x₀) (eq. 4), costing L_T
            var xt = noised(x0, at: [Int](repeating: T, count: n), noise: .randomNormal(x0.shape, using: &rng))
            for t in stride(from: T, through: 1, by: -1) {
                let batch = [Int](repeating: t, count: n)
                // 2. the receiver's x̂₀(x_t) and p_θ(x_{t−1} | x_t)
                let p = reverseDistribution(xt, at: batch, modelOutput: predict(predictNoise, xt, at: batch))
                let values = variationalBoundTerm(x0, xt: xt, at: batch, reverse: p).scalars.map(Double.init)
                for i in 0..<n { total[i] += values[i] }
                terms[t - 1] = values.reduce(0, +) / Double(n)
                distortion[t - 1] = Double((x0 - p.predictedX0).squared().mean().scalar)
                let original = originalTimesteps?[t - 1] ?? t
                if recordingAt.contains(original) { frames.append(TrajectoryFrame(t: original, xt: xt, predictedX0: p.predictedX0)) }
                // 3. send x_{t−1} ~ q(x_{t−1} | x_t, x₀) (eqs. 6, 7); at t = 1, x₀ itself (eq. 13)
                if t > 1 {
                    let q = posterior(x0: x0, xt: xt, at: batch)
                    let sigma = schedule.coefficient({ self.schedule.betaTilde($0).squareRoot() }, at: batch, like: x0)
                    xt = q.mean + sigma * Tensor.randomNormal(x0.shape, using: &rng)
                }
                onTimestep(t)
            }
            return ProgressiveCode(
                bound: LikelihoodBound(total: total, prior: prior, terms: terms, distortion: distortion),
                frames: frames)
        }
    }
}
