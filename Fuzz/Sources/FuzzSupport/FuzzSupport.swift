import CFuzzerDriver
import Foundation

nonisolated(unsafe) private var target: (Data) -> Void = { _ in }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target(data.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

/// Runs libFuzzer with the command line's options on `body`, which gets each input. An error
/// thrown by a reader is an expected outcome; a trap, a sanitizer report, a leak or an
/// allocation above -malloc_limit_mb is a finding.
public func runFuzzer(_ body: @escaping (Data) -> Void) -> Never {
    target = body
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
}

/// A per-process scratch file for the current input (readers take paths, as the tool does).
public enum FuzzInput {
    public static let directory: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("swift-ddpm-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit {
            for base in ["/dev/shm", NSTemporaryDirectory()] {
                try? FileManager.default.removeItem(
                    atPath: URL(fileURLWithPath: base).appendingPathComponent("swift-ddpm-fuzz-\(getpid())").path)
            }
        }
        return url
    }()

    /// Writes the input as `name` in the scratch directory and returns its URL.
    public static func file(_ data: Data, name: String) -> URL {
        let url = directory.appendingPathComponent(name)
        FileManager.default.createFile(atPath: url.path, contents: data)
        return url
    }
}
