import Foundation
import Models
import NN
import Optimizers
import SafeTensors
import Tensors
import Testing

/// Layer-by-layer parity with diffusers' UNet2DModel on the same random weights
/// (fixtures from scripts/reference/make_unet_fixtures.py).
@Suite("U-Net parity with diffusers")
struct UNetParityTests {
    struct Fixture {
        let file: SafeTensorsFile
        let configuration: UNetConfiguration
        var parameters: [String: Tensor] {
            Dictionary(
                uniqueKeysWithValues: file.tensors.filter { $0.key.hasPrefix("param.") }.map { (String($0.key.dropFirst(6)), $0.value) })
        }
        func tensor(_ key: String) -> Tensor { file.tensors[key]! }
    }

    static func fixture(_ name: String) throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "unet_\(name)", withExtension: "safetensors", subdirectory: "Fixtures"))
        let file = try SafeTensorsFile.read(contentsOf: url)
        let json = try #require(file.metadata["config"]?.data(using: .utf8))
        return Fixture(file: file, configuration: try JSONDecoder().decode(UNetConfiguration.self, from: json))
    }

    static func model(_ f: Fixture) throws -> UNet {
        let unet = try UNet(f.configuration)
        try unet.load(f.parameters)
        return unet
    }

    @Test("forward and every stage equal diffusers to 1e-4", arguments: ["grey16", "rgb16"])
    func forward(_ name: String) throws {
        let f = try Self.fixture(name)
        let unet = try Self.model(f)
        #expect(unet.parameterCount == Int(f.file.metadata["parameter_count"] ?? ""))
        var activations: [String: Tensor] = [:]
        unet.activationObserver = { activations[$0] = $1 }
        var rng = SeededGenerator(seed: 0)
        let t = f.tensor("timesteps").scalars.map { Int($0) }
        let out = withoutGradients { unet(f.tensor("x"), timesteps: t, rng: &rng) }
        #expect(out.maxAbsoluteDifference(f.tensor("output")) < 1e-4, "output differs by \(out.maxAbsoluteDifference(f.tensor("output")))")
        let stages = f.file.tensors.keys.filter { $0.hasPrefix("act.") }.sorted()
        #expect(stages.count >= 5)
        for key in stages {
            let ours = try #require(activations[String(key.dropFirst(4))], "no activation recorded for \(key)")
            let diff = ours.maxAbsoluteDifference(f.tensor(key))
            #expect(diff < 1e-4, "\(key) differs by \(diff)")
        }
    }

    @Test("L_simple gradients and one Adam step equal torch's to 1e-4 relative", arguments: ["grey16", "rgb16"])
    func gradientsAndAdam(_ name: String) throws {
        let f = try Self.fixture(name)
        let unet = try Self.model(f)
        var rng = SeededGenerator(seed: 0)
        let named = unet.namedParameters()
        let parameters = named.map(\.parameter)
        let t = f.tensor("timesteps").scalars.map { Int($0) }
        let loss = meanSquaredError(unet(f.tensor("x"), timesteps: t, rng: &rng), f.tensor("target"))
        #expect(abs(loss.scalar - f.tensor("loss").scalar) <= 1e-5 * abs(f.tensor("loss").scalar))
        let grads = gradients(of: loss, withRespectTo: parameters.map(\.value))
        let keys = try JSONDecoder().decode([String].self, from: Data(f.file.metadata["grad_keys"]!.utf8))
        #expect(!keys.isEmpty)
        let index = Dictionary(uniqueKeysWithValues: named.enumerated().map { ($0.element.key, $0.offset) })
        for key in keys {
            let i = try #require(index[key])
            let reference = f.tensor("grad.\(key)")
            let scale = max(reference.scalars.map(abs).max() ?? 0, 1e-12)
            #expect(
                grads[i].maxAbsoluteDifference(reference) <= 1e-4 * scale,
                "gradient \(key): max diff \(grads[i].maxAbsoluteDifference(reference)), scale \(scale)")
        }
        // Adam on torch's own gradients, so the comparison isolates the optimiser.
        let selected = keys.map { parameters[index[$0]!] }
        Adam(learningRate: 2e-4).update(selected, gradients: keys.map { f.tensor("grad.\($0)") })
        for (key, parameter) in zip(keys, selected) {
            let before = f.tensor("param.\(key)")
            let reference = f.tensor("adam.\(key)")
            let ours = (parameter.value - before).detached()
            let theirs = (reference - before).detached()
            // 1e-4 of the step size lr, plus two float32 ulps of the parameter for the rounding of p − lr·m̂/√v̂.
            let tolerance = 1e-4 * 2e-4 + 2 * 1.2e-7 * (before.scalars.map(abs).max() ?? 0)
            #expect(ours.maxAbsoluteDifference(theirs) <= tolerance, "Adam step \(key) differs by \(ours.maxAbsoluteDifference(theirs))")
        }
    }

    @Test("presets have diffusers' parameter counts and key layout")
    func presetLayouts() throws {
        let url = try #require(Bundle.module.url(forResource: "unet_layouts", withExtension: "json", subdirectory: "Fixtures"))
        struct Layout: Decodable {
            let parameters: Int
            let keys: [String: [Int]]
        }
        let layouts = try JSONDecoder().decode([String: Layout].self, from: Data(contentsOf: url))
        for (name, config) in [("cifar10", UNetConfiguration.cifar10), ("celebahq256", .celebahq256)] {
            let layout = try #require(layouts[name])
            let unet = try UNet(config)
            #expect(unet.parameterCount == layout.parameters, "\(name): \(unet.parameterCount) parameters, diffusers \(layout.parameters)")
            let ours = Dictionary(uniqueKeysWithValues: unet.namedParameters().map { ($0.key, $0.parameter.shape) })
            #expect(ours == layout.keys, "\(name): key sets or shapes differ")
        }
        #expect(try UNet(.cifar10).parameterCount == 35_746_307)
    }
}
