import TensorKernels

public typealias ComputeSettings = TensorKernels.ComputeSettings

/// Bytes of tensor memory: held by live tensors now, the most ever held at once, and kept for reuse.
public func tensorMemoryStatistics() -> (liveBytes: Int, peakBytes: Int, cachedBytes: Int) {
    BufferPool.shared.statistics
}
