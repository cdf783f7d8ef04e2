import Foundation

/// Runs `arguments[0]` with the rest as arguments and decodes the last line it prints as JSON:
/// how the benchmarks read the PyTorch scripts and their own per-case child processes.
func runJSONProcess<T>(_ arguments: [String], hint: String = "") throws -> T {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    guard process.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? T else {
        throw CommandError.childProcess(command: arguments.joined(separator: " "), status: process.terminationStatus, hint: hint)
    }
    return json
}
