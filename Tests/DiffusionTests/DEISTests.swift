import Diffusion
import Foundation
import Tensors
import Testing

@Suite("DEISMultistepScheduler (Zhang & Chen 2023) against diffusers")
struct DEISTests {
    typealias Config = DEISMultistep.Configuration

    static func config(_ edit: (inout Config) -> Void) -> Config {
        var c = Config()
        edit(&c)
        return c
    }

    /// The configurations of make_unipc_deis_pndm_fixtures.py's DEIS table.
    static let cases: [(String, Int, Config)] = [
        ("default", 10, Config()),
        ("order1", 8, config { $0.solverOrder = 1 }),
        ("order3", 12, config { $0.solverOrder = 3 }),
        ("order3_20steps", 20, config { $0.solverOrder = 3 }),
        ("order3_3steps", 3, config { $0.solverOrder = 3 }),
        (
            "no_lower_final", 10,
            config {
                $0.solverOrder = 3
                $0.lowerOrderFinal = false
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
            "leading_offset", 10,
            config {
                $0.solverOrder = 3
                $0.timestepSpacing = .leading
                $0.stepsOffset = 1
            }
        ),
        ("trailing", 10, config { $0.timestepSpacing = .trailing }),
        (
            "v_prediction", 10,
            config {
                $0.solverOrder = 3
                $0.prediction = .velocity
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
        ("single_step", 1, Config()),
    ]

    @Test("Teacher-forced steps and timesteps equal diffusers'", arguments: cases.map(\.0))
    func parity(_ name: String) throws {
        let (_, steps, configuration) = Self.cases.first { $0.0 == name }!
        let scheduler = try DEISMultistep(schedule: SolverFixtures.schedule, steps: steps, configuration: configuration)
        let sigmas = SolverFixtures.tensor("deis.\(name).sigmas").scalars.map(Double.init)
        #expect(
            scheduler.sigmas.count == sigmas.count && zip(scheduler.sigmas, sigmas).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, $1) },
            "σ \(scheduler.sigmas) vs \(sigmas)")
        // One step from σ = 157 to σ_min = 0.01 subtracts two terms ≈ 470 to leave ≈ 0.3: one
        // Float32 ulp of 470 is 3e-5, whoever rounds the coefficient.
        SolverFixtures.parity(scheduler, key: "deis.\(name)", float64Tolerance: name == "single_step" ? 5e-5 : 1e-5)
    }

    /// tAB-DEIS of order r integrates an order-(r − 1) polynomial exactly, so its global error is
    /// O(h^r). Karras noise levels make h uniform in the Karras ramp (their last step repeats
    /// σ_min, a no-op); 41, 81, 161 evaluations (40, 80, 160 real steps) have errors from 2e-5 up,
    /// above Float32 rounding, and are past the warm-up's influence; with ≥ 15 steps
    /// lower_order_final changes nothing. Order 3 needs the Float64 coefficient integrals (with
    /// diffusers' Float32 ones its error stalls near 1e-3 from 40 steps on).
    @Test("Global order 1, 2, 3", arguments: [1, 2, 3])
    func convergence(_ order: Int) throws {
        let steps = [41, 81, 161]
        let errors = try steps.map { n in
            let scheduler = try DEISMultistep(
                schedule: paperSchedule, steps: n,
                configuration: Self.config {
                    $0.solverOrder = order
                    $0.useKarrasSigmas = true
                })
            return Convergence.error(scheduler, sigmas: scheduler.sigmas)
        }
        let slope = Convergence.slope(steps: steps.map { $0 - 1 }, errors: errors)
        print("convergence DEIS order \(order): errors \(errors), slope \(slope)")
        #expect(abs(slope - Double(order)) <= 0.3)
    }

    /// The whole run in the protocol's denoising loop (`Scheduler.sample`) with the exact ε-predictor
    /// at the model timesteps, from x_T = z: near the exact ODE end point (from the first noise
    /// level to the last) after 25 steps.
    @Test("Runs in the generic denoising loop and lands near the exact ODE solution")
    func denoisingLoop() throws {
        let scheduler = try DEISMultistep(schedule: paperSchedule, steps: 25, configuration: Self.config { $0.solverOrder = 3 })
        var rng = SeededGenerator(seed: 1)
        let predictor = exactGaussianPredictor(mean: Convergence.mu, standardDeviation: Convergence.s, schedule: paperSchedule)
        let result = scheduler.sample(from: Convergence.z, using: &rng, predictNoise: predictor).sample
        let sigmas = DiscreteSigmas(paperSchedule).values
        let exact = Convergence.exact(from: sigmas[Int(scheduler.modelTimesteps[0])], to: scheduler.sigmas.last!)
        let error = result.maxAbsoluteDifference(exact)
        print("denoising loop DEIS, 25 steps: max |x − exact| = \(error)")
        #expect(error < 0.02)  // measured 0.017
    }

    @Test("Invalid options are refused with a clear message")
    func invalidOptions() {
        func message(_ steps: Int = 10, _ edit: (inout Config) -> Void) -> String? {
            do { _ = try DEISMultistep(schedule: paperSchedule, steps: steps, configuration: Self.config(edit)) } catch {
                return error.description
            }
            return nil
        }
        #expect(
            message(0) { _ in } == "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000.")
        #expect(message { $0.solverOrder = 0 } == "DEISMultistepScheduler: solver_order = 0 is not supported; use 1, 2 or 3.")
        #expect(
            message(999) {
                $0.timestepSpacing = .leading
                $0.stepsOffset = 1000
            }
                == "DEISMultistepScheduler: steps_offset = 1000 is not supported; timesteps [1999, 1998, 1997]… must stay within 0..<1000.")
    }
}
