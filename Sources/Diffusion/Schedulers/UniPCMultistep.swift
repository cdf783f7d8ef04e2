import Foundation
import Tensors

/// UniPC, the unified predictor–corrector solver of Zhao et al. 2023 (arXiv:2302.04867), as
/// diffusers' `UniPCMultistepScheduler`. In λ = log α − log σ (h = λ_t − λ_s, ĥ = −h for the data
/// prediction, ĥ = h for the noise prediction), with m the converted outputs (x̂₀ or ε̂),
/// r_k = (λ_{s_k} − λ_s)/h and D_k = (m_k − m₀)/r_k, the order-p predictor UniP-p is
///
///     x_t = σ_t/σ_s · x_s − α_t (e^ĥ − 1) m₀ − α_t B(h) Σ_k a_k D_k           (data prediction)
///     x_t = α_t/α_s · x_s − σ_t (e^ĥ − 1) m₀ − σ_t B(h) Σ_k a_k D_k           (noise prediction)
///
/// with B(h) = ĥ (bh1, the paper's B₁) or e^ĥ − 1 (bh2, B₂) and a solving the Vandermonde
/// system R_{p−1}(r) a = (k! ĥ φ_{k+1}(ĥ)/B(h))_k (a = ½ for p = 2). UniC-p redoes the last
/// update once the network has seen its result x_t, adding m_t − m₀ as one more D with r = 1
/// and solving the full p × p system (½ for p = 1); the corrected x_t is then the sample the next
/// predictor starts from, raising the order of accuracy to p + 1 at no extra evaluation. The
/// last update is never corrected.
///
/// The noise levels are diffusers' σ of `DiscreteSigmas` at the solver grid (`SolverTimesteps`) or
/// the Karras et al. ones, stored in Float32 as diffusers does, followed by 0 or σ_min.
/// Not supported: `solver_p`, exponential/beta/flow σ, dynamic shifting, zero-SNR rescaling.
public struct UniPCMultistep: Scheduler, Sendable {
    /// `solver_type`: B(h) = h (`bh1`) or e^h − 1 (`bh2`, recommended for guided sampling).
    public enum SolverType: String, Sendable, Equatable { case bh1, bh2 }
    /// `final_sigmas_type`: the noise level after the last step.
    public enum FinalSigma: String, Sendable, Equatable {
        /// `zero`: the last update lands on x₀ (σ = 0).
        case zero
        /// `sigma_min`: the last update lands on σ at model timestep 0.
        case sigmaMin = "sigma_min"
    }

    public struct Configuration: Sendable, Equatable {
        /// `solver_order`: p in 1...3 (2 for guided sampling, 3 unconditional).
        public var solverOrder = 2
        /// `prediction_type`: `epsilon`, `sample` or `v_prediction`.
        public var prediction: Parameterization = .noise
        /// `thresholding`: dynamic thresholding of x̂₀ (data prediction only).
        public var thresholding = false
        /// `dynamic_thresholding_ratio`
        public var dynamicThresholdingRatio = 0.995
        /// `sample_max_value`
        public var sampleMaxValue = 1.0
        /// `predict_x0`: the solver's m is x̂₀ (UniPC with data prediction) or ε̂.
        public var predictX0 = true
        /// `solver_type`
        public var solverType: SolverType = .bh2
        /// `lower_order_final`: order min(p, steps left) near the end.
        public var lowerOrderFinal = true
        /// `disable_corrector`: step indices whose result is not corrected (the corrector runs at
        /// step i + 1 for the result of step i).
        public var disableCorrector: [Int] = []
        /// `use_karras_sigmas`
        public var useKarrasSigmas = false
        /// `timestep_spacing`
        public var timestepSpacing: TimestepSpacing = .linspace
        /// `steps_offset` (leading spacing only)
        public var stepsOffset = 0
        /// `final_sigmas_type`
        public var finalSigma: FinalSigma = .zero

        public init() {}
    }

