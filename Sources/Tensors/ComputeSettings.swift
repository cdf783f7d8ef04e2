import TensorKernels

public typealias ComputeSettings = TensorKernels.ComputeSettings

/// Which convolution path this process uses (oneDNN, or im2col + BLAS) and, on a fallback, why
/// and how to fix it: `ComputeSettings.convolutionBackend.description` is the line `ddpm` prints.
public typealias ConvolutionBackend = TensorKernels.ConvolutionBackend

extension ComputeSettings {
    /// The convolution path new convolutions take, and on a fallback why and how to fix it.
    /// Reading it loads oneDNN (as the first convolution would) unless `DDPM_CONVOLUTION=im2col`.
    public static var convolutionBackend: ConvolutionBackend { .current }
}

/// Bytes of tensor memory: held by live tensors now, the most ever held at once, and kept for reuse.
public func tensorMemoryStatistics() -> (liveBytes: Int, peakBytes: Int, cachedBytes: Int) {
    BufferPool.shared.statistics
}
