import Diffusion
import Foundation
import Models
import NN
import Pipelines
import Tensors
import TestSupport
import Testing

/// Classifier-free guidance: ε̂ = ε̂_∅ + w(ε̂_c − ε̂_∅) in one batched call, with every sampler.
@Suite("Classifier-free guidance")
struct ClassGuidanceTests {
    /// A tiny conditional network (3 named classes + the null label) with every weight random,
    /// so that ε̂ depends on x, t and the class (a fresh network's near-zero output layers would not).
    static func conditionalUNet(names: [String]? = ["bar", "stripe", "dot"], null: Bool = true) throws -> UNet {
        var c = Tiny.unet.withClasses(3, names: names)
        if !null { (c.numClassEmbeds, c.nullClassLabel) = (3, nil) }
        let unet = try UNet(c, seed: 3)
        var rng = SeededGenerator(seed: 9)
        for (_, p) in unet.namedParameters() { p.value = Tensor.randomNormal(p.shape, standardDeviation: 0.3, using: &rng) }
        return unet
    }

    static func inputs() -> (Tensor, [Double]) {
        var rng = SeededGenerator(seed: 4)
        return (Tensor.randomNormal([4, 1, 8, 8], using: &rng), [10, 500, 999, 0])
    }

    static func plain(_ unet: UNet, _ labels: [Int]) -> Tensor {
        var rng = SeededGenerator(seed: 0)
        let (x, t) = inputs()
        return withoutGradients { unet(x, timesteps: t, classLabels: labels, rng: &rng) }
    }

    static let labels = [0, 2, 1, 2]

    @Test("w = 1 is the conditional prediction and w = 0 the null label's")
    func endpoints() throws {
        let unet = try Self.conditionalUNet()
        let (x, t) = Self.inputs()
        let one = unet.noisePredictor(classes: ClassConditioning(labels: Self.labels, guidanceScale: 1))(x, t)
        let zero = unet.noisePredictor(classes: ClassConditioning(labels: Self.labels, guidanceScale: 0))(x, t)
        #expect(one.maxAbsoluteDifference(Self.plain(unet, Self.labels)) == 0)
        #expect(zero.maxAbsoluteDifference(Self.plain(unet, [3, 3, 3, 3])) == 0)
        #expect(one.maxAbsoluteDifference(zero) > 1e-3, "the class must change ε̂")
        // The combination formula itself at its endpoints.
        let c = Self.plain(unet, Self.labels)
        let u = Self.plain(unet, [3, 3, 3, 3])
        #expect(guided(conditional: c, unconditional: u, scale: 1, noiseChannels: 1).maxAbsoluteDifference(c) < 1e-6)
        #expect(guided(conditional: c, unconditional: u, scale: 0, noiseChannels: 1).maxAbsoluteDifference(u) == 0)
    }

    @Test("the one batched call of 2N equals two separate calls combined", arguments: [2.0, 3.5, -0.5])
    func batchedEqualsSeparate(_ w: Double) throws {
        let unet = try Self.conditionalUNet()
        let (x, t) = Self.inputs()
        var calls = 0
        let batched = unet.noisePredictor(classes: ClassConditioning(labels: Self.labels, guidanceScale: w)) { calls += 1 }(x, t)
        #expect(calls == 1)
        let c = Self.plain(unet, Self.labels)
        let u = Self.plain(unet, [3, 3, 3, 3])
        let separate = u + Float(w) * (c - u)
        let diff = batched.maxAbsoluteDifference(separate)
        print("guidance w = \(w): batched 2N vs separate calls, max |Δ| = \(diff)")
        #expect(diff < 1e-5, "batched guidance differs from separate calls by \(diff)")
    }

    @Test("channels past the image's (learned variance) are the conditional half's")
    func varianceChannels() {
        let c = Tensor(shape: [1, 2, 1, 1], scalars: [1, 5])
        let u = Tensor(shape: [1, 2, 1, 1], scalars: [3, 7])
        #expect(guided(conditional: c, unconditional: u, scale: 2, noiseChannels: 1).scalars == [-1, 5])
    }

