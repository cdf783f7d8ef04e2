import CDNNL

/// Geometry of a 2-D convolution over NCHW input with explicit (possibly asymmetric) padding.
package struct ConvolutionGeometry: Hashable {
    package var batch, inputChannels, height, width: Int
    package var outputChannels, kernelHeight, kernelWidth: Int
    package var stride: Int
    package var padTop, padBottom, padLeft, padRight: Int

    package var outputHeight: Int { (height + padTop + padBottom - kernelHeight) / stride + 1 }
    package var outputWidth: Int { (width + padLeft + padRight - kernelWidth) / stride + 1 }
    /// Rows of the im2col matrix: Cin·kh·kw.
    package var patchSize: Int { inputChannels * kernelHeight * kernelWidth }
    package var outputPixels: Int { outputHeight * outputWidth }
    package var inputPixels: Int { height * width }
    /// A 1×1, stride-1, unpadded convolution is a plain GEMM on the input: no im2col needed.
    package var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0
    }
    package var flops: Double { 2 * Double(batch * outputChannels * outputPixels * patchSize) }

    package init(
        batch: Int, inputChannels: Int, height: Int, width: Int, outputChannels: Int, kernelHeight: Int,
        kernelWidth: Int, stride: Int, padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    ) {
        (self.batch, self.inputChannels, self.height, self.width) = (batch, inputChannels, height, width)
        (self.outputChannels, self.kernelHeight, self.kernelWidth, self.stride) = (outputChannels, kernelHeight, kernelWidth, stride)
        (self.padTop, self.padBottom, self.padLeft, self.padRight) = (padTop, padBottom, padLeft, padRight)
    }
}

// Convolution: Winograd for 3×3 stride-1 padding-1 (Winograd.swift), oneDNN when available
// (ConvolutionEngine.swift), else im2col + GEMM, the portable path.
// Images are processed in parallel, one per thread at a time, each GEMM single-threaded; with fewer
// images than threads the GEMM itself is split instead.
/// Additions to a convolution's output beyond the bias: y = conv(x, w) + bias + imageShift[n][co]
/// + residual. Our Winograd adds them in its output transform and the GEMM path in its bias
/// pass, so neither the residual block's time-embedding add nor its skip
/// connection costs a pass of its own over the activations; oneDNN's path adds them after.
package struct ConvolutionEpilogue {
    /// `[N, Cout]`, added to every pixel of plane (n, co).
    package var imageShift: UnsafePointer<Float>?
    /// Laid out as y, `[N, Cout, Ho, Wo]`.
    package var residual: UnsafePointer<Float>?
    package init(imageShift: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil) {
        (self.imageShift, self.residual) = (imageShift, residual)
    }
    package static var none: ConvolutionEpilogue { ConvolutionEpilogue() }
}

extension Kernels {
    /// y[n] = W · im2col(x[n]) (+ bias, + the epilogue). x `[N, Cin, H, W]`, w `[Cout, Cin, kh, kw]`,
    /// y `[N, Cout, Ho, Wo]`.
    package static func convolutionForward(
        _ g: ConvolutionGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        y: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue = .none
    ) {
        let profiled = ConvolutionProfile.start()
        defer { ConvolutionProfile.stop(profiled, g, .forward) }
        if case .winograd(let m) = ConvolutionEngine.path(g) {
            return winogradForward(g, tile: m, x: x, weight: weight, bias: bias, y: y, epilogue: epilogue)
        }
        if OneDNN.run(g, bias: bias != nil, { ddpm_dnnl_conv_forward($0, x, weight, bias, y) }) {
            return addEpilogue(epilogue, planes: g.batch * g.outputChannels, pixels: g.outputPixels, y: y)
        }
        let (k, p, cout) = (g.patchSize, g.outputPixels, g.outputChannels)
        forEachImage(g) { n, column, parallelGEMM in
            let xn = x + n * g.inputChannels * g.inputPixels
            let yn = y + n * cout * p
            let source: UnsafePointer<Float>
            if g.isPointwise {
                source = xn
            } else {
                im2col(g, xn, column!)
                source = UnsafePointer(column!)
            }
            gemm(m: cout, n: p, k: k, a: weight, lda: k, b: source, ldb: p, c: yn, ldc: p, parallel: parallelGEMM)
            if bias != nil || epilogue.imageShift != nil || epilogue.residual != nil {
                for c in 0..<cout {
                    add(bias?[c] ?? 0, epilogue, plane: n * cout + c, pixels: p, to: yn + c * p)
                }
            }
        }
    }

