import Diffusion
import Foundation
import Tensors
import TestSupport
import Testing

/// Parity with diffusers 0.42 (DDPMScheduler, DDIMScheduler), fixtures from
/// scripts/reference/make_diffusion_fixtures.py. Fixture timesteps are diffusers' 0-based model
/// timesteps; paper t = timestep + 1.
///
/// Precision note: diffusers forms β_t = 1 − ᾱ_t/ᾱ_{t−1} in float32, which near t = 1 is off from
/// the Float64 formula by up to ~2e-4 (relative to β ≈ 1e-4). At such steps (where the fixture's
/// diffusers output and its Float64 re-evaluation `*.f64` differ by more than 5e-6) we match the
/// Float64 formula to 1e-5 and only require diffusers within 5e-4; everywhere else both to 1e-5.
/// x̂₀ = (x_t − √(1−ᾱ_t) ε)/√ᾱ_t reaches ~300 at t = T (1/√ᾱ_T ≈ 157), where one Float32 ulp is
/// 3e-5; it is compared relative to its magnitude: max |a − b| / max(1, max |b|)
/// (`relativeError(_:_:floor: 1)`).

@Suite("Parity with diffusers' schedulers")
struct SchedulerParityTests {
    static let ddpmTimesteps = Fixtures.integers("ddpm.timesteps")

    @Test("add_noise = q(x_t | x₀) (eq. 4) at t = 1, 2, 501, 1000")
    func addNoise() {
        let ddpm = DDPM(schedule: paperSchedule)
        let t = Fixtures.integers("add_noise.timesteps").map { $0 + 1 }
        let ours = ddpm.noised(Fixtures.tensor("add_noise.x0"), at: t, noise: Fixtures.tensor("add_noise.noise"))
        let error = ours.maxAbsoluteDifference(Fixtures.tensor("add_noise.noisy"))
        print("parity add_noise: max |ours − diffusers| = \(error)")
        #expect(error < 1e-5)
    }

    /// Checks one step against diffusers and the Float64 formula; returns (vs diffusers, vs f64).
    func compare(_ ours: Tensor, _ key: String, _ index: Int, label: String) -> (Float, Float) {
        let diffusers = Fixtures.entry(key, index)
        let exact = Fixtures.entry(key + ".f64", index)
        let (vsDiffusers, vsExact) = (ours.maxAbsoluteDifference(diffusers), ours.maxAbsoluteDifference(exact))
        let diffusersIsPrecise = diffusers.maxAbsoluteDifference(exact) <= 5e-6
        #expect(vsExact < 1e-5, "\(label): |ours − float64 formula| = \(vsExact)")
        #expect(vsDiffusers < (diffusersIsPrecise ? 1e-5 : 5e-4), "\(label): |ours − diffusers| = \(vsDiffusers)")
        return (diffusersIsPrecise ? vsDiffusers : 0, vsExact)
    }

    @Test(
        "DDPMScheduler.step, fixed_small and fixed_large, clip_sample on and off, t = 1000…1",
        arguments: [(ReverseVariance.fixedSmall, "fixed_small"), (.fixedLarge, "fixed_large")], [false, true])
    func ddpmStep(_ variance: (ReverseVariance, String), clip: Bool) {
        let ddpm = DDPM(schedule: paperSchedule, variance: variance.0, clipDenoised: clip)
        let key = "ddpm.\(variance.1).\(clip ? "clip" : "noclip")"
        let sample = Fixtures.tensor("ddpm.sample")
        let output = Fixtures.tensor("ddpm.model_output")
        var worst: (Float, Float, Float) = (0, 0, 0)
        for (i, modelT) in Self.ddpmTimesteps.enumerated() {
            let step = ddpm.reverseStep(sample, at: modelT + 1, modelOutput: output, noise: Fixtures.entry(key + ".noise", i))
            let (d, e) = compare(step.previous, key + ".prev", i, label: "\(key) t=\(modelT + 1)")
            let x0Error = relativeError(step.predictedX0, Fixtures.entry(key + ".x0", i), floor: 1)
            #expect(x0Error < 1e-5)
            worst = (max(worst.0, d), max(worst.1, e), max(worst.2, x0Error))
        }
        print("parity \(key): prev vs diffusers \(worst.0) (precise steps), vs float64 \(worst.1); x̂₀ relative vs diffusers \(worst.2)")
    }

