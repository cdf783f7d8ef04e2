import TensorKernels

/// An N-dimensional Float32 array with value semantics and reverse-mode autodiff.
///
/// Storage is contiguous and row-major; images are `[N, C, H, W]`. A tensor made from inputs of
/// which one requires a gradient records how it was made (see `Autodiff.swift`), unless recording
/// is switched off with `withoutGradients(_:)`.
///
/// `@unchecked Sendable`: `Storage` is written only while one tensor holds it (kernel outputs
/// before they are returned, `withMutableBuffer` after its uniqueness check), so sharing is
/// copy-on-write as for `Array`; the graph node's one mutable field is taken under a lock.
public struct Tensor: CustomStringConvertible, @unchecked Sendable {
    /// The size of each dimension, outermost first.
    public let shape: [Int]
    package private(set) var storage: Storage
    package let node: Node?

    package init(shape: [Int], storage: Storage, node: Node? = nil) {
        precondition(
            storage.count == shape.reduce(1, *),
            "[Tensor] \(storage.count) scalars cannot have shape \(shape)")
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// A tensor holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "[Tensor] negative dimension in \(shape)")
        precondition(
            scalars.count == shape.reduce(1, *),
            "[Tensor] shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.init(shape: shape, storage: Storage(copying: scalars))
    }

    /// A rank-0 tensor.
    public init(_ value: Float) { self.init(shape: [], storage: Storage(repeating: value, count: 1)) }

    /// A tensor of `shape` with every element equal to `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, storage: Storage(repeating: value, count: shape.reduce(1, *)))
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Uninitialised result buffer for kernels.
    package static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage(uninitializedCount: shape.reduce(1, *)))
    }

    public var rank: Int { shape.count }
    public var scalarCount: Int { storage.count }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(storage.buffer) }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(scalarCount == 1, "[scalar] tensor of shape \(shape) has \(scalarCount) elements, expected 1")
        return storage.pointer[0]
    }

    /// Element at a flat row-major offset.
    public subscript(flat index: Int) -> Float {
        precondition(index >= 0 && index < scalarCount, "[subscript] index \(index) out of range for shape \(shape)")
        return storage.pointer[index]
    }

    /// Read access to the elements for kernels and I/O inside the package.
    package func withBuffer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(storage.buffer))
    }

    /// In-place update (copy-on-write); keeps the autodiff identity, as optimizers need.
    package mutating func withMutableBuffer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = Storage(uninitializedCount: storage.count)
            copy.pointer.update(from: storage.pointer, count: storage.count)
            storage = copy
        }
        return try body(storage.buffer)
    }

    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(scalarCount > 8 ? ", …" : "")])"
    }
}

extension Tensor {
    /// Largest absolute elementwise difference; shapes must match.
    public func maxAbsoluteDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "[maxAbsoluteDifference] shapes differ: \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<scalarCount { m = max(m, abs(storage.pointer[i] - other.storage.pointer[i])) }
        return m
    }
}

extension Tensor {
    /// A tensor whose elements `fill` writes directly (for readers that convert from files).
    package static func filled(shape: [Int], _ fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows -> Tensor {
        let t = Tensor.uninitialized(shape)
        try fill(t.storage.buffer)
        return t
    }
}
