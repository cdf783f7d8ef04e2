import ArgumentParser
import Foundation
import Models
import Pipelines
import Tensors

/// `ddpm bench sampling`: wall time of whole sampling runs on a preset's random-weight U-Net
/// (Algorithm 2 at T steps against a fast solver, by default), with the scheduler's share and the
/// loop's throughput against one bare U-Net evaluation at the same batch, timed in the same run.
struct BenchSampling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampling",
        abstract: "Time whole sampling runs (default: Algorithm 2 at 1000 steps vs DPM-Solver++ at 20) on a preset.")

    @Option(help: "Model preset (random weights).") var preset = "cifar10"
    @Option(help: "Images (one batch).") var count = 16
    @Option(help: "Samplers as NAME:STEPS, comma-separated.") var samplers = "dpm-solver++:20,ddpm:1000"

    func validate() throws {
        guard UNetConfiguration.presets[preset] != nil else { throw ValidationError("unknown --preset '\(preset)'.") }
        _ = try parsedSamplers()
    }

    /// --samplers as (NAME:STEPS, sampler) pairs.
    func parsedSamplers() throws -> [(name: String, sampler: Sampler)] {
        try samplers.split(separator: ",").map { item in
            let parts = item.split(separator: ":")
            guard parts.count == 2, let kind = SamplerKind(rawValue: String(parts[0])), let steps = Int(parts[1]) else {
                throw ValidationError(
                    "'\(item)' is not NAME:STEPS with NAME one of \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            return (String(item), Sampler(kind, steps: steps))
        }
    }

    func run() throws {
        let config = UNetConfiguration.presets[preset]!
        let pipeline = try SamplingPipeline(unet: try UNet(config), configuration: .paper)
        let noise = pipeline.initialNoise(count: count, imageSize: config.sampleSize ?? 32, seed: 1)
        print(ComputeSettings.convolutionBackend.description)
        print("preset \(preset), \(count) images, random weights")
        let network = pipeline.networkSeconds(on: noise)
        let bare = Double(count) / network
        print(String(format: "one U-Net evaluation at batch %d: %.3f s (%.1f images/s, median of 3)", count, network, bare))
        var times: [(String, Double)] = []
        for (item, sampler) in try parsedSamplers() {
            let run = try pipeline.timedSample(from: noise, sampler: sampler)
            times.append((item, run.seconds))
            let rate = Double(count * run.evaluations) / run.seconds
            print(
                "\(item): \(run.evaluations) evaluations, "
                    + String(
                        format: "%.1f s (%.3f s per evaluation), %.1f images·steps/s = %.1f%% of the bare U-Net's, scheduler share %.2f%%",
                        run.seconds, run.seconds / Double(run.evaluations), rate, 100 * rate / bare, 100 * run.schedulerShare))
        }
        for (name, seconds) in times.dropFirst() { print("\(name) / \(times[0].0): " + String(format: "%.1fx", seconds / times[0].1)) }
    }
}
