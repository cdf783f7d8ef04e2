import Foundation
import Tensors

/// DEIS, the diffusion exponential integrator sampler of Zhang & Chen 2023 (arXiv:2204.13902), in
/// its multistep form tAB-DEIS as diffusers' `DEISMultistepScheduler` (`algorithm_type` deis,
/// `solver_type` logrho). With ρ = σ/α (the variance-exploding noise level, ρ = e^{−λ}) the
/// probability-flow ODE is dx̃/dρ = ε̂ for x̃ = x/α, so the exact step is
///
///     x_t/α_t = x_s/α_s + ∫_{ρ_s}^{ρ_t} ε̂(ρ) dρ
///
/// and tAB-DEIS of order r integrates the Lagrange polynomial through the last r outputs
/// ε̂_{s₀}, ε̂_{s₁}, … as a polynomial in log ρ (diffusers' "logrho" basis):
///
///     order 1:  x_t = (α_t/α_s) x_s − σ_t (e^h − 1) ε̂_{s₀}      (DDIM; h = λ_t − λ_s)
///     order 2:  x_t = α_t (x_s/α_s + c₀ ε̂_{s₀} + c₁ ε̂_{s₁}),   c_k = ∫ ℓ_k(log ρ) dρ over [ρ_s, ρ_t]
///     order 3:  the same with three Lagrange bases.
///
/// ε̂ is always recomputed from x̂₀ (after optional dynamic thresholding), as diffusers does. The
/// first steps warm up from order 1; with `lower_order_final` and fewer than 15 steps the last two
/// steps use orders 1 and 2. The coefficient integrals are evaluated in Float64: diffusers' Float32
/// evaluation cancels badly for order 3 with many steps (its error stops falling past ~40 steps).
/// Not supported: exponential/beta/flow σ, dynamic shifting.
public struct DEISMultistep: Scheduler, Sendable {
    /// `algorithm_type`: only `deis` (diffusers maps `dpmsolver`/`dpmsolver++` to it).
    public enum AlgorithmType: String, Sendable, Equatable { case deis }
    /// `solver_type`: only `logrho` (diffusers maps `midpoint`, `heun`, `bh1`, `bh2` to it).
    public enum SolverType: String, Sendable, Equatable { case logRho = "logrho" }

    public struct Configuration: Sendable, Equatable {
        /// `solver_order`: 1...3 (2 for guided sampling, 3 unconditional).
        public var solverOrder = 2
        /// `prediction_type`: `epsilon`, `sample` or `v_prediction`.
        public var prediction: Parameterization = .noise
        /// `thresholding`: dynamic thresholding of x̂₀.
        public var thresholding = false
        /// `dynamic_thresholding_ratio`
        public var dynamicThresholdingRatio = 0.995
        /// `sample_max_value`
        public var sampleMaxValue = 1.0
        /// `algorithm_type`
        public var algorithmType: AlgorithmType = .deis
        /// `solver_type`
        public var solverType: SolverType = .logRho
        /// `lower_order_final`: orders 1 and 2 for the last two steps when there are fewer than 15.
        public var lowerOrderFinal = true
        /// `use_karras_sigmas`: Karras et al. noise levels; the last step then repeats σ_min (a no-op).
        public var useKarrasSigmas = false
        /// `timestep_spacing`
        public var timestepSpacing: TimestepSpacing = .linspace
        /// `steps_offset` (leading spacing only)
        public var stepsOffset = 0

        public init() {}
    }

