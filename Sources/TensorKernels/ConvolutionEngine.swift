import CDNNL
import Foundation
import Synchronization

/// The implementation behind `Kernels.convolution*`.
///
/// oneDNN's blocked-layout kernels are faster than im2col + BLAS for 3×3 convolutions on this
/// kind of machine (see README "Kernel benchmark"), so they are used whenever libdnnl loads;
/// im2col + BLAS is the portable path (macOS, no oneDNN) and the reference the tests compare with.
/// `DDPM_CONVOLUTION=im2col` forces the portable path.
public enum ConvolutionEngine: String, Sendable {
    case oneDNN, im2col

    /// The engine new convolutions use; set it to compare engines (benchmarks, tests).
    nonisolated(unsafe) public static var preferred: ConvolutionEngine = {
        if ProcessInfo.processInfo.environment["DDPM_CONVOLUTION"] == "im2col" { return .im2col }
        return OneDNN.isAvailable ? .oneDNN : .im2col
    }()
}

/// oneDNN convolution plans, one per geometry, created on first use and kept for the process.
package enum OneDNN {
    package static let isAvailable: Bool = ddpm_dnnl_load(Int32(ComputeSettings.threadCount)) == 1

    private struct Key: Hashable { var geometry: ConvolutionGeometry; var bias: Bool }
    private nonisolated(unsafe) static var plans: [Key: OpaquePointer] = [:]
    private static let lock = Mutex(())

    /// The plan for `geometry`, or nil when oneDNN is not the preferred engine or cannot run it.
    package static func plan(_ geometry: ConvolutionGeometry, bias: Bool) -> OpaquePointer? {
        guard ConvolutionEngine.preferred == .oneDNN, isAvailable, !geometry.isPointwise else { return nil }
        return lock.withLock { _ in
            let key = Key(geometry: geometry, bias: bias)
            if let p = plans[key] { return p }
            let g = geometry
            let dims: [Int64] = [g.batch, g.inputChannels, g.height, g.width, g.outputChannels, g.kernelHeight,
                                 g.kernelWidth, g.stride, g.padTop, g.padBottom, g.padLeft, g.padRight].map(Int64.init)
            guard let p = dims.withUnsafeBufferPointer({ ddpm_dnnl_conv_create($0.baseAddress, bias ? 1 : 0) }) else { return nil }
            plans[key] = p
            return p
        }
    }

    /// Names of the kernels oneDNN picked for forward, backward-data and backward-weights.
    package static func implementations(_ geometry: ConvolutionGeometry) -> [String] {
        guard let p = plan(geometry, bias: false) else { return [] }
        return (0..<3).map { String(cString: ddpm_dnnl_conv_implementation(p, Int32($0))) }
    }
}
