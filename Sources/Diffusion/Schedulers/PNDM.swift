import Foundation
import Tensors

/// Pseudo numerical methods for diffusion models (Liu et al. 2022, arXiv:2202.09778), as
/// diffusers' `PNDMScheduler`. Each update is DDIM's transfer from ᾱ_t to ᾱ_prev,
///
///     x_prev = √(ᾱ_prev/ᾱ_t) x_t − (ᾱ_prev − ᾱ_t) ε′ / (ᾱ_t √(1 − ᾱ_prev) + √(ᾱ_t (1 − ᾱ_t) ᾱ_prev))
///
/// applied with a combined noise ε′ (the "gradient part"):
///
/// - PLMS (pseudo linear multistep): ε′ = (55 ε₀ − 59 ε₁ + 37 ε₂ − 9 ε₃)/24 of the last four
///   outputs (Adams–Bashforth 4), with the lower Adams–Bashforth forms while fewer are known.
/// - PRK warm-up (`skip_prk_steps` false, F-PNDM): the first three steps are pseudo Runge–Kutta,
///   four evaluations each at t, t − δ/2, t − δ/2, t − δ with ε′ = (ε₁ + 2ε₂ + 2ε₃ + ε₄)/6.
/// - `skip_prk_steps` true (S-PNDM's start, what DDPM-checkpoint pipelines use): the first step
///   is evaluated twice, as DDIM and then as the pseudo improved Euler step with (ε₀ + ε₁)/2.
///
/// `modelTimesteps` therefore repeats entries (PRK: 12 evaluations for 3 steps; skip: the second
/// timestep twice), one per network evaluation as diffusers' `scheduler.timesteps`; `step` must be
/// called in order. δ is ⌊T/N⌋ whatever the spacing, as diffusers computes prev_timestep; ᾱ_prev
/// below timestep 0 is 1 (`set_alpha_to_one`) or ᾱ at timestep 0.
public struct PNDM: Scheduler, Sendable {
    public struct Configuration: Sendable, Equatable {
        /// `skip_prk_steps`
        public var skipPRKSteps = false
        /// `set_alpha_to_one`
        public var setAlphaToOne = false
        /// `prediction_type`: `epsilon` or `v_prediction`.
        public var prediction: Parameterization = .noise
        /// `timestep_spacing`
        public var timestepSpacing: TimestepSpacing = .leading
        /// `steps_offset` (leading spacing only)
        public var stepsOffset = 0

        public init() {}
    }

    public let configuration: Configuration
    public let modelTimesteps: [Double]
    /// The same as integers, and how many of them are PRK evaluations.
    let timesteps: [Int], prkCount: Int
    /// δ = ⌊T/N⌋.
    let stride: Int
    /// ᾱ at model timesteps 0..<T.
    let alphaBars: [Double]
    /// Outputs that PLMS combines (at most four, newest last).
    var ets: [Tensor] = []
    var counter = 0
    var combined: Tensor?
    var startSample: Tensor?

    public init(schedule: NoiseSchedule, steps: Int, configuration: Configuration = .init()) throws(DiffusionError) {
        let c = configuration
        let name = "PNDMScheduler"
        let count = schedule.timestepCount
        guard steps >= 1, steps <= count else { throw .invalidSamplingStepCount(requested: steps, timestepCount: count) }
        guard c.prediction != .x0 else {
            throw .invalidSchedulerOption(
                scheduler: name, option: "prediction_type", value: "sample",
                accepted: "use epsilon or v_prediction")
        }
        guard c.skipPRKSteps || steps >= 4 else {
            throw .invalidSchedulerOption(
                scheduler: name, option: "skip_prk_steps", value: "false",
                accepted: "the Runge–Kutta warm-up takes 3 steps and needs at least 4 "
                    + "(got \(steps)); use skip_prk_steps = true")
        }
        // diffusers' _timesteps, ascending model timesteps.
        var grid: [Int] = try c.timestepSpacing.timesteps(steps: steps, timestepCount: count).reversed().map { $0 - 1 }
        if c.timestepSpacing == .leading { grid = grid.map { $0 + c.stepsOffset } }
        let stride = count / steps
        var prk: [Int] = []
        var plms: [Int]
        if c.skipPRKSteps {
            // [t_{N−1}, t_{N−2}, t_{N−2}, t_{N−3}, …, t₀]: the first step is evaluated twice.
            let repeated = grid.count >= 2 ? [grid[grid.count - 2]] : []
            plms = Array((Array(grid.dropLast()) + repeated + [grid[grid.count - 1]]).reversed())
        } else {
            let half = stride / 2
            // The top four timesteps and their midpoints, each stage visited as diffusers lists them:
            // [d, c+δ/2, c+δ/2, c, c, b+δ/2, b+δ/2, b, b, a+δ/2, a+δ/2, a].
            let nodes = grid.suffix(4).flatMap { [$0, $0 + half] }.dropLast()
            prk = Array(nodes.flatMap { [$0, $0] }.dropFirst().dropLast().reversed())
            plms = Array(grid.dropLast(3).reversed())
        }
        timesteps = prk + plms
        guard timesteps.allSatisfy({ (0..<count).contains($0) }) else {
            throw .invalidSchedulerOption(
                scheduler: name, option: "steps_offset", value: "\(c.stepsOffset)",
                accepted: "timesteps \(timesteps.prefix(3))… must stay within 0..<\(count)")
        }
        modelTimesteps = timesteps.map(Double.init)
        prkCount = prk.count
        self.stride = stride
        alphaBars = schedule.alphaBars
        self.configuration = c
    }

