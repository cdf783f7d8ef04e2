import Datasets
import Diffusion
import Foundation
import Models
import NN
import Optimizers
import Pipelines
import Tensors
import TestSupport
import Testing

/// The pieces of the training recipe against values worked out by hand (Adam, the global-norm
/// clip, the learning-rate warm-up, the EMA and its warm-up), and gradient accumulation against
/// one big batch: each is checked on numbers, not just for a finite loss.
@Suite("Training recipe: Adam, clip, warm-up, EMA, accumulation")
struct TrainingRecipeTests {
    @Test("the global-norm clip: ‖(3, 4), (12)‖ = 13, factor max/13 above the limit and 1 at or below it")
    func globalNormClip() {
        let grads = [Tensor(shape: [2], scalars: [3, 4]), Tensor(shape: [1, 1], scalars: [12])]
        let (norm, factor) = clipFactor(forGlobalNormOf: grads, maxNorm: 6.5)
        #expect(norm == 13 && factor == 0.5)
        #expect(clipFactor(forGlobalNormOf: grads, maxNorm: 13).factor == 1)  // tf.clip_by_global_norm: only above
        #expect(clipFactor(forGlobalNormOf: grads, maxNorm: 26).factor == 1)
        let unclipped = clipFactor(forGlobalNormOf: grads, maxNorm: .infinity)
        #expect(unclipped.norm == 13 && unclipped.factor == 1)
    }

    @Test("the learning-rate warm-up is linear from base/warm-up at step 1 to the base rate, then constant")
    func warmUp() {
        let schedule = LearningRateSchedule(baseRate: 2e-4, warmupSteps: 4)
        let rates = (1...6).map { schedule.rate(atStep: $0) }
        #expect(zip(rates, [5e-5, 1e-4, 1.5e-4, 2e-4, 2e-4, 2e-4] as [Float]).allSatisfy { abs($0 - $1) <= 1e-10 }, "\(rates)")
        #expect(LearningRateSchedule(baseRate: 2e-4, warmupSteps: 0).rate(atStep: 1) == 2e-4)
    }

    @Test("Adam with a gradient scale: two steps equal PyTorch's formula worked out by hand")
    func adamByHand() {
        // p = 1, lr 0.1, gradients 0.5 then −0.2, both scaled by 0.5 (a clip factor):
        // step 1: m = 0.025, v = 6.25e-5, m̂ = 0.25, √v̂ = 0.25 → p = 1 − 0.1·0.25/(0.25 + 1e-8) = 0.900000004
        // step 2: m = 0.0125, v = 7.24375e-5, m̂ = 0.0657895, √v̂ = 0.190361 → p = 0.86543942
        let p = Parameter(Tensor(shape: [1], scalars: [1]))
        let adam = Adam(learningRate: 0.1)
        adam.update([p], gradients: [Tensor(shape: [1], scalars: [0.5])], gradientScale: 0.5)
        #expect(abs(p.value.scalars[0] - 0.900000004) < 1e-7)
        // 1 − β₂ is 0.00099999 in Float
        #expect(abs(adam.moments(of: p).first.scalars[0] - 0.025) < 1e-8 && abs(adam.moments(of: p).second.scalars[0] - 6.25e-5) < 1e-9)
        adam.update([p], gradients: [Tensor(shape: [1], scalars: [-0.2])], gradientScale: 0.5)
        #expect(abs(p.value.scalars[0] - 0.86543942) < 1e-6, "p = \(p.value.scalars[0])")
        #expect(adam.step == 2)
    }

