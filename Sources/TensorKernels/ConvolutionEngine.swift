import CDNNL
import Foundation
import Synchronization

/// The implementation behind `Kernels.convolution*`.
///
/// oneDNN's blocked-layout kernels are faster than im2col + BLAS for 3×3 convolutions on this
/// kind of machine (see README "Kernel benchmark"), so they are used whenever libdnnl loads;
/// im2col + BLAS is the portable path (macOS, no oneDNN) and the reference the tests compare with.
/// Stride-1 3×3 padding-1 convolutions use Winograd F(4×4, 3×3): oneDNN's where it has it
/// (AVX-512: about 2× its direct kernels, see the README's benchmark), else ours (`.winograd`,
/// Winograd.swift), with oneDNN (or im2col) for every other geometry.
/// `DDPM_CONVOLUTION=im2col` forces the portable path, `=oneDNN` or `=winograd` those engines;
/// `DDPM_WINOGRAD=0` keeps every convolution direct (neither oneDNN's Winograd nor ours).
public enum ConvolutionEngine: String, Sendable {
    /// oneDNN for every geometry (its Winograd where it builds it).
    case oneDNN
    /// Our Winograd where `Winograd.tileSize` accepts the geometry, oneDNN (or im2col) elsewhere.
    case winograd
    /// im2col + BLAS for every geometry: the portable reference.
    case im2col

    /// The engine new convolutions use: the one `using(_:_:)` sets for the calling task, else the
    /// process-wide one (set it to compare engines in benchmarks).
    public static var preferred: ConvolutionEngine {
        get { scoped ?? current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
    private static let current = Mutex<ConvolutionEngine>(automatic)
    @TaskLocal private static var scoped: ConvolutionEngine?

    /// Runs `body` with `engine` preferred in this task only: tests running in parallel compare
    /// engines without switching each other's (the choice is read on the calling thread, before
    /// any work is split over threads).
    public static func using<R>(_ engine: ConvolutionEngine, _ body: () throws -> R) rethrows -> R {
        try $scoped.withValue(engine, operation: body)
    }

    private static var automatic: ConvolutionEngine {
        let env = ProcessInfo.processInfo.environment
        if let forced = env["DDPM_CONVOLUTION"].flatMap(ConvolutionEngine.init(rawValue:)) {
            return forced == .oneDNN && !OneDNN.isAvailable ? .im2col : forced
        }
        let direct: ConvolutionEngine = OneDNN.isAvailable ? .oneDNN : .im2col
        if env["DDPM_WINOGRAD"] == "0" || OneDNN.hasWinograd { return direct }
        return .winograd
    }

    /// What runs a convolution of geometry `g` under the preferred engine.
    package enum Path: Equatable {
        case oneDNN, im2col
        /// Ours, F(m×m, 3×3).
        case winograd(tile: Int)
    }

    /// The path `Kernels.convolution*` takes for `g` (oneDNN means: tried first, im2col if it fails).
    package static func path(_ g: ConvolutionGeometry) -> Path {
        let engine = preferred
        if engine == .winograd, let m = Winograd.tileSize(g) { return .winograd(tile: m) }
        return engine != .im2col && OneDNN.isAvailable && !g.isPointwise ? .oneDNN : .im2col
    }
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
        guard ConvolutionEngine.preferred != .im2col, isAvailable, !geometry.isPointwise else { return false }
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

    /// Whether oneDNN builds Winograd kernels on this machine (AVX-512 in oneDNN 2.x), probed once
    /// with a U-Net-like geometry. `DDPM_WINOGRAD=0` makes plans direct, so this is then false.
    package static let hasWinograd: Bool = {
        guard isAvailable, ProcessInfo.processInfo.environment["DDPM_WINOGRAD"] != "0" else { return false }
        let g = ConvolutionGeometry(
            batch: 1, inputChannels: 64, height: 16, width: 16, outputChannels: 64, kernelHeight: 3, kernelWidth: 3, stride: 1,
            padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        return lock.withLock { _ in
            guard let p = plan(g, bias: false) else { return false }
            return String(cString: ddpm_dnnl_conv_implementation(p, 0)).contains("wino")
        }
    }()

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
