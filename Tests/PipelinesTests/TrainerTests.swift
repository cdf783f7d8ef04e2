import Datasets
import Diffusion
import Foundation
import Models
import NN
import Pipelines
import Tensors
import TestSupport
import Testing

@Suite("Trainer (Algorithm 1 with the paper's recipe)")
struct TrainerTests {
    @Test("the loss falls on a tiny data set")
    func lossFalls() throws {
        let trainer = try Tiny.trainer(steps: 60)
        var losses: [Float] = []
        for _ in 0..<60 { losses.append(try trainer.trainStep().loss) }
        let first = losses.prefix(10).reduce(0, +) / 10
        let last = losses.suffix(10).reduce(0, +) / 10
        #expect(last < 0.7 * first, "loss went from \(first) to \(last)")
    }

    @Test("an interrupted and resumed run is bit-identical to an uninterrupted one")
    func resumeIsExact() throws {
        let straight = try Tiny.trainer(steps: 8)
        let straightLosses = try (0..<8).map { _ in try straight.trainStep().loss }

        let directory = try Tiny.temporaryDirectory()
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
        let trainer = try Trainer(
            unet: try UNet(Tiny.unet), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader,
            configuration: config)
        let r = try trainer.trainStep()
        #expect(r.loss.isFinite && r.gradientNorm > 0)
        #expect(loader.position.index == 8)  // two micro-batches of 4 consumed
    }
}
