import Diffusion
import Foundation
import SafeTensors
import Tensors
import TestSupport
import Testing

/// Tensors written by scripts/reference/make_euler_fixtures.py (diffusers' Euler, Euler-ancestral
/// and Heun schedulers), each configuration's loop stacked per evaluation as `<key>.<field>`.
enum EulerFixtures {
    static let file: SafeTensorsFile = {
        let url = Bundle.module.url(forResource: "euler", withExtension: "safetensors", subdirectory: "Fixtures")!
        do { return try SafeTensorsFile.read(contentsOf: url) } catch { preconditionFailure("\(error)") }
    }()

    /// diffusers' float32 ᾱ (its σ's at t = 0 differ from the Float64 schedule's by ~8e-5
    /// relative); β_t = 1 − ᾱ_t/ᾱ_{t−1} reproduces them to ~1e-13.
    static let schedule: NoiseSchedule = {
        let alphaBars = values("schedule.alphas_cumprod")
        let betas = alphaBars.indices.map { $0 == 0 ? 1 - alphaBars[0] : 1 - alphaBars[$0] / alphaBars[$0 - 1] }
        return try! NoiseSchedule(betas: betas)
    }()

    static func tensor(_ key: String) -> Tensor {
        do { return try file.tensor(key, in: "euler.safetensors") } catch { preconditionFailure("\(error)") }
    }

    static func values(_ key: String) -> [Double] { tensor(key).scalars.map(Double.init) }

    static func entry(_ key: String, _ index: Int) -> Tensor {
        let stacked = tensor(key)
        return stacked.sliced(alongAxis: 0, index..<(index + 1)).reshaped(to: Array(stacked.shape.dropFirst()))
    }

    /// Timesteps computed from σ (Karras, exponential, continuous): diffusers forms them from float32
    /// log σ's, so they agree to float32 rounding, not exactly.
    static let fractionalTimestepTolerance = 1e-6

    /// Largest |a − b| / max(1, |b|) over two lists.
    static func relative(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "\(a.count) values against \(b.count)")
        return zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    /// Teacher-forced replay of fixture `key`: at every evaluation `step` gets diffusers' input
    /// sample, model output and noise; returns the worst relative error of the step's outputs and
    /// of `scaleModelInput`, after checking timesteps, σ's and `initNoiseSigma`.
    static func replay<S: Scheduler>(
        _ scheduler: S, key: String, sigmas: [Double],
        timestepTolerance: Double = 0
    ) -> Float {
        var scheduler = scheduler
        let timesteps = values(key + ".timesteps")
        #expect(scheduler.modelTimesteps.count == timesteps.count, "\(key) evaluations")
        let timestepError = relative(scheduler.modelTimesteps, timesteps)
        #expect(timestepError <= timestepTolerance, "\(key) timesteps \(scheduler.modelTimesteps) vs \(timesteps)")
        #expect(relative(sigmas, values(key + ".sigmas")) < 1e-6, "\(key) σ \(sigmas) vs \(values(key + ".sigmas"))")
        let initNoise = values(key + ".init_noise_sigma")[0]
        #expect(
            abs(scheduler.initNoiseSigma - initNoise) / initNoise < 1e-6,
            "\(key) init_noise_sigma \(scheduler.initNoiseSigma) vs \(initNoise)")
        var worst: Float = 0
        for i in timesteps.indices {
            let sample = entry(key + ".sample", i)
            let z = entry(key + ".noise", i)
            let scaled = relativeError(scheduler.scaleModelInput(sample, index: i), entry(key + ".scaled", i), floor: 1)
            let step = scheduler.step(entry(key + ".model_output", i), index: i, sample: sample) { z }
            let errors = [
                scaled, relativeError(step.previous, entry(key + ".prev", i), floor: 1),
                relativeError(step.predictedX0, entry(key + ".x0", i), floor: 1),
            ]
            #expect(errors.max()! <= 1e-5, "\(key) evaluation \(i): scaled input, prev, x̂₀ errors \(errors)")
            worst = max(worst, errors.max()!)
        }
        print("parity \(key): worst relative error \(worst), timesteps \(timestepError)")
        return worst
    }
}

