import Datasets
import Diffusion
import Foundation
import Models
import NN
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// Class-conditional training: keyed class dropout, exact resume, per-class grids, export.
@Suite("Class-conditional training")
struct ConditionalTrainingTests {
    static let names = ["horizontal", "vertical"]

    /// Tiny's bars labelled by their orientation (even images are horizontal bars).
    static func images() -> ImageSet {
        let set = Tiny.images()
        return set.labelled((0..<set.count).map { $0 % 2 }, names: names)
    }

    static func trainer(steps: Int, dropout: Float = 0.5) throws -> Trainer {
        var config = Tiny.configuration(steps: steps)
        config.classDropout = dropout
        let loader = try DataLoader(images: images(), batchSize: config.batchSize, seed: config.seed, horizontalFlips: true)
        return try Trainer(
            unet: try UNet(Tiny.unet.withClasses(2, names: names), seed: 3), diffusion: DDPM(schedule: try NoiseSchedule()),
            data: loader, configuration: config)
    }

    @Test("class dropout replaces a fraction p of the labels (binomial, 5σ), and none at p = 0")
    func dropoutFraction() {
        for p: Float in [0.1, 0.3] {
            var rng = SeededGenerator(seed: 42)
            let n = 200_000
            let dropped = Trainer.classDropoutMask(count: n, probability: p, using: &rng).filter { $0 }.count
            let sigma = (Double(p) * Double(1 - p) / Double(n)).squareRoot()
            #expect(abs(Double(dropped) / Double(n) - Double(p)) < 5 * sigma, "p = \(p): dropped \(dropped) of \(n)")
        }
        var rng = SeededGenerator(seed: 42)
        #expect(!Trainer.classDropoutMask(count: 1000, probability: 0, using: &rng).contains(true))
    }

    @Test("the trainer's class dropout drops about p of a batch's labels to the null label, and keeps the rest")
    func trainerDropout() throws {
        let trainer = try Self.trainer(steps: 1, dropout: 0.25)
        var nulls = 0
        var total = 0
        for _ in 0..<2000 {
            let labels = [0, 1, 0, 1, 1, 0, 1, 0]
            let out = trainer.droppingClasses(labels)
            #expect(zip(labels, out).allSatisfy { $1 == $0 || $1 == 2 })
            nulls += out.filter { $0 == 2 }.count
            total += out.count
        }
        let sigma = (0.25 * 0.75 / Double(total)).squareRoot()
        #expect(abs(Double(nulls) / Double(total) - 0.25) < 5 * sigma, "\(nulls) of \(total)")
    }

    @Test("the dropout draw is keyed by the global sample index: shards of any process count draw the whole batch's mask")
    func shardedDraws() {
        var whole = SeededGenerator(seed: 7)
        whole.shard = BatchShard(offset: 0, total: 12)
        let reference = (0..<3).flatMap { _ in Trainer.classDropoutMask(count: 12, probability: 0.4, using: &whole) }
        for processes in [2, 3, 4] {
            let rows = 12 / processes
            var masks = [[Bool]](repeating: [], count: processes)
            var states: [UInt64] = []
            for rank in 0..<processes {
                var g = SeededGenerator(seed: 7)
                g.shard = BatchShard(offset: rank * rows, total: 12)
                for _ in 0..<3 { masks[rank].append(contentsOf: Trainer.classDropoutMask(count: rows, probability: 0.4, using: &g)) }
                states.append(g.state)
            }
            // Step s of rank r holds rows r·rows… of step s.
            let assembled = (0..<3).flatMap { step in (0..<processes).flatMap { masks[$0][(step * rows)..<((step + 1) * rows)] } }
            #expect(assembled == reference, "N = \(processes)")
            #expect(Set(states) == [whole.state], "every rank's stream ends where the single process's does")
        }
    }

    @Test("an interrupted and resumed conditional run is bit-identical to an uninterrupted one")
    func resumeIsExact() throws {
        let straight = try Self.trainer(steps: 6)
        let straightLosses = try (0..<6).map { _ in try straight.trainStep().loss }
        let directory = (try Tiny.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Self.trainer(steps: 6)
        var losses = try (0..<2).map { _ in try first.trainStep().loss }
        let url = directory.appendingPathComponent("step-2.safetensors")
        try Checkpoint.save(first, to: url)
        let resumed = try Self.trainer(steps: 6)
        let contents = try Checkpoint.load(url)
        #expect(contents.unet.classNames == Self.names && contents.training.classDropout == 0.5)
        try Checkpoint.restore(contents, into: resumed)
        losses += try (0..<4).map { _ in try resumed.trainStep().loss }
        #expect(losses == straightLosses)
        for (a, b) in zip(straight.parameters, resumed.parameters) {
            #expect(a.parameter.value.scalars == b.parameter.value.scalars, "\(a.key) differs after resume")
        }
        // The class table is trained: its rows moved.
        let table = try #require(straight.parameters.first { $0.key == "class_embedding.weight" })
        #expect(
            table.parameter.value.maxAbsoluteDifference(
                try UNet(Tiny.unet.withClasses(2, names: Self.names), seed: 3)
                    .stateDictionary()["class_embedding.weight"]!) > 0)
    }

