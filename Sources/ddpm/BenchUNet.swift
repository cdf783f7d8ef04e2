import ArgumentParser
import Diffusion
import Foundation
import Models
import NN
import Optimizers
import TensorKernels
import Tensors

/// `ddpm bench unet`: the DDPM U-Nets' forward, training step and denoising step in images/s and
/// peak memory, optionally beside PyTorch/diffusers measured in the same run. Each case runs in a
/// fresh process (this binary with `--case`) so its peak RSS is its own.
struct BenchUNet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet", abstract: "Benchmark the DDPM U-Net: forward, training and denoising steps (medians).")

    static let cases = ["cifar-forward", "cifar-train", "small-train", "small-denoise"]

    @Option(help: "Timed repetitions per case (median reported).")
    var repeats = 5

    @Option(help: "Run one case in this process and print its JSON (\(BenchUNet.cases.joined(separator: ", "))).")
    var `case`: String?

    @Option(help: "A Python with torch and diffusers: also runs scripts/bench/torch_unet.py and prints ratios.")
    var torch: String?

    @Option(help: "Path of torch_unet.py.")
    var torchScript = "scripts/bench/torch_unet.py"

    @Flag(inversion: .prefixedNo, help: "Recompute SiLU(GroupNorm(x)) in the backward pass (less memory, a little more time).")
    var recompute = true

    @Flag(help: "With --case: also print the timed steps' convolution time by layer shape, pass and path.")
    var profile = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1 (got \(repeats)).") }
        if let c = `case`, !Self.cases.contains(c) {
            throw ValidationError("unknown --case '\(c)'; choose one of \(Self.cases.joined(separator: ", ")).")
        }
        if profile && `case` == nil { throw ValidationError("--profile needs --case (one case, in this process).") }
    }

    func run() throws {
        if let c = `case` {
            let r = try measure(c)
            print(String(data: try JSONSerialization.data(withJSONObject: r), encoding: .utf8)!)
            return
        }
        // The parent's line: each --case child runs this binary with this environment, hence the
        // same path, and prints nothing but its JSON (the last line, which runJSONProcess parses).
        print(ComputeSettings.convolutionBackend.description)
        var ours: [String: [String: Double]] = [:]
        for c in Self.cases {
            ours[c] = try runChild([
                CommandLine.arguments[0], "bench", "unet", "--case", c, "--repeats", "\(repeats)",
                recompute ? "--recompute" : "--no-recompute",
            ])
        }
        let theirs = try torch.map { try runChild([$0, torchScript, "--repeats", "\(repeats)"]) as [String: [String: Double]] }
        print(
            pad("case", 16) + pad("batch", 7) + pad("ours img/s", 12) + pad("ours RSS MB", 13)
                + (theirs == nil ? "" : pad("torch img/s", 13) + pad("torch RSS MB", 14) + pad("speed-up", 10) + "memory"))
        for c in Self.cases {
            guard let r = ours[c], let seconds = r["seconds"], let batch = r["batch"], let rss = r["peak_rss_mb"] else { continue }
            var line = pad(c, 16) + pad("\(Int(batch))", 7) + pad(format(batch / seconds), 12) + pad(format(rss), 13)
            if let t = theirs?[c], let ts = t["seconds"], let trss = t["peak_rss_mb"] {
                line += pad(format(batch / ts), 13) + pad(format(trss), 14) + pad(format(ts / seconds) + "x", 10) + format(rss / trss) + "x"
            }
            print(line)
        }
    }

    /// Convolution time per step by layer, largest first, and its share of the mean step.
    private func printProfile(stepSeconds: Double) {
        let entries = ConvolutionProfile.snapshot.sorted { $0.value.seconds > $1.value.seconds }
        let total = entries.reduce(0) { $0 + $1.value.seconds } / Double(repeats)
        print(pad("convolution", 72) + pad("calls/step", 12) + pad("ms/step", 10) + "share of step")
        for (key, entry) in entries {
            let perStep = entry.seconds / Double(repeats)
            print(
                pad(key, 72) + pad(format(Double(entry.calls) / Double(repeats)), 12) + pad(format(perStep * 1e3), 10)
                    + format(100 * perStep / stepSeconds) + " %")
        }
        print(
            "all convolutions: \(format(total * 1e3)) of \(format(stepSeconds * 1e3)) ms per step (\(format(100 * total / stepSeconds)) %)")
    }

    /// Times one case in this process.
    private func measure(_ name: String) throws -> [String: Double] {
        let configuration: UNetConfiguration = name.hasPrefix("cifar") ? .cifar10 : .small32Grey
        let batch = name.hasPrefix("cifar") ? 16 : 64
        let unet = try UNet(configuration, seed: 0)
        unet.recomputesActivations = recompute
        let parameters = unet.namedParameters().map(\.parameter)
        let ddpm = DDPM(schedule: try NoiseSchedule())
        let adam = Adam()
        var rng = SeededGenerator(seed: 1)
        let x0 = Tensor.randomNormal([batch, configuration.inChannels, 32, 32], using: &rng)
        let step: () -> Void
        switch name {
        case "cifar-forward":
            step = { _ = withoutGradients { unet(x0, timesteps: Array(repeating: 499, count: batch), rng: &rng) } }
        case "small-denoise":
            step = {
                withoutGradients {
                    let eps = unet(x0, timesteps: Array(repeating: 499, count: batch), rng: &rng)
                    _ = ddpm.reverseStep(x0, at: 500, modelOutput: eps, noise: Tensor.randomNormal(x0.shape, using: &rng))
                }
            }
        default:  // a training step: Algorithm 1 with Adam
            step = {
                var dropout = SeededGenerator(seed: rng.next())
                let loss = ddpm.trainingLoss(x0, using: &rng) { xt, t in unet(xt, timesteps: t, training: true, rng: &dropout) }
                adam.update(parameters, gradients: gradients(of: loss, withRespectTo: parameters.map(\.value)))
            }
        }
        for _ in 0..<2 { step() }
        ConvolutionProfile.record(profile)
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        ConvolutionProfile.record(false)
        if profile { printProfile(stepSeconds: times.reduce(0, +) / Double(repeats)) }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return [
            "seconds": times.sorted()[times.count / 2], "batch": Double(batch), "peak_rss_mb": Double(usage.ru_maxrss) / 1e3,
            "peak_tensor_mb": Double(tensorMemoryStatistics().peakBytes) / 1e6,
            "pool_cached_mb": Double(tensorMemoryStatistics().cachedBytes) / 1e6,
            "pool_live_mb": Double(tensorMemoryStatistics().liveBytes) / 1e6,
        ]
    }

    private func runChild<T>(_ arguments: [String]) throws -> T { try runJSONProcess(arguments) }
}
