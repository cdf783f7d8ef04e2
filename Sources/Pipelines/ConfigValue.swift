import Foundation

/// One value of a diffusers JSON configuration, kept as written so that a scheduler can be built
/// from another class's config as diffusers' `from_config` does (shared keys carry over).
public enum ConfigValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ConfigValue])
    case object([String: ConfigValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([ConfigValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: ConfigValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? "\(Int(n))" : "\(n)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[\(a.map(\.description).joined(separator: ", "))]"
        case .object: "{…}"
        }
    }
}

/// Typed reads of a scheduler class's options from a config, with that class's default for an
/// absent (or null) key and an error naming the key, the value and what is accepted otherwise.
struct ConfigReader {
    let options: [String: ConfigValue]
    /// The scheduler class being built, for messages.
    let className: String

    private func present(_ key: String) -> ConfigValue? {
        guard let v = options[key], v != .null else { return nil }
        return v
    }

    private func invalid(_ key: String, _ value: ConfigValue, _ accepted: String) -> PipelineError {
        .invalidSchedulerOption(className: className, key: key, value: value.description, accepted: accepted)
    }

    func bool(_ key: String, _ fallback: Bool) throws(PipelineError) -> Bool {
        guard let v = present(key) else { return fallback }
        guard case .bool(let b) = v else { throw invalid(key, v, "use true or false") }
        return b
    }

    func double(_ key: String, _ fallback: Double, allowingInfinity: Bool = false) throws(PipelineError) -> Double {
        guard let v = present(key) else { return fallback }
        guard case .number(let n) = v, n.isFinite || (allowingInfinity && n.isInfinite) else {
            throw invalid(key, v, allowingInfinity ? "use a number" : "use a finite number")
        }
        return n
    }

    func int(_ key: String, _ fallback: Int) throws(PipelineError) -> Int {
        guard let v = present(key) else { return fallback }
        guard case .number(let n) = v, n == n.rounded(), abs(n) < 1e9 else { throw invalid(key, v, "use an integer") }
        return Int(n)
    }

    func string(_ key: String, _ fallback: String) throws(PipelineError) -> String {
        guard let v = present(key) else { return fallback }
        guard case .string(let text) = v else { throw invalid(key, v, "use a string") }
        return text
    }

    func ints(_ key: String, _ fallback: [Int]) throws(PipelineError) -> [Int] {
        guard let v = present(key) else { return fallback }
        guard case .array(let items) = v else { throw invalid(key, v, "use a list of integers") }
        return try items.map { item throws(PipelineError) in
            guard case .number(let n) = item, n == n.rounded(), abs(n) < 1e9 else { throw invalid(key, v, "use a list of integers") }
            return Int(n)
        }
    }

    /// A string option that must be one of `choices` (diffusers' spelling → our value).
    func choice<T>(_ key: String, _ choices: KeyValuePairs<String, T>, _ fallback: T) throws(PipelineError) -> T {
        guard let v = present(key) else { return fallback }
        guard case .string(let s) = v, let match = choices.first(where: { $0.key == s }) else {
            throw invalid(key, v, "use one of " + choices.map { "\"\($0.key)\"" }.joined(separator: ", "))
        }
        return match.value
    }
}
