import Foundation
import Pipelines
import SafeTensors
import Testing
import Tensors

/// The diffusers fixtures of scripts/reference/make_pipeline_fixtures.py: a tiny random-init
/// UNet2DModel as a diffusers directory (safetensors and .bin twins) and reference tensors.
enum ParityFixtures {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let modelDirectory = root.appendingPathComponent("tiny-ddpm")
    static let binDirectory = root.appendingPathComponent("tiny-ddpm-bin")
    static let tensors: SafeTensorsFile = {
        do { return try SafeTensorsFile.read(contentsOf: root.appendingPathComponent("pipeline.safetensors")) }
        catch { preconditionFailure("\(error)") }
    }()

    static func tensor(_ key: String) -> Tensor {
        do { return try tensors.tensor(key, in: "pipeline.safetensors") } catch { preconditionFailure("\(error)") }
    }

    /// Entry `index` of a stacked fixture `[K, …]`.
    static func entry(_ key: String, _ index: Int) -> Tensor {
        let stacked = tensor(key)
        return stacked.sliced(alongAxis: 0, index..<(index + 1)).reshaped(to: Array(stacked.shape.dropFirst()))
    }

    static func integers(_ key: String) -> [Int] { tensor(key).scalars.map { Int($0) } }

    /// The tiny model with its scheduler settings, as `ddpm sample --model` would load them.
    static func pipeline() throws -> SamplingPipeline {
        let scheduler = try #require(try ModelDirectory.scheduler(at: modelDirectory))
        var pipeline = SamplingPipeline(unet: try ModelDirectory.loadUNet(from: modelDirectory), diffusion: try scheduler.diffusion())
        pipeline.setAlphaToOne = scheduler.setAlphaToOne
        return pipeline
    }
}

/// max |a − b| / max |b|.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    a.maxAbsoluteDifference(b) / max(b.scalars.map(abs).max() ?? 0, .leastNormalMagnitude)
}

/// The `ddpm` binary built beside these tests (`swift build --build-tests` / `swift test` build it).
enum CommandLineTool {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    #if DEBUG
    static let configuration = "debug"
    #else
    static let configuration = "release"
    #endif
    static let binary = packageRoot.appendingPathComponent(".build/\(configuration)/ddpm")

    /// Runs `ddpm arguments…`; returns its exit status and combined output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("\(binary.path) is missing; run `swift build -c \(configuration) --build-tests` first")
            return (-1, "")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
