import Foundation
import Metrics
import NN
import SafeTensors
import Tensors
import TestSupport
import Testing

/// The FID Inception-v3 against pytorch-fid's classes on the same (hashed) weights.
@Suite("FID Inception-v3 equals pytorch-fid", .serialized)
struct FIDInceptionV3Tests {
    struct BlockCase: Sendable, CustomTestStringConvertible {
        let name: String
        let make: @Sendable () -> (layer: any Layer, forward: (Tensor) -> Tensor)
        var testDescription: String { "Inception block \(name)" }
    }

    static let blocks: [BlockCase] = [
        BlockCase(name: "A") {
            let b = FIDInceptionA(inputChannels: 8, poolFeatures: 4)
            return (b, { b($0) })
        },
        BlockCase(name: "B") {
            let b = InceptionB(inputChannels: 8)
            return (b, { b($0) })
        },
        BlockCase(name: "C") {
            let b = FIDInceptionC(inputChannels: 8, channels7x7: 4)
            return (b, { b($0) })
        },
        BlockCase(name: "D") {
            let b = InceptionD(inputChannels: 8)
            return (b, { b($0) })
        },
        BlockCase(name: "E_1") {
            let b = FIDInceptionE(inputChannels: 8, pooling: .average)
            return (b, { b($0) })
        },
        BlockCase(name: "E_2") {
            let b = FIDInceptionE(inputChannels: 8, pooling: .max)
            return (b, { b($0) })
        },
    ]

    @Test("block output equals torch to 1e-5 relative (keys load strictly)", arguments: blocks)
    func block(_ c: BlockCase) throws {
        let (layer, forward) = c.make()
        try layer.load(HashedWeights.stateDictionary(for: layer))
        let expected = try MetricsFixtures.tensor("block_\(c.name)/y")
        let y = withoutGradients { forward(try! MetricsFixtures.tensor("block_\(c.name)/x")) }
        try #require(y.shape == expected.shape, "shape \(y.shape), expected \(expected.shape)")
        #expect(relativeError(y, expected) < 1e-5, "block \(c.name): relative error \(relativeError(y, expected))")
    }

    @Test("parameter keys and shapes equal the state dict of pt_inception-2015-12-05-6726825d.pth")
    func keysAndShapes() throws {
        let data = try Data(contentsOf: try MetricsFixtures.url("inception_keys", "json"))
        let pairs = try #require(try JSONSerialization.jsonObject(with: data) as? [[Any]])
        let expected = Dictionary(uniqueKeysWithValues: pairs.map { ($0[0] as! String, ($0[1] as! [Int])) })
        let ours = Dictionary(uniqueKeysWithValues: FIDInceptionV3().namedParameters().map { ($0.key, $0.parameter.shape) })
        #expect(Set(ours.keys).subtracting(expected.keys).sorted() == [])
        #expect(Set(expected.keys).subtracting(ours.keys).sorted() == [])
        for (key, shape) in expected where ours[key] != nil { #expect(ours[key] == shape, "\(key)") }
        #expect(expected.count == 472)
        #expect(expected["Conv2d_1a_3x3.conv.weight"] == [32, 3, 3, 3] && expected["fc.weight"] == [1008, 2048])
    }

    @Test("pool features and logits of the full network equal pytorch-fid's InceptionV3 to 1e-4 relative")
    func endToEnd() throws {
        let network = FIDInceptionV3()
        var state = HashedWeights.stateDictionary(for: network)
        state["Conv2d_1a_3x3.bn.num_batches_tracked"] = Tensor(0)  // ignored, as eval mode ignores it
        try network.load(state, source: "hashed weights")
        let x = try MetricsFixtures.tensor("inception/x")
        let (pool, logits) = network.features(x)
        let (pool01, _) = network.features((x + 1) * 0.5, range: .zeroToOne)
        let expectedPool = try MetricsFixtures.tensor("inception/pool")
        let expectedLogits = try MetricsFixtures.tensor("inception/logits")
        #expect(pool.shape == [2, 2048] && logits.shape == [2, 1008])
        let errors = (
            pool: relativeError(pool, expectedPool), logits: relativeError(logits, expectedLogits),
            pool01: relativeError(pool01, expectedPool),
            torch32: relativeError(try MetricsFixtures.tensor("inception/pool_f32"), expectedPool)
        )
        print(
            "FID Inception parity (max |Δ| / max |ref|, float64 reference): pool \(errors.pool), logits \(errors.logits), "
                + "[0,1] input \(errors.pool01); torch float32 pool \(errors.torch32)")
        #expect(errors.pool < 1e-4 && errors.logits < 1e-4 && errors.pool01 < 1e-4, "\(errors)")
    }

    @Test("a missing weights file names pt_inception-2015-12-05-6726825d.pth and where it is published")
    func missingWeights() throws {
        let url = URL(fileURLWithPath: "/nonexistent/pt_inception-2015-12-05-6726825d.pth")
        #expect(throws: MetricsError.weightsNotFound(path: url.path)) { try FIDInceptionV3(contentsOf: url) }
        let message = MetricsError.weightsNotFound(path: url.path).description
        #expect(
            message == """
                /nonexistent/pt_inception-2015-12-05-6726825d.pth: no such file. FID and IS need the FID Inception \
                weights pt_inception-2015-12-05-6726825d.pth, published with pytorch-fid's GitHub release 'fid_weights' \
                at https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth \
                (nothing is downloaded by this program). Download it there, or convert it to safetensors, and pass its path.
                """)
    }