    @Test("a conditional model needs labels, in range; class dropout needs a conditional model")
    func refusals() throws {
        let config = Tiny.configuration(steps: 1)
        let diffusion = DDPM(schedule: try NoiseSchedule())
        func message(_ images: ImageSet, _ unet: UNetConfiguration, dropout: Float?) -> String {
            var c = config
            c.classDropout = dropout
            do {
                _ = try Trainer(
                    unet: try UNet(unet), diffusion: diffusion, data: try DataLoader(images: images, batchSize: 8, seed: 0),
                    configuration: c)
                return "accepted"
            } catch { return "\(error)" }
        }
        let conditional = Tiny.unet.withClasses(2, names: Self.names)
        #expect(message(Tiny.images(), conditional, dropout: 0.1).contains("the data has no labels"))
        #expect(
            message(Tiny.images().labelled((0..<32).map { $0 % 3 }), conditional, dropout: 0.1).contains(
                "label 2, outside the model's 2 classes"))
        #expect(message(Self.images(), Tiny.unet, dropout: 0.1).contains("class dropout applies to class-conditional models only"))
        #expect(message(Self.images(), conditional, dropout: 0.1) == "accepted")
    }

    @Test("a conditional run draws one grid row per class and exports class_names and the null label in config.json")
    func runAndExport() throws {
        let output = (try Tiny.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: output) }
        let run = TrainingRun(trainer: try Self.trainer(steps: 2), output: output)
        try run.run()
        let grid = try ImageCodecs.decode(contentsOf: output.appendingPathComponent("samples/step-2.png"))
        // 2 rows (classes) × 8 columns of 8×8 tiles with 2-pixel padding.
        #expect(grid.width == 8 * 8 + 9 * 2 && grid.height == 2 * 8 + 3 * 2)
        let model = output.appendingPathComponent("model")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: ModelDirectory.unetFolder(model).appendingPathComponent("config.json")))
                as? [String: Any])
        #expect(json["num_class_embeds"] as? Int == 3 && json["null_class_label"] as? Int == 2)
        #expect(json["class_names"] as? [String] == Self.names)
        let loaded = try LoadedModel(model.path)
        #expect(loaded.unet.configuration.classNames == Self.names)
        #expect(try loaded.unet.configuration.classLabel("vertical") == 1)
    }

    /// Writes the export and swift-ddpm's output on it for scripts/reference/make_conditional_unet_fixtures.py
    /// --check-export DIR (set DDPM_EXPORT_DIR=DIR), where diffusers loads it and compares.
    @Test("an exported conditional model holds diffusers' keys and loads back strictly with the same output")
    func exportForDiffusers() throws {
        let directory =
            try ProcessInfo.processInfo.environment["DDPM_EXPORT_DIR"].map { URL(fileURLWithPath: $0) } ?? Tiny.temporaryDirectory()
        let unet = try ClassGuidanceTests.conditionalUNet()
        try ModelDirectory.save(unet, scheduler: .paper, to: directory)
        let back = try ModelDirectory.loadUNet(from: directory)
        #expect(back.configuration == unet.configuration)
        let weights = try SafeTensorsFile.read(
            contentsOf: ModelDirectory.unetFolder(directory).appendingPathComponent("diffusion_pytorch_model.safetensors"))
        #expect(weights.tensors["class_embedding.weight"]?.shape == [4, 32])
        var rng = SeededGenerator(seed: 1)
        let x = Tensor.randomNormal([3, 1, 8, 8], using: &rng)
        let t = [5, 400, 999]
        let labels = [0, 2, 3]
        let out = withoutGradients { unet(x, timesteps: t, classLabels: labels, rng: &rng) }
        #expect(withoutGradients { back(x, timesteps: t, classLabels: labels, rng: &rng) }.maxAbsoluteDifference(out) == 0)
        try SafeTensorsFile(tensors: [
            "x": x, "timesteps": Tensor(shape: [3], scalars: t.map(Float.init)),
            "class_labels": Tensor(shape: [3], scalars: labels.map(Float.init)), "output": out,
        ])
        .write(to: directory.appendingPathComponent("reference.safetensors"))
        if ProcessInfo.processInfo.environment["DDPM_EXPORT_DIR"] == nil { try? FileManager.default.removeItem(at: directory) }
    }
}
