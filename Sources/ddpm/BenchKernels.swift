import ArgumentParser
import Foundation
import TensorKernels
import Tensors

/// `ddpm bench kernels`: GFLOP/s and % of the measured FMA peak of the kernels the U-Net spends
/// its time in, optionally beside PyTorch measured in the same run.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Benchmark convolution, GEMM and GroupNorm+SiLU kernels (medians).")

    @Option(help: "Timed repetitions per kernel (median reported).")
    var repeats = 7

    @Option(help: "A Python with torch: also runs scripts/bench/torch_kernels.py and prints speed ratios.")
    var torch: String?

    @Option(help: "Path of torch_kernels.py (default: scripts/bench/torch_kernels.py).")
    var torchScript = "scripts/bench/torch_kernels.py"

    @Option(help: "Only the 3×3 convolution with this key (conv128x32, conv256x8, …), for profiling.")
    var only: String?

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1 (got \(repeats)).") }
    }

    func run() throws {
        print(ComputeSettings.convolutionBackend.description)  // the engine the U-Net uses; both are timed below
        let threads = ComputeSettings.threadCount
        let peak = Kernels.measureFMAPeak(threads: threads)
        print(
            "threads \(threads), measured FMA peak \(format(peak)) GFLOP/s, vector kernels \(Kernels.vectorISA) (DDPM_KERNEL_ISA caps it)")
        var ours: [String: Double] = [:]
        var rows: [(String, String, Double, Double?)] = []  // name, key, seconds, flops

        // Every convolution shape under each engine, same run; "winograd F2" calls our F(2×2, 3×3)
        // directly. im2col only for the two cifar10-preset rows (it is the slowest, and the reference).
        let engines: [ConvolutionEngine] = (OneDNN.isAvailable ? [.winograd, .oneDNN] : [.winograd]) + [.im2col]
        let chosen = ConvolutionEngine.preferred
        defer { ConvolutionEngine.preferred = chosen }
        let shapes = [
            ("conv3x3 128->128 32x32 b16", "conv128x32", 128, 32, 16),
            ("conv3x3 256->256 16x16 b16", "conv256x16", 256, 16, 16),
            ("conv3x3 256->256 8x8 b16", "conv256x8", 256, 8, 16),  // one block of 64 tiles
            ("conv3x3 256->256 4x4 b16", "conv256x4", 256, 4, 16),  // one tile per image
            ("conv3x3 32->32 32x32 b64", "conv32x32b64", 32, 32, 64),
            ("conv3x3 64->64 16x16 b64", "conv64x16b64", 64, 16, 64),
            ("conv3x3 16->16 32x32 b64", "conv16x32b64", 16, 32, 64),  // Winograd.minimumChannels
        ]
        var seconds: [String: Double] = [:]  // "key.pass.variant"
        for (name, key, cin, size, batch) in shapes where only.map({ $0 == key }) ?? true {
            let g = ConvolutionGeometry(
                batch: batch, inputChannels: cin, height: size, width: size, outputChannels: cin,
                kernelHeight: 3, kernelWidth: 3, stride: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
            let o = Operands(g, seed: 1)
            let (xp, wp, dyp) = (o.x.storage.pointer, o.w.storage.pointer, o.dy.storage.pointer)
            let (yp, dxp, dwp) = (o.y.storage.pointer, o.dx.storage.pointer, o.dw.storage.pointer)
            var variants: [(String, [() -> Void])] = engines.filter { $0 != .im2col || (batch == 16 && size >= 16) }.map { engine in
                let use = { ConvolutionEngine.preferred = engine }
                return (
                    engine.rawValue,
                    [
                        {
                            use()
                            Kernels.convolutionForward(g, x: xp, weight: wp, bias: nil, y: yp)
                        },
                        {
                            use()
                            Kernels.convolutionBackwardData(g, dy: dyp, weight: wp, dx: dxp)
                        },
                        {
                            use()
                            Kernels.convolutionBackwardWeight(g, x: xp, dy: dyp, dw: dwp)
                        },
                    ]
                )
            }
            variants.insert(
                (
                    "winograd F2",
                    [
                        { Kernels.winogradForward(g, tile: 2, x: xp, weight: wp, bias: nil, y: yp) },
                        { Kernels.winogradBackwardData(g, tile: 2, dy: dyp, weight: wp, dx: dxp) },
                        { Kernels.winogradBackwardWeight(g, tile: 2, x: xp, dy: dyp, dw: dwp) },
                    ]
                ), at: 1)
            ConvolutionEngine.preferred = .oneDNN
            if OneDNN.isAvailable { print("oneDNN kernels for \(key): \(OneDNN.implementations(g).joined(separator: ", "))") }
            for (variant, passes) in variants {
                for (pass, body) in zip(["forward", "backwardData", "backwardWeight"], passes) {
                    let t = median(body)
                    seconds["\(key).\(pass).\(variant)"] = t
                    rows.append(("\(name) \(pass) [\(variant)]", "\(key).\(pass)", t, g.flops))
                    if variant == chosen.rawValue { ours["\(key).\(pass)"] = t }
                }
            }
        }
        ConvolutionEngine.preferred = chosen
        // The attention projections and shortcuts of the cifar10 preset: 1×1, 256 channels at 16².
        let pointwise = ConvolutionGeometry(
            batch: 16, inputChannels: 256, height: 16, width: 16, outputChannels: 256,
            kernelHeight: 1, kernelWidth: 1, stride: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0)
        for (pass, t) in zip(["forward", "backwardData", "backwardWeight"], Self.passSeconds(pointwise, median(_:))) {
            rows.append(("conv1x1 256->256 16x16 b16 \(pass)", "conv1x1x256x16.\(pass)", t, pointwise.flops))
            ours["conv1x1x256x16.\(pass)"] = t
        }
        var rng = SeededGenerator(seed: 2)
        let a = Tensor.randomNormal([1024, 1024], using: &rng)
        let b = Tensor.randomNormal([1024, 1024], using: &rng)
        let gemmSeconds = median { _ = matmul(a, b) }
        rows.append(("GEMM 1024^3", "gemm1024", gemmSeconds, 2 * 1024 * 1024 * 1024))
        ours["gemm1024"] = gemmSeconds
        let h = Tensor.randomNormal([16, 128, 32, 32], using: &rng)
        let gamma = Tensor.ones([128])
        let beta = Tensor.zeros([128])
        let gnSeconds = median { _ = h.groupNormalized(groups: 32, gamma: gamma, beta: beta, fusingSiLU: true) }
        ours["groupNormSiLU"] = gnSeconds
        rows.append(("GroupNorm+SiLU [16,128,32,32]", "groupNormSiLU", gnSeconds, nil))

        let baseline = try torch.map { try runTorch(python: $0) }
        print("")
        print(
            pad("kernel", 50) + pad("ms", 9) + pad("GFLOP/s", 9) + pad("% peak", 8)
                + (baseline == nil ? "" : pad("torch ms", 10) + "speed-up"))
        for (name, key, seconds, flops) in rows {
            var line = pad(name, 50) + pad(format(seconds * 1e3), 9)
            if let flops {
                let rate = flops / seconds / 1e9
                line += pad(format(rate), 9) + pad(format(100 * rate / peak), 8)
            } else {
                let bytes = Double(2 * h.scalarCount * 4)  // read x once, write y once
                line += pad(format(bytes / seconds / 1e9) + " GB/s", 17)
            }
            if let baseline, let theirs = baseline[key] {
                line += pad(format(theirs * 1e3), 10) + format(theirs / seconds) + "x"
            }
            print(line)
        }
        print("")
        print("Winograd speed-up over oneDNN (same run, medians; >1 = Winograd faster)")
        for (_, key, _, _, _) in shapes {
            let passes = ["forward", "backwardData", "backwardWeight"]
            let cells = passes.map { pass -> String in
                let base = seconds["\(key).\(pass).oneDNN"]
                let f4 = seconds["\(key).\(pass).winograd"]
                let f2 = seconds["\(key).\(pass).winograd F2"]
                guard let base, let f4, let f2 else { return "\(pass) -" }
                return "\(pass) F4 \(format(base / f4))x F2 \(format(base / f2))x"
            }
            print(pad(key, 14) + cells.joined(separator: ", "))
        }
        if let baseline {
            for key in ["conv128x32", "conv256x16"] {
                let passes = ["forward", "backwardData", "backwardWeight"]
                let mine = passes.compactMap { ours["\(key).\($0)"] }.reduce(0, +)
                let theirs = passes.compactMap { baseline["\(key).\($0)"] }.reduce(0, +)
                print(
                    "\(key) forward+backward [\(chosen.rawValue)]: ours \(format(mine * 1e3)) ms, torch \(format(theirs * 1e3)) ms, speed-up \(format(theirs / mine))x"
                )
            }
        }
        let memory = tensorMemoryStatistics()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print("peak tensor memory \(format(Double(memory.peakBytes) / 1e6)) MB, peak RSS \(format(Double(usage.ru_maxrss) / 1e3)) MB")
    }

    /// Median seconds of forward, backward-data and backward-weight of `g` on the engine in use.
    private static func passSeconds(_ g: ConvolutionGeometry, _ median: (() -> Void) -> Double) -> [Double] {
        let o = Operands(g, seed: 3)
        let (x, w, dy) = (o.x.storage.pointer, o.w.storage.pointer, o.dy.storage.pointer)
        return [
            median { Kernels.convolutionForward(g, x: x, weight: w, bias: nil, y: o.y.storage.pointer) },
            median { Kernels.convolutionBackwardData(g, dy: dy, weight: w, dx: o.dx.storage.pointer) },
            median { Kernels.convolutionBackwardWeight(g, x: x, dy: dy, dw: o.dw.storage.pointer) },
        ]
    }

    /// Random x, w (σ 0.05) and dy of geometry `g`, and zeroed y, dx, dw to write.
    private struct Operands {
        let x, w, dy, y, dx, dw: Tensor
        init(_ g: ConvolutionGeometry, seed: UInt64) {
            var rng = SeededGenerator(seed: seed)
            x = Tensor.randomNormal([g.batch, g.inputChannels, g.height, g.width], using: &rng)
            w = Tensor.randomNormal(
                [g.outputChannels, g.inputChannels, g.kernelHeight, g.kernelWidth], standardDeviation: 0.05, using: &rng)
            dy = Tensor.randomNormal([g.batch, g.outputChannels, g.outputHeight, g.outputWidth], using: &rng)
            (y, dx, dw) = (Tensor.zeros(dy.shape), Tensor.zeros(x.shape), Tensor.zeros(w.shape))
        }
    }

    private func median(_ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// Runs the PyTorch script and flattens its JSON into "case.pass" → seconds.
    private func runTorch(python: String) throws -> [String: Double] {
        let json: [String: Any] = try runJSONProcess([python, torchScript, "--repeats", "\(repeats)"], hint: "Is torch installed?")
        var flat: [String: Double] = [:]
        for (key, value) in json {
            if let v = value as? Double { flat[key] = v }
            if let d = value as? [String: Double] { for (k, v) in d { flat["\(key).\(k)"] = v } }
        }
        return flat
    }
}

func format(_ x: Double) -> String { String(format: x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}
