/// Failures of the command-line tool's own work (the benchmarks' child processes and tools),
/// reported as errors, not as usage problems: ArgumentParser prints the usage text only for a
/// `ValidationError`, which `validate()` keeps for option syntax.
enum CommandError: Error, CustomStringConvertible {
    /// A child process that failed or printed no JSON (`hint`: how to fix it, possibly empty).
    case childProcess(command: String, status: Int32, hint: String)
    /// A child process whose JSON lacks `key`.
    case missingKey(command: String, key: String)
    /// A tool that is not installed.
    case toolNotFound(name: String, install: String)

    var description: String {
        switch self {
        case .childProcess(let command, let status, let hint): "\(command) failed (exit \(status)).\(hint.isEmpty ? "" : " \(hint)")"
        case .missingKey(let command, let key): "\(command) printed no '\(key)'."
        case .toolNotFound(let name, let install): "\(name) not found; \(install)."
        }
    }
}
