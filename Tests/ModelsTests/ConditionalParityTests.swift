import Foundation
import Models
import NN
import SafeTensors
import Tensors
import Testing

/// diffusers' three class embeddings of UNet2DModel (num_class_embeds table, "timestep",
/// "identity") against diffusers on the same weights (scripts/reference/make_conditional_unet_fixtures.py).
@Suite("Class-conditional U-Net parity with diffusers")
struct ConditionalParityTests {
    static func fixture(_ name: String) throws -> UNetParityTests.Fixture {
        try UNetParityTests.fixture("class_\(name)")
    }

    static func run(_ unet: UNet, _ f: UNetParityTests.Fixture, observe: ((String, Tensor) -> Void)? = nil) -> Tensor {
        unet.activationObserver = observe
        var rng = SeededGenerator(seed: 0)
        let t = f.tensor("timesteps").scalars.map { Double($0) }
        let labels = f.file.tensors["class_labels"].map { $0.scalars.map { Int($0) } }
        return unet(f.tensor("x"), timesteps: t, classLabels: labels, classEmbeddings: f.file.tensors["class_embeddings"], rng: &rng)
    }

    @Test("forward and every stage equal diffusers to 1e-4", arguments: ["table", "timestep", "identity"])
    func forward(_ name: String) throws {
        let f = try Self.fixture(name)
        let unet = try UNetParityTests.model(f)
        #expect(unet.parameterCount == Int(f.file.metadata["parameter_count"] ?? ""))
        #expect(unet.configuration.isClassConditional)
        var activations: [String: Tensor] = [:]
        let out = withoutGradients { Self.run(unet, f) { activations[$0] = $1 } }
        let diff = out.maxAbsoluteDifference(f.tensor("output"))
        print("class_embed \(name): max |swift − diffusers| = \(diff)")
        #expect(diff < 1e-4, "output differs by \(diff)")
        for key in f.file.tensors.keys.filter({ $0.hasPrefix("act.") }).sorted() {
            let ours = try #require(activations[String(key.dropFirst(4))])
            #expect(ours.maxAbsoluteDifference(f.tensor(key)) < 1e-4, "\(key) differs by \(ours.maxAbsoluteDifference(f.tensor(key)))")
        }
    }

    @Test("the class input changes the output (the embedding is really added)", arguments: ["table", "timestep"])
    func labelMatters(_ name: String) throws {
        let f = try Self.fixture(name)
        let unet = try UNetParityTests.model(f)
        var rng = SeededGenerator(seed: 0)
        let x = f.tensor("x")
        let t = f.tensor("timesteps").scalars.map { Double($0) }
        let a = withoutGradients { unet(x, timesteps: t, classLabels: [1, 1], rng: &rng) }
        let b = withoutGradients { unet(x, timesteps: t, classLabels: [2, 2], rng: &rng) }
        #expect(a.maxAbsoluteDifference(b) > 1e-4)
    }

    @Test("gradients of the class weights equal torch's to 1e-4 relative", arguments: ["table", "timestep"])
    func gradients(_ name: String) throws {
        let f = try Self.fixture(name)
        let unet = try UNetParityTests.model(f)
        let named = unet.namedParameters()
        let loss = meanSquaredError(Self.run(unet, f), f.tensor("target"))
        #expect(abs(loss.scalar - f.tensor("loss").scalar) <= 1e-5 * abs(f.tensor("loss").scalar))
        let keys = try JSONDecoder().decode([String].self, from: Data(f.file.metadata["grad_keys"]!.utf8))
        #expect(keys.contains { $0.hasPrefix("class_embedding.") })
        let grads = Tensors.gradients(of: loss, withRespectTo: named.map(\.parameter.value))
        let index = Dictionary(uniqueKeysWithValues: named.enumerated().map { ($0.element.key, $0.offset) })
        for key in keys {
            let i = try #require(index[key], "no parameter \(key)")
            let reference = f.tensor("grad.\(key)")
            let scale = max(reference.scalars.map(abs).max() ?? 0, 1e-12)
            #expect(
                grads[i].maxAbsoluteDifference(reference) <= 1e-4 * scale,
                "gradient \(key): diff \(grads[i].maxAbsoluteDifference(reference))")
        }
    }

    @Test("an unconditional network of a seed is unchanged by the class code")
    func unconditionalUnchanged() throws {
        var c = try Self.fixture("table").configuration
        let conditional = try UNet(c, seed: 7)
        c.numClassEmbeds = nil
        let plain = try UNet(c, seed: 7)
        #expect(plain.namedParameters().count + 1 == conditional.namedParameters().count)
        let a = plain.stateDictionary()
        let b = conditional.stateDictionary()
        for (key, value) in a { #expect(b[key]!.maxAbsoluteDifference(value) == 0, "\(key)") }
        #expect(b["class_embedding.weight"]?.shape == [4, 32])
    }

    @Test("gatheringRows scatter-adds repeated rows' gradients")
    func gatherGradient() {
        let table = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]).requiringGradient()
        let rows = table.gatheringRows([2, 0, 2])
        #expect(rows.scalars == [5, 6, 1, 2, 5, 6])
        let g = Tensors.gradients(of: (rows * Tensor(shape: [3, 2], scalars: [1, 1, 10, 10, 100, 100])).sum(), withRespectTo: [table])[0]
        #expect(g.scalars == [10, 10, 0, 0, 101, 101])
    }
}
