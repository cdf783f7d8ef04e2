import Foundation

/// A fresh, empty directory under the system's temporary folder, one per call, so tests that run
/// in parallel never share files. Throws (naming the path) when it cannot be created, rather
/// than handing back a directory that does not exist.
public func temporaryDirectory(_ prefix: String = "ddpm-tests") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
        throw TestSupportError.cannotCreate(path: url.path, reason: error.localizedDescription)
    }
    return url
}

/// Why a piece of test support could not do its job.
public enum TestSupportError: Error, CustomStringConvertible {
    case cannotCreate(path: String, reason: String)
    case missingBinary(path: String, configuration: String)
    case missingFixture(path: String, hint: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason): "cannot create \(path): \(reason)"
        case .missingBinary(let path, let configuration):
            "\(path) is missing; build it with `swift build -c \(configuration) --build-tests` (the tests run the binary of their own build)"
        case .missingFixture(let path, let hint): "fixture \(path) is missing; \(hint)"
        }
    }
}