    /// y += imageShift (per plane) + residual, for the engines that cannot fuse them.
    private static func addEpilogue(_ epilogue: ConvolutionEpilogue, planes: Int, pixels: Int, y: UnsafeMutablePointer<Float>) {
        guard epilogue.imageShift != nil || epilogue.residual != nil else { return }
        parallelFor(planes, grain: max(1, parallelGrain / pixels)) { r in
            for plane in r { add(0, epilogue, plane: plane, pixels: pixels, to: y + plane * pixels) }
        }
    }

    /// row = ((row + bias) + shift) + residual, one plane: the order of the separate additions
    /// this replaces, so fusing them changes no bit (adding a zero bias or shift is exact).
    private static func add(_ bias: Float, _ epilogue: ConvolutionEpilogue, plane: Int, pixels: Int, to row: UnsafeMutablePointer<Float>) {
        let shift = epilogue.imageShift?[plane] ?? 0
        if let residual = epilogue.residual {
            let source = residual + plane * pixels
            for i in 0..<pixels { row[i] = ((row[i] + bias) + shift) + source[i] }
        } else {
            for i in 0..<pixels { row[i] = (row[i] + bias) + shift }
        }
    }

    /// dx[n] = col2im(Wᵀ · dy[n]).
    package static func convolutionBackwardData(
        _ g: ConvolutionGeometry, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>
    ) {
        let profiled = ConvolutionProfile.start()
        defer { ConvolutionProfile.stop(profiled, g, .backwardData) }
        if case .winograd(let m) = ConvolutionEngine.path(g) { return winogradBackwardData(g, tile: m, dy: dy, weight: weight, dx: dx) }
        if OneDNN.run(g, bias: false, { ddpm_dnnl_conv_backward_data($0, dy, weight, dx) }) { return }
        let (k, p, cout) = (g.patchSize, g.outputPixels, g.outputChannels)
        forEachImage(g) { n, column, parallelGEMM in
            let dxn = dx + n * g.inputChannels * g.inputPixels
            let dyn = dy + n * cout * p
            if g.isPointwise {
                gemm(
                    transposeA: true, m: k, n: p, k: cout, a: weight, lda: k, b: dyn, ldb: p, c: dxn, ldc: p,
                    parallel: parallelGEMM)
            } else {
                gemm(
                    transposeA: true, m: k, n: p, k: cout, a: weight, lda: k, b: dyn, ldb: p, c: column!, ldc: p,
                    parallel: parallelGEMM)
                col2im(g, column!, dxn)
            }
        }
    }

