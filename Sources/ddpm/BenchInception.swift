import ArgumentParser
import Foundation
import Metrics
import NN
import Pipelines
import Tensors

/// `ddpm bench inception`: FID Inception-v3 features of `--count` 32×32 images (resized to 299 as
/// in real use) in images/s, optionally beside pytorch-fid's InceptionV3 measured in the same run.
/// Both use random weights (the real ones are the user's to supply) and one untimed warm-up batch.
struct BenchInception: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inception", abstract: "Benchmark FID Inception-v3 features (images/s), against pytorch-fid with --torch.")

    @Option(help: "Images to run (10000 for a stable ratio; fewer for a quick one).")
    var count = 10_000

    @Option(help: "Images per network call, both sides.")
    var batchSize = 25

    @Option(help: "A Python with torch and pytorch-fid: also runs scripts/bench/torch_inception.py (2 threads) and prints the ratio.")
    var torch: String?

    @Option(help: "Path of torch_inception.py.")
    var torchScript = "scripts/bench/torch_inception.py"

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1 (got \(count)).") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize)).") }
    }

    func run() throws {
        if torch != nil, !FileManager.default.fileExists(atPath: torchScript) {
            throw PipelineError.missingFile(path: torchScript, hint: "Run from the package root or pass --torch-script.")
        }
        print(ComputeSettings.convolutionBackend.description)
        let ours = try measure()
        print(
            "ours:  \(count) images in \(format(ours)) s, \(format(Double(count) / ours)) images/s "
                + "(batch \(batchSize), \(ComputeSettings.threadCount) threads)")
        guard let torch else { return }
        let theirs = try runTorch(python: torch)
        guard let seconds = theirs["seconds"] as? Double else { throw CommandError.missingKey(command: torchScript, key: "seconds") }
        print(
            "torch: \(count) images in \(format(seconds)) s, \(format(Double(count) / seconds)) images/s "
                + "(pytorch-fid InceptionV3, torch \(theirs["torch"] ?? "?"), \(theirs["threads"] ?? "?") threads)")
        print("speed-up (torch time / ours): \(format(seconds / ours))x")
    }

    /// Seconds for one pass over `count` random images after a warm-up batch.
    private func measure() throws -> Double {
        let network = FIDInceptionV3()
        try network.load(FIDInceptionV3.heInitialisedWeights(seed: 0), source: "random weights")
        var rng = SeededGenerator(seed: 0)
        let images = Tensor.randomUniform([count, 3, 32, 32], low: -1, high: 1, using: &rng)
        _ = network.features(images.sliced(alongAxis: 0, 0..<min(batchSize, count)))
        let start = DispatchTime.now().uptimeNanoseconds
        for first in stride(from: 0, to: count, by: batchSize) {
            let (pool, _) = network.features(images.sliced(alongAxis: 0, first..<min(count, first + batchSize)))
            precondition(pool.shape[1] == FIDInceptionV3.featureDimension, "[bench inception] pool features \(pool.shape)")
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func runTorch(python: String) throws -> [String: Any] {
        try runJSONProcess(
            [python, torchScript, "--count", "\(count)", "--batch-size", "\(batchSize)", "--threads", "2"],
            hint: "Are torch and pytorch-fid installed?")
    }
}
