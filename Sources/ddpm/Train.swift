import ArgumentParser
import DataParallel
import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import Tensors

/// `ddpm train`: Algorithm 1 with the paper's recipe on an image dataset.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a DDPM (Algorithm 1, the paper's recipe) with progress, metrics, sample grids and exact resume.")

    @Option(help: "fashion-mnist (Debian's dataset-fashion-mnist), mnist (IDX files in --data), cifar10 (binary batches in --data) or folder (images under --data).")
    var dataset: DatasetKind = .fashionMNIST

    @Option(help: "Dataset location (a directory; default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var data: String?

    @Option(help: "Model preset: \(UNetConfiguration.presets.keys.sorted().joined(separator: ", ")); default: small32-grey for grey data, cifar10 otherwise.")
    var preset: String?

    @Option(help: "Run directory (metrics.jsonl, checkpoints/, samples/, model/, loss.png).")
    var output = "runs/default"

    @Option(help: "Optimiser steps.") var steps: Int?
    @Option(help: "Images per step.") var batchSize: Int?
    @Option(help: "Micro-batches per step (gradient accumulation).") var accumulate = 1
    @Option(help: "Adam learning rate (paper: 2e-4).") var learningRate: Float?
    @Option(help: "Linear warm-up steps (paper: 5000).") var warmup: Int?
    @Option(help: "EMA decay (paper: 0.9999).") var emaDecay: Float?
    @Flag(inversion: .prefixedNo, help: "EMA decay warm-up min(decay, (1+t)/(10+t)).") var emaWarmup: Bool?
    @Option(help: "Global gradient-norm clip (paper: 1.0; 0 disables).") var gradClip: Float = 1
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips (paper: on).") var flip: Bool?
    @Option(help: "Loss: simple (eq. 14) or hybrid (learned variance).") var loss: TrainingConfiguration.Loss = .simple
    @Option(help: "Seed of every random stream.") var seed: UInt64 = 0
    @Option(help: "Steps between checkpoints.") var checkpointEvery: Int?
    @Option(help: "Checkpoints to keep.") var keep = 2
    @Option(help: "Steps between sample grids (0: only at the end).") var sampleEvery: Int?
    @Option(help: "Stop after this many minutes (a checkpoint is saved; resume with --resume).") var maxMinutes: Double?
    @Flag(help: "Continue from the newest checkpoint in --output, exactly (with any number of processes; --steps may grow).") var resume = false
    @Option(help: "Under mpirun: steps between checks that all ranks hold the same weights.") var checksumEvery = 50
    @Flag(help: "Stop on any unreadable image instead of skipping it.") var strict = false
    @Flag(help: "Class-conditional model with classifier-free guidance: labels from CIFAR-10's label byte, the IDX labels file, or an image folder's first-level subfolders.")
    var conditional = false
    @Option(help: "With --conditional: probability that a label is replaced by the null label (default 0.1), so the model also learns unconditional ε̂ for guidance.")
    var classDropout: Float?

    enum DatasetKind: String, ExpressibleByArgument { case fashionMNIST = "fashion-mnist", mnist, cifar10, folder }

    func validate() throws {
        if let preset, UNetConfiguration.presets[preset] == nil {
            throw ValidationError("unknown --preset '\(preset)'; choose one of \(UNetConfiguration.presets.keys.sorted().joined(separator: ", ")).")
        }
        if dataset != .fashionMNIST && data == nil { throw ValidationError("--dataset \(dataset.rawValue) needs --data <directory>.") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1 (got \(steps)).") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1 (got \(batchSize)).") }
        if checksumEvery < 1 { throw ValidationError("--checksum-every must be at least 1 (got \(checksumEvery)).") }
        if let maxMinutes, !(maxMinutes > 0 && maxMinutes.isFinite) {
            throw ValidationError("--max-minutes must be a positive finite number of minutes (got \(maxMinutes)).")
        }
        if output.isEmpty { throw ValidationError("--output is empty; give a run directory (e.g. --output runs/mnist).") }
        if let data, data.isEmpty { throw ValidationError("--data is empty; give the dataset directory.") }
        for (name, value) in [("--learning-rate", learningRate), ("--ema-decay", emaDecay), ("--grad-clip", gradClip)] {
            if let value, !value.isFinite { throw ValidationError("\(name) must be a finite number (got \(value)).") }
        }
        if accumulate < 1 { throw ValidationError("--accumulate must be at least 1 (got \(accumulate)).") }
        if keep < 1 { throw ValidationError("--keep must be at least 1 (got \(keep)).") }
        if classDropout != nil && !conditional { throw ValidationError("--class-dropout applies to --conditional training only; add --conditional.") }
    }

    func run() throws {
        // Under `mpirun -np N` each process trains a shard of every batch (issue 9); alone, N = 1.
        let comm = try Communicator.world()
        do { try train(comm) } catch {
            // Errors every rank reaches together are printed by rank 0 alone (N copies would
            // interleave); the others wait for mpirun to end the job when rank 0 exits.
            let agreed = error is DistributedError || { if case PipelineError.nonFinite = error { return true } else { return false } }()
            guard comm.isRoot || !agreed else {
                Thread.sleep(forTimeInterval: 5)
                throw ExitCode.failure
            }
            throw error
        }
    }

    private func train(_ comm: Communicator) throws {        func say(_ line: String) { if comm.isRoot { print(line) } }
        let images: ImageSet
        if comm.size == 1 {
            images = try loadImages()
        } else {
            // A rank that cannot read the data stops every rank at start, with its reason.
            var loaded: ImageSet?, failure: String?
            do { loaded = try loadImages() } catch { failure = "cannot read the data: \(error)" }
            try comm.check(failure)
            images = loaded!
        }
        let grey = images.channels == 1
        var unetConfig = UNetConfiguration.presets[preset ?? (grey ? "small32-grey" : "cifar10")]!
        guard unetConfig.inChannels == images.channels else {
            throw ValidationError("preset has \(unetConfig.inChannels) input channels but the data has \(images.channels); pick a \(grey ? "grey" : "colour") preset.")
        }
        unetConfig.sampleSize = images.height
        if conditional {  // classes + the null label (diffusers: num_class_embeds = classes + 1)
            unetConfig = unetConfig.withClasses(images.classCount, names: images.classNames.isEmpty ? nil : images.classNames)
        }
        // A short CPU run on a small preset: departures from the paper, each printed (issue 5).
        let small = unetConfig.blockOutChannels[0] < 128
        var config = TrainingConfiguration()
        config.batchSize = batchSize ?? (small ? 64 : 128)
        config.gradientAccumulation = accumulate
        config.steps = steps ?? (small ? 20_000 : 800_000)
        config.learningRate = learningRate ?? (unetConfig.sampleSize ?? 32 >= 256 ? 2e-5 : 2e-4)
        config.warmupSteps = warmup ?? (small ? 500 : 5000)
        config.emaDecay = emaDecay ?? (small ? 0.999 : 0.9999)
        config.emaWarmup = emaWarmup ?? small
        config.gradientClip = gradClip
        config.randomFlip = flip ?? !grey  // digits and garments: flips off by default for grey data
        config.loss = loss
        config.seed = seed
        config.checkpointEvery = checkpointEvery ?? (small ? 500 : 5000)
        config.keepCheckpoints = keep
        config.sampleEvery = sampleEvery ?? (small ? 500 : 5000)
        config.logEvery = small ? 10 : 100
        if conditional { config.classDropout = classDropout ?? 0.1 }
        try config.validate()
        guard (config.batchSize / accumulate) % comm.size == 0 else {
            throw DistributedError.batchNotDivisible(batch: config.batchSize, accumulation: accumulate, processes: comm.size)
        }
        let shard = try Trainer.shard(of: config, rank: comm.rank, processes: comm.size)
        if comm.size > 1 { try agreeAcrossRanks(comm, config: config, unet: unetConfig, images: images) }
        if small {
            say("small preset: warm-up \(config.warmupSteps) steps, EMA \(config.emaDecay)\(config.emaWarmup ? " with warm-up" : ""), batch \(config.batchSize) (paper: 5000, 0.9999, 128); flips \(config.randomFlip ? "on" : "off")")
        }
        if loss == .hybrid { unetConfig.outChannels = 2 * unetConfig.inChannels }
        let unet = try UNet(unetConfig, seed: seed)
        var diffusion = DDPM(schedule: try NoiseSchedule())
        if loss == .hybrid { diffusion.variance = .learnedRange }
        let loader = try DataLoader(images: images, batchSize: config.batchSize / accumulate, seed: seed, horizontalFlips: config.randomFlip,
                                    shard: comm.size > 1 ? shard : nil)
        let trainer = try Trainer(unet: unet, diffusion: diffusion, data: loader, configuration: config, communicator: comm)
        let run = TrainingRun(trainer: trainer, output: URL(fileURLWithPath: output))
        run.checksumEvery = checksumEvery
        if resume {
            guard let latest = run.latestCheckpoint() else {
                throw ValidationError("--resume: no checkpoint in \(output)/checkpoints; start without --resume.")
            }
            let contents = try Checkpoint.load(latest)
            // --steps may grow: nothing before step s depends on the total (the warm-up and EMA do
            // not), so a longer run continues the same sequence.
            var saved = contents.training
            saved.steps = config.steps
            guard saved == config, contents.step <= config.steps else {
                throw ValidationError("--resume: \(latest.path) was made with different training options; repeat the original command's options.")
            }
            try Checkpoint.restore(contents, into: trainer)
            try comm.agree(UInt64(trainer.step), what: "the step of the checkpoint resumed from")
            say("resumed from \(latest.path) at step \(trainer.step)\(comm.size > 1 ? " on \(comm.size) processes" : "")")
        } else if run.latestCheckpoint() != nil {
            throw ValidationError("\(output) already holds checkpoints; pass --resume to continue it or choose another --output.")
        }
        if comm.size > 1 {
            say("data parallel: \(comm.size) processes × \(config.batchSize / accumulate / comm.size) images per micro-batch, \(ComputeSettings.threadCount) thread(s) each")
        }
        if conditional {
            let names = (0..<images.classCount).map { unetConfig.className($0) }
            say("conditional on \(images.classCount) classes (\(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", …" : "")) + the null label \(images.classCount); class dropout \(config.classDropout!)")
        }
        say("training \(unet.parameterCount.formatted()) parameters on \(images.count) images \(images.channels)x\(images.height)x\(images.width) for \(config.steps) steps → \(output)")
        let bar = ProgressBar(total: config.steps, label: "step")
        let first = trainer.step
        var smoothed: Float?
        if comm.isRoot { run.onStep = { r in
            smoothed = smoothed.map { 0.98 * $0 + 0.02 * r.loss } ?? r.loss
            bar.update(r.step, startedAt: first, String(format: "loss %.4f %.1f img/s", smoothed!, r.imagesPerSecond))
        } }
        run.onFile = { what, url in if what != "checkpoint" && what != "samples" { print("\n\(what): \(url.path)") } }
        let deadline = maxMinutes.map { Date().addingTimeInterval($0 * 60) }
        try run.run(deadline: deadline)
        guard comm.isRoot else { return }
        bar.finish()
        print("stopped at step \(trainer.step) of \(config.steps); checkpoint in \(output)/checkpoints, samples in \(output)/samples")
    }

    /// Refuses, at start, ranks that would not train the same model: each of these must hash the
    /// same on every rank, else the message names the ranks and their values.
    private func agreeAcrossRanks(_ comm: Communicator, config: TrainingConfiguration, unet: UNetConfiguration,
                                  images: ImageSet) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try comm.agree(fnv(try encoder.encode(config)), what: "the training configuration hash")
        try comm.agree(fnv(try encoder.encode(unet)), what: "the model configuration hash")
        try comm.agree(fnv(Data("\(images.count) \(images.channels)x\(images.height)x\(images.width)".utf8)), what: "the data set (count and size) hash")
        try comm.agree(fnv(images.pixels), what: "the data set's pixel hash")
        try comm.agree(fnv(images.labels.flatMap { withUnsafeBytes(of: UInt32($0).littleEndian, Array.init) }), what: "the data set's label hash")
        let binary = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/exe"))) ?? Data()
        try comm.agree(fnv(binary), what: "the ddpm binary's hash")
    }

    private func fnv<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    private func loadImages() throws -> ImageSet {
        let preset = preset.flatMap { UNetConfiguration.presets[$0] }
        let set = try ImageSource.named(dataset.rawValue, path: data)
            .images(train: true, size: preset?.sampleSize ?? 32, channels: preset?.inChannels ?? 3, strict: strict, labels: conditional)
        if let note = Self.skippedNote(set.skippedFiles) { print(note) }
        return set
    }

    /// "skipped 3 unreadable image(s) (--strict stops on them instead): a.png, b.jpg, c.png" (at most `shown` paths).
    static func skippedNote(_ files: [String], shown: Int = 5) -> String? {
        guard !files.isEmpty else { return nil }
        let listed = files.prefix(shown).joined(separator: ", ") + (files.count > shown ? ", and \(files.count - shown) more" : "")
        return "skipped \(files.count) unreadable image(s) (--strict stops on them instead): \(listed)"
    }
}

extension TrainingConfiguration.Loss: ExpressibleByArgument {}
