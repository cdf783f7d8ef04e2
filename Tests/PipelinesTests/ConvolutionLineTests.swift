import Foundation
import Tensors
import TestSupport
import Testing

/// The binary names its convolution path where speed matters, so a build that lost oneDNN does
/// not run at half speed unnoticed: the `convolution: …` line of `sample` and of a `bench`.
@Suite("ddpm prints the convolution path")
struct ConvolutionLineTests {
    /// This test process's path; the binary, in the same environment, takes the same one.
    static let here = ComputeSettings.convolutionBackend

    /// The `convolution: ` line of `output` (nil when there is none).
    static func line(_ output: String) -> String? {
        output.split(separator: "\n").map(String.init).first { $0.hasPrefix("convolution: ") }
    }

    static func sample(environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let directory = try Tiny.temporaryDirectory()
        let model = try Tiny.saveModel(in: directory)
        return try CommandLineTool.run(
            [
                "sample", "--model", model.path, "--sampler", "ddim", "--steps", "1", "--num-samples", "1", "--output",
                directory.appendingPathComponent("out").path,
            ], environment: environment)
    }

    @Test("sample: the header has the line this process would print")
    func sampleHeader() throws {
        let (status, output) = try Self.sample()
        #expect(status == 0, "\(output)")
        #expect(Self.line(output) == Self.here.description, "\(output)")
    }

    @Test(
        "sample: oneDNN is named when it loads",
        .enabled(if: here.engine != .im2col, Comment(rawValue: "oneDNN is not in use in this process: \(here)")))
    func namesOneDNN() throws {
        let (status, output) = try Self.sample()
        #expect(status == 0, "\(output)")
        let line = try #require(Self.line(output), "\(output)")
        #expect(line.hasPrefix("convolution: oneDNN 2.") && !line.contains("fix:"), "\(line)")
    }

    @Test("sample with DDPM_CONVOLUTION=im2col: im2col, the reason and the fix")
    func forcedIm2col() throws {
        let (status, output) = try Self.sample(environment: ["DDPM_CONVOLUTION": "im2col"])
        #expect(status == 0, "\(output)")
        let line = try #require(Self.line(output), "\(output)")
        #expect(line.hasPrefix("convolution: im2col + "), "\(line)")
        #expect(line.contains("DDPM_CONVOLUTION=im2col is set; fix: unset DDPM_CONVOLUTION to use oneDNN"), "\(line)")
    }

    @Test("bench sampling: the line comes first")
    func bench() throws {
        let result = try CommandLineTool.runSeparately([
            "bench", "sampling", "--preset", "tiny8-grey", "--count", "1", "--samplers", "ddim:1",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdout.split(separator: "\n").first.map(String.init) == Self.here.description, "\(result.output)")
    }
}
