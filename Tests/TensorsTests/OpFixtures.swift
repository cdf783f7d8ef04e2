import Foundation
import SafeTensors
import Tensors
import Testing

// The table-driven check of every op against PyTorch (Fixtures/ops.safetensors, written by
// scripts/reference/make_op_fixtures.py), in the manner of tinygrad's helper_test_op: one line
// per op, value and input gradients under the same cotangent as the reference.

/// One op compared with its PyTorch fixture `name`: `op` maps the fixture inputs x0, x1, … to y.
struct OpCase: Sendable, CustomTestStringConvertible {
    let name: String
    let absoluteTolerance: Float
    let relativeTolerance: Float
    let op: @Sendable ([Tensor]) -> Tensor

    /// Tolerances of float32 elementwise ops against a float64 reference.
    static let elementwise: (absolute: Float, relative: Float) = (1e-5, 1e-5)
    /// Tolerances of ops that sum many products (GEMM, convolution, normalisation).
    static let accumulating: (absolute: Float, relative: Float) = (1e-4, 1e-5)

    init(_ name: String, accumulating: Bool = false, _ op: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.name = name
        let tolerance = accumulating ? Self.accumulating : Self.elementwise
        (absoluteTolerance, relativeTolerance) = (tolerance.absolute, tolerance.relative)
        self.op = op
    }

    var testDescription: String { name }
}

enum OpFixtures {
    /// The fixture file, read once.
    static let file: Result<SafeTensorsFile, SafeTensorsError> = {
        guard let url = Bundle.module.url(forResource: "ops", withExtension: "safetensors", subdirectory: "Fixtures") else {
            return .failure(.cannotOpen(path: "Fixtures/ops.safetensors", reason: "not in the test bundle"))
        }
        return Result { () throws(SafeTensorsError) in try SafeTensorsFile.read(contentsOf: url) }
    }()

    /// Inputs x0, x1, … of fixture `name`, in order.
    static func inputs(of name: String) throws -> [Tensor] {
        let file = try file.get()
        var inputs: [Tensor] = []
        while let x = file.tensors["\(name)/x\(inputs.count)"] { inputs.append(x) }
        try #require(!inputs.isEmpty, "no fixture named '\(name)' in ops.safetensors")
        return inputs
    }

    /// `name/key` from the fixture file, or nil.
    static func tensor(_ name: String, _ key: String) throws -> Tensor? {
        try file.get().tensors["\(name)/\(key)"]
    }
}

/// Expects `actual` ≈ `expected` elementwise: |a − e| ≤ absoluteTolerance + relativeTolerance·|e|.
/// On failure names `label`, the worst index and both values.
func expectClose(
    _ actual: Tensor, _ expected: Tensor, absoluteTolerance: Float, relativeTolerance: Float = 0, _ label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.shape == expected.shape else {
        Issue.record("\(label): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    let a = actual.scalars
    let e = expected.scalars
    var worst: (index: Int, excess: Float)? = nil
    for i in a.indices {
        let allowed = absoluteTolerance + relativeTolerance * abs(e[i])
        let error = abs(a[i] - e[i])
        if !(error <= allowed), worst.map({ error - allowed > $0.excess }) ?? true { worst = (i, error - allowed) }
    }
    if let (i, _) = worst {
        Issue.record(
            """
            \(label): element \(i) of shape \(expected.shape) is \(a[i]), expected \(e[i]) \
            (|difference| \(abs(a[i] - e[i])) > \(absoluteTolerance) + \(relativeTolerance)·|expected|)
            """, sourceLocation: sourceLocation)
    }
}

/// Runs `c.op` on the fixture inputs and compares its output, and the gradient of
/// Σ op(inputs) · dy with respect to each input that has a reference gradient, with PyTorch.
func expectMatchesPyTorch(_ c: OpCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let inputs = try OpFixtures.inputs(of: c.name)
    let expected = try #require(try OpFixtures.tensor(c.name, "y"), "fixture '\(c.name)' has no output")
    let y = withoutGradients { c.op(inputs) }
    expectClose(
        y, expected, absoluteTolerance: c.absoluteTolerance, relativeTolerance: c.relativeTolerance,
        "[\(c.name)] output", sourceLocation: sourceLocation)

    guard let dy = try OpFixtures.tensor(c.name, "dy") else { return }
    let references = try inputs.indices.map { try OpFixtures.tensor(c.name, "dx\($0)") }
    let variables = inputs.map { $0.requiringGradient() }
    let wanted = inputs.indices.filter { references[$0] != nil }
    let grads = gradients(of: (c.op(variables) * dy).sum(), withRespectTo: wanted.map { variables[$0] })
    for (i, g) in zip(wanted, grads) {
        expectClose(
            g, references[i]!, absoluteTolerance: c.absoluteTolerance, relativeTolerance: c.relativeTolerance,
            "[\(c.name)] gradient of input \(i)", sourceLocation: sourceLocation)
    }
}

/// Checks the autodiff gradient of `c.op` at the fixture inputs against central finite differences
/// (the op must be differentiable in every input).
func expectFiniteDifferencesMatch(_ c: OpCase, tolerance: Double = 2e-3, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let inputs = try OpFixtures.inputs(of: c.name)
    expectGradientsMatchFiniteDifferences(inputs, tolerance: tolerance, sourceLocation: sourceLocation, c.op)
}
