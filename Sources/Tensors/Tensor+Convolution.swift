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
/// bias `[Cout]` → `[N, Cout, Ho, Wo]`. `imageShift` `[N, Cout]` (added to every pixel of its
/// plane, the residual block's time embedding) and `residual` (shaped as the output, a skip
/// connection) are added in the convolution's own output pass where the engine can
/// (`ConvolutionEpilogue`), which saves a pass over the activations for each.
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding2D = .uniform(0),
    imageShift: Tensor? = nil, residual: Tensor? = nil
) -> Tensor {
    let geometry = convolutionGeometry(input: x.shape, weight: weight, bias: bias, stride: stride, padding: padding)
    let addends = ConvolutionAddends(bias: bias, imageShift: imageShift, residual: residual, geometry)
    let y = convolved(x, weight: weight, addends, geometry)
    let present = addends.present  // not the addends: the pullback must not keep the residual alive
    return .result(y, inputs: [x, weight] + addends.tensors) { g, needs in
        let (dx, dw) = convolutionGradients(g, input: x, weight: weight, geometry, needs: (needs[0], needs[1]))
        return [dx, dw] + present.gradients(g, needs: needs.dropFirst(2))
    }
}

/// `conv2d(activation(inputs), …)` without keeping `activation(inputs)`: the pullback recomputes
/// it, recorded, for the weight gradient and to pull dx back to `inputs`. That costs one more pass
/// of `activation` (a normalisation, an elementwise op) but not of the convolution, which is why
/// this is not `Tensor.checkpointed` around the whole expression. `activation` must be
/// deterministic (no dropout inside).
public func conv2d(
    recomputing activation: @escaping ([Tensor]) -> Tensor, of inputs: [Tensor], weight: Tensor, bias: Tensor? = nil,
    stride: Int = 1, padding: Padding2D = .uniform(0), imageShift: Tensor? = nil, residual: Tensor? = nil
) -> Tensor {
    let x = withoutGradients { activation(inputs) }
    let geometry = convolutionGeometry(input: x.shape, weight: weight, bias: bias, stride: stride, padding: padding)
    let addends = ConvolutionAddends(bias: bias, imageShift: imageShift, residual: residual, geometry)
    let y = convolved(x, weight: weight, addends, geometry)
    let (count, present) = (inputs.count, addends.present)
    return .result(y, inputs: inputs + [weight] + addends.tensors) { g, needs in
        let leaves = inputs.map { $0.detached().requiringGradient() }
        let wanted = leaves.indices.filter { needs[$0] }
        let recomputed = GradientRecording.$isEnabled.withValue(true) { activation(leaves) }
        let (dx, dw) = convolutionGradients(
            g, input: recomputed.detached(), weight: weight, geometry, needs: (!wanted.isEmpty, needs[count]))
        var result = [Tensor?](repeating: nil, count: count)
        if let dx {
            let grads = vectorJacobianProducts(of: recomputed, cotangent: dx, withRespectTo: wanted.map { leaves[$0] })
            for (i, grad) in zip(wanted, grads) { result[i] = grad }
        }
        return result + [dw] + present.gradients(g, needs: needs.dropFirst(count + 1))
    }
}

/// The optional tensors added to a convolution's output, in the order they follow the weight
/// among the op's inputs.
private struct ConvolutionAddends {
    let bias, imageShift, residual: Tensor?

    init(bias: Tensor?, imageShift: Tensor?, residual: Tensor?, _ g: ConvolutionGeometry) {
        let output = [g.batch, g.outputChannels, g.outputHeight, g.outputWidth]
        if let imageShift {
            precondition(
                imageShift.shape == [g.batch, g.outputChannels],
                "[conv2d] imageShift shape \(imageShift.shape), expected [\(g.batch), \(g.outputChannels)]")
        }
        if let residual {
            precondition(residual.shape == output, "[conv2d] residual shape \(residual.shape), expected the output's \(output)")
        }
        (self.bias, self.imageShift, self.residual) = (bias, imageShift, residual)
    }

