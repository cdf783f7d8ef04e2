import Diffusion
import Foundation
import SafeTensors
import Tensors
import TestSupport
import Testing

/// Tensors written by scripts/reference/make_unipc_deis_pndm_fixtures.py (diffusers' UniPC, DEIS
/// and PNDM schedulers): per configuration `<family>.<name>`, the timesteps, the σ, and per
/// evaluation the input sample, the model output and diffusers' prev_sample.
enum SolverFixtures {
    static let file: SafeTensorsFile = {
        let url = Bundle.module.url(forResource: "unipc_deis_pndm", withExtension: "safetensors", subdirectory: "Fixtures")!
        do { return try SafeTensorsFile.read(contentsOf: url) } catch { preconditionFailure("\(error)") }
    }()

    static func tensor(_ key: String) -> Tensor {
        do { return try file.tensor(key, in: "unipc_deis_pndm.safetensors") } catch { preconditionFailure("\(error)") }
    }

    /// diffusers' chain: its ᾱ are a Float32 cumulative product (ᾱ_999 is 2e-5 relative off the
    /// Float64 one), so parity is checked on that exact chain, β_i = 1 − ᾱ_i/ᾱ_{i−1} in Float64.
    static let schedule: NoiseSchedule = {
        let alphaBars = tensor("alphas_cumprod").scalars.map(Double.init)
        let betas = alphaBars.indices.map { i in 1 - alphaBars[i] / (i == 0 ? 1 : alphaBars[i - 1]) }
        return try! NoiseSchedule(betas: betas)
    }()

    static func entry(_ key: String, _ index: Int) -> Tensor {
        let stacked = tensor(key)
        return stacked.sliced(alongAxis: 0, index..<(index + 1)).reshaped(to: Array(stacked.shape.dropFirst()))
    }

    /// Teacher-forced parity: `modelTimesteps` must equal diffusers' timesteps, and at every
    /// evaluation `step` on diffusers' input sample and model output must give diffusers'
    /// prev_sample (errors are max |Δ| / max(1, max |expected|)).
    ///
    /// Precision: diffusers forms the scalar coefficients (λ, e^h − 1, the φ recursion, DEIS's
    /// log-ρ integrals, PNDM's ᾱ differences) from Float32 σ or ᾱ in Float32 arithmetic, which
    /// puts its result up to ~5e-5 off the same code with Float64 coefficients (at σ ≈ 157 the
    /// conversion (x − σ ε̂)/α amplifies coefficient rounding 470-fold). The fixture also has
    /// diffusers' own step code run with Float64 coefficients on the same Float32 inputs (`.prev.f64`). Like SchedulerParityTests: we must match that to 1e-5 at
    /// every step, and diffusers itself to 1e-5 wherever diffusers is within 5e-6 of it (1e-4
    /// elsewhere). `float64Tolerance` is looser only where Float32 tensor rounding itself costs
    /// more (see the UniPC parity test). Returns the worst error against diffusers
    /// at its precise steps and the worst against the Float64-coefficient evaluation.
    @discardableResult
    static func parity<S: Scheduler>(_ scheduler: S, key: String, float64Tolerance: Float = 1e-5) -> (diffusers: Float, float64: Float) {
        var scheduler = scheduler
        let timesteps = tensor(key + ".timesteps").scalars.map(Double.init)
        #expect(scheduler.modelTimesteps == timesteps, "\(key): timesteps \(scheduler.modelTimesteps) vs \(timesteps)")
        guard scheduler.modelTimesteps.count == timesteps.count else { return (.infinity, .infinity) }
        var worst: (Float, Float) = (0, 0)
        var imprecise = 0
        var worstImprecise: Float = 0
        for i in timesteps.indices {
            let step = scheduler.step(entry(key + ".output", i), index: i, sample: entry(key + ".sample", i)) {
                preconditionFailure("deterministic solver drew noise")
            }
            let (diffusers, exact) = (entry(key + ".prev", i), entry(key + ".prev.f64", i))
            let precise = relativeError(diffusers, exact, floor: 1) <= 5e-6
            let (vsDiffusers, vsExact) = (relativeError(step.previous, diffusers, floor: 1), relativeError(step.previous, exact, floor: 1))
            #expect(vsExact <= float64Tolerance, "\(key) step \(i): vs float64 \(vsExact)")
            #expect(vsDiffusers <= (precise ? 1e-5 : 1e-4), "\(key) step \(i): vs diffusers \(vsDiffusers)")
            if !precise {
                imprecise += 1
                worstImprecise = max(worstImprecise, vsDiffusers)
            }
            worst = (max(worst.0, precise ? vsDiffusers : 0), max(worst.1, vsExact.isNaN ? .infinity : vsExact))
        }
        print(
            "parity \(key): vs diffusers \(worst.0) at precise steps (\(worstImprecise) at the \(imprecise) of "
                + "\(timesteps.count) imprecise ones), vs float64 coefficients \(worst.1)")
        return worst
    }
}

enum Convergence {
    static let (mu, s) = (0.3, 0.5)
    static let z = standardNormal([2, 1, 8, 8], seed: 7)

