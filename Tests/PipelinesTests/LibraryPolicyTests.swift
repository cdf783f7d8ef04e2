import Foundation
import Models
import Pipelines
import TestSupport
import Testing

/// The policy the CLI used to compute itself now lives in `Pipelines`: which sampler a config
/// means for a purpose, the short-run recipe, and how failures are reported (not as usage errors).
@Suite("Library policy: sampler choice, short-run recipe; CLI runtime errors and deprecated spellings")
struct LibraryPolicyTests {
    static func model(className: String = "DDPMScheduler") throws -> LoadedModel {
        var scheduler = SchedulerConfiguration.paper
        scheduler.className = className
        return LoadedModel(unet: try UNet(Tiny.unet, seed: 1), scheduler: scheduler, source: "tiny")
    }

    @Test(
        "a DDPMScheduler config means DDIM for previews and Algorithm 2 for evaluation; a given sampler wins; inapplicable options are refused"
    )
    func samplerChoice() throws {
        let m = try Self.model()
        #expect(try Sampler(choosing: nil, for: m, purpose: .preview).kind == .ddim)
        #expect(try Sampler(choosing: nil, for: m, purpose: .evaluation).kind == .ddpm)
        #expect(try Sampler(choosing: .unipc, steps: 7, order: 3, for: m, purpose: .evaluation) == Sampler(.unipc, steps: 7, order: 3))
        #expect(try Sampler(choosing: nil, for: try Self.model(className: "EulerDiscreteScheduler"), purpose: .preview).kind == .euler)
        #expect(throws: PipelineError.self) { try Sampler(choosing: .euler, order: 2, for: m, purpose: .preview) }
        #expect(try Sampler.decodingLatent(.ddpm, steps: nil, eta: 1, timestepCount: 10) == Sampler(.ddpm))
        #expect(try Sampler.decodingLatent(.ddim, steps: 5, eta: 0.5, timestepCount: 10) == Sampler(.ddim, steps: 5, eta: 0.5))
        #expect(throws: PipelineError.self) { try Sampler.decodingLatent(.ddim, steps: 11, eta: 0, timestepCount: 10) }
        #expect(throws: PipelineError.self) { try Sampler.decodingLatent(.ddim, steps: nil, eta: 0, startingAt: 11, timestepCount: 10) }
    }

    @Test("the short-run recipe of a small preset and the paper's for cifar10, with the departures spelt out")
    func recipes() throws {
        let small = try TrainingRecipe(preset: nil, channels: 1, imageSize: 28)
        #expect(small.isShortRun && small.model.sampleSize == 28 && small.model.inChannels == 1)
        #expect(small.training.batchSize == 64 && small.training.warmupSteps == 500 && small.training.emaDecay == 0.999)
        #expect(small.training.emaWarmup && !small.training.randomFlip && small.training.steps == 20_000)
        #expect(
            small.departuresFromPaper
                == "small preset: warm-up 500 steps, EMA 0.999 with warm-up, batch 64 (paper: 5000, 0.9999, 128); flips off")
        let paper = try TrainingRecipe(preset: "cifar10", channels: 3, imageSize: 32, loss: .hybrid)
        #expect(!paper.isShortRun && paper.departuresFromPaper == nil && paper.training.batchSize == 128 && paper.training.randomFlip)
        #expect(paper.training.warmupSteps == 5000 && paper.training.emaDecay == 0.9999 && paper.model.outChannels == 6)
        #expect(try paper.diffusion().variance == .learnedRange)
        #expect(throws: PipelineError.self) { try TrainingRecipe(preset: "cifar10", channels: 1, imageSize: 32) }
    }

    @Test("a missing model is an error without the usage text; --clip-sample false still works, with a deprecation note")
    func runtimeErrorsAndDeprecations() throws {
        let (status, output) = try runDDPM(["sample", "--model", "/nonexistent-ddpm-model", "--steps", "1"])
        #expect(status == 1 && output.contains("/nonexistent-ddpm-model: not found.") && !output.contains("USAGE:"), "\(status): \(output)")
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var scheduler = SchedulerConfiguration.paper
        scheduler.numTrainTimesteps = 4
        let model = directory.appendingPathComponent("model")
        try ModelDirectory.save(try UNet(Tiny.unet, seed: 1), scheduler: scheduler, to: model)
        let common = [
            "sample", "--model", model.path, "--sampler", "ddpm", "--num-samples", "1", "--output",
            directory.appendingPathComponent("out").path,
        ]
        let (old, oldOutput) = try runDDPM(common + ["--clip-sample", "false"])
        #expect(
            old == 0 && oldOutput.contains("'--clip-sample false' is deprecated") && oldOutput.contains("use --no-clip-sample"),
            "\(oldOutput)")
        #expect(oldOutput.contains("clip_sample false"), "\(oldOutput)")
        let (new, newOutput) = try runDDPM(common + ["--no-clip-sample"])
        #expect(new == 0 && !newOutput.contains("deprecated") && newOutput.contains("clip_sample false"), "\(newOutput)")
    }
}
