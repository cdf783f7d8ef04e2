import TensorKernels
import Tensors
import TestSupport
import Testing

@Suite("Convolution profile")
struct ConvolutionProfileTests {
    @Test("records each pass of a convolution under its shape and path while on, nothing while off")
    func recordsPasses() {
        // A shape no other test uses, so concurrent tests cannot add to its entries.
        let x = standardNormal([1, 7, 3, 11], seed: 81).requiringGradient()
        let w = standardNormal([5, 7, 3, 3], seed: 82).requiringGradient()
        ConvolutionProfile.record(true)
        let y = conv2d(x, weight: w, padding: .uniform(1))
        _ = gradients(of: y.sum(), withRespectTo: [x, w])
        ConvolutionProfile.record(false)
        _ = conv2d(x, weight: w, padding: .uniform(1))
        let ours = ConvolutionProfile.snapshot.filter { $0.key.hasPrefix("7→5 3×3/1 at 3×11, batch 1, ") }
        #expect(ours.count == 3, "entries: \(ours.keys.sorted())")
        for pass in ["forward", "backwardData", "backwardWeight"] {
            let entry = ours.first { $0.key.contains(", \(pass) [") }?.value
            #expect(entry?.calls == 1, "\(pass): \(String(describing: entry))")
            #expect((entry?.seconds ?? 0) > 0, "\(pass): no time recorded")
        }
    }
}
