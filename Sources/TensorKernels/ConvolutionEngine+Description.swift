import CDNNL
import Foundation

/// Which convolution path this process uses and, on the slower portable path, why and how to get
/// oneDNN back. The CLI prints `description` wherever speed matters (the `train` and `sample`
/// headers, every `bench`), so a binary that lost oneDNN says so instead of running at half speed.
///
/// oneDNN is loaded on first use; reading `current` loads it (with `ComputeSettings.threadCount`
/// threads, as the first convolution would) unless `DDPM_CONVOLUTION=im2col` is set.
public struct ConvolutionBackend: Sendable, Equatable, CustomStringConvertible {
    /// Why convolutions run on im2col + BLAS on Linux, where oneDNN is the fast path.
    public enum Fallback: Sendable, Equatable {
        /// `DDPM_CONVOLUTION=im2col` is set in the environment.
        case environment
        /// `ConvolutionEngine.preferred` was set to `.im2col` in this process (benchmarks, tests).
        case setInProcess
        /// The C shim was compiled with `-DDDPM_WITHOUT_ONEDNN` (the portable engine, on purpose).
        case builtWithoutHeader
        /// libdnnl.so.2 did not load or is not usable: the loader's or oneDNN's words.
        case notLoaded(String)
    }

    /// The engine new convolutions use.
    public let engine: ConvolutionEngine
    /// What runs, such as "oneDNN 2.6.3 (/lib/x86_64-linux-gnu/libdnnl.so.2), avx2: direct kernels (…)".
    public let summary: String
    /// Why im2col runs where oneDNN could (nil on oneDNN, and on macOS, where im2col is the path).
    public let fallback: Fallback?

    /// The engine's name and what it runs on, with the reason and fix on a fallback:
    /// `convolution: im2col + OpenBLAS (the slower portable path): <reason>; fix: <fix>`.
    public var description: String {
        guard let reason, let fix else { return "convolution: \(summary)" }
        return "convolution: \(summary): \(reason); fix: \(fix)"
    }

    /// Why the portable path is in use, in words (nil when it is not a fallback).
    public var reason: String? {
        switch fallback {
        case nil: nil
        case .environment: "DDPM_CONVOLUTION=im2col is set"
        case .setInProcess: "ConvolutionEngine.preferred was set to .im2col in this process"
        case .builtWithoutHeader: "this binary was built without oneDNN's header (-DDDPM_WITHOUT_ONEDNN)"
        case .notLoaded(let why): why
        }
    }

    /// What to do to get oneDNN's kernels back (nil when it is not a fallback).
    public var fix: String? {
        switch fallback {
        case nil: nil
        case .environment: "unset DDPM_CONVOLUTION to use oneDNN"
        case .setInProcess: "set ConvolutionEngine.preferred to .oneDNN"
        case .builtWithoutHeader:
            "install libdnnl-dev (sudo apt-get install libdnnl-dev, or scripts/setup) and rebuild without -DDDPM_WITHOUT_ONEDNN"
        case .notLoaded:
            "install oneDNN 2.x's libdnnl.so.2 (sudo apt-get install libdnnl2, or scripts/setup)"
        }
    }

    /// Whether convolutions run on the slower portable path although oneDNN is the path here.
    public var isFallback: Bool { fallback != nil }

    package init(engine: ConvolutionEngine, summary: String, fallback: Fallback?) {
        (self.engine, self.summary, self.fallback) = (engine, summary, fallback)
    }

    /// The path `Kernels.convolution*` take now (`ConvolutionEngine.preferred`, the environment,
    /// whether oneDNN loaded). 1×1 stride-1 convolutions are a plain GEMM on either path.
    public static var current: ConvolutionBackend {
        #if os(Linux)
            resolve(environment: ProcessInfo.processInfo.environment, preferred: ConvolutionEngine.preferred, shim: .live)
        #else
            // The shim is Linux-only (macOS: Accelerate): im2col is the path here, nothing to fix.
            ConvolutionBackend(engine: .im2col, summary: "\(portableName) (oneDNN is used on Linux only)", fallback: nil)
        #endif
    }

    #if canImport(Accelerate)
        private static let portableName = "im2col + Accelerate"
    #else
        private static let portableName = "im2col + OpenBLAS"
    #endif

