import TensorKernels

// Pooling and bilinear resizing over NCHW tensors, for the FID Inception network.
//
// These ops have no pullback: the Inception network only runs in inference. Each one stops with
// a message if it would have to record for autodiff, rather than silently return no gradient.

extension Tensor {
    /// Stops when this op would be recorded for autodiff (an input needs a gradient while recording).
    private func refuseRecording(_ op: String) {
        precondition(
            !(GradientRecording.isEnabled && requiresGradient),
            "[\(op)] has no gradient; call it inside withoutGradients { … } on inputs that need none")
    }

    private func poolingGeometry(_ op: String, kernelSize: Int, stride: Int, padding: Int) -> PoolingGeometry {
        precondition(rank == 4, "[\(op)] input must be [N, C, H, W], got \(shape)")
        precondition(
            kernelSize >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernelSize,
            "[\(op)] kernel \(kernelSize), stride \(stride), padding \(padding): need k, s ≥ 1 and 0 ≤ padding ≤ k/2")
        let g = PoolingGeometry(
            planes: shape[0] * shape[1], height: shape[2], width: shape[3],
            kernelSize: kernelSize, stride: stride, padding: padding)
        precondition(
            g.outputHeight >= 1 && g.outputWidth >= 1,
            "[\(op)] a \(kernelSize)×\(kernelSize) window with padding \(padding) does not fit input \(shape)")
        refuseRecording(op)
        return g
    }

    /// Max pooling with a square window, as PyTorch's `F.max_pool2d` (floor mode): `[N, C, H, W]` →
    /// `[N, C, (H + 2p − k)/s + 1, (W + 2p − k)/s + 1]`; padded positions never win. Inference only.
    public func maxPooled(kernelSize: Int, stride: Int, padding: Int = 0) -> Tensor {
        let g = poolingGeometry("maxPooled", kernelSize: kernelSize, stride: stride, padding: padding)
        let y = Tensor.uninitialized([shape[0], shape[1], g.outputHeight, g.outputWidth])
        Kernels.maxPool2d(g, x: storage.pointer, y: y.storage.pointer)
        return y
    }

    /// Average pooling with a square window, as PyTorch's `F.avg_pool2d` (floor mode). With
    /// `countingPadding: false` (PyTorch `count_include_pad=False`, TensorFlow's 'SAME' pooling) a
    /// window at the border averages only its in-bounds elements. Inference only.
    public func averagePooled(kernelSize: Int, stride: Int, padding: Int = 0, countingPadding: Bool) -> Tensor {
        let g = poolingGeometry("averagePooled", kernelSize: kernelSize, stride: stride, padding: padding)
        let y = Tensor.uninitialized([shape[0], shape[1], g.outputHeight, g.outputWidth])
        Kernels.averagePool2d(g, countingPadding: countingPadding, x: storage.pointer, y: y.storage.pointer)
        return y
    }

    /// Bilinear resize to `height`×`width`, as PyTorch's `F.interpolate(mode="bilinear",
    /// align_corners=False)` without antialiasing: `[N, C, H, W]` → `[N, C, height, width]`.
    /// Inference only.
    public func resizedBilinearly(height: Int, width: Int) -> Tensor {
        precondition(rank == 4, "[resizedBilinearly] input must be [N, C, H, W], got \(shape)")
        precondition(
            height >= 1 && width >= 1 && shape[2] >= 1 && shape[3] >= 1,
            "[resizedBilinearly] cannot resize \(shape) to \(height)×\(width)")
        refuseRecording("resizedBilinearly")
        let y = Tensor.uninitialized([shape[0], shape[1], height, width])
        Kernels.resizeBilinear(
            planes: shape[0] * shape[1], height: shape[2], width: shape[3], outputHeight: height,
            outputWidth: width, x: storage.pointer, y: y.storage.pointer)
        return y
    }
}