/// The exact ε̂ for data x₀ ~ N(μ, s²) per pixel from the network's input x_t = x̃/√(σ² + 1) at
/// the scheduler's own noise level σ (E[ε | x_t] with ᾱ = 1/(1 + σ²)). Used instead of
/// `exactGaussianPredictor`, whose σ at a fractional timestep is linear in t while Karras σ's
/// map to timesteps by interpolation in log σ.
func exactNoise(_ xt: Tensor, sigma: Double, mean mu: Double, standardDeviation s: Double) -> Tensor {
    let alphaBar = 1 / (1 + sigma * sigma)
    return (xt - Float(alphaBar.squareRoot() * mu)) * Float((1 - alphaBar).squareRoot() / (alphaBar * s * s + 1 - alphaBar))
}

/// x̃ at noise level `to` on the probability-flow ODE through x̃ at `from` (data N(μ, s²)):
/// (x̃ − μ)/√(s² + σ²) is constant along it.
func exactODE(_ x: Tensor, from: Double, to: Double, mean mu: Double, standardDeviation s: Double) -> Tensor {
    (x - Float(mu)) * Float(((s * s + to * to) / (s * s + from * from)).squareRoot()) + Float(mu)
}

/// Log-log slope of error against step count (least squares).
func convergenceSlope(_ steps: [Int], _ errors: [Double]) -> Double {
    let x = steps.map { log(Double($0)) }
    let y = errors.map { -log($0) }
    let (mx, my) = (x.reduce(0, +) / Double(x.count), y.reduce(0, +) / Double(y.count))
    let sxy = zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
    let sxx = x.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
    return sxy / sxx
}

@Suite("EulerDiscreteScheduler and EulerAncestralDiscrete (diffusers parity, convergence, statistics)")
struct EulerTests {
    typealias Euler = EulerDiscrete
    static let eulerCases: [(String, Euler.Configuration)] = [
        ("euler.linspace.epsilon", .init()),
        ("euler.leading.offset1.epsilon", .init(timestepSpacing: .leading, stepsOffset: 1)),
        ("euler.trailing.v", .init(prediction: .velocity, timestepSpacing: .trailing)),
        ("euler.karras.epsilon", .init(sigmaSpacing: .karras)),
        ("euler.karras.minmax.sample", .init(prediction: .x0, sigmaSpacing: .karras, sigmaMinimum: 0.1, sigmaMaximum: 80)),
        ("euler.exponential.epsilon", .init(timestepSpacing: .leading, sigmaSpacing: .exponential)),
        ("euler.loglinear.epsilon", .init(interpolation: .logLinear)),
        ("euler.sigmamin.leading.sample", .init(prediction: .x0, timestepSpacing: .leading, finalSigma: .sigmaMinimum)),
        ("euler.continuous.v", .init(prediction: .velocity, timestepType: .continuous)),
        ("euler.churn", .init(churn: 2, churnMinimumSigma: 0.5, churnMaximumSigma: 40, churnNoise: 1.003)),
        ("euler.karras.churn.v", .init(prediction: .velocity, sigmaSpacing: .karras, churn: 30)),
    ]

    @Test(
        "EulerDiscreteScheduler teacher-forced against diffusers, every option",
        arguments: eulerCases.indices)
    func eulerParity(_ index: Int) throws {
        let (key, configuration) = Self.eulerCases[index]
        let euler = try Euler(schedule: EulerFixtures.schedule, steps: 8, configuration: configuration)
        // Karras/exponential timesteps come from σ through diffusers' float32 log σ's, and
        // continuous ones are its float32 ¼ log σ: equal up to float32 rounding.
        let fractional = configuration.sigmaSpacing != .timesteps || configuration.timestepType == .continuous
        _ = EulerFixtures.replay(
            euler, key: key, sigmas: euler.sigmas,
            timestepTolerance: fractional ? EulerFixtures.fractionalTimestepTolerance : 0)
    }

