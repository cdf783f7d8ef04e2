import Foundation
import NN
import SafeTensors
import Tensors
import TestSupport
import Testing

/// Fixtures/ written by scripts/reference/make_metrics_fixtures.py (pytorch-fid, torch, numpy, scipy).
enum MetricsFixtures {
    static func url(_ name: String, _ ext: String) throws -> URL {
        try #require(
            Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
            "Fixtures/\(name).\(ext) is not in the test bundle")
    }

    static let file: Result<SafeTensorsFile, SafeTensorsError> = {
        guard let url = Bundle.module.url(forResource: "metrics", withExtension: "safetensors", subdirectory: "Fixtures") else {
            return .failure(.cannotOpen(path: "Fixtures/metrics.safetensors", reason: "not in the test bundle"))
        }
        return Result { () throws(SafeTensorsError) in try SafeTensorsFile.read(contentsOf: url) }
    }()

    static func tensor(_ key: String) throws -> Tensor {
        try #require(try file.get().tensors[key], "no tensor '\(key)' in metrics.safetensors")
    }

    /// A float64 value (or JSON) the script stored in `__metadata__`.
    static func metadata(_ key: String) throws -> String {
        try #require(try file.get().metadata[key], "no metadata '\(key)' in metrics.safetensors")
    }
}

/// |a − e| ≤ tolerance·|e| for doubles, with a message naming `label`.
func expectRelative(
    _ actual: Double, _ expected: Double, _ tolerance: Double, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        abs(actual - expected) <= tolerance * abs(expected),
        "\(label): \(actual) vs expected \(expected) (relative error \(relativeError(actual, expected)))",
        sourceLocation: sourceLocation)
}

/// Parameters as a pure function of their state-dict key and element index, bit for bit the
/// values `hashed_value` in make_metrics_fixtures.py gives: SplitMix64 of FNV-1a(key) + (i + 1)·φ,
/// top 24 bits as 2u − 1 (exact in Float32), then He-uniform convolutions, near-identity batch norm.
enum HashedWeights {
    static func fnv1a(_ key: String) -> UInt64 {
        key.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }

    static func value(_ key: String, shape: [Int]) -> Tensor {
        let seed = fnv1a(key)
        let count = shape.reduce(1, *)
        let fanIn = shape.dropFirst().reduce(1, *)
        let (multiplier, offset): (Float, Float?) =
            key.hasSuffix("running_var") || key.hasSuffix("bn.weight")
            ? (0.25, 1)
            : key.hasSuffix("bias") || key.hasSuffix("running_mean")
                ? (0.125, nil)
                : (Float(((shape.count == 4 ? 6.0 : 3.0) / Double(fanIn)).squareRoot()), nil)
        let scalars = (0..<count).map { i -> Float in
            var z = seed &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let v = Float(2 * Int64(z >> 40) - (1 << 24)) / Float(1 << 24)
            return offset.map { $0 + multiplier * v } ?? v * multiplier
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Values for every parameter of `layer`, keyed as it names them.
    static func stateDictionary(for layer: any Layer) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: layer.namedParameters().map { ($0.key, value($0.key, shape: $0.parameter.shape)) })
    }
}