    /// What the C shim reports (CDNNL.h), apart so the wording can be tested for every case.
    package struct Shim: Sendable {
        package var builtWithHeader: Bool
        package var loaded: Bool
        package var failure = "", library = "", version = "", isa = ""

        package init(
            builtWithHeader: Bool, loaded: Bool, failure: String = "", library: String = "", version: String = "", isa: String = ""
        ) {
            (self.builtWithHeader, self.loaded) = (builtWithHeader, loaded)
            (self.failure, self.library, self.version, self.isa) = (failure, library, version, isa)
        }

        /// This process's shim; loads oneDNN if nothing has yet.
        package static var live: Shim {
            let loaded = OneDNN.isAvailable
            return Shim(
                builtWithHeader: ddpm_dnnl_built_with_header() != 0, loaded: loaded, failure: String(cString: ddpm_dnnl_load_failure()),
                library: String(cString: ddpm_dnnl_library_path()), version: String(cString: ddpm_dnnl_version_string()),
                isa: String(cString: ddpm_dnnl_cpu_isa()))
        }
    }

    /// The Linux decision, in the order `ConvolutionEngine.preferred` and `OneDNN.run` make it.
    /// `shim` is read only when the environment does not force im2col (reading it loads oneDNN).
    package static func resolve(environment: [String: String], preferred: ConvolutionEngine, shim: @autoclosure () -> Shim)
        -> ConvolutionBackend
    {
        let slow = "\(portableName) (the slower portable path)"
        if environment["DDPM_CONVOLUTION"] == "im2col" { return ConvolutionBackend(engine: .im2col, summary: slow, fallback: .environment) }
        let shim = shim()
        if !shim.builtWithHeader { return ConvolutionBackend(engine: .im2col, summary: slow, fallback: .builtWithoutHeader) }
        guard shim.loaded else {
            let why = shim.failure.isEmpty ? "libdnnl.so.2 could not be loaded" : shim.failure
            return ConvolutionBackend(engine: .im2col, summary: slow, fallback: .notLoaded(why))
        }
        if preferred == .im2col { return ConvolutionBackend(engine: .im2col, summary: slow, fallback: .setInProcess) }
        return ConvolutionBackend(engine: preferred, summary: oneDNNSummary(shim, environment, ours: preferred == .winograd), fallback: nil)
    }

    /// "oneDNN 2.6.3 (path), avx512_core: Winograd F(4×4, 3×3) for stride-1 3×3, direct kernels otherwise" and the like.
    private static func oneDNNSummary(_ shim: Shim, _ environment: [String: String], ours: Bool) -> String {
        let version = shim.version.isEmpty ? "" : " \(shim.version)"
        let library = shim.library.isEmpty ? "libdnnl.so.2" : shim.library
        let isa = shim.isa.isEmpty ? "" : "\(shim.isa): "
        var text =
            "oneDNN\(version) (\(library)), \(isa)" + winogradNote(isa: shim.isa, disabled: environment["DDPM_WINOGRAD"] == "0", ours: ours)
        if let other = environment["DDPM_CONVOLUTION"], !other.isEmpty, ConvolutionEngine(rawValue: other) == nil {
            text += " (DDPM_CONVOLUTION=\(other) is ignored: im2col, oneDNN and winograd are recognised)"
        }
        return text
    }

    /// Which 3×3 kernels run: oneDNN's Winograd F(4×4, 3×3) exists for AVX-512 only
    /// (`ddpm_dnnl_conv_create` falls back to direct where it cannot build one); without it, `ours`
    /// (the `.winograd` engine, Winograd.swift) takes the stride-1 3×3 convolutions it accepts.
    private static func winogradNote(isa: String, disabled: Bool, ours: Bool) -> String {
        if disabled { return "direct kernels (DDPM_WINOGRAD=0)" }
        if ours {
            return "direct kernels, and our Winograd F(4×4, 3×3) for stride-1 3×3 with ≥ \(Winograd.minimumChannels) channels"
                + (isa.hasPrefix("avx512") ? "" : " (oneDNN's needs AVX-512)")
        }
        if isa.hasPrefix("avx512") { return "Winograd F(4×4, 3×3) for stride-1 3×3, direct kernels otherwise" }
        return "direct kernels (oneDNN's Winograd needs AVX-512)"
    }
}
