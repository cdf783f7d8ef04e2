import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// `reconstruct` and the progressive decompression (Ho et al. 2020 §4.3, Figs. 6 and 7) on tiny
/// models: exactness at t = 0, the shared ε, the errors, and the command line.
@Suite("Reconstruction from x_t and progressive decompression")
struct ReconstructionTests {
    /// A 1-channel 8×8 model with T = 8, saved as a model directory under `directory`.
    static func tinyModel(in directory: URL) throws -> URL { try Tiny.saveModel(in: directory, name: "tiny8") }

    /// A `[1, 3, 16, 16]` image on the 8-bit grid.
    static func image(seed: UInt64) -> Tensor {
        let raw = standardNormal([1, 3, 16, 16], seed: seed).clamped(lower: -1, upper: 1)
        return Tensor(shape: raw.shape, scalars: raw.scalars.map { (($0 + 1) * 127.5).rounded() / 127.5 - 1 })
    }

    @Test("t = 0 returns the image exactly; every x_t is √ᾱ_t x₀ + √(1 − ᾱ_t) ε with one ε; η = 1 draws distinct samples")
    func exactAtZeroAndSharedNoise() throws {
        let pipeline = try ParityFixtures.pipeline()
        let x0 = Self.image(seed: 1)
        let result = try pipeline.reconstruct(x0, at: [0, 300, 600, 0], samples: 3, sampler: .ddim(steps: 10, eta: 1), seed: 4)
        #expect(result.samples.shape == [12, 3, 16, 16] && result.encoded.shape == [4, 3, 16, 16])
        for row in [0, 3] {
            for k in 0..<3 { #expect(result.samples(row: row).sliced(alongAxis: 0, k..<(k + 1)).scalars == x0.scalars) }
            #expect(result.encoded.sliced(alongAxis: 0, row..<(row + 1)).scalars == x0.scalars)
            #expect(result.distances(row: row) == [0, 0, 0])
        }
        let epsilon = standardNormal([1, 3, 16, 16], seed: 4)
        for (row, t) in [(1, 300), (2, 600)] {
            let s = pipeline.diffusion.schedule
            let expected = Float(s.sqrtAlphaBar(t)) * x0 + Float(s.sqrtOneMinusAlphaBar(t)) * epsilon
            #expect(result.encoded.sliced(alongAxis: 0, row..<(row + 1)).maxAbsoluteDifference(expected) < 1e-5, "t = \(t)")
            let drawn = result.samples(row: row)
            #expect(
                drawn.sliced(alongAxis: 0, 0..<1).maxAbsoluteDifference(drawn.sliced(alongAxis: 0, 1..<2)) > 1e-2,
                "distinct samples at t = \(t)")
        }
        let again = try pipeline.reconstruct(x0, at: [0, 300, 600, 0], samples: 3, sampler: .ddim(steps: 10, eta: 1), seed: 4)
        #expect(again.samples.scalars == result.samples.scalars)
        let figure = try result.figure(scale: 2)
        #expect(figure.channels == 3 && figure.height > 4 * 32 && figure.width > 5 * 32)
    }