    @Test("the EMA: avg = d·avg + (1 − d)·p from a copy of the start; with warm-up d = min(decay, (1 + u)/(10 + u))")
    func exponentialMovingAverage() {
        let p = Parameter(Tensor(shape: [2], scalars: [1, -1]))
        let plain = ExponentialMovingAverage(of: [p], decay: 0.9)
        let warm = ExponentialMovingAverage(of: [p], decay: 0.99, warmup: true)
        #expect(plain.currentDecay == 0.9 && warm.currentDecay == 0.1)
        p.value = Tensor(shape: [2], scalars: [2, -2])
        plain.update([p])
        warm.update([p])
        #expect(plain.averages[0].maxAbsoluteDifference(Tensor(shape: [2], scalars: [1.1, -1.1])) < 1e-6)  // 0.9·1 + 0.1·2
        #expect(warm.averages[0].maxAbsoluteDifference(Tensor(shape: [2], scalars: [1.9, -1.9])) < 1e-6)  // 0.1·1 + 0.9·2
        #expect(abs(warm.currentDecay - 2 / 11) < 1e-7)
        p.value = Tensor(shape: [2], scalars: [3, -3])
        plain.update([p])
        warm.update([p])
        #expect(plain.averages[0].maxAbsoluteDifference(Tensor(shape: [2], scalars: [1.29, -1.29])) < 1e-6)  // 0.9·1.1 + 0.1·3
        #expect(warm.averages[0].maxAbsoluteDifference(Tensor(shape: [2], scalars: [2.8, -2.8])) < 1e-6)  // (2/11)·1.9 + (9/11)·3
        warm.restore(averages: warm.averages, updates: 90)
        #expect(abs(warm.currentDecay - 0.91) < 1e-7)  // 91/100, still below the decay
        warm.restore(averages: warm.averages, updates: 2000)
        #expect(warm.currentDecay == 0.99)  // 2001/2010 > 0.99: capped
    }

    /// A batch of 8 with fixed t and ε, and a trainer of the dropout-free tiny network.
    static let examples: (x0: Tensor, t: [Int], noise: Tensor) = {
        var rng = SeededGenerator(seed: 41)
        return (
            Tiny.images().batch(indices: Array(0..<8)), [1, 17, 250, 500, 640, 777, 999, 1000],
            Tensor.randomNormal([8, 1, 8, 8], using: &rng)
        )
    }()

    static func trainer(accumulation: Int, clip: Float, learningRate: Float = 1e-4) throws -> Trainer {
        var c = Tiny.configuration(steps: 10)
        (c.gradientAccumulation, c.gradientClip, c.learningRate, c.warmupSteps) = (accumulation, clip, learningRate, 0)
        let loader = try DataLoader(images: Tiny.images(), batchSize: c.batchSize / accumulation, seed: 0)
        return try Trainer(
            unet: try UNet(Tiny.deterministicUNet, seed: 3), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader,
            configuration: c)
    }

    /// One step on `examples`, split into `accumulation` micro-batches of consecutive rows.
    static func step(_ trainer: Trainer, accumulation: Int) throws -> StepRecord {
        let rows = 8 / accumulation
        var next = 0
        return try trainer.replayStep(examples: {
            let range = next * rows..<(next + 1) * rows
            next += 1
            return TrainingExample(
                x0: examples.x0.sliced(alongAxis: 0, range), timesteps: Array(examples.t[range]),
                noise: examples.noise.sliced(alongAxis: 0, range))
        })
    }