    @Test("Timestep and σ grids for S = 1, 7, 50: each spacing, with interpolated, Karras and exponential σ")
    func eulerGrids() throws {
        var worstPaper = 0.0
        defer {
            print("Euler grids: σ's of the Float64 paper schedule vs diffusers' float32 one: \(worstPaper)")
            #expect(worstPaper < 1e-4)
        }
        for n in [1, 7, 50] {
            for spacing in TimestepSpacing.allCases {
                for (name, sigmaSpacing) in [("interp", Euler.SigmaSpacing.timesteps), ("karras", .karras), ("exponential", .exponential)] {
                    let key = "grid.euler.\(spacing.rawValue).\(name).\(n)"
                    let configuration = Euler.Configuration(timestepSpacing: spacing, sigmaSpacing: sigmaSpacing)
                    let euler = try Euler(schedule: EulerFixtures.schedule, steps: n, configuration: configuration)
                    let tolerance = sigmaSpacing == .timesteps ? 0 : EulerFixtures.fractionalTimestepTolerance
                    #expect(EulerFixtures.relative(euler.modelTimesteps, EulerFixtures.values(key + ".timesteps")) <= tolerance, "\(key)")
                    #expect(EulerFixtures.relative(euler.sigmas, EulerFixtures.values(key + ".sigmas")) < 1e-6, "\(key) σ")
                    // The Float64 paper schedule: the same grid up to diffusers' float32 rounding.
                    let paper = try Euler(schedule: paperSchedule, steps: n, configuration: configuration)
                    worstPaper = max(worstPaper, EulerFixtures.relative(paper.sigmas, EulerFixtures.values(key + ".sigmas")))
                }
            }
        }
    }

    /// Deterministic Euler (S_churn = 0) from x̃ = σ_0 z to σ = 0 with the exact ε̂, against the
    /// ODE's exact end point. The last step, from σ_{N−1} = σ(t = 0) = 0.01 to 0, returns the
    /// posterior mean instead of the ODE end point; its error, O(σ_{N−1}²), is far below Euler's.
    @Test("Euler converges at order 1 (linspace and Karras σ's)", arguments: [Euler.SigmaSpacing.timesteps, .karras])
    func eulerConvergence(_ sigmaSpacing: Euler.SigmaSpacing) throws {
        let (mu, s) = (0.3, 0.5)
        let steps = [10, 20, 40, 80]
        let z = standardNormal([4, 1, 4, 4], seed: 7)
        var errors: [Double] = []
        for n in steps {
            var euler = try Euler(schedule: paperSchedule, steps: n, configuration: .init(sigmaSpacing: sigmaSpacing))
            let start = Float(euler.initNoiseSigma) * z
            var x = start
            for i in euler.modelTimesteps.indices {
                let output = exactNoise(euler.scaleModelInput(x, index: i), sigma: euler.sigmas[i], mean: mu, standardDeviation: s)
                x = euler.step(output, index: i, sample: x) { preconditionFailure("deterministic") }.previous
            }
            let exact = exactODESolution(fromVarianceExploding: start, sigma: euler.sigmas[0], mean: mu, standardDeviation: s)
            errors.append(Double(x.maxAbsoluteDifference(exact)))
        }
        let slope = convergenceSlope(steps, errors)
        print("Euler convergence (\(sigmaSpacing)): errors \(errors) at \(steps) steps, slope \(slope)")
        #expect(abs(slope - 1) < 0.3)
    }

