import Foundation
import Pipelines
import Tensors
import TestSupport
import Testing

/// `pretrained/fashion-mnist-conditional`: what the README promises of it.
@Suite("Shipped conditional Fashion-MNIST model")
struct ShippedConditionalModelTests {
    static let directory = CommandLineTool.packageRoot.appendingPathComponent("pretrained/fashion-mnist-conditional")
    static let isAvailable = FileManager.default.fileExists(atPath: directory.appendingPathComponent("model_index.json").path)

    @Test(
        "ten named Fashion-MNIST classes plus the null label, and the class changes what is drawn",
        .enabled(if: isAvailable, "needs pretrained/fashion-mnist-conditional (a checkout with the shipped model)"))
    func classes() throws {
        let model = try LoadedModel(Self.directory.path)
        let c = model.unet.configuration
        #expect(c.classCount == 10)
        #expect(c.numClassEmbeds == 11 && c.nullClassLabel == 10)
        let names = (0..<10).map { c.className($0) }
        #expect(names == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
        let sneaker = try c.classLabel("sneaker")
        #expect(sneaker == 7)
        let pipeline = try model.pipeline()
        let sneakers = try pipeline.sample(class: 7, count: 2, guidanceScale: 2, sampler: .ddim(steps: 3, eta: 0), seed: 1)
        let bags = try pipeline.sample(class: 8, count: 2, guidanceScale: 2, sampler: .ddim(steps: 3, eta: 0), seed: 1)
        #expect(sneakers.shape == [2, 1, 32, 32])
        #expect(sneakers.scalars.allSatisfy { $0.isFinite })
        #expect(sneakers.maxAbsoluteDifference(bags) > 0.1, "the same noise with another class must give another image")
    }
}
