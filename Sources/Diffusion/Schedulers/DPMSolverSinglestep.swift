import Foundation
import Tensors

/// Singlestep DPM-Solver-2/3 and DPM-Solver++(2S)/(3S) (diffusers' `DPMSolverSinglestepScheduler`, 0.42).
///
/// Lu, Zhou, Bao, Chen, Li & Zhu, "DPM-Solver", arXiv:2206.00927 (2022), Algorithms 1 and 2, and
/// "DPM-Solver++", arXiv:2211.01095 (2022), Algorithm 1 (2S). The evaluations are grouped by
/// diffusers' `order_list` (e.g. 1, 2, 1, 2, …, 1): a group of order k starts at the sample x_s of
/// its first evaluation, and its i-th evaluation updates from x_s straight to the next noise level
/// with the group's outputs so far, so a Runge–Kutta step's intermediate points are the grid's
/// own noise levels. With h = λ_t − λ_s, m_s = x̂₀ at s and r_i = (λ_i − λ_s)/h:
///
///     order 2   x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) m_s + c D₁,   D₁ = (m₁ − m_s)/r₁,
///               c = −½ α_t (e^{−h} − 1) (midpoint) or α_t ((e^{−h} − 1)/h + 1) (heun)
///     order 3   midpoint: + α_t ((e^{−h} − 1)/h + 1) (m₂ − m_s)/r₂   (DPM-Solver-3, Algorithm 2)
///               heun: + α_t ((e^{−h} − 1)/h + 1) D₁ − α_t ((e^{−h} − 1 + h)/h² − ½) D₂, with
///               D₁ and D₂ ≈ h x̂₀' and h² x̂₀'' from m₁ and m₂ (the Taylor form)
///
/// in x̂₀ form (++); the ε form (`dpmsolver`) and the SDE form (`sde-dpmsolver++`, which draws
/// fresh noise at every evaluation) change the coefficients as in `DPMSolverMultistep`. Noise
/// levels are Float32 as diffusers stores them; the coefficients are Float64.
public struct DPMSolverSinglestep: Scheduler, Sendable {
    public typealias AlgorithmType = DPMSolverMultistep.AlgorithmType
    public typealias SolverType = DPMSolverMultistep.SolverType
    public typealias FinalSigma = DPMSolverMultistep.FinalSigma

    public struct Configuration: Sendable, Equatable {
        /// `solver_order` (1, 2 or 3).
        public var solverOrder = 2
        /// `prediction_type`.
        public var prediction: Parameterization = .noise
        /// `thresholding` (dynamic thresholding of x̂₀; ++ variants only).
        public var thresholding = false
        /// `dynamic_thresholding_ratio`.
        public var dynamicThresholdingRatio = 0.995
        /// `sample_max_value`.
        public var sampleMaxValue = 1.0
        /// `algorithm_type`: `dpmsolver++`, `sde-dpmsolver++` or `dpmsolver` (no `sde-dpmsolver`).
        public var algorithmType: AlgorithmType = .dpmSolverPlusPlus
        /// `solver_type`.
        public var solverType: SolverType = .midpoint
        /// `lower_order_final`: shorter last group(s). diffusers turns it on when the step count is
        /// not a multiple of `solver_order` or the final σ is zero.
        public var lowerOrderFinal = false
        /// `use_karras_sigmas` (their timesteps are rounded).
        public var useKarrasSigmas = false
        /// `final_sigmas_type`.
        public var finalSigma: FinalSigma = .zero
        /// `lambda_min_clipped`.
        public var lambdaMinClipped = -Double.infinity

        public init() {}
    }

    public let configuration: Configuration
    public let modelTimesteps: [Double]
    /// σ of each evaluation and, last, the final σ: diffusers' `scheduler.sigmas`.
    public let sigmas: [Double]
    /// The order of each evaluation: diffusers' `order_list`.
    public let orders: [Int]
    /// Converted outputs (x̂₀ for ++, ε̂ otherwise) of the previous evaluations, newest last.
    private var history: [Tensor] = []
    /// The sample at the start of the current group.
    private var groupStart: Tensor? = nil

