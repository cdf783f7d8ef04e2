import Foundation
import TensorKernels

/// Reverse-mode automatic differentiation over a graph of `Node`s.
///
/// Each differentiable op stores, next to its result, a closure that maps the gradient of the
/// result to the gradients of its inputs (a vector-Jacobian product). `gradients(of:withRespectTo:)`
/// walks the graph once in reverse topological order. Nothing is recorded when no input requires
/// a gradient or inside `withoutGradients(_:)`, so inference keeps no activations.
package final class Node {
    /// Input nodes, aligned with the op's inputs (`nil` for inputs that need no gradient).
    let parents: [Node?]
    /// Gradients of the inputs given the result's gradient; `needs[i]` says whether input i wants one.
    /// Released once used, so the activations it captures are freed during the backward pass.
    private var pullback: ((Tensor, [Bool]) -> [Tensor?])?
    /// Guards `pullback`, the one mutable field: tensors are `Sendable`, so two threads may
    /// differentiate graphs that share nodes.
    private static let lock = NSLock()

    init(parents: [Node?], pullback: ((Tensor, [Bool]) -> [Tensor?])?) {
        self.parents = parents
        self.pullback = pullback
    }

    /// The pullback, released from the node unless `retaining`; nil once another pass consumed it.
    func takePullback(retaining: Bool) -> ((Tensor, [Bool]) -> [Tensor?])? {
        Node.lock.lock()
        defer { Node.lock.unlock() }
        let p = pullback
        if !retaining { pullback = nil }
        return p
    }
}

public enum GradientRecording {
    @TaskLocal static var isEnabled = true
}

/// Runs `body` without recording operations for autodiff (inference mode).
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientRecording.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// A leaf of the graph: gradients can be taken with respect to it.
    public func requiringGradient() -> Tensor {
        Tensor(shape: shape, storage: storage, node: Node(parents: [], pullback: nil))
    }

    /// Whether operations on this tensor are recorded.
    public var requiresGradient: Bool { node != nil }

    /// The same values, cut off from the graph.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Wraps a kernel result, recording `pullback` when an input requires a gradient.
    package static func result(
        _ value: Tensor, inputs: [Tensor], pullback: @escaping (Tensor, [Bool]) -> [Tensor?]
    ) -> Tensor {
        guard GradientRecording.isEnabled, inputs.contains(where: { $0.node != nil }) else { return value }
        return Tensor(
            shape: value.shape, storage: value.storage,
            node: Node(parents: inputs.map(\.node), pullback: pullback))
    }
}

/// Gradients of the scalar `loss` with respect to each of `variables` (zeros where unreachable).
///
/// As in PyTorch, the graph is consumed: each op's saved activations are released as soon as its
/// pullback has run, which bounds peak memory by what is still needed rather than by the whole
/// forward pass. Pass `retainingGraph: true` to differentiate the same graph again.
public func gradients(of loss: Tensor, withRespectTo variables: [Tensor], retainingGraph: Bool = false) -> [Tensor] {
    precondition(loss.scalarCount == 1, "[gradients] loss must have one element, got shape \(loss.shape)")
    return vectorJacobianProducts(
        of: loss, cotangent: Tensor(repeating: 1, shape: loss.shape), withRespectTo: variables,
        retainingGraph: retainingGraph)
}

/// cotangentᵀ · ∂output/∂variable for each variable: the reverse pass seeded with `cotangent`
/// (same shape as `output`) instead of 1.
package func vectorJacobianProducts(
    of output: Tensor, cotangent: Tensor, withRespectTo variables: [Tensor],
    retainingGraph: Bool = false
) -> [Tensor] {
    precondition(cotangent.shape == output.shape, "[gradients] cotangent \(cotangent.shape) does not match output \(output.shape)")
    guard let root = output.node else { return variables.map { .zeros($0.shape) } }

    // 1. Reverse topological order by iterative depth-first search.
    var order: [Node] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Node, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, next) = stack.popLast() {
        if next < node.parents.count {
            stack.append((node, next + 1))
            if let p = node.parents[next], visited.insert(ObjectIdentifier(p)).inserted { stack.append((p, 0)) }
        } else {
            order.append(node)
        }
    }

    // 2. Which nodes lead to a requested variable: only those get gradients.
    let targets = Set(variables.compactMap { $0.node.map(ObjectIdentifier.init) })
    var useful = Set<ObjectIdentifier>()
    for node in order {  // parents come before children in `order`
        let id = ObjectIdentifier(node)
        if targets.contains(id) || node.parents.contains(where: { $0.map { useful.contains(ObjectIdentifier($0)) } ?? false }) {
            useful.insert(id)
        }
    }

    // 3. Propagate, children before parents; intermediate gradients are dropped once used.
    var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): cotangent]
    withoutGradients {
        for node in order.reversed() {
            let id = ObjectIdentifier(node)
            guard let g = grads[id], let pullback = node.takePullback(retaining: retainingGraph) else { continue }
            if !targets.contains(id) { grads[id] = nil }
            let needs = node.parents.map { $0.map { useful.contains(ObjectIdentifier($0)) } ?? false }
            guard needs.contains(true) else { continue }
            let inputGrads = pullback(g, needs)
            for (parent, pg) in zip(node.parents, inputGrads) {
                guard let parent, let pg else { continue }
                let pid = ObjectIdentifier(parent)
                guard useful.contains(pid) else { continue }
                grads[pid] = grads[pid].map { $0 + pg } ?? pg
            }
        }
    }
    return variables.map { v in v.node.flatMap { grads[ObjectIdentifier($0)] } ?? .zeros(v.shape) }
}

extension Tensor {
    /// `body(inputs)` computed without keeping its intermediate activations (gradient
    /// checkpointing): the forward pass runs unrecorded, and the pullback runs `body` again with
    /// recording on to get the input gradients. Trades one extra forward of `body` for its
    /// activation memory. `body` must be deterministic (no dropout inside).
    public static func checkpointed(_ inputs: [Tensor], _ body: @escaping ([Tensor]) -> Tensor) -> Tensor {
        let output = withoutGradients { body(inputs) }
        return .result(output, inputs: inputs) { g, needs in
            let leaves = inputs.map { $0.detached().requiringGradient() }
            let recomputed = GradientRecording.$isEnabled.withValue(true) { body(leaves) }
            let wanted = leaves.enumerated().filter { needs[$0.offset] }
            let grads = vectorJacobianProducts(of: recomputed, cotangent: g, withRespectTo: wanted.map(\.element))
            var result = [Tensor?](repeating: nil, count: inputs.count)
            for (k, (i, _)) in wanted.enumerated() { result[i] = grads[k] }
            return result
        }
    }
}