    @Test(
        "K micro-batches of 8/K give the step of one batch of 8: loss, norm and averaged gradient to 1e-6, weights to 1e-6 of their scale",
        arguments: [2, 4])
    func accumulation(_ k: Int) throws {
        let whole = try Self.trainer(accumulation: 1, clip: 0)
        let split = try Self.trainer(accumulation: k, clip: 0)
        let (a, b) = (try Self.step(whole, accumulation: 1), try Self.step(split, accumulation: k))
        #expect(relativeError(Double(b.loss), Double(a.loss)) < 1e-6, "loss \(b.loss) vs \(a.loss)")
        #expect(relativeError(Double(b.gradientNorm), Double(a.gradientNorm)) < 1e-6, "norm \(b.gradientNorm) vs \(a.gradientNorm)")
        // The first moment is 0.1 × the averaged, unclipped gradient: the quantity accumulation forms.
        let first = { (t: Trainer) in
            Dictionary(uniqueKeysWithValues: t.parameters.map { ($0.key, t.adam.moments(of: $0.parameter).first) })
        }
        let moments = maxRelativeError(first(split), first(whole), excluding: isAttentionKeyBias)
        #expect(moments.error < 1e-6, "first moment (0.1 × the averaged gradient) of \(moments.key): \(moments.error)")
        // Key biases: a zero gradient in exact arithmetic, so only rounding noise is left, far below the rest.
        let noise = first(split).filter { isAttentionKeyBias($0.key) }.values.map { $0.scalars.map(abs).max() ?? 0 }.max() ?? 0
        let scale = first(whole).values.map { $0.scalars.map(abs).max() ?? 0 }.max() ?? 0
        #expect(noise < 1e-6 * scale, "key-bias gradient \(noise) vs the largest \(scale)")
        // Weights after the Adam step, over the whole network: Adam's m/(√v + ε) amplifies the rounding
        // difference of a gradient element near ε ≈ 1e-8, so per tensor the error reaches ~1e-5.
        let (a2, b2) = (whole.unet.stateDictionary(), split.unet.stateDictionary())
        let global = globalRelativeError(b2, a2, excluding: isAttentionKeyBias)
        let perTensor = maxRelativeError(b2, a2, excluding: isAttentionKeyBias)
        #expect(global < 1e-6, "weights: \(global) relative to the largest weight")
        #expect(perTensor.error < 1e-4, "weights of \(perTensor.key): \(perTensor.error)")
        print(
            "accumulation K=\(k): loss \(relativeError(Double(b.loss), Double(a.loss))), gradient (first moment) \(moments.error), weights \(global) (worst tensor \(perTensor.error), \(perTensor.key))"
        )
    }

    @Test("the trainer clips at the global norm: Adam's first moment is 0.1 × (max/‖g‖) × g when ‖g‖ exceeds max")
    func trainerClips() throws {
        let free = try Self.trainer(accumulation: 1, clip: 0)
        let clipped = try Self.trainer(accumulation: 1, clip: 0.05)
        let (a, b) = (try Self.step(free, accumulation: 1), try Self.step(clipped, accumulation: 1))
        try #require(a.gradientNorm > 0.05, "the gradient norm \(a.gradientNorm) must exceed the clip for this test to mean anything")
        #expect(b.gradientNorm == a.gradientNorm)  // the record holds the norm before clipping
        let factor = 0.05 / a.gradientNorm
        for ((key, p), (_, q)) in zip(free.parameters, clipped.parameters) {
            let expected = free.adam.moments(of: p).first * factor
            let error = relativeError(clipped.adam.moments(of: q).first, expected)
            #expect(error < 1e-5, "\(key): \(error)")
        }
    }

    @Test("the trainer's learning rate follows the warm-up step by step")
    func trainerWarmUp() throws {
        var c = Tiny.configuration(steps: 5)
        c.warmupSteps = 3
        let loader = try DataLoader(images: Tiny.images(), batchSize: c.batchSize, seed: 0)
        let trainer = try Trainer(
            unet: try UNet(Tiny.unet, seed: 3), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader, configuration: c)
        let rates = try (1...5).map { _ in try trainer.trainStep().learningRate }
        #expect(zip(rates, [1e-3 / 3, 2e-3 / 3, 1e-3, 1e-3, 1e-3] as [Float]).allSatisfy { abs($0 - $1) <= 1e-9 }, "\(rates)")
    }

    @Test("a training example that does not fit the run is refused with what was expected")
    func badExample() throws {
        let trainer = try Self.trainer(accumulation: 1, clip: 0)
        #expect(throws: PipelineError.self) {
            try trainer.replayStep(examples: {
                TrainingExample(x0: Self.examples.x0, timesteps: Array(repeating: 0, count: 8), noise: Self.examples.noise)
            })
        }
        #expect(trainer.step == 0)
    }
}
