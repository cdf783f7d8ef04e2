/// Spellings of the previous release, still read for one release: each is rewritten to today's
/// before parsing, with a note on stderr, so old scripts keep working while they are updated.
enum DeprecatedSpellings {
    /// `--clip-sample true|false` (an option taking a Boolean) became `--clip-sample` / `--no-clip-sample`.
    static let booleanOptions = ["--clip-sample"]

    /// `arguments` with the deprecated spellings replaced; `warn` receives one note per replacement.
    static func rewritten(_ arguments: [String], warn: (String) -> Void) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" {
                out += arguments[i...]
                break
            }
            let (name, inline) = a.split(separator: "=", maxSplits: 1).map(String.init).splitPair
            if booleanOptions.contains(name) {
                let value = inline ?? (i + 1 < arguments.count ? arguments[i + 1] : nil)
                if let value, let flag = Bool(value.lowercased()) {
                    let replacement = flag ? name : "--no-" + name.dropFirst(2)
                    warn("warning: '\(name) \(value)' is deprecated and will be removed in the next release; use \(replacement).")
                    out.append(replacement)
                    i += inline == nil ? 2 : 1
                    continue
                }
            }
            out.append(a)
            i += 1
        }
        return out
    }
}

extension Array where Element == String {
    /// `["--x", "v"]` → ("--x", "v"); `["--x"]` → ("--x", nil).
    fileprivate var splitPair: (String, String?) { (self.first ?? "", count > 1 ? self[1] : nil) }
}