    /// S_churn > 0 adds noise before each step, x̂ = x̃ + S_noise √(σ̂² − σ²) z, then steps from σ̂
    /// with the ε̂ the network gave for x̃ at σ (diffusers does not re-evaluate it at x̂, σ̂):
    /// x̃' = x̂ + (σ_{i+1} − σ̂) ε̂(x̃, σ). For Gaussian data, ε̂ = σ (x̃ − μ)/(s² + σ²), so as in
    /// `ancestralStatistics` m ← g m, v ← g² v + S_noise² (σ̂² − σ²), g = 1 + (σ_{i+1} − σ̂) σ/(s² + σ²).
    @Test("Euler with churn (stochastic): samples have the predicted mean and variance")
    func eulerChurnStatistics() throws {
        let (mu, s) = (0.3, 0.5)
        let count = 4096.0
        let steps = 30
        let configuration = Euler.Configuration(churn: 10, churnMinimumSigma: 0.05, churnMaximumSigma: 50, churnNoise: 1.01)
        let euler = try Euler(schedule: paperSchedule, steps: steps, configuration: configuration)
        var (m, v) = (-mu, euler.initNoiseSigma * euler.initNoiseSigma)
        for i in euler.modelTimesteps.indices {
            let sigma = euler.sigmas[i]
            let gamma = sigma >= 0.05 && sigma <= 50 ? min(10 / Double(steps), 2.0.squareRoot() - 1) : 0
            let hat = sigma * (1 + gamma)
            let g = 1 + (euler.sigmas[i + 1] - hat) * sigma / (s * s + sigma * sigma)
            (m, v) = (g * m, g * g * v + 1.01 * 1.01 * (hat * hat - sigma * sigma))
        }
        var rng = SeededGenerator(seed: 21)
        let x = euler.sample(
            from: standardNormal([256, 1, 4, 4], seed: 22), using: &rng,
            predictNoise: exactGaussianPredictor(mean: mu, standardDeviation: s, schedule: paperSchedule)
        ).sample
        let (mean, variance) = moments(x)
        print("Euler churn \(steps) steps: mean \(mean) (predicted \(mu + m)), variance \(variance) (predicted \(v), data \(s * s))")
        #expect(abs(mean - (mu + m)) < 4 * (v / count).squareRoot())
        #expect(abs(variance / v - 1) < 4 * (2 / count).squareRoot())
    }

