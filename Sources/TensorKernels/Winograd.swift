import CKernels
import Foundation

/// Winograd convolution for 3×3, stride-1, padding-1 kernels (Lavin & Gray 2016, "Fast Algorithms
/// for Convolutional Neural Networks").
///
/// Why: oneDNN 2.x implements Winograd only with AVX-512; on AVX2 its direct kernels reach ~60 %
/// of the FMA peak, while F(4×4, 3×3) needs 4× fewer multiplications (F(2×2, 3×3): 2.25×).
///
/// F(m×m, 3×3) splits the output into m×m tiles, each read from an α×α input tile d (α = m + 2,
/// overlapping by 2). With the constant matrices Bᵀ (α×α), G (α×3) and Aᵀ (m×α):
///
///     V = Bᵀ·d·B,   U = G·g·Gᵀ,   Y = Aᵀ·(U ⊙ V)·A
///
/// Summed over input channels, the α² element-wise products become α² independent GEMMs,
/// M[ξ] (Cout × tiles) = U[ξ] (Cout × Cin) · V[ξ] (Cin × tiles), one per tile element ξ; the
/// output transform Aᵀ·M·A (+ bias) follows. The transforms are C (Sources/CKernels/winograd.c,
/// one build per ISA, eight tiles per vector). Forward and backward data run all three steps per
/// block of 16–64 tiles (CKernels/winograd_blocks.c, the products on the GEMM kernel's register
/// block); backward weights go chunk by chunk with its products through `Kernels.gemm`.
///
/// - Backward data is the forward convolution of dy with the kernel rotated by 180° and Cin/Cout
///   swapped (stride 1, padding 1 keeps the size).
/// - Backward weights: for L = Σ_t ⟨dY_t, Y_t⟩, ∂L/∂U[ξ] = Σ_t (A·dY_t·Aᵀ)[ξ] · V_t[ξ], one GEMM
///   per ξ over the tiles (Cout × tiles · tiles × Cin), then dW = Gᵀ·dU·G.
///
/// F(4×4) is used for every geometry: it beat F(2×2) on the U-Net's shapes (`ddpm bench kernels`
/// prints both). Rounding: its coefficients (up to 8, and 1/24) add error; against a float64
/// direct convolution of N(0, 1) data with 1/√(9·Cin)-scaled weights its largest error was
/// 2e-6–9e-6 of max |y| (32–256 channels; dW 1e-6–6e-6), F(2×2)'s 1e-7–4e-7, an fp32 direct
/// sum's 3e-7–2e-6. Tests/TensorsTests/WinogradTests.swift checks all three passes.
package enum Winograd {
    /// The output tile size m used for `g`, or nil where Winograd does not apply (not 3×3 stride 1
    /// padding 1) or does not pay (fewer channels than `minimumChannels`). `DDPM_WINOGRAD_TILE=2`
    /// or `4` forces the tile size (benchmarks).
    package static func tileSize(_ g: ConvolutionGeometry) -> Int? {
        guard g.kernelHeight == 3, g.kernelWidth == 3, g.stride == 1, g.padTop == 1, g.padBottom == 1, g.padLeft == 1,
            g.padRight == 1, min(g.inputChannels, g.outputChannels) >= minimumChannels, g.height >= 2, g.width >= 2
        else { return nil }
        return forcedTile ?? 4
    }

    /// Below this many channels the transforms cost as much as the saved multiplications: on the
    /// 2-core AVX2 machine 16→16 at 32×32 ran at 0.97–1.05× oneDNN direct (forward), 32→32 at
    /// 1.65×, 64→64 at 16×16 at 1.1–1.8× (`ddpm bench kernels`, same-run medians).
    package static let minimumChannels = 32

    private static let forcedTile: Int? = {
        switch ProcessInfo.processInfo.environment["DDPM_WINOGRAD_TILE"] {
        case "2": 2
        case "4": 4
        default: nil
        }
    }()

    /// Images per chunk of the backward-weights pass (forward and backward data go by blocks of
    /// tiles instead): the batch is processed in chunks of whole images, at least
    /// `minimumChunkTiles` tiles (the GEMMs' N; narrower GEMMs run far below BLAS's speed) and
    /// otherwise as many as keep one chunk's transformed input and output, α²·(Cin + Cout)·tiles
    /// floats, within `chunkBytes`. `DDPM_WINOGRAD_CHUNK_TILES` / `DDPM_WINOGRAD_CHUNK_KB` override
    /// the two (tuning).
    static func imagesPerChunk(_ g: ConvolutionGeometry, tile m: Int, channels: Int) -> Int {
        let tiles = tilesPerImage(g, m)
        let bytes = (m + 2) * (m + 2) * channels * tiles * MemoryLayout<Float>.stride
        let images = max((minimumChunkTiles + tiles - 1) / tiles, chunkBytes / max(bytes, 1))
        return max(1, min(g.batch, images))
    }
    private static let chunkBytes = (Int(ProcessInfo.processInfo.environment["DDPM_WINOGRAD_CHUNK_KB"] ?? "") ?? 1024) << 10
    static let minimumChunkTiles = Int(ProcessInfo.processInfo.environment["DDPM_WINOGRAD_CHUNK_TILES"] ?? "") ?? 64

    /// Floats between consecutive tile elements ξ of a transformed buffer holding `count` per ξ:
    /// padded by one cache line, since with power-of-two channels and tiles the α² streams a
    /// transform writes would all fall in one L1 set (4 KiB apart) and evict each other.
    static func planeStride(_ count: Int) -> Int {
        let stride = (count + 15) / 16 * 16 + 16
        return stride % 1024 == 0 ? stride + 16 : stride
    }

    /// Output-channel groups per block, so that a batch of few blocks (a small plane or batch:
    /// 8×8 at batch 16 is one block of 64 tiles) still gives every thread two items; each group
    /// transforms the block's input again, so groups keep at least 32 channels.
    package static func channelSplits(blocks: Int, channels: Int) -> Int {
        let wanted = 2 * ComputeSettings.threadCount
        guard blocks < wanted else { return 1 }
        return max(1, min((wanted + blocks - 1) / blocks, channels / 32))
    }

    /// Channels of group `split` of `splits`, cut at multiples of the GEMM kernel's 6 rows.
    package static func channelRange(_ split: Int, of splits: Int, channels: Int) -> Range<Int> {
        func cut(_ s: Int) -> Int { s == splits ? channels : channels * s / splits / 6 * 6 }
        return cut(split)..<cut(split + 1)
    }

    static func tilesPerImage(_ g: ConvolutionGeometry, _ m: Int) -> Int {
        ((g.height + m - 1) / m) * ((g.width + m - 1) / m)
    }
}

