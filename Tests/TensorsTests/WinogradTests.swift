import TensorKernels
import Tensors
import TestSupport
import Testing

/// Our Winograd F(m×m, 3×3) convolution (Winograd.swift) against a float64 direct convolution and
/// the im2col reference, all three passes. Needs no oneDNN: the geometries it does not take go to
/// im2col then.
///
/// Tolerances, relative to the largest |value| of the float64 result: the fp32 im2col path itself
/// is ~1e-6 off on these sizes; F(2×2) adds nothing measurable (its transforms are additions, G
/// has ±1/2), F(4×4) multiplies by up to 8 and divides by 24 and was measured at 1e-6 to 4e-6
/// (128 channels at 32×32: 4e-6). 3e-5 for F(4×4) and 1e-5 for F(2×2) leave about 8× margin.
@Suite("Winograd convolution", .serialized)
struct WinogradTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let batch, inputChannels, outputChannels, height, width: Int
        let bias: Bool
        var testDescription: String {
            "\(batch)x\(inputChannels)x\(height)x\(width) -> \(outputChannels)\(bias ? " bias" : "")"
        }
        var geometry: ConvolutionGeometry {
            ConvolutionGeometry(
                batch: batch, inputChannels: inputChannels, height: height, width: width, outputChannels: outputChannels,
                kernelHeight: 3, kernelWidth: 3, stride: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        }
    }
    static let cases = [
        Case(batch: 1, inputChannels: 32, outputChannels: 40, height: 7, width: 9, bias: true),
        Case(batch: 5, inputChannels: 36, outputChannels: 33, height: 9, width: 7, bias: false),
        Case(batch: 3, inputChannels: 32, outputChannels: 32, height: 16, width: 16, bias: true),
        Case(batch: 2, inputChannels: 40, outputChannels: 32, height: 8, width: 8, bias: false),
        Case(batch: 4, inputChannels: 32, outputChannels: 35, height: 2, width: 13, bias: true),
        Case(batch: 3, inputChannels: 64, outputChannels: 48, height: 32, width: 32, bias: true),
        // Blocks of two and of four 16-tile panels (ddpm_winograd_block_panels), a partial last block.
        Case(batch: 2, inputChannels: 96, outputChannels: 80, height: 12, width: 10, bias: true),
        Case(batch: 3, inputChannels: 160, outputChannels: 140, height: 6, width: 6, bias: false),
    ]

    struct Data {
        let x, w, b, dy: [Float]
        init(_ c: Case) {
            x = standardNormal([c.batch, c.inputChannels, c.height, c.width], seed: 11).scalars
            w = standardNormal([c.outputChannels, c.inputChannels, 3, 3], seed: 12, scale: 0.1).scalars
            b = standardNormal([c.outputChannels], seed: 13).scalars
            dy = standardNormal([c.batch, c.outputChannels, c.height, c.width], seed: 14).scalars
        }
    }

    /// y, dx, dw in float64, straight from the definition (cross-correlation, zero padding 1).
    static func direct(_ c: Case, _ d: Data) -> (y: [Double], dx: [Double], dw: [Double]) {
        let (n, ci, co, h, w) = (c.batch, c.inputChannels, c.outputChannels, c.height, c.width)
        var y = [Double](repeating: 0, count: n * co * h * w)
        var dx = [Double](repeating: 0, count: n * ci * h * w)
        var dw = [Double](repeating: 0, count: co * ci * 9)
        for b in 0..<n {
            for k in 0..<co {
                for oy in 0..<h {
                    for ox in 0..<w {
                        let o = ((b * co + k) * h + oy) * w + ox
                        var s = c.bias ? Double(d.b[k]) : 0
                        let g = Double(d.dy[o])
                        for c2 in 0..<ci {
                            for i in 0..<3 {
                                for j in 0..<3 {
                                    let (iy, ix) = (oy + i - 1, ox + j - 1)
                                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                    let xi = ((b * ci + c2) * h + iy) * w + ix
                                    let wi = ((k * ci + c2) * 3 + i) * 3 + j
                                    s += Double(d.w[wi]) * Double(d.x[xi])
                                    dx[xi] += Double(d.w[wi]) * g
                                    dw[wi] += Double(d.x[xi]) * g
                                }
                            }
                        }
                        y[o] = s
                    }
                }
            }
        }
        return (y, dx, dw)
    }

    /// y, dx, dw through `Kernels.convolution*` under `engine`, or straight through the Winograd
    /// entry points with tile size `tile`.
    static func run(_ c: Case, _ d: Data, engine: ConvolutionEngine, tile: Int? = nil) -> [[Float]] {
        ConvolutionEngine.using(engine) { runUnderPreferred(c, d, tile: tile) }
    }

    private static func runUnderPreferred(_ c: Case, _ d: Data, tile: Int?) -> [[Float]] {
        let g = c.geometry
        var y = [Float](repeating: .nan, count: d.dy.count)
        var dx = [Float](repeating: .nan, count: d.x.count)
        var dw = [Float](repeating: .nan, count: d.w.count)
        d.x.withUnsafeBufferPointer { x in
            d.w.withUnsafeBufferPointer { w in
                d.b.withUnsafeBufferPointer { b in
                    d.dy.withUnsafeBufferPointer { dy in
                        let bias = c.bias ? b.baseAddress : nil
                        if let tile {
                            Kernels.winogradForward(g, tile: tile, x: x.baseAddress!, weight: w.baseAddress!, bias: bias, y: &y)
                            Kernels.winogradBackwardData(g, tile: tile, dy: dy.baseAddress!, weight: w.baseAddress!, dx: &dx)
                            Kernels.winogradBackwardWeight(g, tile: tile, x: x.baseAddress!, dy: dy.baseAddress!, dw: &dw)
                        } else {
                            Kernels.convolutionForward(g, x: x.baseAddress!, weight: w.baseAddress!, bias: bias, y: &y)
                            Kernels.convolutionBackwardData(g, dy: dy.baseAddress!, weight: w.baseAddress!, dx: &dx)
                            Kernels.convolutionBackwardWeight(g, x: x.baseAddress!, dy: dy.baseAddress!, dw: &dw)
                        }
                    }
                }
            }
        }
        return [y, dx, dw]
    }

    /// max |a − r| / max |r|.
    static func error(_ a: [Float], _ r: [Double]) -> Double {
        let scale = r.map(abs).max() ?? 1
        return zip(a, r).map { abs(Double($0) - $1) }.max()! / max(scale, 1e-30)
    }

    @Test("F(4x4) through Kernels.convolution* (the path taken) and F(2x2) match float64 and im2col", arguments: cases)
    func matchesReference(_ c: Case) {
        let path = ConvolutionEngine.using(.winograd) { ConvolutionEngine.path(c.geometry) }
        #expect(path == .winograd(tile: 4), "geometry \(c) should take our Winograd F(4x4) path, took \(path)")

        let d = Data(c)
        let exact = Self.direct(c, d)
        let reference = [exact.y, exact.dx, exact.dw]
        let im2col = Self.run(c, d, engine: .im2col)
        for (tile, results, tolerance) in [
            (4, Self.run(c, d, engine: .winograd), 3e-5), (2, Self.run(c, d, engine: .im2col, tile: 2), 1e-5),
        ] {
            for (name, (a, (r, i))) in zip(["y", "dx", "dw"], zip(results, zip(reference, im2col))) {
                let e = Self.error(a, r)
                #expect(e <= tolerance, "F(\(tile)) \(name): relative error vs float64 \(e) > \(tolerance)")
                let scale = Double(i.map(abs).max() ?? 1)
                let vsIm2col = zip(a, i).map { abs(Double($0 - $1)) }.max()! / scale
                #expect(vsIm2col <= tolerance, "F(\(tile)) \(name): relative difference vs im2col \(vsIm2col) > \(tolerance)")
            }
        }
        for (name, (a, r)) in zip(["y", "dx", "dw"], zip(im2col, reference)) {
            #expect(Self.error(a, r) <= 1e-5, "im2col \(name) vs float64: \(Self.error(a, r))")
        }
    }

    @Test("conv2d and its gradients go through Winograd under .winograd and agree with im2col")
    func autodiffUsesWinograd() {
        let x = standardNormal([2, 40, 11, 10], seed: 1)
        let w = standardNormal([32, 40, 3, 3], seed: 2, scale: 0.1)
        let b = standardNormal([32], seed: 3)
        func run(_ engine: ConvolutionEngine) -> [Tensor] { ConvolutionEngine.using(engine) { runPreferred() } }
        func runPreferred() -> [Tensor] {
            let vars = [x, w, b].map { $0.requiringGradient() }
            let y = conv2d(vars[0], weight: vars[1], bias: vars[2], padding: .uniform(1))
            let probe = standardNormal(y.shape, seed: 4)
            return [y.detached()] + gradients(of: (y * probe).sum(), withRespectTo: vars)
        }
        let (fast, reference) = (run(.winograd), run(.im2col))
        for (name, (a, r)) in zip(["y", "dx", "dw", "db"], zip(fast, reference)) {
            let scale = max(1, r.scalars.map(abs).max() ?? 0)
            #expect(a.maxAbsoluteDifference(r) <= 3e-5 * scale, "\(name): Winograd vs im2col differ by \(a.maxAbsoluteDifference(r))")
        }
    }

    @Test("only 3x3 stride-1 padding-1 convolutions with enough channels take Winograd")
    func geometryRule() {
        func g(_ cin: Int, _ k: Int, _ s: Int, _ pad: Int, padBottom: Int? = nil) -> ConvolutionGeometry {
            ConvolutionGeometry(
                batch: 2, inputChannels: cin, height: 8, width: 8, outputChannels: 32, kernelHeight: k, kernelWidth: k, stride: s,
                padTop: pad, padBottom: padBottom ?? pad, padLeft: pad, padRight: pad)
        }
        ConvolutionEngine.using(.winograd) {
            #expect(ConvolutionEngine.path(g(32, 3, 1, 1)) == .winograd(tile: 4))
            for other in [
                g(1, 3, 1, 1), g(Winograd.minimumChannels - 1, 3, 1, 1), g(32, 3, 2, 1), g(32, 1, 1, 0), g(32, 3, 1, 0),
                g(32, 3, 1, 1, padBottom: 0),
            ] {
                #expect(ConvolutionEngine.path(other) != .winograd(tile: 4))
            }
        }
        ConvolutionEngine.using(.im2col) { #expect(ConvolutionEngine.path(g(32, 3, 1, 1)) == .im2col) }
    }

    @Test("a batch of one block split over output channels (1, 2 and 8 threads) matches float64")
    func channelSplitBlocks() {
        // 4×4 planes, batch 3: three tiles, one block, so 2 or 8 threads split the 192 output
        // channels into 4 or 6 groups; backward weights then takes the shared-dU path.
        let c = Case(batch: 3, inputChannels: 160, outputChannels: 192, height: 4, width: 4, bias: true)
        let d = Data(c)
        let exact = Self.direct(c, d)
        for threads in [1, 2, 8] {
            let results = withThreadCount(threads) { Self.run(c, d, engine: .winograd) }
            for (name, (a, r)) in zip(["y", "dx", "dw"], zip(results, [exact.y, exact.dx, exact.dw])) {
                #expect(Self.error(a, r) <= 3e-5, "\(threads) threads, \(name): relative error \(Self.error(a, r))")
            }
        }
        #expect(withThreadCount(2) { Winograd.channelSplits(blocks: 1, channels: 192) } == 4)
        #expect(withThreadCount(8) { Winograd.channelSplits(blocks: 1, channels: 192) } == 6)
        #expect(withThreadCount(2) { Winograd.channelSplits(blocks: 4, channels: 192) } == 1)
    }

    @Test("output-channel groups cover the channels once, cut at multiples of 6")
    func channelRanges() {
        for (splits, channels) in [(1, 40), (2, 64), (4, 192), (6, 192), (3, 100)] {
            let ranges = (0..<splits).map { Winograd.channelRange($0, of: splits, channels: channels) }
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == channels)
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound && !a.isEmpty) }
            for r in ranges.dropFirst() { #expect(r.lowerBound % 6 == 0) }
        }
    }
}
