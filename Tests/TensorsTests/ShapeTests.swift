import Tensors
import TestSupport
import Testing

// Tensor+Shape.swift: reshape, permute, transpose, broadcast, concatenate, slice.

@Suite("Shape (reshape, permute, broadcast_to, cat, slicing)")
struct ShapeTests {
    static let cases: [OpCase] = [
        OpCase("reshape") { $0[0].reshaped(to: [4, 6]) },
        OpCase("reshape_inferred") { $0[0].reshaped(to: [3, -1, 2]) },
        OpCase("permute_201") { $0[0].permuted([2, 0, 1]) },
        OpCase("permute_0213") { $0[0].permuted([0, 2, 1, 3]) },
        OpCase("transpose") { $0[0].transposed() },
        OpCase("broadcast_to") { $0[0].broadcasted(to: [2, 3, 4]) },
        OpCase("concat_axis0") { Tensor.concatenated($0, alongAxis: 0) },
        OpCase("concat_axis1") { Tensor.concatenated($0, alongAxis: 1) },
        OpCase("concat_axis2_three") { Tensor.concatenated($0, alongAxis: 2) },
        OpCase("slice_axis1") { $0[0].sliced(alongAxis: 1, 1..<4) },
        OpCase("slice_axis0") { $0[0].sliced(alongAxis: 0, 2..<3) },
        OpCase("slice_axis2") { $0[0].sliced(alongAxis: 2, 0..<2) },
    ]

    @Test("value and input gradients match PyTorch", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("autodiff gradient matches central finite differences", arguments: cases)
    func matchesFiniteDifferences(_ c: OpCase) throws { try expectFiniteDifferencesMatch(c) }

    @Test("reshape keeps row-major order and infers one -1 dimension")
    func reshapeOrder() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let y = x.reshaped(to: [3, -1])
        #expect(y.shape == [3, 2])
        #expect(y.scalars == x.scalars)
        #expect(x.reshaped(to: [6]).shape == [6])
    }

    @Test("permute puts input axis permutation[d] at output axis d; permuting back restores the input")
    func permuteRoundTrip() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(x.transposed().scalars == [1, 4, 2, 5, 3, 6])
        let y = standardNormal([2, 3, 4, 5], seed: 51)
        let p = y.permuted([3, 1, 0, 2])
        #expect(p.shape == [5, 3, 2, 4])
        #expect(p.permuted([2, 1, 3, 0]).scalars == y.scalars)
    }

    @Test("slicing then concatenating the pieces restores the tensor")
    func sliceConcatRoundTrip() {
        let x = standardNormal([2, 5, 3], seed: 52)
        let pieces = [0..<2, 2..<3, 3..<5].map { x.sliced(alongAxis: 1, $0) }
        #expect(Tensor.concatenated(pieces, alongAxis: 1).scalars == x.scalars)
        #expect(x.sliced(alongAxis: 1, 2..<2).shape == [2, 0, 3])
    }

    @Test("broadcast_to copies along new and size-1 axes")
    func broadcastValues() {
        let x = Tensor(shape: [2, 1], scalars: [1, 2])
        #expect(x.broadcasted(to: [2, 2, 3]).scalars == [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
    }
}
