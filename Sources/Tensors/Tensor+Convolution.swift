import TensorKernels

// 2-D convolution and nearest-neighbour upsampling over NCHW tensors.

/// Zero padding on each side of the spatial dimensions; asymmetric padding expresses TensorFlow's
/// 'SAME' for stride 2 on even sizes, which pads only bottom and right (porting-notes.md).
public struct Padding2D: Equatable, Sendable {
    public var top, bottom, left, right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }
    /// The same padding on every side.
    public static func uniform(_ p: Int) -> Padding2D { Padding2D(top: p, bottom: p, left: p, right: p) }
}

/// Cross-correlation as in PyTorch's `conv2d`: x `[N, Cin, H, W]`, weight `[Cout, Cin, kh, kw]`,
/// bias `[Cout]` → `[N, Cout, Ho, Wo]`.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding2D = .uniform(0)) -> Tensor {
    precondition(x.rank == 4, "[conv2d] input must be [N, C, H, W], got \(x.shape)")
    precondition(
        weight.rank == 4 && weight.shape[1] == x.shape[1],
        "[conv2d] weight \(weight.shape) does not match input \(x.shape) (expected [Cout, \(x.shape[1]), kh, kw])")
    precondition(stride >= 1, "[conv2d] stride must be >= 1, got \(stride)")
    let geometry = ConvolutionGeometry(
        batch: x.shape[0], inputChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
        outputChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride,
        padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right)
    precondition(
        geometry.outputHeight >= 1 && geometry.outputWidth >= 1,
        "[conv2d] kernel \(weight.shape) with padding \(padding) does not fit input \(x.shape)")
    if let bias {
        precondition(bias.shape == [weight.shape[0]], "[conv2d] bias shape \(bias.shape), expected [\(weight.shape[0])]")
    }
    let y = Tensor.uninitialized([geometry.batch, geometry.outputChannels, geometry.outputHeight, geometry.outputWidth])
    Kernels.convolutionForward(
        geometry, x: x.storage.pointer, weight: weight.storage.pointer,
        bias: bias.map { UnsafePointer($0.storage.pointer) }, y: y.storage.pointer)
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return .result(y, inputs: inputs) { g, needs in
        var grads: [Tensor?] = [nil, nil, nil]
        if needs[0] {
            let dx = Tensor.uninitialized(x.shape)
            Kernels.convolutionBackwardData(geometry, dy: g.storage.pointer, weight: weight.storage.pointer, dx: dx.storage.pointer)
            grads[0] = dx
        }
        if needs[1] {
            let dw = Tensor.uninitialized(weight.shape)
            Kernels.convolutionBackwardWeight(geometry, x: x.storage.pointer, dy: g.storage.pointer, dw: dw.storage.pointer)
            grads[1] = dw
        }
        if needs.count > 2 && needs[2] { grads[2] = g.sum(alongAxes: [0, 2, 3]) }
        return Array(grads.prefix(needs.count))
    }
}

extension Tensor {
    /// Nearest-neighbour upsampling by 2 in H and W: `[N, C, H, W]` → `[N, C, 2H, 2W]`.
    public func upsampledNearest2x() -> Tensor {
        precondition(rank == 4, "[upsample] input must be [N, C, H, W], got \(shape)")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let out = Tensor.uninitialized([shape[0], shape[1], 2 * h, 2 * w])
        let src = storage.pointer
        let dst = out.storage.pointer
        parallelFor(planes * h, grain: max(1, parallelGrain / (4 * w))) { r in
            for row in r {
                let s = src + row * w
                let d = dst + row * 4 * w
                for x in 0..<w {
                    d[2 * x] = s[x]
                    d[2 * x + 1] = s[x]
                }
                (d + 2 * w).update(from: d, count: 2 * w)
            }
        }
        let source = shape
        return .result(out, inputs: [self]) { g, _ in
            let dx = Tensor.uninitialized(source)
            let gs = g.storage.pointer
            let d = dx.storage.pointer
            parallelFor(planes * h, grain: max(1, parallelGrain / (4 * w))) { r in
                for row in r {
                    let a = gs + row * 4 * w
                    let b = a + 2 * w
                    let o = d + row * w
                    for x in 0..<w { o[x] = a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] }
                }
            }
            return [dx]
        }
    }
}
