import TensorKernels
import Testing

/// The `convolution: …` line: what it says on oneDNN and on each fallback (the wording, from a
/// shim state given here), and what this process's shim reports.
@Suite("Convolution backend description")
struct ConvolutionBackendTests {
    typealias Shim = ConvolutionBackend.Shim
    static let loaded = Shim(
        builtWithHeader: true, loaded: true, library: "/usr/lib/x86_64-linux-gnu/libdnnl.so.2", version: "2.6.3", isa: "avx2")

    @Test("oneDNN: version, library, ISA and which 3×3 kernels, no fix")
    func oneDNN() {
        let avx2 = ConvolutionBackend.resolve(environment: [:], preferred: .oneDNN, shim: Self.loaded)
        #expect(avx2.engine == .oneDNN && !avx2.isFallback && avx2.fix == nil)
        #expect(
            avx2.description
                == "convolution: oneDNN 2.6.3 (/usr/lib/x86_64-linux-gnu/libdnnl.so.2), avx2: direct kernels (oneDNN's Winograd needs AVX-512)"
        )
        var avx512 = Self.loaded
        avx512.isa = "avx512_core"
        let winograd = ConvolutionBackend.resolve(environment: [:], preferred: .oneDNN, shim: avx512)
        #expect(
            winograd.description.hasSuffix("avx512_core: Winograd F(4×4, 3×3) for stride-1 3×3, direct kernels otherwise"), "\(winograd)")
        let direct = ConvolutionBackend.resolve(environment: ["DDPM_WINOGRAD": "0"], preferred: .oneDNN, shim: avx512)
        #expect(direct.description.hasSuffix("avx512_core: direct kernels (DDPM_WINOGRAD=0)"), "\(direct)")
        let typo = ConvolutionBackend.resolve(environment: ["DDPM_CONVOLUTION": "im2co"], preferred: .oneDNN, shim: Self.loaded)
        #expect(typo.engine == .oneDNN && typo.description.contains("DDPM_CONVOLUTION=im2co is ignored"), "\(typo)")
    }

    @Test("our Winograd (no oneDNN Winograd here): named with its channel threshold beside oneDNN's direct kernels")
    func ourWinograd() {
        let ours = ConvolutionBackend.resolve(environment: [:], preferred: .winograd, shim: Self.loaded)
        #expect(ours.engine == .winograd && !ours.isFallback)
        #expect(
            ours.description
                == "convolution: oneDNN 2.6.3 (/usr/lib/x86_64-linux-gnu/libdnnl.so.2), avx2: direct kernels, and our Winograd F(4×4, 3×3) for stride-1 3×3 with ≥ 32 channels (oneDNN's needs AVX-512)"
        )
        let named = ConvolutionBackend.resolve(environment: ["DDPM_CONVOLUTION": "winograd"], preferred: .winograd, shim: Self.loaded)
        #expect(!named.description.contains("ignored"), "\(named)")
    }

    @Test("DDPM_CONVOLUTION=im2col: named, with the fix, and oneDNN is not even loaded")
    func environment() {
        var read = false
        let backend = ConvolutionBackend.resolve(
            environment: ["DDPM_CONVOLUTION": "im2col"], preferred: .im2col,
            shim: {
                read = true
                return Self.loaded
            }())
        #expect(!read, "the environment decides before the shim loads oneDNN")
        #expect(backend.engine == .im2col && backend.fallback == .environment)
        #expect(
            backend.description
                == "convolution: im2col + OpenBLAS (the slower portable path): DDPM_CONVOLUTION=im2col is set; fix: unset DDPM_CONVOLUTION to use oneDNN"
        )
    }

    @Test("every fallback says why and how to fix it")
    func fallbacks() {
        let notLoaded = ConvolutionBackend.resolve(
            environment: [:], preferred: .im2col,
            shim: Shim(
                builtWithHeader: true, loaded: false,
                failure: "libdnnl.so.2 could not be loaded (libdnnl.so.2: cannot open shared object file: No such file or directory)"))
        #expect(
            notLoaded.description
                == "convolution: im2col + OpenBLAS (the slower portable path): libdnnl.so.2 could not be loaded (libdnnl.so.2: cannot open shared object file: No such file or directory); fix: install oneDNN 2.x's libdnnl.so.2 (sudo apt-get install libdnnl2, or scripts/setup)"
        )
        let withoutHeader = ConvolutionBackend.resolve(
            environment: [:], preferred: .im2col, shim: Shim(builtWithHeader: false, loaded: false))
        #expect(withoutHeader.fallback == .builtWithoutHeader)
        #expect(withoutHeader.description.contains("built without oneDNN's header (-DDDPM_WITHOUT_ONEDNN)"), "\(withoutHeader)")
        #expect(withoutHeader.description.contains("sudo apt-get install libdnnl-dev"), "\(withoutHeader)")
        let inProcess = ConvolutionBackend.resolve(environment: [:], preferred: .im2col, shim: Self.loaded)
        #expect(inProcess.fallback == .setInProcess)
        let silent = ConvolutionBackend.resolve(environment: [:], preferred: .oneDNN, shim: Shim(builtWithHeader: true, loaded: false))
        #expect(silent.description.contains("libdnnl.so.2 could not be loaded; fix: "), "\(silent)")
        for backend in [notLoaded, withoutHeader, inProcess, silent] {
            #expect(backend.engine == .im2col && backend.isFallback)
            let (reason, fix) = (backend.reason ?? "", backend.fix ?? "")
            #expect(!reason.isEmpty && !fix.isEmpty, "\(backend)")
            #expect(backend.description.hasSuffix(": \(reason); fix: \(fix)"), "\(backend)")
        }
    }

    #if os(Linux)
        @Test(
            "this process: oneDNN loaded from a build with its header, with a version and an ISA",
            .enabled(
                if: OneDNN.isAvailable,
                Comment(
                    rawValue: "oneDNN did not load here: \(ConvolutionBackend.resolve(environment: [:], preferred: .oneDNN, shim: .live))"))
        )
        func live() {
            let shim = Shim.live
            #expect(shim.builtWithHeader && shim.loaded && shim.failure.isEmpty)
            #expect(shim.library.hasSuffix("libdnnl.so.2") && shim.version.hasPrefix("2.") && !shim.isa.isEmpty, "\(shim)")
            let backend = ConvolutionBackend.resolve(environment: [:], preferred: .oneDNN, shim: shim)
            #expect(backend.description.hasPrefix("convolution: oneDNN 2."), "\(backend)")
        }

        @Test("a build with oneDNN's header either loads it or says why not")
        func liveFailureIsExplained() {
            let shim = Shim.live
            #expect(!shim.builtWithHeader || shim.loaded || !shim.failure.isEmpty, "libdnnl did not load and the shim did not say why")
        }
    #endif
}
