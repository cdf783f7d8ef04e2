import Tensors
import Testing

/// The ops the FID Inception adds to Tensors, against PyTorch (float64 reference, Fixtures/metrics.safetensors).
@Suite("Pooling, bilinear resize and ReLU equal PyTorch")
struct PoolingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let op: @Sendable (Tensor) -> Tensor
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "maxpool_k3s2") { $0.maxPooled(kernelSize: 3, stride: 2) },
        Case(name: "maxpool_k3s1p1") { $0.maxPooled(kernelSize: 3, stride: 1, padding: 1) },
        Case(name: "avgpool_k3s1p1_exclude") { $0.averagePooled(kernelSize: 3, stride: 1, padding: 1, countingPadding: false) },
        Case(name: "avgpool_k3s1p1_include") { $0.averagePooled(kernelSize: 3, stride: 1, padding: 1, countingPadding: true) },
        Case(name: "avgpool_k3s2") { $0.averagePooled(kernelSize: 3, stride: 2, countingPadding: false) },
        Case(name: "global_avgpool") { $0.mean(alongAxes: [2, 3]) },
        Case(name: "resize_up_13x11") { $0.resizedBilinearly(height: 13, width: 11) },
        Case(name: "resize_down_6x7") { $0.resizedBilinearly(height: 6, width: 7) },
        Case(name: "resize_299") { $0.resizedBilinearly(height: 299, width: 299) },
        Case(name: "relu") { $0.relu() },
    ]

    @Test("op equals torch (float64) to 2e-6 on inputs in [-1, 1]", arguments: cases)
    func op(_ c: Case) throws {
        let x = try MetricsFixtures.tensor("\(c.name)/x")
        let expected = try MetricsFixtures.tensor("\(c.name)/y")
        let y = withoutGradients { c.op(x) }
        #expect(y.shape == expected.shape)
        guard y.shape == expected.shape else { return }
        #expect(y.maxAbsoluteDifference(expected) <= 2e-6, "\(c.name): max difference \(y.maxAbsoluteDifference(expected))")
    }

    @Test("resizing to the same size is the identity")
    func resizeIdentity() throws {
        let x = try MetricsFixtures.tensor("maxpool_k3s2/x")
        #expect(x.resizedBilinearly(height: x.shape[2], width: x.shape[3]).maxAbsoluteDifference(x) == 0)
    }

    @Test("ReLU's gradient is the step function (0 at 0)")
    func reluGradient() {
        let x = Tensor(shape: [4], scalars: [-1, 0, 0.5, 2]).requiringGradient()
        let g = gradients(of: (x.relu() * Tensor(shape: [4], scalars: [1, 2, 3, 4])).sum(), withRespectTo: [x])[0]
        #expect(g.scalars == [0, 0, 3, 4])
    }

    @Test("pooling refuses to be recorded for autodiff (inference only) and names the op")
    func refusesGradients() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 1, 4, 4]).requiringGradient().maxPooled(kernelSize: 3, stride: 2)
        }
        let standardError = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(standardError.contains("[maxPooled] has no gradient; call it inside withoutGradients { … }"), "\(standardError)")
        let y = withoutGradients { Tensor.zeros([1, 1, 4, 4]).requiringGradient().resizedBilinearly(height: 2, width: 2) }
        #expect(y.shape == [1, 1, 2, 2])
    }

    @Test("a window that does not fit stops with the op, sizes and input shape")
    func windowTooLarge() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 2, 2, 2]).averagePooled(kernelSize: 3, stride: 1, countingPadding: false)
        }
        let standardError = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        #expect(standardError.contains("[averagePooled] a 3×3 window with padding 0 does not fit input [1, 2, 2, 2]"), "\(standardError)")
    }
}