    @Test("Strided DDPM, 10 leading steps, matches diffusers after PR #2076")
    func stridedDDPM() throws {
        let ddpm = try DDPM(schedule: paperSchedule, variance: .fixedSmall).respaced(steps: 10, spacing: .leading)
        let fixture = Fixtures.integers("ddpm_strided.timesteps")
        #expect(ddpm.originalTimesteps!.reversed() == fixture.map { $0 + 1 })
        let sample = Fixtures.tensor("ddpm.sample")
        let output = Fixtures.tensor("ddpm.model_output")
        var worst: (Float, Float) = (0, 0)
        for i in fixture.indices {
            let t = 10 - i  // respaced chain step, training timestep fixture[i] + 1
            #expect(ddpm.modelTimesteps([t]) == [Double(fixture[i])])
            let step = ddpm.reverseStep(sample, at: t, modelOutput: output, noise: Fixtures.entry("ddpm_strided.noise", i))
            let (d, e) = compare(step.previous, "ddpm_strided.prev", i, label: "strided step \(i)")
            worst = (max(worst.0, d), max(worst.1, e))
        }
        print("parity strided DDPM: prev vs diffusers \(worst.0), vs float64 \(worst.1)")
    }

    @Test(
        "DDIMScheduler.step for η = 0 and 1, leading and trailing, clipping (ε̂ kept or recomputed), set_alpha_to_one",
        arguments: ["leading", "trailing"], [0.0, 1.0])
    func ddimStep(_ spacingName: String, eta: Double) throws {
        var worst: Float = 0
        // "clip": ε̂ recomputed from the clipped x̂₀ (use_clipped_model_output=True); "clipkeep":
        // the network's ε̂ kept (DDIMPipeline's default, use_clipped_model_output=None).
        for clip in ["noclip", "clip", "clipkeep"] {
            for alphaOne in [true, false] {
                let key = "ddim.\(spacingName).eta\(Int(eta)).\(clip).\(alphaOne ? "alphaone" : "alphafirst")"
                let ddim = try DDIM(
                    DDPM(schedule: paperSchedule, clipDenoised: clip != "noclip"), steps: 10,
                    spacing: TimestepSpacing(parsing: spacingName), eta: eta, setAlphaToOne: alphaOne,
                    recomputeNoiseAfterClipping: clip == "clip")
                #expect(ddim.timesteps == Fixtures.integers(key + ".timesteps").map { $0 + 1 })
                let sample = Fixtures.tensor("ddpm.sample")
                let output = Fixtures.tensor("ddpm.model_output")
                for i in ddim.timesteps.indices {
                    let step = ddim.step(sample, index: i, modelOutput: output, noise: Fixtures.entry(key + ".noise", i))
                    let errors = [
                        step.previous.maxAbsoluteDifference(Fixtures.entry(key + ".prev", i)),
                        relativeError(step.predictedX0, Fixtures.entry(key + ".x0", i), floor: 1),
                    ]
                    #expect(errors.max()! < 1e-5, "\(key) step \(i): \(errors)")
                    worst = max(worst, errors.max()!)
                }
            }
        }
        print("parity DDIM \(spacingName) η=\(eta): max |ours − diffusers| = \(worst) (x̂₀ relative)")
    }

    @Test(
        "set_timesteps for leading, linspace and trailing spacing, S = 1, 7, 10, 50, 1000",
        arguments: TimestepSpacing.allCases)
    func spacing(_ spacing: TimestepSpacing) throws {
        for n in [1, 7, 10, 50, 1000] {
            let ours = try spacing.timesteps(steps: n, timestepCount: 1000)
            for scheduler in ["ddim", "ddpm"] {
                #expect(
                    ours == Fixtures.integers("timesteps.\(scheduler).\(spacing.rawValue).\(n)").map { $0 + 1 },
                    "\(scheduler) \(spacing) \(n)")
            }
        }
    }
}
