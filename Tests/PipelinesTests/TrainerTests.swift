import Datasets
import Diffusion
import Foundation
import Models
import NN
import Pipelines
import Testing
import Tensors

/// A tiny network and data set, so whole training runs take well under a second.
enum Tiny {
    static let unet = UNetConfiguration.ddpm(imageSize: 8, channels: 1, baseChannels: 8, multipliers: [1, 2],
                                             attentionResolutions: [4], dropout: 0.1, groups: 4)

    /// 32 images of 8×8: horizontal and vertical bars, a structure the model can learn quickly.
    static func images() -> ImageSet {
        var pixels: [UInt8] = []
        for i in 0..<32 {
            for y in 0..<8 { for x in 0..<8 { pixels.append((i % 2 == 0 ? y : x) % 4 < 2 ? 230 : 20) } }
        }
        return ImageSet(channels: 1, height: 8, width: 8, pixels: pixels)
    }

    static func configuration(steps: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.batchSize = 8
        c.steps = steps
        c.learningRate = 1e-3
        c.warmupSteps = 2
        c.emaDecay = 0.99
        c.emaWarmup = true
        c.checkpointEvery = 1000
        c.sampleEvery = 0
        c.seed = 11
        return c
    }

    static func trainer(steps: Int) throws -> Trainer {
        let config = configuration(steps: steps)
        let loader = try DataLoader(images: images(), batchSize: config.batchSize, seed: config.seed, horizontalFlips: true)
        return try Trainer(unet: try UNet(unet, seed: 3), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader,
                           configuration: config)
    }

    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ddpm-tests-\(UInt64.random(in: 0...UInt64.max))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

@Suite("Trainer (Algorithm 1 with the paper's recipe)")
struct TrainerTests {
    @Test("the loss falls on a tiny data set")
    func lossFalls() throws {
        let trainer = try Tiny.trainer(steps: 60)
        var losses: [Float] = []
        for _ in 0..<60 { losses.append(try trainer.trainStep().loss) }
        let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / 10
        #expect(last < 0.7 * first, "loss went from \(first) to \(last)")
    }

    @Test("an interrupted and resumed run is bit-identical to an uninterrupted one")
    func resumeIsExact() throws {
        let straight = try Tiny.trainer(steps: 8)
        let straightLosses = try (0..<8).map { _ in try straight.trainStep().loss }

        let directory = Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Tiny.trainer(steps: 8)
        var losses = try (0..<3).map { _ in try first.trainStep().loss }
        let url = directory.appendingPathComponent("step-3.safetensors")
        try Checkpoint.save(first, to: url)

        let resumed = try Tiny.trainer(steps: 8)  // a new process would build it the same way
        try Checkpoint.restore(try Checkpoint.load(url), into: resumed)
        #expect(resumed.step == 3)
        losses += try (0..<5).map { _ in try resumed.trainStep().loss }

        #expect(losses == straightLosses)
        for (a, b) in zip(straight.parameters, resumed.parameters) {
            #expect(a.parameter.value.scalars == b.parameter.value.scalars, "\(a.key) differs after resume")
        }
        #expect(straight.ema.averages.map(\.scalars) == resumed.ema.averages.map(\.scalars))
    }

    @Test("a NaN loss stops the step with a message and changes no weight")
    func nonFiniteStops() throws {
        let trainer = try Tiny.trainer(steps: 5)
        try trainer.trainStep()
        let poisoned = trainer.parameters.first { $0.key == "conv_out.bias" }!.parameter
        poisoned.value = Tensor(repeating: .nan, shape: poisoned.shape)
        let before = trainer.parameters.map { $0.parameter.value.scalars }
        #expect {
            try trainer.trainStep()
        } throws: { error in
            "\(error)".contains("NaN or infinite") && "\(error)".contains("Step 2")
        }
        #expect(trainer.step == 1)
        let after = trainer.parameters.map { $0.parameter.value.scalars }
        #expect(zip(before, after).allSatisfy { zip($0, $1).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } })
    }

    @Test("gradient accumulation over 2 micro-batches trains with the same batch size")
    func accumulation() throws {
        var config = Tiny.configuration(steps: 2)
        config.gradientAccumulation = 2
        let loader = try DataLoader(images: Tiny.images(), batchSize: 4, seed: 1)
        let trainer = try Trainer(unet: try UNet(Tiny.unet), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader,
                                  configuration: config)
        let r = try trainer.trainStep()
        #expect(r.loss.isFinite && r.gradientNorm > 0)
        #expect(loader.position.index == 8)  // two micro-batches of 4 consumed
    }
}
