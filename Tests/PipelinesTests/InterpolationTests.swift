import Datasets
import Diffusion
import Foundation
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// `ddpm interpolate` (Ho et al. §4.3, Figure 8) on the tiny diffusers fixture model.
@Suite("Interpolation through x_t")
struct InterpolationTests {
    /// A colour test image of `width` x `height`: a gradient, or its mirror.
    static func png(width: Int, height: Int, mirrored: Bool, to url: URL) throws {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let u = mirrored ? width - 1 - x : x
                pixels += [UInt8(255 * u / width), UInt8(255 * y / height), mirrored ? 40 : 220]
            }
        }
        try ImageCodecs.pngData(RasterImage(width: width, height: height, channels: 3, pixels: pixels)).write(to: url)
    }

    @Test("λ values, and the strip: sources and decoded images, then x_t, the mixes and x'_t")
    func lambdasAndStrip() throws {
        #expect(Interpolation.evenlySpacedLambdas(5) == [0, 0.25, 0.5, 0.75, 1])
        #expect(Interpolation.evenlySpacedLambdas(1) == [0.5])
        let pipeline = try ParityFixtures.pipeline()
        let (a, b) = (
            standardNormal([1, 3, 16, 16], seed: 1).clamped(lower: -1, upper: 1),
            standardNormal([3, 16, 16], seed: 2).clamped(lower: -1, upper: 1)
        )
        let result = try pipeline.interpolate(a, b, at: 300, lambdas: [0, 0.5, 1], sampler: .ddpm(steps: 50), seed: 3)
        #expect(result.decoded.shape == [3, 3, 16, 16] && result.mixed.shape == [3, 3, 16, 16] && result.encoded.shape == [2, 3, 16, 16])
        #expect(result.strip.shape == [10, 3, 16, 16])
        #expect(result.decoded.scalars.allSatisfy { $0.isFinite })
        // Both sources were encoded with the same ε (eq. 4): x_t − x'_t = √ᾱ_t (x₀ − x₀').
        let encodedGap = result.encoded.sliced(alongAxis: 0, 0..<1) - result.encoded.sliced(alongAxis: 0, 1..<2)
        let sourceGap =
            Float(pipeline.diffusion.schedule.sqrtAlphaBar(300))
            * (result.sources.sliced(alongAxis: 0, 0..<1) - result.sources.sliced(alongAxis: 0, 1..<2))
        #expect(encodedGap.maxAbsoluteDifference(sourceGap) < 1e-5)
        #expect(
            result.mixed.sliced(alongAxis: 0, 1..<2).maxAbsoluteDifference(
                0.5 * (result.encoded.sliced(alongAxis: 0, 0..<1) + result.encoded.sliced(alongAxis: 0, 1..<2))) < 1e-6)
        #expect(throws: PipelineError.self) { try pipeline.interpolate(a, b, at: 1001, lambdas: [0], sampler: .ddpm(steps: nil), seed: 0) }
        #expect(throws: PipelineError.self) {
            try pipeline.interpolate(a, standardNormal([1, 1, 16, 16], seed: 0), at: 10, lambdas: [0], sampler: .ddpm(steps: nil), seed: 0)
        }
    }

    @Test("Dataset images by index are resized to the model's size; a bad index is refused")
    func datasetImages() throws {
        let set = ImageSet(channels: 1, height: 8, width: 8, pixels: (0..<128).map { UInt8($0 * 2) })
        let image = try Interpolation.image(set, at: 1, size: 16, channels: 1)
        #expect(image.shape == [1, 1, 16, 16])
        #expect(image.scalars.allSatisfy { (-1...1).contains($0) })
        #expect(try Interpolation.image(set, at: 0, size: 8, channels: 1).scalars == set.batch(indices: [0]).scalars)
        #expect(throws: PipelineError.self) { try Interpolation.image(set, at: 2, size: 16, channels: 1) }
    }

    @Test("`ddpm interpolate a.png b.png --sampler ddim`: files and shapes; λ = 0 and 1 are the sources' reconstructions")
    func interpolateCommand() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (first, second) = (directory.appendingPathComponent("a.png"), directory.appendingPathComponent("b.jpg.png"))
        try Self.png(width: 24, height: 20, mirrored: false, to: first)  // resized and centre-cropped to 16
        try Self.png(width: 16, height: 16, mirrored: true, to: second)
        let out = directory.appendingPathComponent("out")
        let (status, output) = try CommandLineTool.run([
            "interpolate", first.path, second.path, "--model", ParityFixtures.modelDirectory.path, "--sampler", "ddim",
            "--sampling-steps", "20", "--steps", "5", "-t", "500", "--seed", "7", "--output", out.path,
        ])
        #expect(status == 0, "\(output)")
        let strip = try ImageCodecs.decode(contentsOf: out.appendingPathComponent("interpolation.png"))
        #expect(strip.width == 7 * 18 + 2 && strip.height == 2 * 18 + 2 && strip.channels == 3)
        let file = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("interpolation.safetensors"))
        let decoded = try file.tensor("decoded")
        let encoded = try file.tensor("encoded")
        let sources = try file.tensor("sources")
        #expect(decoded.shape == [5, 3, 16, 16] && encoded.shape == [2, 3, 16, 16] && sources.shape == [2, 3, 16, 16])
        #expect(try file.tensor("lambdas").scalars == [0, 0.25, 0.5, 0.75, 1])
        #expect(sources.sliced(alongAxis: 0, 0..<1).scalars == (try Interpolation.image(contentsOf: first, size: 16, channels: 3)).scalars)

        // Deterministic DDIM from t = 500: the endpoints decode x_t and x'_t themselves.
        let pipeline = try ParityFixtures.pipeline()
        for (index, row) in [(0, 0), (1, 4)] {
            let reconstruction = try pipeline.sample(
                from: encoded.sliced(alongAxis: 0, index..<(index + 1)), startingAt: 500,
                sampler: .ddim(steps: 20, eta: 0), seed: 99
            ).sample
            let error = reconstruction.maxAbsoluteDifference(decoded.sliced(alongAxis: 0, row..<(row + 1)))
            // The CLI runs in its own process, where oneDNN may pick another convolution kernel
            // (Winograd or direct) than here: equal up to float rounding.
            #expect(error < 1e-4, "λ = \(row == 0 ? 0 : 1): \(error)")
        }
        // Interior λ differ from both endpoints.
        #expect(decoded.sliced(alongAxis: 0, 2..<3).maxAbsoluteDifference(decoded.sliced(alongAxis: 0, 0..<1)) > 1e-3)
    }

    @Test("`ddpm interpolate 0 1 --dataset folder` takes the sources by index (files sorted by path), Algorithm 2 from t")
    func interpolateDatasetIndices() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = directory.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try Self.png(width: 16, height: 16, mirrored: false, to: images.appendingPathComponent("a.png"))
        try Self.png(width: 16, height: 16, mirrored: true, to: images.appendingPathComponent("b.png"))
        let out = directory.appendingPathComponent("out")
        let arguments = [
            "interpolate", "1", "0", "--dataset", "folder", "--data", images.path, "--model", ParityFixtures.modelDirectory.path,
            "--sampling-steps", "10", "--steps", "3", "-t", "200", "--output", out.path,
        ]
        let (status, output) = try CommandLineTool.run(arguments)
        #expect(status == 0, "\(output)")
        let sources = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("interpolation.safetensors")).tensor("sources")
        let b = try Interpolation.image(contentsOf: images.appendingPathComponent("b.png"), size: 16, channels: 3)
        #expect(sources.sliced(alongAxis: 0, 0..<1).scalars == b.scalars)
        let (bad, message) = try CommandLineTool.run([
            "interpolate", "0", "5", "--dataset", "folder", "--data", images.path,
            "--model", ParityFixtures.modelDirectory.path, "--output", out.path,
        ])
        #expect(bad != 0 && message.contains("out of range"), "\(message)")
    }

    @Test("`ddpm interpolate` refuses a wrong number of sources and non-index sources with --dataset")
    func validation() throws {
        let (status, output) = try CommandLineTool.run(["interpolate", "only-one.png", "--model", ParityFixtures.modelDirectory.path])
        #expect(status != 0 && output.contains("exactly two sources"), "\(output)")
        let (status2, output2) = try CommandLineTool.run(["interpolate", "a.png", "3", "--dataset", "fashion-mnist"])
        #expect(status2 != 0 && output2.contains("image indices"), "\(output2)")
    }
}
