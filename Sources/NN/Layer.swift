import Tensors

/// A trainable tensor with a stable identity, so optimizers and checkpoints can refer to it.
public final class Parameter {
    /// The current value; a gradient leaf (`requiringGradient()`) so autodiff can reach it.
    public var value: Tensor {
        didSet { if !value.requiresGradient { value = value.requiringGradient() } }
    }
    public init(_ value: Tensor) { self.value = value.requiringGradient() }
    public var shape: [Int] { value.shape }
}

/// A module of the network: its own parameters and its children, each under a checkpoint key.
///
/// Keys are diffusers' `state_dict` names (`conv1`, `time_emb_proj`, …); Swift properties stay
/// lowerCamelCase. The mapping sits next to the properties in each layer.
public protocol Layer: AnyObject {
    /// Parameters owned directly by this layer, with their keys (`weight`, `bias`).
    var ownParameters: [(key: String, parameter: Parameter)] { get }
    /// Sub-layers with their keys.
    var children: [(key: String, layer: any Layer)] { get }
}

extension Layer {
    public var ownParameters: [(key: String, parameter: Parameter)] { [] }
    public var children: [(key: String, layer: any Layer)] { [] }

    /// Every parameter under its dotted key (`down_blocks.0.resnets.0.conv1.weight`), in a stable order.
    public func namedParameters(prefix: String = "") -> [(key: String, parameter: Parameter)] {
        ownParameters.map { (prefix + $0.key, $0.parameter) }
            + children.flatMap { $0.layer.namedParameters(prefix: prefix + $0.key + ".") }
    }

    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.parameter.value.scalarCount } }

    /// Current values as a state dictionary.
    public func stateDictionary() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.key, $0.parameter.value.detached()) })
    }

    /// Loads values by key. Strict loading (the default) checks everything first and reports every
    /// missing, unexpected and wrong-shape key at once; nothing is changed unless all is well.
    public func load(_ state: [String: Tensor], strict: Bool = true) throws(ParameterLoadError) {
        let named = namedParameters()
        let known = Set(named.map(\.key))
        let missing = named.map(\.key).filter { state[$0] == nil }.sorted()
        let unexpected = state.keys.filter { !known.contains($0) }.sorted()
        let mismatched = named.compactMap { p -> ParameterLoadError.ShapeMismatch? in
            guard let t = state[p.key], t.shape != p.parameter.shape else { return nil }
            return .init(key: p.key, expected: p.parameter.shape, actual: t.shape)
        }.sorted { $0.key < $1.key }
        if !mismatched.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw ParameterLoadError(
                missing: strict ? missing : [], unexpected: strict ? unexpected : [],
                shapeMismatches: mismatched)
        }
        for p in named { if let t = state[p.key] { p.parameter.value = t } }
    }
}

/// What did not fit when loading parameters: all problems, sorted by key.
public struct ParameterLoadError: Error, Equatable, CustomStringConvertible {
    public struct ShapeMismatch: Equatable, Sendable {
        public let key: String, expected: [Int], actual: [Int]
    }
    public var missing: [String]
    public var unexpected: [String]
    public var shapeMismatches: [ShapeMismatch]

    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("Missing \(missing.count) parameters: \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty {
            lines.append("Received \(unexpected.count) parameters not in the model: \(unexpected.joined(separator: ", "))")
        }
        for m in shapeMismatches { lines.append("Parameter \(m.key): expected shape \(m.expected), found \(m.actual)") }
        lines.append("Check that the checkpoint was made for this model configuration (config.json).")
        return lines.joined(separator: "\n")
    }
}