    @Test("Bad options are refused with clear messages")
    func eulerValidation() {
        func message(_ steps: Int, _ configuration: Euler.Configuration) -> String {
            do {
                _ = try Euler(schedule: paperSchedule, steps: steps, configuration: configuration)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(
            message(0, .init()) == "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000.")
        #expect(
            message(1001, .init())
                == "Cannot sample with 1001 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000.")
        #expect(
            message(10, .init(stepsOffset: -1)) == "EulerDiscreteScheduler: steps_offset = -1 is not supported; use an offset in 0..<1000.")
        #expect(
            message(10, .init(sigmaSpacing: .karras, sigmaMinimum: 0))
                == "EulerDiscreteScheduler: sigma_min = 0.0 is not supported; use a finite σ > 0, or none for the schedule's own.")
        #expect(
            message(10, .init(sigmaMaximum: .infinity))
                == "EulerDiscreteScheduler: sigma_max = inf is not supported; use a finite σ > 0, or none for the schedule's own.")
        #expect(message(10, .init(churn: -1)) == "EulerDiscreteScheduler: s_churn, s_noise = -1.0, 1.0 is not supported; both must be ≥ 0.")
    }

    // MARK: - EulerAncestralDiscrete

    typealias Ancestral = EulerAncestralDiscrete
    static let ancestralCases: [(String, Ancestral.Configuration)] = [
        ("ancestral.linspace.epsilon", .init()),
        ("ancestral.leading.offset1.v", .init(prediction: .velocity, timestepSpacing: .leading, stepsOffset: 1)),
        ("ancestral.trailing.epsilon", .init(timestepSpacing: .trailing)),
    ]

    @Test(
        "EulerAncestralDiscreteScheduler teacher-forced against diffusers, with diffusers' noise",
        arguments: ancestralCases.indices)
    func ancestralParity(_ index: Int) throws {
        let (key, configuration) = Self.ancestralCases[index]
        let ancestral = try Ancestral(schedule: EulerFixtures.schedule, steps: 8, configuration: configuration)
        _ = EulerFixtures.replay(ancestral, key: key, sigmas: ancestral.sigmas)
    }

    /// 4096 values from the generic loop with the exact ε̂ for N(μ, s²) data. For Gaussian data
    /// each step is linear: with x̂₀ − μ = (x̃ − μ) s²/(s² + σ²), x̃' − μ = g (x̃ − μ) + σ_up z,
    /// g = 1 + (σ_down − σ)/σ · σ²/(s² + σ²), so the mean's offset and the variance follow
    /// m ← g m, v ← g² v + σ_up², from m = −μ, v = initNoiseSigma² (computed here from the
    /// σ's alone). Euler-ancestral is a first-order SDE solver and its variance converges slowly
    /// (0.79 s² at 50 steps, 0.985 s² at 1000), so the samples must match that prediction (4
    /// standard errors), and at 1000 steps also the data.
    @Test(
        "Euler ancestral samples have the predicted mean and variance, and the data's at 1000 steps",
        arguments: [(TimestepSpacing.linspace, 20), (.trailing, 50), (.leading, 50), (.linspace, 1000)])
    func ancestralStatistics(_ spacing: TimestepSpacing, steps: Int) throws {
        let (mu, s) = (0.3, 0.5)
        let count = 4096.0
        let ancestral = try Ancestral(schedule: paperSchedule, steps: steps, configuration: .init(timestepSpacing: spacing))
        var (m, v) = (-mu, ancestral.initNoiseSigma * ancestral.initNoiseSigma)
        for i in ancestral.modelTimesteps.indices {
            let (from, to) = (ancestral.sigmas[i], ancestral.sigmas[i + 1])
            let up2 = to * to * (from * from - to * to) / (from * from)
            let down = (to * to - up2).squareRoot()
            let g = 1 + (down - from) / from * from * from / (s * s + from * from)
            (m, v) = (g * m, g * g * v + up2)
        }
        var rng = SeededGenerator(seed: 11)
        let x = ancestral.sample(
            from: standardNormal([256, 1, 4, 4], seed: 12), using: &rng,
            predictNoise: exactGaussianPredictor(mean: mu, standardDeviation: s, schedule: paperSchedule)
        ).sample
        let (mean, variance) = moments(x)
        print(
            "Euler ancestral \(spacing) \(steps) steps: mean \(mean) (predicted \(mu + m)), variance \(variance) (predicted \(v), data \(s * s))"
        )
        #expect(abs(mean - (mu + m)) < 4 * (v / count).squareRoot())
        #expect(abs(variance / v - 1) < 4 * (2 / count).squareRoot())
        if steps == 1000 {
            #expect(abs(m) < 1e-3 && abs(v / (s * s) - 1) < 0.02, "prediction \(mu + m), \(v)")
            #expect(abs(mean - mu) < 4 * s / count.squareRoot() && abs(variance / (s * s) - 1) < 0.02 + 4 * (2 / count).squareRoot())
        }
    }

    @Test("Euler ancestral refuses sample prediction (diffusers does not implement it)")
    func ancestralValidation() {
        #expect(
            throws: DiffusionError.invalidSchedulerOption(
                scheduler: "EulerAncestralDiscreteScheduler", option: "prediction_type", value: "sample",
                accepted: "use epsilon or v_prediction (diffusers does not implement sample)")
        ) {
            try Ancestral(schedule: paperSchedule, steps: 10, configuration: .init(prediction: .x0))
        }
        let message = DiffusionError.invalidSchedulerOption(
            scheduler: "EulerAncestralDiscreteScheduler", option: "prediction_type", value: "sample",
            accepted: "use epsilon or v_prediction (diffusers does not implement sample)"
        ).description
        #expect(
            message
                == "EulerAncestralDiscreteScheduler: prediction_type = sample is not supported; use epsilon or v_prediction (diffusers does not implement sample)."
        )
    }
}