    public let configuration: Configuration
    public let modelTimesteps: [Double]
    /// σ before each step and after the last (`scheduler.sigmas`, Float32 values).
    public let sigmas: [Double]
    /// ε̂ of the last `order` steps, newest last.
    var outputs: [Tensor] = []
    var lowerOrderCount = 0

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let c = configuration
        let name = "DEISMultistepScheduler"
        let count = schedule.timestepCount
        guard steps >= 1, steps <= count else { throw .invalidSamplingStepCount(requested: steps, timestepCount: count) }
        guard (1...3).contains(c.solverOrder) else {
            throw .invalidSchedulerOption(scheduler: name, option: "solver_order", value: "\(c.solverOrder)", accepted: "use 1, 2 or 3")
        }
        let table = DiscreteSigmas(schedule)
        var levels: [Double]
        if c.useKarrasSigmas {
            levels = DiscreteSigmas.karras(count: steps, minimum: table.values[0], maximum: table.values[count - 1])
            modelTimesteps = levels.map { table.timestep(forSigma: $0).rounded(.toNearestOrEven) }
            levels.append(levels[steps - 1])
        } else {
            let grid = SolverTimesteps.grid(c.timestepSpacing, steps: steps, trainTimesteps: count, stepsOffset: c.stepsOffset)
            guard grid.allSatisfy({ (0..<count).contains($0) }) else {
                throw .invalidSchedulerOption(
                    scheduler: name, option: "steps_offset", value: "\(c.stepsOffset)",
                    accepted: "timesteps \(grid.prefix(3))… must stay within 0..<\(count)")
            }
            levels = grid.map { table.values[$0] } + [table.values[0]]
            modelTimesteps = grid.map(Double.init)
        }
        sigmas = levels.map { Double(Float($0)) }
        self.configuration = c
    }

    /// ∫ ℓ(log ρ) dρ for the Lagrange basis of node b over nodes (b, c), as an antiderivative at t.
    static func secondOrderIntegral(_ t: Double, _ b: Double, _ c: Double) -> Double {
        t * (-log(c) + log(t) - 1) / (log(b) - log(c))
    }

    /// The same for the basis of node b over nodes (b, c, d).
    static func thirdOrderIntegral(_ t: Double, _ b: Double, _ c: Double, _ d: Double) -> Double {
        let (lt, lb, lc, ld) = (log(t), log(b), log(c), log(d))
        return t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2) / ((lb - lc) * (lb - ld))
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let c = configuration
        let n = modelTimesteps.count
        let (alphaS, sigmaS) = DiscreteSigmas.alphaSigma(sigmas[index])
        var x0 = c.prediction.predictedX0(from: modelOutput, sample: sample, alpha: alphaS, sigma: sigmaS)
        if c.thresholding { x0 = dynamicallyThresholded(x0, ratio: c.dynamicThresholdingRatio, maximum: c.sampleMaxValue) }
        let epsilon = Parameterization.x0.predictedNoise(from: x0, sample: sample, alpha: alphaS, sigma: sigmaS)
        outputs.append(epsilon)
        if outputs.count > c.solverOrder { outputs.removeFirst() }

        let shortRun = c.lowerOrderFinal && n < 15
        var order = min(c.solverOrder, lowerOrderCount + 1)
        if shortRun && index == n - 1 { order = 1 }
        if shortRun && index == n - 2 { order = min(order, 2) }
        lowerOrderCount = min(lowerOrderCount + 1, c.solverOrder)

        let (alphaT, sigmaT) = DiscreteSigmas.alphaSigma(sigmas[index + 1])
        let previous: Tensor
        if order == 1 {
            let h = DiscreteSigmas.lambda(sigmas[index + 1]) - DiscreteSigmas.lambda(sigmas[index])
            previous = Float(alphaT / alphaS) * sample - Float(sigmaT * expm1(h)) * epsilon
        } else {
            // ρ = σ/α at t, s₀ (this step), s₁, s₂ (earlier steps).
            let sigmas = self.sigmas
            let rho = { (i: Int) -> Double in
                let (a, s) = DiscreteSigmas.alphaSigma(sigmas[i])
                return s / a
            }
            let (rt, r0, r1) = (rho(index + 1), rho(index), rho(index - 1))
            let (m0, m1) = (outputs[outputs.count - 1], outputs[outputs.count - 2])
            var sum: Tensor
            if order == 2 {
                let f = Self.secondOrderIntegral
                let c0 = f(rt, r0, r1) - f(r0, r0, r1)
                let c1 = f(rt, r1, r0) - f(r0, r1, r0)
                sum = sample / Float(alphaS) + Float(c0) * m0 + Float(c1) * m1
            } else {
                let f = Self.thirdOrderIntegral
                let r2 = rho(index - 2)
                let m2 = outputs[outputs.count - 3]
                let c0 = f(rt, r0, r1, r2) - f(r0, r0, r1, r2)
                let c1 = f(rt, r1, r2, r0) - f(r0, r1, r2, r0)
                let c2 = f(rt, r2, r0, r1) - f(r0, r2, r0, r1)
                sum = sample / Float(alphaS) + Float(c0) * m0 + Float(c1) * m1 + Float(c2) * m2
            }
            previous = Float(alphaT) * sum
        }
        return SchedulerStep(previous: previous, predictedX0: x0)
    }
}
