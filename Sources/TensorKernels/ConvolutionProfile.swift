import Dispatch
import Synchronization

/// Time spent in each convolution geometry, pass and path, when enabled (`ddpm bench unet
/// --profile`): which layers of a step dominate differs between CPUs (on one, the cifar10
/// preset's 4×4 layers ran on one thread and took 7 % of its training step), and a sampling
/// profiler cannot tell the geometries apart. Off, it costs one atomic load per convolution.
package enum ConvolutionProfile {
    package enum Pass: String, Sendable { case forward, backwardData, backwardWeight }

    package struct Entry: Sendable {
        package var calls = 0
        package var seconds = 0.0
    }

    private static let enabled = Atomic<Bool>(false)
    private static let entries = Mutex<[String: Entry]>([:])

    /// Starts recording from zero (`true`) or stops (`false`, the entries stay readable).
    package static func record(_ on: Bool) {
        if on { entries.withLock { $0 = [:] } }
        enabled.store(on, ordering: .relaxed)
    }

    /// Entries keyed "Cin→Cout kh×kw/stride at H×W, batch N, pass [path]".
    package static var snapshot: [String: Entry] { entries.withLock { $0 } }

    /// The start time when recording, else nil.
    static func start() -> UInt64? { enabled.load(ordering: .relaxed) ? DispatchTime.now().uptimeNanoseconds : nil }

    static func stop(_ start: UInt64?, _ g: ConvolutionGeometry, _ pass: Pass) {
        guard let start else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let path: String
        switch ConvolutionEngine.path(g) {
        case .winograd(let m): path = "winograd F\(m)"
        case .oneDNN: path = "oneDNN"
        case .im2col: path = g.isPointwise ? "GEMM" : "im2col"
        }
        let key =
            "\(g.inputChannels)→\(g.outputChannels) \(g.kernelHeight)×\(g.kernelWidth)/\(g.stride) at \(g.height)×\(g.width), "
            + "batch \(g.batch), \(pass.rawValue) [\(path)]"
        entries.withLock {
            $0[key, default: Entry()].calls += 1
            $0[key, default: Entry()].seconds += seconds
        }
    }
}
