import Diffusion
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// End-to-end parity with diffusers on a tiny random-init UNet2DModel in the DDPM block layout
/// (fixtures: scripts/reference/make_pipeline_fixtures.py).
@Suite("Parity with diffusers pipelines")
struct DiffusersParityTests {
    @Test("The safetensors and torch .bin directories load to identical weights")
    func bothFormats() throws {
        let safe = try ModelDirectory.stateDictionary(from: try ModelDirectory.weightsFile(at: ParityFixtures.modelDirectory))
        let bin = try ModelDirectory.stateDictionary(from: try ModelDirectory.weightsFile(at: ParityFixtures.binDirectory))
        #expect(try ModelDirectory.weightsFile(at: ParityFixtures.binDirectory).lastPathComponent == "diffusion_pytorch_model.bin")
        #expect(Set(safe.keys) == Set(bin.keys))
        for (key, tensor) in safe {
            #expect(tensor.shape == bin[key]?.shape && tensor.scalars == bin[key]?.scalars, "\(key)")
        }
        let a = try ModelDirectory.loadUNet(from: ParityFixtures.modelDirectory).stateDictionary()
        let b = try ModelDirectory.loadUNet(from: ParityFixtures.binDirectory).stateDictionary()
        #expect(a.count == safe.count && a.keys.allSatisfy { a[$0]!.scalars == b[$0]!.scalars })
        #expect(
            try ModelDirectory.configuration(at: ParityFixtures.binDirectory)
                == ModelDirectory.configuration(at: ParityFixtures.modelDirectory))
    }

    @Test("DDIM, 20 steps, η = 0, clip_sample off: the whole run equals diffusers' to 1e-4 relative")
    func ddimEndToEnd() throws {
        let pipeline = try ParityFixtures.pipeline()
        #expect(pipeline.diffusion.clipDenoised == false)  // scheduler_config.json says clip_sample false
        let ddim = try DDIM(pipeline.diffusion, steps: 20)
        #expect(ddim.timesteps == ParityFixtures.integers("ddim.timesteps").map { $0 + 1 })
        let sample = try pipeline.sample(from: ParityFixtures.tensor("ddim.xT"), sampler: .ddim(steps: 20, eta: 0), seed: 0).sample
        let error = relativeError(sample, ParityFixtures.tensor("ddim.sample"))
        print("parity DDIM 20 steps end to end (clip off): max |ours − diffusers| / max |diffusers| = \(error)")
        #expect(error < 1e-4)
    }

    @Test("DDIM with clip_sample on, each step from diffusers' state: network to 1e-4, step to 1e-4 relative (ε̂ kept and recomputed)")
    func ddimClippedStepByStep() throws {
        var pipeline = try ParityFixtures.pipeline()
        var diffusion = pipeline.diffusion
        diffusion.clipDenoised = true
        pipeline = SamplingPipeline(unet: pipeline.unet, diffusion: diffusion)
        let timesteps = ParityFixtures.integers("ddim_clip.timesteps")
        let kept = try DDIM(diffusion, steps: timesteps.count)
        let recomputed = try DDIM(diffusion, steps: timesteps.count, recomputeNoiseAfterClipping: true)
        #expect(kept.timesteps == timesteps.map { $0 + 1 })
        let predictor = pipeline.unet.noisePredictor()
        var worst: (network: Float, kept: Float, recomputed: Float, clipped: Float) = (0, 0, 0, 0)
        for (i, t) in kept.timesteps.enumerated() {
            let x = ParityFixtures.entry("ddim_clip.states", i)
            let output = predictor(x, diffusion.modelTimesteps([t]))
            let network = output.maxAbsoluteDifference(ParityFixtures.entry("ddim_clip.model_outputs", i))
            let zero = Tensor.zeros(x.shape)
            let a = relativeError(
                kept.step(x, index: i, modelOutput: output, noise: zero).previous, ParityFixtures.entry("ddim_clip.states", i + 1))
            let b = relativeError(
                recomputed.step(x, index: i, modelOutput: output, noise: zero).previous,
                ParityFixtures.entry("ddim_clip.prev_recomputed", i))
            #expect(network < 1e-4 && a < 1e-4 && b < 1e-4, "step \(i) (t = \(t)): network \(network), kept \(a), recomputed \(b)")
            // The two variants really differ here (x̂₀ is clipped at these steps).
            let gap = relativeError(ParityFixtures.entry("ddim_clip.prev_recomputed", i), ParityFixtures.entry("ddim_clip.states", i + 1))
            worst = (max(worst.network, network), max(worst.kept, a), max(worst.recomputed, b), max(worst.clipped, gap))
        }
        #expect(worst.clipped > 1e-2)
        print(
            "parity DDIM clipped, per step: network max abs \(worst.network); step relative: ε̂ kept \(worst.kept), recomputed \(worst.recomputed) (the variants differ by \(worst.clipped))"
        )
    }

    @Test(
        "One DDPMScheduler step (clip_sample on) with given noise, fixed_small and fixed_large, at t = 501 and 1",
        arguments: ["fixed_small", "fixed_large"])
    func ddpmStep(_ variance: String) throws {
        let pipeline = try ParityFixtures.pipeline()
        let diffusion = DDPM(
            schedule: pipeline.diffusion.schedule, variance: variance == "fixed_small" ? .fixedSmall : .fixedLarge,
            clipDenoised: true)
        let x = ParityFixtures.tensor("ddpm.xt")
        let predictor = pipeline.unet.noisePredictor()
        for (i, modelTimestep) in ParityFixtures.integers("ddpm.timesteps").enumerated() {
            let t = modelTimestep + 1
            let output = predictor(x, diffusion.modelTimesteps([t]))
            let network = output.maxAbsoluteDifference(ParityFixtures.entry("ddpm.model_outputs", i))
            let step = diffusion.reverseStep(x, at: t, modelOutput: output, noise: ParityFixtures.entry("ddpm.noise", i))
            let error = relativeError(step.previous, ParityFixtures.entry("ddpm.\(variance).prev", i))
            print("parity DDPM step \(variance) t = \(t): network max abs \(network), step relative \(error)")
            #expect(network < 1e-4 && error < 1e-4)
        }
    }

    @Test("`ddpm sample --sampler ddim --steps 20 --initial-noise` writes diffusers' samples (clip_sample from scheduler_config.json)")
    func sampleCommand() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let noise = directory.appendingPathComponent("xT.safetensors")
        try SafeTensorsFile(tensors: ["noise": ParityFixtures.tensor("ddim.xT")]).write(to: noise)
        let out = directory.appendingPathComponent("out")
        let (status, output) = try CommandLineTool.run([
            "sample", "--model", ParityFixtures.modelDirectory.path, "--sampler", "ddim",
            "--steps", "20", "--initial-noise", noise.path, "--output", out.path,
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("clip_sample false"), "\(output)")
        let samples = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("samples.safetensors")).tensor("samples")
        let error = relativeError(samples, ParityFixtures.tensor("ddim.sample"))
        print("parity `ddpm sample` CLI vs diffusers DDIM: \(error)")
        #expect(error < 1e-4)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("grid.png").path))
    }
}