    /// DDIM's transfer from model timestep t to `previous` (diffusers' `_get_prev_sample`).
    func transfer(_ x: Tensor, from t: Int, to previous: Int, output: Tensor) -> Tensor {
        let alphaBar = alphaBars[t]
        let alphaBarPrevious = previous >= 0 ? alphaBars[previous] : (configuration.setAlphaToOne ? 1 : alphaBars[0])
        let (beta, betaPrevious) = (1 - alphaBar, 1 - alphaBarPrevious)
        var epsilon = output
        if configuration.prediction == .velocity {
            epsilon = Float(alphaBar.squareRoot()) * output + Float(beta.squareRoot()) * x
        }
        let denominator = alphaBar * betaPrevious.squareRoot() + (alphaBar * beta * alphaBarPrevious).squareRoot()
        return Float((alphaBarPrevious / alphaBar).squareRoot()) * x
            - Float(alphaBarPrevious - alphaBar) * epsilon / Float(denominator)
    }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        precondition(index == counter, "[PNDM] step \(index) called after \(counter) steps; PNDM steps run in order")
        defer { counter += 1 }
        let t = timesteps[index]
        let previous: Tensor
        if index < prkCount {
            // Stage index % 4 of the RK step that started at prk[index / 4 * 4].
            let target = t - (index % 2 == 1 ? 0 : stride / 2)
            let t0 = timesteps[index / 4 * 4]
            var output = modelOutput
            switch index % 4 {
            case 0:
                combined = Float(1.0 / 6) * modelOutput
                ets.append(modelOutput)
                startSample = sample
            case 1, 2:
                combined = combined! + Float(1.0 / 3) * modelOutput
            default:
                output = combined! + Float(1.0 / 6) * modelOutput
                combined = nil
            }
            previous = transfer(startSample ?? sample, from: t0, to: target, output: output)
        } else {
            var (from, target) = (t, t - stride)
            if counter != 1 {
                ets = Array(ets.suffix(3)) + [modelOutput]
            } else {
                (from, target) = (t + stride, t)
            }
            var input = sample
            var output: Tensor
            if ets.count == 1 && counter == 0 {
                output = modelOutput
                startSample = sample
            } else if ets.count == 1 && counter == 1 {
                output = (modelOutput + ets[0]) / 2
                input = startSample!
                startSample = nil
            } else if ets.count == 2 {
                output = (3 * ets[1] - ets[0]) / 2
            } else if ets.count == 3 {
                output = (23 * ets[2] - 16 * ets[1] + 5 * ets[0]) / 12
            } else {
                output = Float(1.0 / 24) * (55 * ets[3] - 59 * ets[2] + 37 * ets[1] - 9 * ets[0])
            }
            previous = transfer(input, from: from, to: target, output: output)
        }
        // x̂₀ of this evaluation's sample and output.
        let alphaBar = alphaBars[t]
        let x0 = configuration.prediction.predictedX0(
            from: modelOutput, sample: sample, alpha: alphaBar.squareRoot(),
            sigma: (1 - alphaBar).squareRoot())
        return SchedulerStep(previous: previous, predictedX0: x0)
    }
}
