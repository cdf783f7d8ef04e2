import Diffusion
import Foundation
import Tensors
import Testing

@Suite("PNDMScheduler (Liu et al. 2022) against diffusers")
struct PNDMTests {
    typealias Config = PNDM.Configuration

    static func config(_ edit: (inout Config) -> Void) -> Config {
        var c = Config()
        edit(&c)
        return c
    }

    /// The configurations of make_unipc_deis_pndm_fixtures.py's PNDM table.
    static let cases: [(String, Int, Config)] = [
        ("prk", 10, Config()),
        ("prk_4steps", 4, Config()),
        (
            "prk_alphaone_v", 10,
            config {
                $0.setAlphaToOne = true
                $0.prediction = .velocity
            }
        ),
        ("prk_linspace", 7, config { $0.timestepSpacing = .linspace }),
        ("plms", 10, config { $0.skipPRKSteps = true }),
        ("plms_1step", 1, config { $0.skipPRKSteps = true }),
        ("plms_2steps", 2, config { $0.skipPRKSteps = true }),
        (
            "plms_offset_alphaone", 12,
            config {
                $0.skipPRKSteps = true
                $0.stepsOffset = 1
                $0.setAlphaToOne = true
            }
        ),
        (
            "plms_trailing", 10,
            config {
                $0.skipPRKSteps = true
                $0.timestepSpacing = .trailing
            }
        ),
        (
            "plms_linspace_v", 9,
            config {
                $0.skipPRKSteps = true
                $0.timestepSpacing = .linspace
                $0.prediction = .velocity
            }
        ),
    ]

    @Test("Teacher-forced steps and timesteps (repeated entries included) equal diffusers'", arguments: cases.map(\.0))
    func parity(_ name: String) throws {
        let (_, steps, configuration) = Self.cases.first { $0.0 == name }!
        let scheduler = try PNDM(schedule: SolverFixtures.schedule, steps: steps, configuration: configuration)
        SolverFixtures.parity(scheduler, key: "pndm.\(name)")
    }

    /// A chain whose variance-exploding noise level is linear in the timestep, σ_t = (t + 1)/T
    /// (ᾱ_t = 1/(1 + σ_t²)): DDIM's transfer is Euler's method in σ for dx̃/dσ = ε̂, so on this
    /// chain PNDM's ε′ are the classical Adams–Bashforth and Runge–Kutta combinations on a uniform
    /// σ grid. (On the paper's chain σ_t ≈ √(β₁ t) near t = 0 is not smooth in t, and any
    /// t-uniform multistep method drops to about first order there: 1.1–1.3 measured.)
    static let linearSigmaChain: NoiseSchedule = {
        let alphaBars: [Double] = (0..<1000).map { t in
            let sigma = Double(t + 1) / 1000
            return 1 / (1 + sigma * sigma)
        }
        let betas: [Double] = alphaBars.indices.map { i in 1 - alphaBars[i] / (i == 0 ? 1 : alphaBars[i - 1]) }
        return try! NoiseSchedule(betas: betas)
    }()