    /// max |solver − exact| after running `scheduler`, whose σ per step are `sigmas` (count + 1).
    static func error<S: Scheduler>(_ scheduler: S, sigmas: [Double]) -> Double {
        var scheduler = scheduler
        var x = z
        for i in scheduler.modelTimesteps.indices {
            let (alpha, sigma) = DiscreteSigmas.alphaSigma(sigmas[i])
            let ab = alpha * alpha
            let epsilon = (x - Float(alpha * mu)) * Float(sigma / (ab * s * s + 1 - ab))
            x = scheduler.step(epsilon, index: i, sample: x) { preconditionFailure() }.previous
        }
        return Double(x.maxAbsoluteDifference(exact(from: sigmas[0], to: sigmas[sigmas.count - 1])))
    }

    /// The exact VP sample at noise level `end` from x_T = z at `start`.
    static func exact(from start: Double, to end: Double) -> Tensor {
        let xTilde = z * Float((1 + start * start).squareRoot())
        return
            ((xTilde - Float(mu)) * Float((s * s + end * end).squareRoot() / (s * s + start * start).squareRoot())
            + Float(mu)) * Float(1 / (1 + end * end).squareRoot())
    }

    /// Least-squares slope of log(error) against log(steps).
    static func slope(steps: [Int], errors: [Double]) -> Double {
        let (xs, ys) = (steps.map { Foundation.log(Double($0)) }, errors.map { Foundation.log($0) })
        let (mx, my) = (xs.reduce(0, +) / Double(xs.count), ys.reduce(0, +) / Double(ys.count))
        let num = zip(xs, ys).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
        return -num / xs.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
    }
}

@Suite("UniPCMultistepScheduler (Zhao et al. 2023) against diffusers")
struct UniPCTests {
    typealias Config = UniPCMultistep.Configuration

    static func config(_ edit: (inout Config) -> Void) -> Config {
        var c = Config()
        edit(&c)
        return c
    }

    /// The configurations of make_unipc_deis_pndm_fixtures.py's UNIPC table.
    static let cases: [(String, Int, Config)] = [
        ("default", 10, Config()),
        (
            "bh1_order3_sigmamin", 12,
            config {
                $0.solverType = .bh1
                $0.solverOrder = 3
                $0.finalSigma = .sigmaMin
            }
        ),
        ("order1", 8, config { $0.solverOrder = 1 }),
        (
            "order3_eps_sigmamin", 12,
            config {
                $0.solverOrder = 3
                $0.predictX0 = false
                $0.finalSigma = .sigmaMin
            }
        ),
        (
            "bh1_eps_v", 10,
            config {
                $0.solverType = .bh1
                $0.predictX0 = false
                $0.finalSigma = .sigmaMin
                $0.prediction = .velocity
            }
        ),
        (
            "disable_corrector", 10,
            config {
                $0.solverOrder = 3
                $0.disableCorrector = [0, 3, 9]
            }
        ),
        (
            "no_lower_final", 10,
            config {
                $0.solverOrder = 3
                $0.lowerOrderFinal = false
                $0.finalSigma = .sigmaMin
            }
        ),
        (
            "karras_order3", 10,
            config {
                $0.solverOrder = 3
                $0.useKarrasSigmas = true
            }
        ),
        (
            "karras_bh1_sigmamin", 10,
            config {
                $0.solverType = .bh1
                $0.useKarrasSigmas = true
                $0.finalSigma = .sigmaMin
            }
        ),
        (
            "leading_offset", 10,
            config {
                $0.timestepSpacing = .leading
                $0.stepsOffset = 1
            }
        ),
        (
            "trailing", 10,
            config {
                $0.timestepSpacing = .trailing
                $0.solverOrder = 3
            }
        ),
        (
            "threshold_sample", 10,
            config {
                $0.prediction = .x0
                $0.thresholding = true
                $0.dynamicThresholdingRatio = 0.9
                $0.sampleMaxValue = 1.5
            }
        ),
        (
            "v_prediction", 10,
            config {
                $0.prediction = .velocity
                $0.solverOrder = 3
            }
        ),
        ("single_step", 1, Config()),
    ]

