/// Geometry of a square-window pooling over NCHW planes (PyTorch's floor mode, symmetric padding).
package struct PoolingGeometry: Hashable {
    package var planes, height, width: Int
    package var kernelSize, stride, padding: Int

    package init(planes: Int, height: Int, width: Int, kernelSize: Int, stride: Int, padding: Int) {
        (self.planes, self.height, self.width) = (planes, height, width)
        (self.kernelSize, self.stride, self.padding) = (kernelSize, stride, padding)
    }

    package var outputHeight: Int { (height + 2 * padding - kernelSize) / stride + 1 }
    package var outputWidth: Int { (width + 2 * padding - kernelSize) / stride + 1 }

    /// The in-bounds window of output (oy, ox): rows y0..<y1 and columns x0..<x1.
    @inline(__always)
    func window(_ oy: Int, _ ox: Int) -> (y0: Int, y1: Int, x0: Int, x1: Int) {
        let ys = oy * stride - padding
        let xs = ox * stride - padding
        return (max(ys, 0), min(ys + kernelSize, height), max(xs, 0), min(xs + kernelSize, width))
    }
}

extension Kernels {
    /// y = the maximum over each window; padded positions never win (PyTorch pads with −∞).
    package static func maxPool2d(_ g: PoolingGeometry, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        let (ho, wo) = (g.outputHeight, g.outputWidth)
        parallelFor(g.planes, grain: max(1, parallelGrain / max(ho * wo * g.kernelSize * g.kernelSize, 1))) { r in
            for p in r {
                let src = x + p * g.height * g.width
                let dst = y + p * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let w = g.window(oy, ox)
                        var m = -Float.infinity
                        for iy in w.y0..<w.y1 {
                            let row = src + iy * g.width
                            for ix in w.x0..<w.x1 { m = max(m, row[ix]) }
                        }
                        dst[oy * wo + ox] = m
                    }
                }
            }
        }
    }

    /// y = the mean over each window. `countingPadding == false` divides by the in-bounds count
    /// (PyTorch `count_include_pad=False`, TensorFlow's 'SAME' average pool); true divides by k².
    package static func averagePool2d(
        _ g: PoolingGeometry, countingPadding: Bool, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        let (ho, wo) = (g.outputHeight, g.outputWidth)
        parallelFor(g.planes, grain: max(1, parallelGrain / max(ho * wo * g.kernelSize * g.kernelSize, 1))) { r in
            for p in r {
                let src = x + p * g.height * g.width
                let dst = y + p * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let w = g.window(oy, ox)
                        var s: Float = 0
                        for iy in w.y0..<w.y1 {
                            let row = src + iy * g.width
                            for ix in w.x0..<w.x1 { s += row[ix] }
                        }
                        let count = countingPadding ? g.kernelSize * g.kernelSize : (w.y1 - w.y0) * (w.x1 - w.x0)
                        dst[oy * wo + ox] = s / Float(count)
                    }
                }
            }
        }
    }

    /// Source indices and weights of 1-D linear interpolation with align_corners = false, as
    /// PyTorch computes them in Float: src = max((dst + ½)·in/out − ½, 0), clamped to the last pixel.
    package static func linearInterpolationTaps(input: Int, output: Int) -> [(i0: Int, i1: Int, w1: Float)] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { d in
            let real = max(scale * (Float(d) + 0.5) - 0.5, 0)
            let i0 = min(Int(real), input - 1)
            let w1 = min(max(real - Float(i0), 0), 1)
            return (i0, i0 < input - 1 ? i0 + 1 : i0, w1)
        }
    }

    /// Bilinear resize of `planes` H×W planes to Ho×Wo (PyTorch `F.interpolate(mode="bilinear",
    /// align_corners=False)`): rows interpolated first, then the two rows blended.
    package static func resizeBilinear(
        planes: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int,
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        let rows = linearInterpolationTaps(input: height, output: outputHeight)
        let cols = linearInterpolationTaps(input: width, output: outputWidth)
        parallelFor(planes * outputHeight, grain: max(1, parallelGrain / max(4 * outputWidth, 1))) { r in
            for item in r {
                let p = item / outputHeight
                let oy = item % outputHeight
                let (i0, i1, h1) = rows[oy]
                let h0 = 1 - h1
                let top = x + (p * height + i0) * width
                let bottom = x + (p * height + i1) * width
                let dst = y + item * outputWidth
                for ox in 0..<outputWidth {
                    let (j0, j1, w1) = cols[ox]
                    let w0 = 1 - w1
                    dst[ox] = h0 * (w0 * top[j0] + w1 * top[j1]) + h1 * (w0 * bottom[j0] + w1 * bottom[j1])
                }
            }
        }
    }
}