    var tensors: [Tensor] { [bias, imageShift, residual].compactMap { $0 } }
    var present: Present { Present(bias: bias != nil, imageShift: imageShift != nil, residual: residual != nil) }

    /// Which addends there are: all their pullback needs.
    struct Present {
        let bias, imageShift, residual: Bool

        /// Gradients of the present addends where `needs` (aligned with them) asks: Σ over N, H, W
        /// for the bias, over H, W for the shift, the output gradient itself for the residual.
        func gradients(_ g: Tensor, needs: ArraySlice<Bool>) -> [Tensor?] {
            var needs = needs.makeIterator()
            var grads: [Tensor?] = []
            if bias { grads.append(needs.next() == true ? g.sum(alongAxes: [0, 2, 3]) : nil) }
            if imageShift { grads.append(needs.next() == true ? g.sum(alongAxes: [2, 3]) : nil) }
            if residual { grads.append(needs.next() == true ? g : nil) }
            return grads
        }
    }
}

/// The output geometry of `conv2d`, after checking the shapes agree.
private func convolutionGeometry(input: [Int], weight: Tensor, bias: Tensor?, stride: Int, padding: Padding2D)
    -> ConvolutionGeometry
{
    precondition(input.count == 4, "[conv2d] input must be [N, C, H, W], got \(input)")
    precondition(
        weight.rank == 4 && weight.shape[1] == input[1],
        "[conv2d] weight \(weight.shape) does not match input \(input) (expected [Cout, \(input[1]), kh, kw])")
    precondition(stride >= 1, "[conv2d] stride must be >= 1, got \(stride)")
    let geometry = ConvolutionGeometry(
        batch: input[0], inputChannels: input[1], height: input[2], width: input[3],
        outputChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride,
        padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right)
    precondition(
        geometry.outputHeight >= 1 && geometry.outputWidth >= 1,
        "[conv2d] kernel \(weight.shape) with padding \(padding) does not fit input \(input)")
    if let bias {
        precondition(bias.shape == [weight.shape[0]], "[conv2d] bias shape \(bias.shape), expected [\(weight.shape[0])]")
    }
    return geometry
}

private func convolved(_ x: Tensor, weight: Tensor, _ addends: ConvolutionAddends, _ geometry: ConvolutionGeometry) -> Tensor {
    let y = Tensor.uninitialized([geometry.batch, geometry.outputChannels, geometry.outputHeight, geometry.outputWidth])
    let epilogue = ConvolutionEpilogue(
        imageShift: addends.imageShift.map { UnsafePointer($0.storage.pointer) },
        residual: addends.residual.map { UnsafePointer($0.storage.pointer) })
    Kernels.convolutionForward(
        geometry, x: x.storage.pointer, weight: weight.storage.pointer,
        bias: addends.bias.map { UnsafePointer($0.storage.pointer) }, y: y.storage.pointer, epilogue: epilogue)
    return y
}

/// (dx, dweight) of a convolution, each only where `needs` asks for it.
private func convolutionGradients(
    _ g: Tensor, input x: Tensor, weight: Tensor, _ geometry: ConvolutionGeometry, needs: (Bool, Bool)
) -> (Tensor?, Tensor?) {
    let dx = needs.0 ? Tensor.uninitialized(x.shape) : nil
    if let dx {
        Kernels.convolutionBackwardData(geometry, dy: g.storage.pointer, weight: weight.storage.pointer, dx: dx.storage.pointer)
    }
    let dw = needs.1 ? Tensor.uninitialized(weight.shape) : nil
    if let dw {
        Kernels.convolutionBackwardWeight(geometry, x: x.storage.pointer, dy: g.storage.pointer, dw: dw.storage.pointer)
    }
    return (dx, dw)
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
