import Foundation

/// A one-line progress bar on a terminal (redrawn in place); plain periodic lines otherwise
/// (logs, CI), at most one every `plainInterval` seconds.
final class ProgressBar {
    let total: Int
    let label: String
    let isTerminal = isatty(STDERR_FILENO) != 0
    let start = Date()
    var lastPlain = Date.distantPast
    let plainInterval: TimeInterval

    init(total: Int, label: String, plainInterval: TimeInterval = 10) {
        self.total = total
        self.label = label
        self.plainInterval = plainInterval
    }

    /// Shows `done` of `total`, with extra text such as the loss; `startedAt` is the count at start (resume).
    func update(_ done: Int, startedAt: Int = 0, _ extra: String = "") {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done - startedAt) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let text = "\(label) \(done)/\(total) \(extra) \(String(format: "%.2f", rate))/s ETA \(Self.clock(eta))"
        if isTerminal {
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar =
                String(repeating: "=", count: filled) + (filled < width ? ">" : "")
                + String(repeating: " ", count: max(0, width - filled - 1))
            FileHandle.standardError.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
            if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if done >= total || Date().timeIntervalSince(lastPlain) >= plainInterval {
            lastPlain = Date()
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    /// Ends the bar early (for example at a time limit) so the next output starts on a new line.
    func finish() { if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }
}