    static let name = "DPMSolverSinglestepScheduler"

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let c = configuration
        let count = schedule.timestepCount
        guard (1...count).contains(steps) else { throw .invalidSamplingStepCount(requested: steps, timestepCount: count) }
        guard (1...3).contains(c.solverOrder) else {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "solver_order", value: "\(c.solverOrder)",
                accepted: "use 1, 2 or 3")
        }
        if c.algorithmType == .sdeDPMSolver {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "algorithm_type", value: "sde-dpmsolver",
                accepted: "use dpmsolver++, sde-dpmsolver++ or dpmsolver")
        }
        if c.algorithmType == .dpmSolver && c.finalSigma == .zero {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "final_sigmas_type", value: "zero",
                accepted: "dpmsolver needs sigma_min")
        }
        if c.algorithmType == .dpmSolver && c.thresholding {
            // diffusers indexes alpha_t[None] there and fails on a shape mismatch.
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "thresholding", value: "true",
                accepted: "dpmsolver does not support it; use dpmsolver++ or sde-dpmsolver++")
        }
        if c.thresholding && !(c.dynamicThresholdingRatio > 0 && c.dynamicThresholdingRatio <= 1 && c.sampleMaxValue >= 1) {
            throw .invalidSchedulerOption(
                scheduler: Self.name, option: "dynamic_thresholding_ratio, sample_max_value",
                value: "\(c.dynamicThresholdingRatio), \(c.sampleMaxValue)",
                accepted: "use a ratio in (0, 1] and a maximum ≥ 1")
        }
        let discrete = DiscreteSigmas(schedule)
        let clipped = discrete.values.filter { DiscreteSigmas.lambda($0) < c.lambdaMinClipped }.count
        var timesteps = SolverTimesteps.grid(.linspace, steps: steps, trainTimesteps: count, last: count - clipped).map(Double.init)
        var levels = timesteps.map { discrete.values[Int($0)] }
        if c.useKarrasSigmas {
            levels = DiscreteSigmas.karras(count: steps, minimum: discrete.values[0], maximum: discrete.values[count - 1])
            timesteps = levels.map { discrete.timestep(forSigma: $0).rounded(.toNearestOrEven) }
        }
        self.configuration = c
        modelTimesteps = timesteps
        sigmas = (levels + [c.finalSigma == .zero ? 0 : discrete.values[0]]).map { Double(Float($0)) }
        let lowerOrderFinal = c.lowerOrderFinal || steps % c.solverOrder != 0 || c.finalSigma == .zero
        orders = Self.orderList(steps: steps, order: c.solverOrder, lowerOrderFinal: lowerOrderFinal, finalZero: c.finalSigma == .zero)
    }

    /// diffusers' `get_order_list`.
    static func orderList(steps: Int, order: Int, lowerOrderFinal: Bool, finalZero: Bool) -> [Int] {
        let group = Array(1...order)
        let groups = steps / order
        var list: [Int]
        switch (order, lowerOrderFinal) {
        case (1, _): list = Array(repeating: 1, count: steps)
        case (_, false): list = Array(Array(repeating: group, count: groups).joined())
        case (3, true):
            switch steps % 3 {
            case 0: list = Array(Array(repeating: group, count: groups - 1).joined()) + [1, 2, 1]
            case 1: list = Array(Array(repeating: group, count: groups).joined()) + [1]
            default: list = Array(Array(repeating: group, count: groups).joined()) + [1, 2]
            }
        default:  // order 2
            list = Array(Array(repeating: group, count: steps % 2 == 0 ? groups - 1 : groups).joined()) + (steps % 2 == 0 ? [1, 1] : [1])
        }
        if finalZero && !list.isEmpty { list[list.count - 1] = 1 }
        return list
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let c = configuration
        let (alpha, sigma) = DiscreteSigmas.alphaSigma(sigmas[index])
        var x0 = c.prediction.predictedX0(from: modelOutput, sample: sample, alpha: alpha, sigma: sigma)
        if c.thresholding { x0 = dynamicallyThresholded(x0, ratio: c.dynamicThresholdingRatio, maximum: c.sampleMaxValue) }
        let converted =
            c.algorithmType.usesDataPrediction
            ? x0 : c.prediction.predictedNoise(from: modelOutput, sample: sample, alpha: alpha, sigma: sigma)
        history.append(converted)
        if history.count > c.solverOrder { history.removeFirst() }
        let z = c.algorithmType.isStochastic ? noise() : nil
        let order = min(orders[index], history.count)
        if order == 1 { groupStart = sample }
        return SchedulerStep(previous: update(order: order, index: index, noise: z), predictedX0: x0)
    }

    /// The group's update from its start (σ[index − order + 1]) to σ[index + 1].
    private func update(order: Int, index: Int, noise z: Tensor?) -> Tensor {
        let x = groupStart!
        // levels[0] = target t, levels[k] = the group's k-th evaluation from the newest (levels[order] = start s).
        let levels = (0...order).map { k -> (alpha: Double, sigma: Double, lambda: Double) in
            let (a, s) = DiscreteSigmas.alphaSigma(sigmas[index + 1 - k])
            return (a, s, Foundation.log(a) - Foundation.log(s))
        }
        let (t, s) = (levels[0], levels[order])
        let h = t.lambda - s.lambda
        let m = Array(history.suffix(order))  // m[0] at the group's start, m[order − 1] newest
        let heun = configuration.solverType == .heun
        var d1: Tensor? = nil
        var d1Last: Tensor? = nil
        var d2: Tensor? = nil
        if order == 2 {
            let r0 = (levels[1].lambda - s.lambda) / h
            d1 = Float(1 / r0) * (m[1] - m[0])
        } else if order == 3 {
            let r0 = (levels[1].lambda - s.lambda) / h
            let r1 = (levels[2].lambda - s.lambda) / h
            let d10 = Float(1 / r1) * (m[1] - m[0])
            let d11 = Float(1 / r0) * (m[2] - m[0])
            d1Last = d11
            d1 = (Float(r0) * d10 - Float(r1) * d11) / Float(r0 - r1)
            d2 = Float(2 / (r0 - r1)) * (d11 - d10)
        }
        var result: Tensor
        switch configuration.algorithmType {
        case .dpmSolverPlusPlus, .sdeDPMSolverPlusPlus:
            let sde = configuration.algorithmType == .sdeDPMSolverPlusPlus
            // ODE: e = e^{−h} − 1 enters as −e; SDE: 1 − e^{−2h}, and h → 2h in the φ's.
            let phi1 = sde ? -Foundation.expm1(-2 * h) : -Foundation.expm1(-h)
            let hh = sde ? 2 * h : h
            let phi2 = 1 - phi1 / hh  // (e^{−h} − 1)/h + 1
            // D₂'s coefficient: ODE −α_t((e^{−h} − 1 + h)/h² − ½), SDE α_t((1 − e^{−2h} − 2h)/(2h)² − ½).
            let phi3 = sde ? (phi1 - hh) / (hh * hh) - 0.5 : -((hh - phi1) / (hh * hh) - 0.5)
            result = Float(t.sigma / s.sigma * (sde ? Foundation.exp(-h) : 1)) * x + Float(t.alpha * phi1) * m[0]
            if order == 2 {
                result = result + Float(heun ? t.alpha * phi2 : 0.5 * t.alpha * phi1) * d1!
            } else if order == 3 {
                if heun {
                    result = result + Float(t.alpha * phi2) * d1! + Float(t.alpha * phi3) * d2!
                } else {
                    result = result + Float(t.alpha * phi2) * d1Last!
                }
            }
            if sde { result = result + Float(t.sigma * phi1.squareRoot()) * z! }
        case .dpmSolver:
            let e = Foundation.expm1(h)
            result = Float(t.alpha / s.alpha) * x - Float(t.sigma * e) * m[0]
            if order == 2 {
                result = result - (heun ? Float(t.sigma * (e / h - 1)) : Float(0.5 * t.sigma * e)) * d1!
            } else if order == 3 {
                if heun {
                    result = result - Float(t.sigma * (e / h - 1)) * d1! - Float(t.sigma * ((e - h) / (h * h) - 0.5)) * d2!
                } else {
                    result = result - Float(t.sigma * (e / h - 1)) * d1Last!
                }
            }
        case .sdeDPMSolver:
            preconditionFailure("rejected in init")
        }
        return result
    }
}
