import Foundation

/// The `ddpm` binary of the build under test, and a way to run it. Its path comes from the
/// running test executable (the products folder of this very configuration: `.build/<triple>/debug`
/// or `release`), so a debug test run never exercises a stale release binary or vice versa.
public enum CommandLineTool {
    /// The folder the test bundle was built into (`$DDPM_TEST_PRODUCTS` overrides it).
    public static let productsDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["DDPM_TEST_PRODUCTS"] { return URL(fileURLWithPath: override) }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let start = FileManager.default.fileExists(atPath: executable.path) ? executable : Bundle.main.bundleURL
        // macOS runs tests inside `X.xctest/Contents/MacOS/X`: the products folder holds the bundle.
        var url = start
        while url.pathComponents.count > 1 {
            if url.pathExtension == "xctest" { return url.deletingLastPathComponent() }
            url = url.deletingLastPathComponent()
        }
        return start.deletingLastPathComponent()
    }()

    /// `debug` or `release`: the products folder's name, for messages.
    public static var configuration: String { productsDirectory.lastPathComponent }

    /// The repository root (three levels above this file), the working directory of every run.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    public static var binary: URL { productsDirectory.appendingPathComponent("ddpm") }

    /// Whether the binary exists (`.enabled(if:)` of the suites that need it).
    public static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: binary.path) }

    /// What a run printed and how it ended.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        /// Both streams, standard output first.
        public var output: String { stdout + stderr }
    }

    /// Runs `ddpm arguments…` in `directory` (the package root by default) and waits for it;
    /// `output` is both streams as one pipe received them.
    public static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws
        -> (status: Int32, output: String)
    {
        guard isBuilt else { throw TestSupportError.missingBinary(path: binary.path, configuration: configuration) }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? packageRoot
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `run` with standard output and standard error kept apart.
    public static func runSeparately(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Result
    {
        guard isBuilt else { throw TestSupportError.missingBinary(path: binary.path, configuration: configuration) }
        return try runProcess(binary, arguments, in: directory ?? packageRoot, environment: environment)
    }

    /// Runs any executable and collects both streams without blocking on either (a child that
    /// fills one pipe while the other is being drained would otherwise deadlock).
    public static func runProcess(
        _ executable: URL, _ arguments: [String], in directory: URL? = nil,
        environment: [String: String] = [:]
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? packageRoot
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let (out, err) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (out, err)
        try process.run()
        let errorData = ErrorBox()
        let reader = Thread {
            errorData.data = err.fileHandleForReading.readDataToEndOfFile()
            errorData.done.signal()
        }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errorData.done.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errorData.data, as: UTF8.self))
    }

    /// The standard error bytes, handed from the reader thread once `done` is signalled.
    private final class ErrorBox: @unchecked Sendable {
        var data = Data()
        let done = DispatchSemaphore(value: 0)
    }
}