    /// F-PNDM (PRK warm-up, then PLMS) is fourth order: RK4 and AB4 both have local error O(h⁵).
    /// With `skip_prk_steps` the two warm-up updates (pseudo improved Euler, then AB2) have local
    /// errors O(h³), so the order is 3 only asymptotically: on this chain their constant is small
    /// (the solution is nearly linear in σ near σ = 1) and the accumulated O(h⁴) AB4 error
    /// dominates for 16–40 steps, so the slope there is 4 (diffusers in Float64 on this chain:
    /// 3.0, 3.8, 4.1, 4.7 between 10, 20, 25, 50, 100 steps, the h³ and h⁴ terms partly
    /// cancelling). The run stops at timestep 0 (σ = 1e-3, before the last, unequal jump to σ = 0).
    /// PRK uses 16, 20, 25, 50 steps (δ = 62, 50, 40, 20: even, so that the RK midpoints are
    /// timesteps), skip 16, 20, 25, 40; their errors (≥ 4e-6) stay above the Float32 floor of
    /// ~1–2e-6 that 100–250 steps reach.
    @Test("Order 4 (PRK warm-up) and 4 in this range (skip_prk_steps) on a chain linear in σ", arguments: [false, true])
    func convergence(_ skipPRK: Bool) throws {
        let steps = skipPRK ? [16, 20, 25, 40] : [16, 20, 25, 50]
        let chain = Self.linearSigmaChain
        let predictor = exactGaussianPredictor(mean: Convergence.mu, standardDeviation: Convergence.s, schedule: chain)
        let errors = try steps.map { n in
            var scheduler = try PNDM(
                schedule: chain, steps: n,
                configuration: Self.config {
                    $0.skipPRKSteps = skipPRK
                    $0.setAlphaToOne = true
                })
            var x = Convergence.z
            let timesteps = scheduler.modelTimesteps
            for i in 0..<(timesteps.count - 1) {
                let output = predictor(x, Array(repeating: timesteps[i], count: x.shape[0]))
                x = scheduler.step(output, index: i, sample: x) { preconditionFailure() }.previous
            }
            #expect(timesteps.last == 0)
            let sigma = { (t: Double) in Double(Int(t) + 1) / 1000 }
            return Double(x.maxAbsoluteDifference(Convergence.exact(from: sigma(timesteps[0]), to: sigma(0))))
        }
        let slope = Convergence.slope(steps: steps, errors: errors)
        print("convergence PNDM \(skipPRK ? "skip_prk_steps" : "PRK warm-up"): errors \(errors), slope \(slope) (theory 4 here)")
        #expect(abs(slope - 4) <= 0.3)
    }

    @Test("Steps must run in order; diffusers' timesteps list has one entry per evaluation")
    func evaluationCount() throws {
        let prk = try PNDM(schedule: paperSchedule, steps: 10, configuration: Config())
        #expect(prk.evaluationCount == 12 + 7)
        #expect(prk.modelTimesteps.prefix(4) == [900, 850, 850, 800])
        let plms = try PNDM(schedule: paperSchedule, steps: 10, configuration: Self.config { $0.skipPRKSteps = true })
        #expect(plms.modelTimesteps == [900, 800, 800, 700, 600, 500, 400, 300, 200, 100, 0])
    }

    /// The whole run in the protocol's denoising loop (`Scheduler.sample`) with the exact ε-predictor
    /// at the model timesteps, from x_T = z: near the exact ODE end point (from the first noise
    /// level to the last) after 25 steps.
    @Test("Runs in the generic denoising loop and lands near the exact ODE solution")
    func denoisingLoop() throws {
        let scheduler = try PNDM(
            schedule: paperSchedule, steps: 25,
            configuration: Self.config {
                $0.skipPRKSteps = true
                $0.setAlphaToOne = true
            })
        var rng = SeededGenerator(seed: 1)
        let predictor = exactGaussianPredictor(mean: Convergence.mu, standardDeviation: Convergence.s, schedule: paperSchedule)
        let result = scheduler.sample(from: Convergence.z, using: &rng, predictNoise: predictor).sample
        let sigmas = DiscreteSigmas(paperSchedule).values
        let exact = Convergence.exact(from: sigmas[Int(scheduler.modelTimesteps[0])], to: 0)
        let error = result.maxAbsoluteDifference(exact)
        print("denoising loop PNDM, 25 steps: max |x − exact| = \(error)")
        #expect(error < 0.02)  // measured 0.004
    }

    @Test("Invalid options are refused with a clear message")
    func invalidOptions() {
        func message(_ steps: Int = 10, _ edit: (inout Config) -> Void) -> String? {
            do { _ = try PNDM(schedule: paperSchedule, steps: steps, configuration: Self.config(edit)) } catch {
                return error.description
            }
            return nil
        }
        #expect(
            message(0) { $0.skipPRKSteps = true }
                == "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000.")
        #expect(
            message(3) { _ in } == "PNDMScheduler: skip_prk_steps = false is not supported; the Runge–Kutta warm-up takes "
                + "3 steps and needs at least 4 (got 3); use skip_prk_steps = true.")
        #expect(message { $0.prediction = .x0 } == "PNDMScheduler: prediction_type = sample is not supported; use epsilon or v_prediction.")
        #expect(
            message(1000) {
                $0.skipPRKSteps = true
                $0.stepsOffset = 1
            }
                == "PNDMScheduler: steps_offset = 1 is not supported; timesteps [1000, 999, 999]… must stay within 0..<1000.")
    }
}
