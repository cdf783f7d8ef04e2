import Tensors
import TestSupport
import Testing

// Tensor+Convolution.swift: conv2d (PyTorch cross-correlation, TF-SAME asymmetric padding) and
// nearest-neighbour 2x upsampling.

@Suite("Convolution (F.conv2d, F.interpolate nearest)")
struct ConvolutionTests {
    static let sameStride2 = Padding2D(top: 0, bottom: 1, left: 0, right: 1)

    static let cases: [OpCase] = [
        OpCase("conv_k1_s1_p0_bias", accumulating: true) { conv2d($0[0], weight: $0[1], bias: $0[2]) },
        OpCase("conv_k1_s2_p0_nobias", accumulating: true) { conv2d($0[0], weight: $0[1], stride: 2) },
        OpCase("conv_k3_s1_p0_bias", accumulating: true) { conv2d($0[0], weight: $0[1], bias: $0[2]) },
        OpCase("conv_k3_s1_p1_bias", accumulating: true) { conv2d($0[0], weight: $0[1], bias: $0[2], padding: .uniform(1)) },
        OpCase("conv_k3_s1_p1_nobias", accumulating: true) { conv2d($0[0], weight: $0[1], padding: .uniform(1)) },
        OpCase("conv_k3_s2_p1_bias", accumulating: true) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: .uniform(1))
        },
        OpCase("conv_k3_s2_p1_nobias_odd", accumulating: true) { conv2d($0[0], weight: $0[1], stride: 2, padding: .uniform(1)) },
        OpCase("conv_k3_s2_same_bias", accumulating: true) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: sameStride2)
        },
        OpCase("conv_k3_s2_same_nobias", accumulating: true) { conv2d($0[0], weight: $0[1], stride: 2, padding: sameStride2) },
        OpCase("upsample_nearest2x") { $0[0].upsampledNearest2x() },
    ]

    @Test("value and input gradients match PyTorch", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("autodiff gradient matches central finite differences", arguments: cases)
    func matchesFiniteDifferences(_ c: OpCase) throws { try expectFiniteDifferencesMatch(c) }

    @Test("a 3x3 kernel of ones with padding 1 sums each 3x3 neighbourhood (cross-correlation, zero padding)")
    func boxFilter() {
        let x = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
        let y = conv2d(x, weight: .ones([1, 1, 3, 3]), padding: .uniform(1))
        #expect(y.shape == [1, 1, 3, 3])
        // Winograd kernels (stride-1 3×3 on AVX-512) round where direct ones are exact: 1e-4.
        #expect(zip(y.scalars, [12, 21, 16, 27, 45, 33, 24, 39, 28] as [Float]).allSatisfy { abs($0 - $1) < 1e-4 }, "\(y.scalars)")
    }

    @Test("the kernel is not flipped: a one-hot kernel at (0, 0) shifts the image by one pixel")
    func crossCorrelation() {
        let x = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
        let w = Tensor(shape: [1, 1, 3, 3], scalars: [1, 0, 0, 0, 0, 0, 0, 0, 0])
        let y = conv2d(x, weight: w, padding: .uniform(1)).scalars
        #expect(zip(y, [0, 0, 0, 0, 1, 2, 0, 4, 5] as [Float]).allSatisfy { abs($0 - $1) < 1e-4 }, "\(y)")
    }

    @Test("TF-SAME stride 2 on an even size halves it: [1,1,8,8] → [1,1,4,4]; padding 1 gives the same shape")
    func outputShapes() {
        let x = Tensor.zeros([1, 1, 8, 8])
        let w = Tensor.zeros([2, 1, 3, 3])
        #expect(conv2d(x, weight: w, stride: 2, padding: Self.sameStride2).shape == [1, 2, 4, 4])
        #expect(conv2d(x, weight: w, stride: 2, padding: .uniform(1)).shape == [1, 2, 4, 4])
        #expect(conv2d(x, weight: w, padding: .uniform(1)).shape == [1, 2, 8, 8])
        #expect(conv2d(x, weight: w).shape == [1, 2, 6, 6])
    }

    @Test("a batch larger than the thread count (per-image parallel path) matches image by image")
    func batchMatchesPerImage() {
        let x = standardNormal([5, 2, 5, 5], seed: 31)
        let w = standardNormal([3, 2, 3, 3], seed: 32)
        let b = standardNormal([3], seed: 33)
        let y = conv2d(x, weight: w, bias: b, padding: .uniform(1))
        for n in 0..<5 {
            let yn = conv2d(x.sliced(alongAxis: 0, n..<n + 1), weight: w, bias: b, padding: .uniform(1))
            expectClose(y.sliced(alongAxis: 0, n..<n + 1), yn, absoluteTolerance: 1e-6, "image \(n)")
        }
    }

    @Test("nearest upsampling repeats each pixel in a 2x2 block")
    func upsampleValues() {
        let x = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        #expect(x.upsampledNearest2x().scalars == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }
}