extension Kernels {
    /// y = conv(x, w) + bias (+ the epilogue) by F(m×m, 3×3); `g` must satisfy `Winograd.tileSize(g) != nil`.
    package static func winogradForward(
        _ g: ConvolutionGeometry, tile m: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        y: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue = .none
    ) {
        let (cin, cout) = (g.inputChannels, g.outputChannels)
        let u = winogradWeights(tile: m, weight, cout: cout, cin: cin, rotated: false)
        let added = ddpm_convolution_epilogue(bias: bias, image_shift: epilogue.imageShift, residual: epilogue.residual)
        winogradConvolve(g, tile: m, input: x, from: cin, to: cout, u: UnsafePointer(u.pointer), epilogue: added, output: y)
    }

    /// dx = conv(dy, rot180(w)ᵀ) by F(m×m, 3×3) (Cin and Cout swapped, no bias).
    package static func winogradBackwardData(
        _ g: ConvolutionGeometry, tile m: Int, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>
    ) {
        let (cin, cout) = (g.inputChannels, g.outputChannels)
        let u = winogradWeights(tile: m, weight, cout: cout, cin: cin, rotated: true)
        winogradConvolve(
            g, tile: m, input: dy, from: cout, to: cin, u: UnsafePointer(u.pointer), epilogue: ddpm_convolution_epilogue(), output: dx)
    }

    /// U = G·g·Gᵀ of every 3×3 kernel, [α²][Cout][Cin]; `rotated`: of rot180(w)ᵀ, [α²][Cin][Cout],
    /// split over the output rows of that layout.
    private static func winogradWeights(tile m: Int, _ weight: UnsafePointer<Float>, cout: Int, cin: Int, rotated: Bool) -> Storage {
        let u = Storage(uninitializedCount: (m + 2) * (m + 2) * cout * cin)
        parallelFor(rotated ? cin : cout, grain: 4) { r in
            ddpm_winograd_weight(Int32(m), weight, cout, cin, rotated ? 1 : 0, r.lowerBound, r.upperBound, u.pointer)
        }
        return u
    }

    /// output[n] = Σ over `from` channels of input[n] convolved with u (transformed weights
    /// [α²][to][from]), + the epilogue: the input padded once, then blocks of 16–64 tiles (numbered over the
    /// batch) split over the threads, each block transformed, multiplied and transformed back
    /// while it is in cache (CKernels/winograd_blocks.c).
    private static func winogradConvolve(
        _ g: ConvolutionGeometry, tile m: Int, input: UnsafePointer<Float>, from cin: Int, to cout: Int, u: UnsafePointer<Float>,
        epilogue: ddpm_convolution_epilogue, output: UnsafeMutablePointer<Float>
    ) {
        let (h, w, tiles) = (g.height, g.width, g.batch * Winograd.tilesPerImage(g, m))
        let padded = Storage(uninitializedCount: g.batch * cin * ddpm_winograd_padded_floats(Int32(m), h, w))
        parallelFor(g.batch * cin, grain: 16) { r in
            ddpm_winograd_pad(Int32(m), input, h, w, r.lowerBound, r.upperBound, padded.pointer)
        }
        let workCount = ddpm_winograd_block_floats(Int32(m), cin, cout)
        let perBlock = 16 * Int(ddpm_winograd_block_panels(cin, cout))
        let blocks = (tiles + perBlock - 1) / perBlock
        let splits = Winograd.channelSplits(blocks: blocks, channels: cout)
        // Item i is block i % blocks of output-channel group i / blocks: a thread's consecutive
        // items share their rows of U.
        parallelFor(blocks * splits, grain: 1) { r in
            let work = Storage(uninitializedCount: workCount)
            for i in r {
                let (split, block) = i.quotientAndRemainder(dividingBy: blocks)
                let channels = Winograd.channelRange(split, of: splits, channels: cout)
                withUnsafePointer(to: epilogue) { added in
                    ddpm_winograd_forward_blocks(
                        Int32(m), padded.pointer, u, cin, cout, added, h, w, block, block + 1, tiles, channels.lowerBound,
                        channels.upperBound, work.pointer, output)
                }
            }
        }
    }

