import Tensors

/// max |actual − expected| / max |expected|: the error relative to the scale of the reference, so
/// one tolerance fits tensors of any magnitude. `floor` bounds the scale from below, for references
/// that can be near zero everywhere (1 compares such tensors absolutely).
public func relativeError(_ actual: Tensor, _ expected: Tensor, floor: Float = .leastNormalMagnitude) -> Float {
    precondition(actual.shape == expected.shape, "relativeError: shapes \(actual.shape) and \(expected.shape) differ")
    let scale = expected.scalars.reduce(0) { max($0, abs($1)) }
    return actual.maxAbsoluteDifference(expected) / max(scale, floor)
}

/// |actual − expected| / |expected| for scalars (|expected| bounded below by `floor`).
public func relativeError(_ actual: Double, _ expected: Double, floor: Double = .leastNormalMagnitude) -> Double {
    abs(actual - expected) / max(abs(expected), floor)
}

/// The largest per-tensor `relativeError` over the keys of `expected` (less those `excluding`
/// names), with the key where it occurs; a key missing from `actual` counts as infinitely wrong.
public func maxRelativeError(
    _ actual: [String: Tensor], _ expected: [String: Tensor],
    excluding: (String) -> Bool = { _ in false }
) -> (error: Float, key: String) {
    var worst: (error: Float, key: String) = (0, "")
    for key in expected.keys.sorted() where !excluding(key) {
        guard let a = actual[key], let e = expected[key], a.shape == e.shape else { return (.infinity, key) }
        let error = relativeError(a, e)
        if !(error <= worst.error) { worst = (error, key) }
    }
    return worst
}

/// max |actual − expected| over every tensor / max |expected| over every tensor: the error of a
/// whole network's parameters relative to their overall scale.
public func globalRelativeError(
    _ actual: [String: Tensor], _ expected: [String: Tensor],
    excluding: (String) -> Bool = { _ in false }
) -> Float {
    var (difference, scale): (Float, Float) = (0, 0)
    for (key, e) in expected where !excluding(key) {
        guard let a = actual[key], a.shape == e.shape else { return .infinity }
        difference = max(difference, a.maxAbsoluteDifference(e))
        scale = e.scalars.reduce(scale) { max($0, abs($1)) }
    }
    return difference / max(scale, .leastNormalMagnitude)
}

/// Attention key biases (`….to_k.bias`): softmax is unchanged when every logit of a row moves by
/// the same q·b, so their gradient is zero in exact arithmetic and what Adam does with them is
/// driven by rounding noise alone (m/√v of noise is O(1)). Parity checks leave them out.
public func isAttentionKeyBias(_ key: String) -> Bool { key.hasSuffix(".to_k.bias") }