    @Test("every sampler samples with guidance; the class changes the images", arguments: SamplerKind.allCases)
    func everySampler(_ kind: SamplerKind) throws {
        let unet = try Self.conditionalUNet()
        let pipeline = SamplingPipeline(unet: unet, diffusion: try SchedulerConfiguration.paper.diffusion(), configuration: .paper)
        let sampler = Sampler(kind, steps: 4)  // PNDM's Runge–Kutta warm-up needs 4
        let xT = pipeline.initialNoise(count: 2, imageSize: 8, seed: 1)
        let a = try pipeline.sample(from: xT, sampler: sampler, seed: 2, classes: ClassConditioning(labels: [0, 0], guidanceScale: 2))
            .sample
        let b = try pipeline.sample(from: xT, sampler: sampler, seed: 2, classes: ClassConditioning(labels: [1, 1], guidanceScale: 2))
            .sample
        #expect(a.shape == [2, 1, 8, 8] && a.scalars.allSatisfy(\.isFinite))
        #expect(a.maxAbsoluteDifference(b) > 1e-4, "\(kind): class 0 and class 1 gave the same images")
    }

    @Test("one library call samples a class at a guidance scale, reproducibly")
    func oneCall() throws {
        let pipeline = SamplingPipeline(
            unet: try Self.conditionalUNet(), diffusion: try SchedulerConfiguration.paper.diffusion(), configuration: .paper)
        let a = try pipeline.sample(class: 1, count: 3, guidanceScale: 3, sampler: Sampler(.ddim, steps: 4), seed: 5)
        let b = try pipeline.sample(class: 1, count: 3, guidanceScale: 3, sampler: Sampler(.ddim, steps: 4), seed: 5)
        #expect(a.shape == [3, 1, 8, 8] && a.maxAbsoluteDifference(b) == 0)
    }

    @Test("class names and indices resolve; bad requests are refused with what is known")
    func resolution() throws {
        let c = try Self.conditionalUNet().configuration
        #expect(try c.classLabel("stripe") == 1 && c.classLabel("DOT") == 2 && c.classLabel("0") == 0)
        #expect(c.className(2) == "dot" && Tiny.unet.className(4) == "class 4")
        #expect(throws: PipelineError.self) { try c.classLabel("sneaker") }
        do { _ = try c.classLabel("sneaker") } catch {
            #expect(
                error.description
                    == "Class conditioning: unknown class 'sneaker'; the known classes are 'bar', 'stripe', 'dot' (or their indices 0 to 2)."
            )
        }
        do { _ = try c.classLabel("3") } catch {
            #expect(
                error.description
                    == "Class conditioning: class index 3 is out of range; this model has classes 0 to 2: 0 bar, 1 stripe, 2 dot.")
        }
        do { _ = try Tiny.unet.classLabel("1") } catch { #expect(error.description.contains("this model is unconditional")) }
    }

    @Test("the pipeline refuses classes for an unconditional model, none for a conditional one, w ≠ 1 without a null label")
    func refusals() throws {
        let diffusion = try SchedulerConfiguration.paper.diffusion()
        let plain = SamplingPipeline(unet: try UNet(Tiny.unet), diffusion: diffusion, configuration: .paper)
        let xT = plain.initialNoise(count: 2, imageSize: 8, seed: 1)
        func message(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(
            message { _ = try plain.sample(from: xT, sampler: .ddim(steps: 2, eta: 0), seed: 0, classes: .init(labels: [0, 0])) }
                .contains("this model is unconditional"))
        let conditional = SamplingPipeline(unet: try Self.conditionalUNet(), diffusion: diffusion, configuration: .paper)
        #expect(
            message { _ = try conditional.sample(from: xT, sampler: .ddim(steps: 2, eta: 0), seed: 0) }.contains("each image needs a class")
        )
        #expect(
            message { _ = try conditional.sample(from: xT, sampler: .ddim(steps: 2, eta: 0), seed: 0, classes: .init(labels: [0])) }
                .contains("1 class labels for a batch of 2"))
        #expect(
            message { _ = try conditional.sample(from: xT, sampler: .ddim(steps: 2, eta: 0), seed: 0, classes: .init(labels: [0, 3])) }
                .contains("class index 3 is out of range"))
        let noNull = SamplingPipeline(unet: try Self.conditionalUNet(null: false), diffusion: diffusion, configuration: .paper)
        #expect(
            message {
                _ = try noNull.sample(
                    from: xT, sampler: .ddim(steps: 2, eta: 0), seed: 0, classes: .init(labels: [0, 1], guidanceScale: 2))
            }
            .contains("no null label"))
        #expect(
            message { _ = try noNull.sample(from: xT, sampler: .ddim(steps: 2, eta: 0), seed: 0, classes: .init(labels: [0, 1])) }
                == "no error")
    }
}