    @Test("Teacher-forced steps and timesteps equal diffusers'", arguments: cases.map(\.0))
    func parity(_ name: String) throws {
        let (_, steps, configuration) = Self.cases.first { $0.0 == name }!
        let scheduler = try UniPCMultistep(schedule: SolverFixtures.schedule, steps: steps, configuration: configuration)
        let sigmas = SolverFixtures.tensor("unipc.\(name).sigmas").scalars.map(Double.init)
        #expect(
            zip(scheduler.sigmas, sigmas).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, $1) } && scheduler.sigmas.count == sigmas.count,
            "σ \(scheduler.sigmas) vs \(sigmas)")
        // UniC corrects from the previous step's corrected sample, which the scheduler keeps, so
        // teacher forcing cannot cut that chain. With noise prediction each correction multiplies
        // the carried sample by α_t/α_s > 1, in all by α_end/α_start ≈ 157 over a run, so one-ulp
        // differences grow to 1.5e-5: diffusers' own code on Float64 tensors differs from it on
        // Float32 tensors by that much. (With data prediction the factor is σ_t/σ_s < 1.)
        SolverFixtures.parity(scheduler, key: "unipc.\(name)", float64Tolerance: configuration.predictX0 ? 1e-5 : 3e-5)
    }

    /// UniPC-p is of order p + 1 (Zhao et al. §3.1: UniC-p raises UniP-p's order of accuracy by
    /// one, for B(h) = h and e^h − 1 alike). Karras noise levels with final σ_min make h uniform in the Karras ramp,
    /// and the last evaluation a no-op step σ_min → σ_min whose only effect is to correct the last
    /// real update, so every real step is corrected and the order is p + 1 end to end (with
    /// `final_sigmas_type` zero the last update jumps to x̂₀ and is first order in σ²). Steps 21,
    /// 41, 81 (20, 40, 80 real steps) keep the error above Float32 rounding (≥ 1e-4).
    @Test(
        "Order p + 1 with the corrector: p = 1 → 2, p = 2 → 3 (bh1 and bh2), p = 3 → 4",
        arguments: [(1, UniPCMultistep.SolverType.bh2, 2.0), (2, .bh2, 3), (2, .bh1, 3), (3, .bh2, 4)])
    func convergence(_ order: Int, _ solver: UniPCMultistep.SolverType, _ expected: Double) throws {
        let steps = [21, 41, 81]
        let errors = try steps.map { n in
            let scheduler = try UniPCMultistep(
                schedule: paperSchedule, steps: n,
                configuration: Self.config {
                    $0.solverOrder = order
                    $0.solverType = solver
                    $0.useKarrasSigmas = true
                    $0.finalSigma = .sigmaMin
                })
            return Convergence.error(scheduler, sigmas: scheduler.sigmas)
        }
        let slope = Convergence.slope(steps: steps.map { $0 - 1 }, errors: errors)
        print("convergence UniPC p=\(order) \(solver): errors \(errors), slope \(slope) (theory \(expected))")
        #expect(abs(slope - expected) <= 0.3)
    }

    /// The whole run in the protocol's denoising loop (`Scheduler.sample`) with the exact ε-predictor
    /// at the model timesteps, from x_T = z: near the exact ODE end point (from the first noise
    /// level to the last) after 25 steps.
    @Test("Runs in the generic denoising loop and lands near the exact ODE solution")
    func denoisingLoop() throws {
        let scheduler = try UniPCMultistep(schedule: paperSchedule, steps: 25)
        var rng = SeededGenerator(seed: 1)
        let predictor = exactGaussianPredictor(mean: Convergence.mu, standardDeviation: Convergence.s, schedule: paperSchedule)
        let result = scheduler.sample(from: Convergence.z, using: &rng, predictNoise: predictor).sample
        let sigmas = DiscreteSigmas(paperSchedule).values
        let exact = Convergence.exact(from: sigmas[Int(scheduler.modelTimesteps[0])], to: 0)
        let error = result.maxAbsoluteDifference(exact)
        print("denoising loop UniPC, 25 steps: max |x − exact| = \(error)")
        #expect(error < 0.05)  // 0.029: the default last update jumps to x̂₀ (σ = 0), first order in σ²
    }

    @Test("Invalid options are refused with a clear message")
    func invalidOptions() {
        func message(_ steps: Int = 10, _ edit: (inout Config) -> Void) -> String? {
            do { _ = try UniPCMultistep(schedule: paperSchedule, steps: steps, configuration: Self.config(edit)) } catch {
                return error.description
            }
            return nil
        }
        #expect(
            message(0) { _ in } == "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000.")
        #expect(
            message(1001) { _ in }
                == "Cannot sample with 1001 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000.")
        #expect(message { $0.solverOrder = 4 } == "UniPCMultistepScheduler: solver_order = 4 is not supported; use 1, 2 or 3.")
        let zero =
            "UniPCMultistepScheduler: final_sigmas_type = zero is not supported; with solver_type bh1 or "
            + "predict_x0 = false the last update divides by σ = 0 (diffusers returns NaN); use sigma_min."
        #expect(message { $0.solverType = .bh1 } == zero)
        #expect(message { $0.predictX0 = false } == zero)
        #expect(
            message { $0.lowerOrderFinal = false } == "UniPCMultistepScheduler: lower_order_final = false is not supported; "
                + "with final_sigmas_type zero and solver_order > 1 the last update is singular (diffusers returns inf or fails); "
                + "keep lower_order_final or use sigma_min.")
        #expect(
            message(1000) {
                $0.timestepSpacing = .leading
                $0.stepsOffset = 1
            } == nil)
        #expect(
            message(999) {
                $0.timestepSpacing = .leading
                $0.stepsOffset = 1000
            }
                == "UniPCMultistepScheduler: steps_offset = 1000 is not supported; timesteps [1999, 1998, 1997]… must stay within 0..<1000."
        )
    }
}
