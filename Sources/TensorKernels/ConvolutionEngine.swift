import CDNNL
import Foundation
import Synchronization

/// The implementation behind `Kernels.convolution*`.
///
/// oneDNN's blocked-layout kernels are faster than im2col + BLAS for 3×3 convolutions on this
/// kind of machine (see README "Kernel benchmark"), so they are used whenever libdnnl loads;
/// im2col + BLAS is the portable path (macOS, no oneDNN) and the reference the tests compare with.
/// `DDPM_CONVOLUTION=im2col` forces the portable path. Stride-1 3×3 convolutions use oneDNN's
/// Winograd F(4×4, 3×3) kernels where it has them (AVX-512: about 2× the direct kernels, see the
/// README's benchmark); `DDPM_WINOGRAD=0` keeps them direct.
public enum ConvolutionEngine: String, Sendable {
    case oneDNN, im2col

    /// The engine new convolutions use; set it to compare engines (benchmarks, tests). Behind a
    /// lock because tests running in parallel set and read it.
    public static var preferred: ConvolutionEngine {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
    private static let current = Mutex<ConvolutionEngine>(
        ProcessInfo.processInfo.environment["DDPM_CONVOLUTION"] == "im2col" || !OneDNN.isAvailable ? .im2col : .oneDNN)
}

/// oneDNN convolution plans, one per geometry, created on first use and kept for the process.
package enum OneDNN {
    package static let isAvailable: Bool = ddpm_dnnl_load(Int32(ComputeSettings.threadCount)) == 1

    private struct Key: Hashable {
        var geometry: ConvolutionGeometry
        var bias: Bool
    }
    private nonisolated(unsafe) static var plans: [Key: OpaquePointer] = [:]
    private static let lock = Mutex(())

    /// Runs `body` with the plan for `geometry` and returns true when it succeeded; false when
    /// oneDNN is not the preferred engine, cannot build the plan, or the call failed (the caller
    /// then uses im2col). Calls are serialised: a plan owns its blocked buffers, and oneDNN
    /// already uses every core for one convolution.
    package static func run(_ geometry: ConvolutionGeometry, bias: Bool, _ body: (OpaquePointer) -> Int32) -> Bool {
        guard ConvolutionEngine.preferred == .oneDNN, isAvailable, !geometry.isPointwise else { return false }
        return lock.withLock { _ in
            guard let plan = plan(geometry, bias: bias) else { return false }
            return body(plan) == 0
        }
    }

    /// The cached plan for `geometry` (call with `lock` held).
    private static func plan(_ geometry: ConvolutionGeometry, bias: Bool) -> OpaquePointer? {
        let key = Key(geometry: geometry, bias: bias)
        if let p = plans[key] { return p }
        let g = geometry
        let dims: [Int64] = [
            g.batch, g.inputChannels, g.height, g.width, g.outputChannels, g.kernelHeight,
            g.kernelWidth, g.stride, g.padTop, g.padBottom, g.padLeft, g.padRight,
        ].map(Int64.init)
        let winograd: Int32 = ProcessInfo.processInfo.environment["DDPM_WINOGRAD"] == "0" ? 0 : 1
        guard let p = dims.withUnsafeBufferPointer({ ddpm_dnnl_conv_create($0.baseAddress, bias ? 1 : 0, winograd) }) else { return nil }
        plans[key] = p
        return p
    }

    /// Names of the kernels oneDNN picked for forward, backward-data and backward-weights.
    package static func implementations(_ geometry: ConvolutionGeometry) -> [String] {
        var names: [String] = []
        _ = run(geometry, bias: false) { p in
            names = (0..<3).map { String(cString: ddpm_dnnl_conv_implementation(p, Int32($0))) }
            return 0
        }
        return names
    }
}
