import DataParallel
import Datasets
import Diffusion
import Foundation
import Models
import NN
import Optimizers
import Tensors

/// One step's record: what the progress bar and metrics.jsonl show.
public struct StepRecord: Codable, Sendable {
    public let step: Int
    public let loss: Float
    public let gradientNorm: Float
    public let learningRate: Float
    public let imagesPerSecond: Double
}

/// Algorithm 1 looped with the paper's recipe: loss → gradients → global-norm clip → Adam with
/// warm-up → EMA. Every random stream (data order and flips, t and ε, dropout) is seeded and
/// saved in checkpoints, so a resumed run is bit-identical to an uninterrupted one.
///
/// Data parallel: with a communicator of N processes, each computes rows
/// [r·m/N, (r+1)·m/N) of every micro-batch of m, drawing exactly what one process draws for those
/// rows (`BatchShard`), and the shard-mean gradients are averaged between backward and the Adam
/// step, which equals the gradient of the global mean because the shards are equal. Every rank
/// then applies the same clip, Adam and EMA update, so the weights stay identical.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let unet: UNet
    public let diffusion: DDPM
    public let data: DataLoader
    public let parameters: [(key: String, parameter: Parameter)]
    public let adam: Adam
    public let ema: ExponentialMovingAverage
    /// The processes sharing each batch (`Communicator.single` alone).
    public let communicator: Communicator
    /// Fault injection for the multi-process tests, from `DDPM_FAULT=<kind>:<rank>:<step>`: `nan`
    /// makes that rank's loss NaN at that step, `perturb` shifts one of its weights after it.
    struct Fault: Equatable { var kind: String, rank: Int, step: Int }
    let fault: Fault? = ProcessInfo.processInfo.environment["DDPM_FAULT"].flatMap { text in
        let f = text.split(separator: ":")
        guard f.count == 3, let rank = Int(f[1]), let step = Int(f[2]) else { return nil }
        return Fault(kind: String(f[0]), rank: rank, step: step)
    }
    /// Seconds spent in the gradient all-reduce (benchmarks).
    public private(set) var allReduceSeconds: Double = 0
    let schedule: LearningRateSchedule
    /// Steps completed.
    public internal(set) var step = 0
    /// t and ε of Algorithm 1.
    var noiseGenerator: SeededGenerator
    /// Dropout masks.
    var dropoutGenerator: SeededGenerator
    /// Which labels class dropout replaces by the null label (conditional runs).
    var classDropoutGenerator: SeededGenerator

    /// - Parameters:
    ///   - unet: the network, trained in place.
    ///   - diffusion: the chain whose loss is minimised (its variance decides the hybrid loss's target).
    ///   - data: a loader of whole micro-batches (`batchSize / gradientAccumulation`); with
    ///     N processes its `shard` must be `Trainer.shard(of:rank:processes:)`.
    ///   - configuration: the recipe; validated here.
    ///   - communicator: the processes sharing each batch.
    public init(
        unet: UNet, diffusion: DDPM, data: DataLoader, configuration: TrainingConfiguration,
        communicator: Communicator = .single
    ) throws(PipelineError) {
        try configuration.validate()
        guard data.batchSize * configuration.gradientAccumulation == configuration.batchSize else {
            throw .invalid(
                "the data loader's batch \(data.batchSize) × accumulation \(configuration.gradientAccumulation) must equal the batch size \(configuration.batchSize)"
            )
        }
        let shard = try Self.shard(of: configuration, rank: communicator.rank, processes: communicator.size)
        guard communicator.size == 1 ? (data.shard == nil || data.shard == shard) : data.shard == shard else {
            throw .invalid(
                "rank \(communicator.rank): the data loader loads rows \(data.shard.map { "\($0)" } ?? "all"), expected \(shard)")
        }
        self.communicator = communicator
        self.configuration = configuration
        self.unet = unet
        self.diffusion = diffusion
        self.data = data
        parameters = unet.namedParameters()
        adam = Adam(learningRate: configuration.learningRate)
        ema = ExponentialMovingAverage(of: parameters.map(\.parameter), decay: configuration.emaDecay, warmup: configuration.emaWarmup)
        schedule = LearningRateSchedule(baseRate: configuration.learningRate, warmupSteps: configuration.warmupSteps)
        noiseGenerator = SeededGenerator(seed: configuration.seed &+ 1)
        dropoutGenerator = SeededGenerator(seed: configuration.seed &+ 2)
        classDropoutGenerator = SeededGenerator(seed: configuration.seed &+ 3)
        // Keyed by global row for every N, N = 1 included, so all N draw the same numbers.
        let rows = BatchShard(offset: shard.lowerBound, total: data.batchSize)
        noiseGenerator.shard = rows
        dropoutGenerator.shard = rows
        classDropoutGenerator.shard = rows
        try Self.checkClasses(unet.configuration, data: data.images, classDropout: configuration.classDropout)
    }

    /// A conditional network needs labelled data whose labels are its classes, and class dropout
    /// needs the null label; an unconditional one takes no class dropout.
    static func checkClasses(_ c: UNetConfiguration, data: ImageSet, classDropout: Float?) throws(PipelineError) {
        guard c.isClassConditional else {
            if classDropout != nil {
                throw .classCondition(
                    "class dropout applies to class-conditional models only; train with --conditional or drop --class-dropout")
            }
            return
        }
        guard c.takesClassLabels else {
            throw .classCondition("class_embed_type 'identity' takes embedding vectors, which training does not provide")
        }
        guard !data.labels.isEmpty else {
            throw .classCondition(
                "the model is class-conditional but the data has no labels; use CIFAR-10, an IDX directory with its labels file, or an image folder with one subfolder per class"
            )
        }
        if let count = c.classCount, let bad = data.labels.first(where: { !(0..<count).contains($0) }) {
            throw .classCondition("the data has label \(bad), outside the model's \(count) classes (0 to \(count - 1))")
        }
        if (classDropout ?? 0) > 0, c.nullClassLabel == nil {
            throw .classCondition("class dropout needs a null label (null_class_label in the U-Net configuration)")
        }
    }

    /// The rows of each micro-batch that `rank` of `processes` computes; throws when the micro-batch
    /// does not split evenly (unequal shards would weight samples unequally in the average).
    public static func shard(of configuration: TrainingConfiguration, rank: Int, processes: Int) throws(PipelineError) -> Range<Int> {
        let micro = configuration.batchSize / configuration.gradientAccumulation
        guard micro % processes == 0 else {
            throw .distributed(
                .batchNotDivisible(
                    batch: configuration.batchSize, accumulation: configuration.gradientAccumulation,
                    processes: processes))
        }
        let rows = micro / processes
        return rank * rows..<(rank + 1) * rows
    }

    /// One optimiser step (Algorithm 1 lines 2-5, averaged over the micro-batches). Throws, and
    /// changes no weight, when the loss or the gradients are not finite.
    @discardableResult
    public func trainStep() throws(PipelineError) -> StepRecord {
        try drawAndStep(batches: {
            let batch = data.next()
            return (batch.images, batch.labels)
        })
    }

    /// One step on micro-batches from `nextBatch` instead of the data loader (benchmarks); a
    /// conditional network gets label 0 for every image.
    @discardableResult
    public func trainStep(using nextBatch: () -> Tensor) throws(PipelineError) -> StepRecord {
        try drawAndStep(batches: {
            let x = nextBatch()
            return (x, Array(repeating: 0, count: x.shape[0]))
        })
    }

    /// Draws t and ε for each micro-batch from the noise stream (Algorithm 1 lines 2-4).
    func drawAndStep(batches nextBatch: () -> (Tensor, [Int])) throws(PipelineError) -> StepRecord {
        try replayStep(examples: { () -> TrainingExample in
            let (x0, labels) = nextBatch()  // 2: (x₀, c) ~ q(x₀, c)
            let t = noiseGenerator.integers(x0.shape[0], in: 1...diffusion.schedule.timestepCount)  // 3: t ~ U{1…T}
            return TrainingExample(
                x0: x0, timesteps: t, noise: Tensor.randomNormal(x0.shape, using: &noiseGenerator),  // 4: ε
                labels: labels)
        })
    }

    /// One step on micro-batches whose t and ε are given rather than drawn: replays a run recorded
    /// elsewhere (the PyTorch training parity) with everything else — accumulation, clip, warm-up,
    /// Adam, EMA, class dropout — exactly as `trainStep()` does it. The noise stream is not advanced.
    @discardableResult
    public func replayStep(examples nextExample: () throws(PipelineError) -> TrainingExample) throws(PipelineError) -> StepRecord {
        let start = DispatchTime.now().uptimeNanoseconds
        let variables = parameters.map(\.parameter.value)
        var total: [Tensor]? = nil
        var lossSum: Float = 0
        let micro = configuration.gradientAccumulation
        for _ in 0..<micro {
            let example = try nextExample()
            try example.validate(batch: data.shard?.count ?? data.batchSize, timestepCount: diffusion.schedule.timestepCount)
            var loss = self.loss(example)  // 5: ‖ε − ε_θ‖²
            if fault == .init(kind: "nan", rank: communicator.rank, step: step + 1) { loss = loss * Float.nan }
            lossSum += loss.scalar
            let grads = gradients(of: loss, withRespectTo: variables)
            total = total.map { zip($0, grads).map { ($0 + $1).detached() } } ?? grads
        }
        var grads = total!
        if micro > 1 { grads = grads.map { ($0 * (1 / Float(micro))).detached() } }
        var loss = lossSum / Float(micro)
        if communicator.size > 1 { try averageAcrossProcesses(&grads, loss: &loss) }
        let (norm, factor) = clipFactor(
            forGlobalNormOf: grads, maxNorm: configuration.gradientClip > 0 ? configuration.gradientClip : .infinity)
        guard loss.isFinite else { throw .nonFinite(step: step + 1, what: "the loss") }
        guard norm.isFinite else { throw .nonFinite(step: step + 1, what: "the gradient norm") }
        step += 1
        adam.learningRate = schedule.rate(atStep: step)  // warm-up (App. B)
        adam.update(parameters.map(\.parameter), gradients: grads, gradientScale: factor)  // clip + Adam
        ema.update(parameters.map(\.parameter))  // EMA 0.9999
        if fault == .init(kind: "perturb", rank: communicator.rank, step: step), let p = parameters.first?.parameter {
            p.value = (p.value + 1e-3).detached()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StepRecord(
            step: step, loss: loss, gradientNorm: norm, learningRate: adam.learningRate,
            imagesPerSecond: Double(configuration.batchSize) / seconds)
    }

    /// Averages gradients and loss over the processes: one flat buffer, all-reduced in buckets of
    /// `Communicator.bucketElements` after the whole backward pass (no overlap with it yet). A NaN
    /// on any rank makes the sums NaN on all, so every rank stops at the same step.
    func averageAcrossProcesses(_ grads: inout [Tensor], loss: inout Float) throws(PipelineError) {
        let count = grads.reduce(0) { $0 + $1.scalarCount }
        var flat = [Float](repeating: 0, count: count + 1)
        flat.withUnsafeMutableBufferPointer { b in
            var at = 0
            for g in grads {
                g.withBuffer { src in _ = UnsafeMutableBufferPointer(rebasing: b[at..<at + src.count]).initialize(from: src) }
                at += g.scalarCount
            }
            b[count] = loss
        }
        let start = DispatchTime.now().uptimeNanoseconds
        do { try communicator.allReduce(&flat, .sum) } catch { throw .invalid("rank \(communicator.rank): \(error)") }
        allReduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // Sum → mean while copying back: one pass over the gradients.
        let scale = 1 / Float(communicator.size)
        flat.withUnsafeBufferPointer { b in
            var at = 0
            grads = grads.map { g in
                let out = Tensor.uninitialized(g.shape)
                let p = out.storage.pointer
                for i in 0..<g.scalarCount { p[i] = b[at + i] * scale }
                at += g.scalarCount
                return out
            }
            loss = b[count] * scale
        }
    }

    /// L_simple (eq. 14) or the hybrid loss at the example's t and ε, with dropout drawn from its own
    /// stream; a conditional network sees the labels after class dropout (Ho & Salimans 2022, Algorithm 1).
    func loss(_ example: TrainingExample) -> Tensor {
        let classes =
            unet.configuration.takesClassLabels
            ? droppingClasses(example.labels.isEmpty ? Array(repeating: 0, count: example.x0.shape[0]) : example.labels) : nil
        let predict: NoisePredictor = { [unowned self] xt, t in
            self.unet(xt, timesteps: t, classLabels: classes, training: true, rng: &self.dropoutGenerator)
        }
        switch configuration.loss {
        case .simple: return diffusion.simpleLoss(example.x0, at: example.timesteps, noise: example.noise, predictNoise: predict)
        case .hybrid: return diffusion.hybridLoss(example.x0, at: example.timesteps, noise: example.noise, predictNoise: predict)
        }
    }

    /// `labels` with each replaced by the null label with probability `classDropout`. One uniform
    /// draw per sample, keyed by its global row like t and ε, so a resumed run and any number of
    /// processes drop the same samples.
    package func droppingClasses(_ labels: [Int]) -> [Int] {
        let p = configuration.classDropout ?? 0
        let null = unet.configuration.nullClassLabel ?? 0
        let drop = Self.classDropoutMask(count: labels.count, probability: p, using: &classDropoutGenerator)
        return zip(labels, drop).map { $1 ? null : $0 }
    }

    /// Which of `count` samples lose their label: uniform u < p per sample (drawn even for p = 0,
    /// so the stream's position does not depend on p).
    package static func classDropoutMask(count: Int, probability p: Float, using rng: inout SeededGenerator) -> [Bool] {
        Tensor.randomUniform([count], using: &rng).scalars.map { $0 < p }
    }

    /// The EMA weights as a separate network (for sampling and export).
    public func emaModel() throws(PipelineError) -> UNet {
        let copy: UNet
        do { copy = try UNet(unet.configuration) } catch { throw .model(error) }
        let state = Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), ema.averages))
        do { try copy.load(state) } catch { throw .parameters(path: "EMA", error) }
        return copy
    }
}