    public let configuration: Configuration
    public let modelTimesteps: [Double]
    /// σ before each step and after the last (`scheduler.sigmas`, Float32 values).
    public let sigmas: [Double]
    /// Converted outputs m of the last p steps, newest last.
    var outputs: [Tensor] = []
    /// x_s of the last predictor step, for the corrector.
    var lastSample: Tensor?
    var lowerOrderCount = 0
    var lastOrder = 0

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let c = configuration
        let name = "UniPCMultistepScheduler"
        let count = schedule.timestepCount
        guard steps >= 1, steps <= count else { throw .invalidSamplingStepCount(requested: steps, timestepCount: count) }
        guard (1...3).contains(c.solverOrder) else {
            throw .invalidSchedulerOption(scheduler: name, option: "solver_order", value: "\(c.solverOrder)", accepted: "use 1, 2 or 3")
        }
        if c.finalSigma == .zero && (c.solverType == .bh1 || !c.predictX0) {
            throw .invalidSchedulerOption(
                scheduler: name, option: "final_sigmas_type", value: "zero",
                accepted: "with solver_type bh1 or predict_x0 = false the last update divides by σ = 0 "
                    + "(diffusers returns NaN); use sigma_min")
        }
        if c.finalSigma == .zero && !c.lowerOrderFinal && c.solverOrder > 1 {
            throw .invalidSchedulerOption(
                scheduler: name, option: "lower_order_final", value: "false",
                accepted: "with final_sigmas_type zero and solver_order > 1 the last update is singular "
                    + "(diffusers returns inf or fails); keep lower_order_final or use sigma_min")
        }
        let table = DiscreteSigmas(schedule)
        var levels: [Double]
        if c.useKarrasSigmas {
            levels = DiscreteSigmas.karras(count: steps, minimum: table.values[0], maximum: table.values[count - 1])
            modelTimesteps = levels.map { table.timestep(forSigma: $0).rounded(.toNearestOrEven) }
        } else {
            let grid = SolverTimesteps.grid(c.timestepSpacing, steps: steps, trainTimesteps: count, stepsOffset: c.stepsOffset)
            guard grid.allSatisfy({ (0..<count).contains($0) }) else {
                throw .invalidSchedulerOption(
                    scheduler: name, option: "steps_offset", value: "\(c.stepsOffset)",
                    accepted: "timesteps \(grid.prefix(3))… must stay within 0..<\(count)")
            }
            levels = grid.map { table.values[$0] }
            modelTimesteps = grid.map(Double.init)
        }
        levels.append(c.finalSigma == .zero ? 0 : table.values[0])
        sigmas = levels.map { Double(Float($0)) }
        self.configuration = c
    }

    /// x̂₀ and the solver's m at step `index`.
    func converted(_ output: Tensor, sample: Tensor, index: Int) -> (x0: Tensor, m: Tensor) {
        let c = configuration
        let (alpha, sigma) = DiscreteSigmas.alphaSigma(sigmas[index])
        var x0 = c.prediction.predictedX0(from: output, sample: sample, alpha: alpha, sigma: sigma)
        if c.thresholding && c.predictX0 {
            x0 = dynamicallyThresholded(x0, ratio: c.dynamicThresholdingRatio, maximum: c.sampleMaxValue)
        }
        if c.predictX0 { return (x0, x0) }
        return (x0, c.prediction.predictedNoise(from: output, sample: sample, alpha: alpha, sigma: sigma))
    }

    /// One B(h) update from x_s at σ index `from` to `from + 1`: the base exponential-
    /// integrator step plus B(h) Σ ρ_k D_k over the given earlier outputs (newest first) and, for
    /// the corrector, the output at the target with r = 1.
    func update(from s: Int, sample x: Tensor, m0: Tensor, earlier: [Tensor], corrector target: Tensor?, order: Int) -> Tensor {
        let lambda = { (i: Int) -> Double in DiscreteSigmas.lambda(sigmas[i]) }
        let (alphaT, sigmaT) = DiscreteSigmas.alphaSigma(sigmas[s + 1])
        let (alphaS, sigmaS) = DiscreteSigmas.alphaSigma(sigmas[s])
        let h = lambda(s + 1) - lambda(s)
        let predictX0 = configuration.predictX0
        let hh = predictX0 ? -h : h
        let hPhi1 = Foundation.expm1(hh)
        let bh = configuration.solverType == .bh1 ? hh : hPhi1
        // r_k for the p − 1 earlier outputs used, then r = 1 (the target).
        let earlier = Array(earlier.prefix(order - 1))
        var r = earlier.indices.map { k in (lambda(s - 1 - k) - lambda(s)) / h }
        r.append(1)
        // b_i = i! ĥ φ_{i+1}(ĥ) / B(h), with φ_1 = (e^ĥ − 1)/ĥ and φ_{k+1} = (φ_k − 1/k!)/ĥ.
        var b: [Double] = []
        var hPhiK = hPhi1 / hh - 1
        var factorial = 1.0
        for i in 1...order {
            b.append(hPhiK * factorial / bh)
            factorial *= Double(i + 1)
            hPhiK = hPhiK / hh - 1 / factorial
        }
        let rho: [Double]
        if target != nil {
            rho = order == 1 ? [0.5] : solve((0..<order).map { i in r.map { Foundation.pow($0, Double(i)) } }, b)
        } else if order == 1 {
            rho = []
        } else {
            rho =
                order == 2
                ? [0.5]
                : solve(
                    (0..<(order - 1)).map { i in r.dropLast().map { Foundation.pow($0, Double(i)) } },
                    Array(b.prefix(order - 1)))
        }
        let coefficient = predictX0 ? alphaT : sigmaT
        var result = Float(predictX0 ? sigmaT / sigmaS : alphaT / alphaS) * x - Float(coefficient * hPhi1) * m0
        var residual: Tensor?
        for (k, m) in earlier.enumerated() {
            let term = Float(rho[k]) * ((m - m0) / Float(r[k]))
            residual = residual.map { $0 + term } ?? term
        }
        if let target {
            let term = Float(rho[order - 1]) * (target - m0)
            residual = residual.map { $0 + term } ?? term
        }
        if let residual { result = result - Float(coefficient * bh) * residual }
        return result
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let c = configuration
        let (x0, m) = converted(modelOutput, sample: sample, index: index)
        var x = sample
        if index > 0, !c.disableCorrector.contains(index - 1), let last = lastSample {
            // UniC: redo step index − 1 with m at its target.
            x = update(
                from: index - 1, sample: last, m0: outputs.last!, earlier: Array(outputs.dropLast().reversed()),
                corrector: m, order: lastOrder)
        }
        outputs.append(m)
        if outputs.count > c.solverOrder { outputs.removeFirst() }
        let order = min(c.lowerOrderFinal ? min(c.solverOrder, modelTimesteps.count - index) : c.solverOrder, lowerOrderCount + 1)
        lastOrder = order
        lastSample = x
        let previous = update(
            from: index, sample: x, m0: m, earlier: Array(outputs.dropLast().reversed()),
            corrector: nil, order: order)
        lowerOrderCount = min(lowerOrderCount + 1, c.solverOrder)
        return SchedulerStep(previous: previous, predictedX0: x0)
    }
}

/// The solution of the small dense system A x = b (Gaussian elimination with partial pivoting).
private func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
    var m = a
    var v = b
    let n = b.count
    for col in 0..<n {
        let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
        m.swapAt(col, pivot)
        v.swapAt(col, pivot)
        for row in (col + 1)..<n {
            let f = m[row][col] / m[col][col]
            for k in col..<n { m[row][k] -= f * m[col][k] }
            v[row] -= f * v[col]
        }
    }
    var x = Array(repeating: 0.0, count: n)
    for row in stride(from: n - 1, through: 0, by: -1) {
        let sum = ((row + 1)..<n).reduce(0.0) { $0 + m[row][$1] * x[$1] }
        x[row] = (v[row] - sum) / m[row][row]
    }
    return x
}