    @Test("bad requests say what is wrong, what was expected and how to fix it")
    func errors() throws {
        let pipeline = try ParityFixtures.pipeline()
        let x0 = Self.image(seed: 1)
        let ddim = Sampler.ddim(steps: 10, eta: 1)
        func message(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "no error"
            } catch let error as ReconstructionError { return error.description } catch {
                return "not a ReconstructionError: \(error)"
            }
        }
        let above = message { _ = try pipeline.reconstruct(x0, at: [500, 1001], samples: 2, sampler: ddim, seed: 0) }
        #expect(
            above
                == "t = 1001 is outside 0…1000: t = 0 keeps the image itself and t = 1000 (the model's T) is almost pure noise; pass timesteps from 0 to 1000, e.g. -t 1000,750,500,250,0."
        )
        let below = message { _ = try pipeline.reconstruct(x0, at: [-1], samples: 2, sampler: ddim, seed: 0) }
        #expect(below.hasPrefix("t = -1 is outside 0…1000"), "\(below)")
        let none = message { _ = try pipeline.reconstruct(x0, at: [], samples: 2, sampler: ddim, seed: 0) }
        #expect(none == "no timesteps given; pass at least one, e.g. -t 1000,750,500,250,0.")
        let zero = message { _ = try pipeline.reconstruct(x0, at: [10], samples: 0, sampler: ddim, seed: 0) }
        #expect(zero == "the number of samples per timestep must be at least 1 (got 0).")
        let channels = message {
            _ = try pipeline.reconstruct(standardNormal([1, 1, 16, 16], seed: 0), at: [10], samples: 1, sampler: ddim, seed: 0)
        }
        #expect(
            channels
                == "the image has shape [1, 1, 16, 16] but the model takes [1, 3, 16, 16] ([1, in_channels, sample_size, sample_size]); load it with Interpolation.image(contentsOf:size:channels:), which converts and resizes, or use a model of that size."
        )
        let size = message { _ = try pipeline.progressiveDecompression(standardNormal([3, 28, 28], seed: 0), seed: 0) }
        #expect(size.hasPrefix("the image has shape [3, 28, 28] but the model takes [1, 3, 16, 16]"), "\(size)")
    }

    @Test(
        "the progressive decompression is the progressive code of the model's chain: T evaluations, rates rising to the total, frames T first"
    )
    func progressive() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try Self.tinyModel(in: directory)
        let scheduler = try #require(try ModelDirectory.scheduler(at: model))
        let pipeline = SamplingPipeline(unet: try ModelDirectory.loadUNet(from: model), diffusion: try scheduler.diffusion())
        let x0 = Tiny.images().batch(indices: [0])
        var calls = 0
        let code = try pipeline.progressiveDecompression(x0, seed: 7, frameCount: 4) { calls += 1 }
        #expect(calls == 8 && code.frames.map(\.t) == [8, 6, 4, 1])
        let report = code.report
        #expect(report.imageCount == 1 && report.rate(at: 8) == report.prior)
        let rates = (1...8).reversed().map { report.rate(at: $0) }
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 <= $1 }, "\(rates)")
        #expect(abs(report.rate(at: 1) + report.decoder - report.total) < 1e-9 * report.total)
        var rng = SeededGenerator(seed: 7)
        let direct = pipeline.diffusion.progressiveCode(x0, using: &rng, predictNoise: pipeline.unet.noisePredictor())
        #expect(direct.bound.terms == report.terms)
        #expect(code.curve.points.map(\.rate) == rates && code.curve.points.first?.reverseSteps == 1)
        #expect(try code.figure().height > 2 * 24)
    }

    @Test("`ddpm reconstruct FILE`: the figure, the raw tensors (t = 0 rows are the source exactly) and the progressive table")
    func command() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a.png")
        try InterpolationTests.png(width: 20, height: 16, mirrored: false, to: file)
        let out = directory.appendingPathComponent("out")
        let (status, output) = try CommandLineTool.run([
            "reconstruct", file.path, "--model", ParityFixtures.modelDirectory.path, "-t", "20,0", "--samples", "2",
            "--sampler", "ddim", "--sampling-steps", "10", "--no-progressive", "--output", out.path,
        ])
        try #require(status == 0, "\(output)")
        #expect(output.contains("RMSE of the samples to the source"), "\(output)")
        let tensors = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("reconstruction.safetensors"))
        let source = try tensors.tensor("source")
        let samples = try tensors.tensor("samples")
        let expected = try Interpolation.image(contentsOf: file, size: 16, channels: 3)
        #expect(source.scalars == expected.scalars)
        let timesteps = try tensors.tensor("timesteps")
        #expect(samples.shape == [4, 3, 16, 16] && timesteps.scalars == [20, 0])
        #expect(
            samples.sliced(alongAxis: 0, 2..<3).scalars == source.scalars && samples.sliced(alongAxis: 0, 3..<4).scalars == source.scalars)
        #expect(try ImageCodecs.decode(contentsOf: out.appendingPathComponent("reconstruction.png")).channels == 3)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("progressive.png").path))

        // Algorithm 2 from t and the progressive decompression on a model with T = 8.
        let model = try Self.tinyModel(in: directory)
        let grey = directory.appendingPathComponent("grey.png")
        try ImageWriter.writeGrid(Tiny.images().batch(indices: [1]), to: grey, padding: 0)
        let (status2, output2) = try CommandLineTool.run([
            "reconstruct", grey.path, "--model", model.path, "-t", "8,4,0",
            "--samples", "3", "--output", out.path,
        ])
        try #require(status2 == 0, "\(output2)")
        #expect(output2.contains("progressive decompression (Table 4 for this image)") && output2.contains("reverse steps"), "\(output2)")
        let rows = try String(contentsOf: out.appendingPathComponent("progressive.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 9 && rows[0] == "t,term_bits_per_dim,rate_bits_per_dim,distortion_rmse" && rows[1].hasPrefix("8,"))
        for name in ["progressive.png", "progressive-rd.png", "reconstruction.png"] {
            #expect(try ImageCodecs.decode(contentsOf: out.appendingPathComponent(name)).width > 50, "\(name)")
        }
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let name: String, arguments: [String], message: String
        var testDescription: String { name }
    }

    @Test(
        "`ddpm reconstruct` refuses bad input with a message: t outside 0…T, a bad -t, an unreadable image, an index out of range, a model of another size"
    )
    func commandErrors() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.png")
        let good = directory.appendingPathComponent("good.png")
        try Data("not an image".utf8).write(to: bad)
        try InterpolationTests.png(width: 16, height: 16, mirrored: true, to: good)
        // An IDX test split of two grey 28×28 images (MNIST layout).
        let idx = directory.appendingPathComponent("idx")
        try FileManager.default.createDirectory(at: idx, withIntermediateDirectories: true)
        var bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]
        bytes += (0..<(2 * 28 * 28)).map { UInt8($0 % 251) }
        try Data(bytes).write(to: idx.appendingPathComponent("t10k-images-idx3-ubyte"))
        let tiny = ParityFixtures.modelDirectory.path
        let grey = try Self.tinyModel(in: directory).path
        let cases = [
            BadInput(
                name: "t above T", arguments: [good.path, "--model", tiny, "-t", "1200,0"],
                message: "Error: t = 1200 is outside 0…1000: t = 0 keeps the image itself and t = 1000 (the model's T) is almost pure noise"
            ),
            BadInput(
                name: "-t not integers", arguments: [good.path, "--model", tiny, "-t", "500,x"],
                message: "Error: -t/--timesteps must be comma-separated integers such as 1000,750,500,250,0 (got '500,x')."),
            BadInput(
                name: "unreadable image", arguments: [bad.path, "--model", tiny, "-t", "0"],
                message: "\(bad.path): corrupt or unsupported image (neither PNG nor JPEG: the file starts with bytes 6e 6f 74 20)"),
            BadInput(
                name: "index out of range", arguments: ["5", "--dataset", "mnist", "--data", idx.path, "--model", grey, "-t", "0"],
                message: "image index 5 is out of range: the dataset has 2 images (0…1)"),
            BadInput(
                name: "grey data for a colour model",
                arguments: ["0", "--dataset", "mnist", "--data", idx.path, "--model", tiny, "-t", "0"],
                message:
                    "IDX test split (\(idx.path)) has 1-channel images but the model takes 3 (in_channels); use a model trained on 1-channel images, or pass an image file (it is converted to 3 channels)."
            ),
            BadInput(
                name: "a file name with --dataset", arguments: ["a.png", "--dataset", "fashion-mnist"],
                message: "Error: with --dataset the source is an image index (0, 1, …); got 'a.png'."),
        ]
        for c in cases {
            let (status, output) = try CommandLineTool.run(
                ["reconstruct"] + c.arguments + ["--no-progressive", "--output", directory.appendingPathComponent("out").path])
            #expect(status != 0 && output.contains(c.message), "\(c.name): \(output)")
        }
    }
}