/// One micro-batch of Algorithm 1: the images x₀ and the t (paper's 1…T) and ε drawn for them.
public struct TrainingExample {
    public var x0: Tensor
    public var timesteps: [Int]
    public var noise: Tensor
    /// Class labels before class dropout (conditional networks; empty otherwise).
    public var labels: [Int]

    public init(x0: Tensor, timesteps: [Int], noise: Tensor, labels: [Int] = []) {
        (self.x0, self.timesteps, self.noise, self.labels) = (x0, timesteps, noise, labels)
    }

    /// Refuses an example that does not fit the run, naming the part and its expected size.
    func validate(batch: Int, timestepCount: Int) throws(PipelineError) {
        guard x0.rank == 4, x0.shape[0] == batch else {
            throw .invalid(
                "training example: x0 has shape \(x0.shape); expected [\(batch), C, H, W] (this process's rows of one micro-batch)")
        }
        guard noise.shape == x0.shape else { throw .invalid("training example: noise has shape \(noise.shape); expected x0's \(x0.shape)") }
        guard timesteps.count == batch else { throw .invalid("training example: \(timesteps.count) timesteps; expected \(batch)") }
        guard labels.isEmpty || labels.count == batch else { throw .invalid("training example: \(labels.count) labels; expected \(batch)") }
        if let bad = timesteps.first(where: { !(1...timestepCount).contains($0) }) {
            throw .invalid("training example: timestep \(bad) is outside 1...\(timestepCount)")
        }
    }
}
