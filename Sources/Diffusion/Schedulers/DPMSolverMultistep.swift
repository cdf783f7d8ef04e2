import Foundation
import Tensors

/// Multistep DPM-Solver and DPM-Solver++ (diffusers' `DPMSolverMultistepScheduler`, 0.42).
///
/// Lu, Zhou, Bao, Chen, Li & Zhu, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
/// Probabilistic Models", arXiv:2211.01095 (2022), and "DPM-Solver", arXiv:2206.00927 (2022).
///
/// With x_t = α_t x₀ + σ_t ε, λ = log α − log σ and h = λ_t − λ_s, each step is an exponential
/// integrator of the probability-flow ODE written with the data prediction x̂₀ (++), from the
/// exact solution x_t = (σ_t/σ_s) x_s + σ_t ∫ e^λ x̂₀ dλ:
///
///     order 1   x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) D₀                              (= DDIM)
///     order 2   midpoint: − ½ α_t (e^{−h} − 1) D₁;  heun: + α_t ((e^{−h} − 1)/h + 1) D₁
///               (DPM-Solver++(2M), Algorithm 2)
///     order 3   + α_t ((e^{−h} − 1)/h + 1) D₁ − α_t ((e^{−h} − 1 + h)/h² − ½) D₂
///
/// with D₀ = x̂₀(s₀), r₀ = h₀/h, D₁ = (D₀ − x̂₀(s₁))/r₀; for order 3, D₁ and D₂ are diffusers'
/// divided differences (D₂ ≈ h² x̂₀''/2, half of what the h³ term needs, so order 3 converges at
/// rate 2; see DPMSolverTests). The first steps use orders 1, 2 while history builds up. The ε
/// form (`dpmsolver`, DPM-Solver's multistep variant) uses α_t/α_s, σ_t (e^{h} − 1) and ε̂. The
/// SDE variants (`sde-dpmsolver(++)`) integrate the reverse SDE the same way: ++ scales x_s by
/// e^{−h}, doubles h in the coefficients and adds σ_t √(1 − e^{−2h}) z; the ε form doubles the ε̂
/// terms and adds σ_t √(e^{2h} − 1) z. Noise levels σ (variance-exploding, diffusers'
/// `scheduler.sigmas`) are kept in Float32 as diffusers stores them; the coefficients are Float64.
public struct DPMSolverMultistep: Scheduler, Sendable {
    public enum AlgorithmType: Sendable, Equatable {
        /// `dpmsolver++` (data prediction, the default).
        case dpmSolverPlusPlus
        /// `sde-dpmsolver++`.
        case sdeDPMSolverPlusPlus
        /// `dpmsolver` (noise prediction; deprecated in diffusers).
        case dpmSolver
        /// `sde-dpmsolver` (deprecated in diffusers; orders 1 and 2 only).
        case sdeDPMSolver

        var usesDataPrediction: Bool { self == .dpmSolverPlusPlus || self == .sdeDPMSolverPlusPlus }
        var isStochastic: Bool { self == .sdeDPMSolver || self == .sdeDPMSolverPlusPlus }
    }

    /// The second-order update's D₁ coefficient (`solver_type`).
    public enum SolverType: Sendable, Equatable { case midpoint, heun }

    /// The noise level after the last step (`final_sigmas_type`).
    public enum FinalSigma: Sendable, Equatable {
        /// σ = 0: the last step returns x̂₀ (`"zero"`).
        case zero
        /// σ of model timestep 0 (`"sigma_min"`).
        case sigmaMin
    }

    public struct Configuration: Sendable, Equatable {
        /// `solver_order` (1, 2 or 3).
        public var solverOrder = 2
        /// `prediction_type`.
        public var prediction: Parameterization = .noise
        /// `thresholding` (dynamic thresholding of x̂₀, Saharia et al. 2022).
        public var thresholding = false
        /// `dynamic_thresholding_ratio`.
        public var dynamicThresholdingRatio = 0.995
        /// `sample_max_value`.
        public var sampleMaxValue = 1.0
        /// `algorithm_type`.
        public var algorithmType: AlgorithmType = .dpmSolverPlusPlus
        /// `solver_type`.
        public var solverType: SolverType = .midpoint
        /// `lower_order_final`: first/second order for the last two steps when there are fewer than 15.
        public var lowerOrderFinal = true
        /// `euler_at_final`: first order for the last step.
        public var eulerAtFinal = false
        /// `use_karras_sigmas` (takes precedence over `useLuLambdas`, as in diffusers).
        public var useKarrasSigmas = false
        /// `use_lu_lambdas`: noise levels evenly spaced in λ.
        public var useLuLambdas = false
        /// `final_sigmas_type`. With Karras or Lu levels (which end at σ_min) `.sigmaMin` makes the
        /// last step zero-length: it returns its input (diffusers returns NaN at orders 2 (heun) and 3).
        public var finalSigma: FinalSigma = .zero
        /// `lambda_min_clipped`: timesteps whose λ is below this are not used.
        public var lambdaMinClipped = -Double.infinity
        /// `timestep_spacing`.
        public var timestepSpacing: TimestepSpacing = .linspace
        /// `steps_offset` (leading spacing only).
        public var stepsOffset = 0
        /// Whether Karras/Lu noise levels' timesteps are rounded to integers: diffusers rounds them
        /// unless `beta_schedule` is `"squaredcos_cap_v2"`.
        public var roundsSigmaTimesteps = true