    /// dW = Σ_n dy[n] · im2col(x[n])ᵀ, summed per thread and then across threads in order.
    package static func convolutionBackwardWeight(
        _ g: ConvolutionGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>
    ) {
        let profiled = ConvolutionProfile.start()
        defer { ConvolutionProfile.stop(profiled, g, .backwardWeight) }
        if case .winograd(let m) = ConvolutionEngine.path(g) { return winogradBackwardWeight(g, tile: m, x: x, dy: dy, dw: dw) }
        if OneDNN.run(g, bias: false, { ddpm_dnnl_conv_backward_weights($0, x, dy, dw) }) { return }
        let (k, p, cout) = (g.patchSize, g.outputPixels, g.outputChannels)
        let threads = min(ComputeSettings.threadCount, g.batch)
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: max(threads - 1, 0) * cout * k)
        defer { partials.deallocate() }
        let column = UnsafeMutablePointer<Float>.allocate(capacity: g.isPointwise ? 0 : threads * k * p)
        defer { column.deallocate() }
        let run = { (t: Int, images: Range<Int>, parallelGEMM: Bool) in
            let acc = t == 0 ? dw : partials + (t - 1) * cout * k
            for (i, n) in images.enumerated() {
                let xn = x + n * g.inputChannels * g.inputPixels
                let dyn = dy + n * cout * p
                let source: UnsafePointer<Float>
                if g.isPointwise {
                    source = xn
                } else {
                    im2col(g, xn, column + t * k * p)
                    source = UnsafePointer(column + t * k * p)
                }
                gemm(
                    transposeB: true, m: cout, n: k, k: p, a: dyn, lda: p, b: source, ldb: p,
                    beta: i == 0 ? 0 : 1, c: acc, ldc: k, parallel: parallelGEMM)
            }
        }
        if threads <= 1 {
            run(0, 0..<g.batch, true)
            return
        }
        DispatchQueueShim.concurrent(threads) { t in run(t, g.batch * t / threads..<g.batch * (t + 1) / threads, false) }
        for t in 1..<threads {
            let src = partials + (t - 1) * cout * k
            for i in 0..<(cout * k) { dw[i] += src[i] }
        }
    }

    /// Runs `body(n, columnBuffer, parallelGEMM)` for every image, images spread over threads.
    private static func forEachImage(
        _ g: ConvolutionGeometry, _ body: (Int, UnsafeMutablePointer<Float>?, Bool) -> Void
    ) {
        let threads = min(ComputeSettings.threadCount, g.batch)
        let columnSize = g.isPointwise ? 0 : g.patchSize * g.outputPixels
        let column = UnsafeMutablePointer<Float>.allocate(capacity: max(threads, 1) * columnSize)
        defer { column.deallocate() }
        if threads <= 1 {
            for n in 0..<g.batch { body(n, columnSize == 0 ? nil : column, true) }
            return
        }
        DispatchQueueShim.concurrent(threads) { t in
            for n in g.batch * t / threads..<g.batch * (t + 1) / threads {
                body(n, columnSize == 0 ? nil : column + t * columnSize, false)
            }
        }
    }

    /// column[(c·kh + i)·kw + j, oy·Wo + ox] = x[c, oy·s + i − padTop, ox·s + j − padLeft] (0 outside).
    package static func im2col(_ g: ConvolutionGeometry, _ x: UnsafePointer<Float>, _ column: UnsafeMutablePointer<Float>) {
        let (ho, wo, s) = (g.outputHeight, g.outputWidth, g.stride)
        var row = 0
        for c in 0..<g.inputChannels {
            let plane = x + c * g.inputPixels
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let dst = column + row * ho * wo
                    for oy in 0..<ho {
                        let iy = oy * s + i - g.padTop
                        let out = dst + oy * wo
                        if iy < 0 || iy >= g.height {
                            out.update(repeating: 0, count: wo)
                            continue
                        }
                        let src = plane + iy * g.width
                        if s == 1 {
                            // Valid ox range: 0 ≤ ox + j − padLeft < W.
                            let lo = max(0, g.padLeft - j)
                            let hi = min(wo, g.width + g.padLeft - j)
                            for ox in 0..<min(lo, wo) { out[ox] = 0 }
                            if hi > lo { (out + lo).update(from: src + lo + j - g.padLeft, count: hi - lo) }
                            for ox in max(hi, 0)..<wo where ox >= lo { out[ox] = 0 }
                        } else {
                            for ox in 0..<wo {
                                let ix = ox * s + j - g.padLeft
                                out[ox] = ix >= 0 && ix < g.width ? src[ix] : 0
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The adjoint of `im2col`: dx[c, iy, ix] = Σ column entries that read it.
    package static func col2im(_ g: ConvolutionGeometry, _ column: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let (ho, wo, s) = (g.outputHeight, g.outputWidth, g.stride)
        dx.update(repeating: 0, count: g.inputChannels * g.inputPixels)
        var row = 0
        for c in 0..<g.inputChannels {
            let plane = dx + c * g.inputPixels
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let src = column + row * ho * wo
                    for oy in 0..<ho {
                        let iy = oy * s + i - g.padTop
                        guard iy >= 0 && iy < g.height else { continue }
                        let dst = plane + iy * g.width
                        let line = src + oy * wo
                        if s == 1 {
                            let lo = max(0, g.padLeft - j)
                            let hi = min(wo, g.width + g.padLeft - j)
                            if hi > lo {
                                let d = dst + j - g.padLeft
                                for ox in lo..<hi { d[ox] += line[ox] }
                            }
                        } else {
                            for ox in 0..<wo {
                                let ix = ox * s + j - g.padLeft
                                if ix >= 0 && ix < g.width { dst[ix] += line[ox] }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