    /// dW = Gᵀ·(Σ_tiles (A·dY·Aᵀ) ⊙ (Bᵀ·x·B))·G: per thread a partial dU over its images, the
    /// partials added in thread order, then the inverse weight transform.
    package static func winogradBackwardWeight(
        _ g: ConvolutionGeometry, tile m: Int, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>
    ) {
        let (cin, cout, h, w) = (g.inputChannels, g.outputChannels, g.height, g.width)
        let (a2, tiles, plane) = ((m + 2) * (m + 2), Winograd.tilesPerImage(g, m), h * w)
        let chunk = Winograd.imagesPerChunk(g, tile: m, channels: cin + cout)
        let scratchCount = ddpm_winograd_scratch_floats(Int32(m), h, w)
        let threads = min(ComputeSettings.threadCount, g.batch)
        let du = Storage(uninitializedCount: max(threads, 1) * a2 * cout * cin)
        func run(_ images: Range<Int>, parallel: Bool, _ acc: UnsafeMutablePointer<Float>) {
            let most = min(chunk, images.count) * tiles
            let v = Storage(uninitializedCount: a2 * Winograd.planeStride(cin * most))
            let d = Storage(uninitializedCount: a2 * Winograd.planeStride(cout * most))
            for n0 in stride(from: images.lowerBound, to: images.upperBound, by: chunk) {
                let count = min(chunk, images.upperBound - n0)
                let tc = count * tiles
                let (vs, ds) = (Winograd.planeStride(cin * tc), Winograd.planeStride(cout * tc))
                each(count * (cin + cout), parallel) { r in
                    let scratch = Storage(uninitializedCount: scratchCount)
                    for i in r {
                        let (n, c) = i.quotientAndRemainder(dividingBy: cin + cout)
                        if c < cin {
                            ddpm_winograd_input(
                                Int32(m), x + ((n0 + n) * cin + c) * plane, h, w, v.pointer + c * tc + n * tiles, vs, scratch.pointer)
                        } else {
                            let k = c - cin
                            ddpm_winograd_gradient(
                                Int32(m), dy + ((n0 + n) * cout + k) * plane, h, w, d.pointer + k * tc + n * tiles, ds,
                                scratch.pointer)
                        }
                    }
                }
                each(a2, parallel) { r in
                    for e in r {
                        gemm(
                            transposeB: true, m: cout, n: cin, k: tc, a: d.pointer + e * ds, lda: tc, b: v.pointer + e * vs,
                            ldb: tc, beta: n0 == images.lowerBound ? 0 : 1, c: acc + e * cout * cin, ldc: cin, parallel: false)
                    }
                }
            }
        }
        // Few tiles per thread (8×8 or 4×4 planes): one shared dU, the transforms and the α²
        // products split over the threads, rather than K = a handful of tiles per thread's GEMMs.
        if threads <= 1 || g.batch * tiles < threads * 2 * Winograd.minimumChunkTiles {
            run(0..<g.batch, parallel: true, du.pointer)
        } else {
            DispatchQueueShim.concurrent(threads) { t in
                run(g.batch * t / threads..<g.batch * (t + 1) / threads, parallel: false, du.pointer + t * a2 * cout * cin)
            }
            let size = a2 * cout * cin
            parallelFor(size, grain: 4096) { r in  // each element adds the partials in thread order
                for t in 1..<threads {
                    let src = du.pointer + t * size
                    for i in r { du.pointer[i] += src[i] }
                }
            }
        }
        parallelFor(cout, grain: 4) { r in
            ddpm_winograd_weight_gradient(Int32(m), du.pointer, cout, cin, r.lowerBound, r.upperBound, dw)
        }
    }

    /// `parallelFor(count)` when `parallel`, else the whole range on this thread.
    private static func each(_ count: Int, _ parallel: Bool, _ body: (Range<Int>) -> Void) {
        if parallel {
            parallelFor(count, body)
        } else if count > 0 {
            body(0..<count)
        }
    }
}