        public init() {}
    }

    public let configuration: Configuration
    public let modelTimesteps: [Double]
    /// σ (variance-exploding) of each evaluation and, last, the final σ: diffusers' `scheduler.sigmas`.
    public let sigmas: [Double]
    /// Converted outputs (x̂₀ for ++, ε̂ otherwise) of the previous evaluations, newest last.
    private var history: [Tensor] = []
    private var lowerOrderCount = 0

    static let name = "DPMSolverMultistepScheduler"

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let c = configuration
        let count = schedule.timestepCount
        guard (1...count).contains(steps) else { throw .invalidSamplingStepCount(requested: steps, timestepCount: count) }
        guard (1...3).contains(c.solverOrder) else {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "solver_order", value: "\(c.solverOrder)",
                accepted: "use 1, 2 or 3")
        }
        if !c.algorithmType.usesDataPrediction && c.finalSigma == .zero {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "final_sigmas_type", value: "zero",
                accepted: "dpmsolver and sde-dpmsolver need sigma_min")
        }
        if c.algorithmType == .sdeDPMSolver && c.solverOrder == 3 {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "solver_order", value: "3",
                accepted: "sde-dpmsolver has orders 1 and 2 only")
        }
        if c.thresholding && !(c.dynamicThresholdingRatio > 0 && c.dynamicThresholdingRatio <= 1 && c.sampleMaxValue >= 1) {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "dynamic_thresholding_ratio, sample_max_value",
                value: "\(c.dynamicThresholdingRatio), \(c.sampleMaxValue)",
                accepted: "use a ratio in (0, 1] and a maximum ≥ 1")
        }
        if c.stepsOffset < 0 {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "steps_offset", value: "\(c.stepsOffset)",
                accepted: "use an offset ≥ 0")
        }
        let discrete = DiscreteSigmas(schedule)
        let (timesteps, levels) = Self.noiseLevels(discrete, steps: steps, configuration: c)
        self.configuration = c
        modelTimesteps = timesteps
        let last = c.finalSigma == .zero ? 0 : discrete.values[0]
        sigmas = (levels + [last]).map { Double(Float($0)) }
    }

    /// diffusers' `set_timesteps`: the timesteps and their σ (without the final one).
    static func noiseLevels(_ discrete: DiscreteSigmas, steps: Int, configuration c: Configuration) -> ([Double], [Double]) {
        let count = discrete.count
        // λ_i = −log σ_i decreases with i; searchsorted(flip(λ), λ_min) counts the λ_i below λ_min.
        let clipped = discrete.values.filter { DiscreteSigmas.lambda($0) < c.lambdaMinClipped }.count
        let grid = SolverTimesteps.grid(
            c.timestepSpacing, steps: steps, trainTimesteps: count,
            last: count - clipped, stepsOffset: c.stepsOffset)
        let (low, high) = (discrete.values[0], discrete.values[count - 1])
        let levels: [Double]
        if c.useKarrasSigmas {
            levels = DiscreteSigmas.karras(count: steps, minimum: low, maximum: high)
        } else if c.useLuLambdas {
            // Evenly spaced in log σ (= −λ), from log σ_max to log σ_min.
            let (a, b) = (Foundation.log(high), Foundation.log(low))
            levels = (0..<steps).map { i in Foundation.exp(a + (steps > 1 ? Double(i) / Double(steps - 1) : 0) * (b - a)) }
        } else {
            return (grid.map(Double.init), grid.map { discrete.values[$0] })
        }
        let timesteps = levels.map { discrete.timestep(forSigma: $0) }
        return (c.roundsSigmaTimesteps ? timesteps.map { $0.rounded(.toNearestOrEven) } : timesteps, levels)
    }

    /// The order diffusers uses at evaluation `index`, given how many lower-order steps came before.
    func order(at index: Int) -> Int {
        let c = configuration
        let n = modelTimesteps.count
        let finalFirstOrder = index == n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigma == .zero)
        let secondToLast = index == n - 2 && c.lowerOrderFinal && n < 15
        if c.solverOrder == 1 || lowerOrderCount < 1 || finalFirstOrder { return 1 }
        if c.solverOrder == 2 || lowerOrderCount < 2 || secondToLast { return 2 }
        return 3
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let c = configuration
        let (alpha, sigma) = DiscreteSigmas.alphaSigma(sigmas[index])
        // diffusers' convert_model_output.
        var x0 = c.prediction.predictedX0(from: modelOutput, sample: sample, alpha: alpha, sigma: sigma)
        if c.thresholding { x0 = dynamicallyThresholded(x0, ratio: c.dynamicThresholdingRatio, maximum: c.sampleMaxValue) }
        let converted: Tensor
        if c.algorithmType.usesDataPrediction {
            converted = x0
        } else if c.thresholding {
            converted = (sample - Float(alpha) * x0) / Float(sigma)
        } else {
            converted = c.prediction.predictedNoise(from: modelOutput, sample: sample, alpha: alpha, sigma: sigma)
        }
        history.append(converted)
        if history.count > c.solverOrder { history.removeFirst() }

        let z = c.algorithmType.isStochastic ? noise() : nil
        let order = order(at: index)
        let previous = update(order: order, index: index, sample: sample, noise: z)
        lowerOrderCount = min(lowerOrderCount + 1, c.solverOrder)
        return SchedulerStep(previous: previous, predictedX0: x0)
    }

    /// One update of `order` from σ[index] to σ[index + 1] with the newest `order` converted outputs.
    private func update(order: Int, index: Int, sample: Tensor, noise z: Tensor?) -> Tensor {
        let levels = (0...order).map { k -> (alpha: Double, sigma: Double, lambda: Double) in
            let (a, s) = DiscreteSigmas.alphaSigma(sigmas[index + 1 - k])
            return (a, s, Foundation.log(a) - Foundation.log(s))
        }
        let (t, s0) = (levels[0], levels[1])
        let h = t.lambda - s0.lambda
        // Karras/Lu levels end at σ_min, so a final σ_min gives a step of length 0 (diffusers: NaN).
        guard h != 0 else { return sample }
        let m = Array(history.suffix(order).reversed())  // m[0] newest
        // Divided differences D₁ (and D₂) in diffusers' arrangement.
        var d1: Tensor? = nil
        var d2: Tensor? = nil
        if order == 2 {
            let r0 = (s0.lambda - levels[2].lambda) / h
            d1 = Float(1 / r0) * (m[0] - m[1])
        } else if order == 3 {
            let r0 = (s0.lambda - levels[2].lambda) / h
            let r1 = (levels[2].lambda - levels[3].lambda) / h
            let d10 = Float(1 / r0) * (m[0] - m[1])
            let d11 = Float(1 / r1) * (m[1] - m[2])
            d1 = d10 + Float(r0 / (r0 + r1)) * (d10 - d11)
            d2 = Float(1 / (r0 + r1)) * (d10 - d11)
        }
        let heun = configuration.solverType == .heun
        var x: Tensor
        switch configuration.algorithmType {
        case .dpmSolverPlusPlus:
            let e = Foundation.expm1(-h)  // e^{−h} − 1
            x = Float(t.sigma / s0.sigma) * sample - Float(t.alpha * e) * m[0]
            if order == 2 {
                x = x + (heun ? Float(t.alpha * (e / h + 1)) : Float(-0.5 * t.alpha * e)) * d1!
            } else if order == 3 {
                x = x + Float(t.alpha * (e / h + 1)) * d1! - Float(t.alpha * ((e + h) / (h * h) - 0.5)) * d2!
            }
        case .sdeDPMSolverPlusPlus:
            let e2 = -Foundation.expm1(-2 * h)  // 1 − e^{−2h}
            x = Float(t.sigma / s0.sigma * Foundation.exp(-h)) * sample + Float(t.alpha * e2) * m[0]
            if order == 2 {
                x = x + (heun ? Float(t.alpha * (e2 / (-2 * h) + 1)) : Float(0.5 * t.alpha * e2)) * d1!
            } else if order == 3 {
                x =
                    x + Float(t.alpha * (e2 / (-2 * h) + 1)) * d1!
                    + Float(t.alpha * ((e2 - 2 * h) / (4 * h * h) - 0.5)) * d2!
            }
            x = x + Float(t.sigma * e2.squareRoot()) * z!
        case .dpmSolver:
            let e = Foundation.expm1(h)  // e^{h} − 1
            x = Float(t.alpha / s0.alpha) * sample - Float(t.sigma * e) * m[0]
            if order == 2 {
                x = x - (heun ? Float(t.sigma * (e / h - 1)) : Float(0.5 * t.sigma * e)) * d1!
            } else if order == 3 {
                x = x - Float(t.sigma * (e / h - 1)) * d1! - Float(t.sigma * ((e - h) / (h * h) - 0.5)) * d2!
            }
        case .sdeDPMSolver:
            let e = Foundation.expm1(h)
            x = Float(t.alpha / s0.alpha) * sample - Float(2 * t.sigma * e) * m[0]
            if order == 2 {
                x = x - (heun ? Float(2 * t.sigma * (e / h - 1)) : Float(t.sigma * e)) * d1!
            }
            x = x + Float(t.sigma * Foundation.expm1(2 * h).squareRoot()) * z!
        }
        return x
    }
}