    @Test("weights from a safetensors file load; wrong ones are reported key by key")
    func loadingFromSafeTensors() throws {
        let directory = try temporaryDirectory("metrics-tests")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.safetensors")
        try SafeTensorsFile(tensors: ["fc.weight": .zeros([1000, 2048]), "extra": .zeros([1])]).write(to: url)
        do {
            _ = try FIDInceptionV3(contentsOf: url)
            Issue.record("loading succeeded")
        } catch {
            guard case .weightsDoNotMatch(let path, let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(path == url.path)
            #expect(
                reason.contains("Missing 471 parameters") && reason.contains("extra")
                    && reason.contains("Parameter fc.weight: expected shape [1008, 2048], found [1000, 2048]"))
        }
        let pth = directory.appendingPathComponent("pt_inception-2015-12-05-6726825d.pth")
        _ = FileManager.default.createFile(atPath: pth.path, contents: Data([0x50, 0x4B]))
        #expect {
            _ = try FIDInceptionV3(contentsOf: pth)
        } throws: { error in
            guard case .cannotReadWeights(let path, let reason)? = error as? MetricsError else { return false }
            return path == pth.path && !reason.isEmpty
        }
        let onnx = directory.appendingPathComponent("inception.onnx")
        _ = FileManager.default.createFile(atPath: onnx.path, contents: Data([0]))
        #expect(throws: MetricsError.unsupportedWeightsFormat(path: onnx.path)) { try FIDInceptionV3(contentsOf: onnx) }
    }

    @Test("a torch.save .pth state dict (BasicConv2d, num_batches_tracked included) reads and runs as in torch")
    func loadingFromTorchSave() throws {
        let state = try FIDInceptionV3.stateDictionary(contentsOf: try MetricsFixtures.url("basic_conv", "pth"))
        let reference = try SafeTensorsFile.read(contentsOf: try MetricsFixtures.url("basic_conv", "safetensors")).tensors
        #expect(
            state.keys.sorted() == ["bn.bias", "bn.num_batches_tracked", "bn.running_mean", "bn.running_var", "bn.weight", "conv.weight"])
        for (key, value) in state where key != "bn.num_batches_tracked" {
            let expected = try #require(reference[key], "\(key)")
            #expect(value.shape == expected.shape && value.scalars == expected.scalars, "\(key)")
        }
        let layer = BasicConv2d(3, 4, kernel: 3, padding: 1)
        try layer.load(state.filter { !$0.key.hasSuffix("num_batches_tracked") })
        let x = try #require(reference["x"])
        let expected = try #require(reference["y"])
        let y = withoutGradients { layer(x) }
        #expect(relativeError(y, expected) < 1e-5, "relative error \(relativeError(y, expected))")
    }
}
