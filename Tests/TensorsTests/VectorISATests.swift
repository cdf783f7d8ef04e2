import CKernels
import Foundation
import Testing

// Sources/CKernels: each build of the ISA-dependent loops (AVX-512F, AVX2+FMA, baseline) against
// Float64 references and against each other. The variant is forced on the test's own thread
// (ddpm_kernel_isa_override), so tests running beside these keep the CPU's choice.

/// The variants this machine runs: the override is clamped to the CPU, so asking for each level and
/// reading it back tells which exist.
private enum ISA {
    static let levels: [Int32] = (0...2).filter { (level: Int32) in run(level) { ddpm_kernel_isa() } == level }

    static func run<T>(_ level: Int32, _ body: () -> T) -> T {
        ddpm_kernel_isa_override(level)
        defer { ddpm_kernel_isa_override(-1) }
        return body()
    }

    /// The CPU flags of /proc/cpuinfo (Linux), empty elsewhere.
    static let cpuFlags: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: ":").last!.split(separator: " ").map(String.init))
    }()
}

private func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return scale * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
    }
}

/// Every kernel once, on inputs with odd lengths (vector tails), flattened into one array.
private func allKernelOutputs() -> [Float] {
    let x = randomFloats(1037, seed: 1, scale: 4)
    let y = randomFloats(1037, seed: 2)
    let g = randomFloats(1037, seed: 3)
    var out: [Float] = [ddpm_sum(x, 1037), ddpm_dot(x, y, 1037), ddpm_blocked_sum(x, 1037, 100)]
    var buffer = [Float](repeating: 0, count: 1037)
    for map in [ddpm_exp, ddpm_sigmoid, ddpm_silu] as [(UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void] {
        map(x, &buffer, 1037)
        out += buffer
    }
    ddpm_silu_backward(g, x, &buffer, 1037)
    out += buffer
    ddpm_softmax_row(x, &buffer, 1037)
    out += buffer
    ddpm_softmax_row_backward(y, g, &buffer, 1037)
    out += buffer
    let (channels, spatial) = (3, 37)
    let gamma = randomFloats(3, seed: 4)
    let beta = randomFloats(3, seed: 5)
    var mean: Float = 0
    var inverseStd: Float = 0
    var dz = [Float](repeating: 0, count: 111)
    var perChannel = [Float](repeating: 0, count: 6)
    ddpm_group_norm_forward(x, gamma, beta, &buffer, channels, spatial, 1e-5, 1, &mean, &inverseStd)
    out += buffer.prefix(111) + [mean, inverseStd]
    ddpm_group_norm_backward(x, g, gamma, beta, mean, inverseStd, &buffer, &dz, &perChannel, channels, spatial, 1)
    out += buffer.prefix(111) + perChannel
    return out
}

@Suite("vector ISA builds of the C kernels (Sources/CKernels)")
struct VectorISATests {
    @Test(
        "every variant the CPU's flags allow is available (AVX2+FMA, AVX-512F)",
        .enabled(if: ISA.cpuFlags.contains("avx2") && ISA.cpuFlags.contains("fma"), "needs an x86-64 Linux CPU with AVX2 and FMA"))
    func variantsFollowTheCPU() {
        #expect(ISA.levels.contains(1))
        #expect(ISA.levels.contains(2) == ISA.cpuFlags.contains("avx512f"))
    }

    @Test(
        "the process runs the best variant the CPU has",
        .enabled(if: ProcessInfo.processInfo.environment["DDPM_KERNEL_ISA"] == nil, "DDPM_KERNEL_ISA caps the variant in this run"))
    func bestVariantIsChosen() {
        #expect(ddpm_kernel_isa() == ISA.levels.max())
    }

    @Test(
        "each level runs its own build: the vector builds fuse the dot's multiply-add, the baseline does not",
        .enabled(if: ISA.levels.count > 1, "only one build runs on this CPU"))
    func dispatchReachesEachBuild() {
        // Lane 0 holds −(1 + 2⁻¹¹) after the first eight products; then a·a with a = 1 + 2⁻¹² is
        // 1 + 2⁻¹¹ + 2⁻²⁴: rounded first (ties to even) it cancels to 0, fused it leaves 2⁻²⁴.
        var x = [Float](repeating: 0, count: 16)
        var y = x
        (x[0], y[0]) = (1, -(1 + 0x1p-11))
        (x[8], y[8]) = (1 + 0x1p-12, 1 + 0x1p-12)
        for level in ISA.levels {
            let expected: Float = level == 0 ? 0 : 0x1p-24
            #expect(ISA.run(level) { ddpm_dot(x, y, 16) } == expected, "level \(level)")
        }
    }

    @Test("sum, dot and blocked sum match a Float64 reference in every variant", arguments: [0, 1, 7, 8, 9, 63, 1000, 9001])
    func reductions(count: Int) {
        let x = randomFloats(count, seed: 7)
        let y = randomFloats(count, seed: 8)
        let sum = x.reduce(0.0) { $0 + Double($1) }
        let dot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let bound = 1e-6 * Double(max(count, 1))  // |x|, |y| ≤ 1: rounding grows at most with the count
        for level in ISA.levels {
            ISA.run(level) {
                #expect(abs(Double(ddpm_sum(x, count)) - sum) <= bound, "sum, level \(level)")
                #expect(abs(Double(ddpm_dot(x, y, count)) - dot) <= bound, "dot, level \(level)")
                #expect(abs(Double(ddpm_blocked_sum(x, count, 64)) - sum) <= bound, "blocked sum, level \(level)")
            }
        }
    }

    @Test("blocked sums of many rows equal one blocked sum per row, bit for bit, in every variant", arguments: [1, 7, 8, 13, 32, 33, 100])
    func rowSums(count: Int) {
        let rows = 19  // two groups of eight, then three rows one at a time
        let x = randomFloats(rows * count, seed: 9)
        var out = [Float](repeating: 0, count: rows)
        for level in ISA.levels {
            ISA.run(level) {
                ddpm_blocked_sum_rows(x, &out, rows, count, 4096)
                let expected = (0..<rows).map { r in
                    x.withUnsafeBufferPointer { ddpm_blocked_sum($0.baseAddress! + r * count, count, 4096) }
                }
                #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "level \(level)")
            }
        }
    }

    @Test("exp, sigmoid and SiLU match Foundation to 4e-7 relative in every variant; NaN stays NaN, ±200 saturates")
    func maps() {
        let x = stride(from: Float(-80), through: 80, by: 0.37).map { $0 } + [-200, 200, .nan]
        var e = [Float](repeating: 0, count: x.count)
        var s = e
        var silu = e
        for level in ISA.levels {
            ISA.run(level) {
                ddpm_exp(x, &e, x.count)
                ddpm_sigmoid(x, &s, x.count)
                ddpm_silu(x, &silu, x.count)
            }
            for i in 0..<(x.count - 3) {
                let exact = Foundation.exp(Double(x[i]))
                let sigmoid = 1 / (1 + Foundation.exp(-Double(x[i])))
                #expect(abs(Double(e[i]) - exact) <= 4e-7 * exact, "exp(\(x[i])) at level \(level)")
                #expect(abs(Double(s[i]) - sigmoid) <= 4e-7 * sigmoid, "sigmoid(\(x[i])) at level \(level)")
                #expect(
                    abs(Double(silu[i]) - Double(x[i]) * sigmoid) <= 4e-7 * abs(Double(x[i]) * sigmoid) + 1e-30,
                    "silu(\(x[i])) at level \(level)")
            }
            let n = x.count
            #expect(e[n - 3] >= 0 && e[n - 3] < 1e-37 && e[n - 2].isFinite && e[n - 2] > 1e38, "saturation at level \(level)")
            #expect(e[n - 1].isNaN && s[n - 1].isNaN && silu[n - 1].isNaN, "NaN at level \(level)")
        }
    }

    @Test("binary ops and dropout give the same bits in every variant (plain IEEE operations, integer hashing)")
    func binaryAndDropout() {
        let x = randomFloats(1037, seed: 12, scale: 3)
        let y = randomFloats(1037, seed: 13)
        func outputs() -> [Float] {
            var out = [Float](repeating: 0, count: 1037)
            var all: [Float] = []
            for op in [DDPM_ADD, DDPM_SUBTRACT, DDPM_MULTIPLY, DDPM_DIVIDE] {
                for (sa, sb) in [(1, 1), (1, 0), (0, 1), (0, 0)] {
                    ddpm_binary(Int32(op), x, sa, y, sb, &out, 1037)
                    all += out
                }
            }
            ddpm_dropout(x, &out, 1037, 0x1234_5678_9ABC_DEF0, 5, 3 << 22, 1.25)
            return all + out
        }
        let expected = ISA.run(ISA.levels.min()!, outputs)
        for level in ISA.levels {
            #expect(ISA.run(level, outputs).map(\.bitPattern) == expected.map(\.bitPattern), "level \(level)")
        }
    }

    @Test("GroupNorm+SiLU forward and softmax match Float64 references in every variant")
    func normalizationReferences() {
        let (channels, spatial) = (4, 45)
        let count = channels * spatial
        let x = randomFloats(count, seed: 9, scale: 3)
        let gamma = randomFloats(channels, seed: 10)
        let beta = randomFloats(channels, seed: 11)
        let mu = x.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mu) * (Double($1) - mu) } / Double(count)
        let m = Double(x.max()!)
        let z = x.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }
        var y = [Float](repeating: 0, count: count)
        var p = y
        for level in ISA.levels {
            var mean: Float = 0
            var inverseStd: Float = 0
            ISA.run(level) {
                ddpm_group_norm_forward(x, gamma, beta, &y, channels, spatial, 1e-5, 1, &mean, &inverseStd)
                ddpm_softmax_row(x, &p, count)
            }
            #expect(abs(Double(mean) - mu) <= 1e-6 && abs(Double(inverseStd) - 1 / (variance + 1e-5).squareRoot()) <= 1e-5)
            for i in 0..<count {
                let c = i / spatial
                let h = (Double(x[i]) - mu) / (variance + 1e-5).squareRoot() * Double(gamma[c]) + Double(beta[c])
                let silu = h / (1 + Foundation.exp(-h))
                let softmax = Foundation.exp(Double(x[i]) - m) / z
                #expect(abs(Double(y[i]) - silu) <= 2e-6 * (1 + abs(silu)), "GroupNorm+SiLU[\(i)] at level \(level)")
                #expect(abs(Double(p[i]) - softmax) <= 2e-6 * softmax, "softmax[\(i)] at level \(level)")
            }
        }
    }

    @Test(
        "the AVX-512F build gives the same bits as the AVX2+FMA build, in every kernel",
        .enabled(if: ISA.levels.contains(2), "the CPU has no AVX-512F"))
    func avx512MatchesAVX2() {
        let wide = ISA.run(2, allKernelOutputs)
        let narrow = ISA.run(1, allKernelOutputs)
        #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern))
    }

    @Test(
        "the baseline build agrees with the vector builds: maps bit for bit, reductions within rounding",
        .enabled(if: ISA.levels.count > 1, "only the baseline build runs on this CPU"))
    func baselineMatchesVectorBuilds() {
        let base = ISA.run(0, allKernelOutputs)
        let best = ISA.run(ISA.levels.max()!, allKernelOutputs)
        #expect(base.count == best.count)
        // Elementwise maps are outputs 3 ..< 3 + 4·1037: contraction is off, so no FMA can differ.
        let maps = 3..<(3 + 4 * 1037)
        #expect(base[maps].map(\.bitPattern) == best[maps].map(\.bitPattern))
        for (i, (a, b)) in zip(base, best).enumerated() where !maps.contains(i) {
            #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "output \(i): baseline \(a), vector \(b)")
        }
    }
}
