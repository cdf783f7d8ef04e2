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

    @Option(
        help:
            "fashion-mnist (Debian's dataset-fashion-mnist), mnist (IDX files in --data), cifar10 (binary batches in --data) or folder (images under --data)."
    )
    var dataset: DatasetKind = .fashionMNIST

    @Option(help: "Dataset location (a directory; default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var data: String?

    @Option(
        help:
            "Model preset: \(UNetConfiguration.presets.keys.sorted().joined(separator: ", ")); default: small32-grey for grey data, cifar10 otherwise."
    )
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
    @Flag(help: "Continue from the newest checkpoint in --output, exactly (with any number of processes; --steps may grow).") var resume =
        false
    @Option(help: "Under mpirun: steps between checks that all ranks hold the same weights.") var checksumEvery = 50
    @Flag(help: "Stop on any unreadable image instead of skipping it.") var strict = false
    @Flag(
        help:
            "Class-conditional model with classifier-free guidance: labels from CIFAR-10's label byte, the IDX labels file, or an image folder's first-level subfolders."
    )
    var conditional = false
    @Option(
        help:
            "With --conditional: probability that a label is replaced by the null label (default 0.1), so the model also learns unconditional ε̂ for guidance."
    )
    var classDropout: Float?

    func validate() throws {
        if let preset, UNetConfiguration.presets[preset] == nil {
            throw ValidationError(
                "unknown --preset '\(preset)'; choose one of \(UNetConfiguration.presets.keys.sorted().joined(separator: ", ")).")
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
        if classDropout != nil && !conditional {
            throw ValidationError("--class-dropout applies to --conditional training only; add --conditional.")
        }
    }

    func run() throws {
        // Under `mpirun -np N` each process trains a shard of every batch; alone, N = 1.
        let comm = try Communicator.world()
        do { try train(comm) } catch {
            // Errors every rank reaches together are printed by rank 0 alone (N copies would
            // interleave); the others wait for mpirun to end the job when rank 0 exits.
            let agreed = error is DistributedError || (error as? PipelineError)?.isCollective == true
            guard comm.isRoot || !agreed else {
                Thread.sleep(forTimeInterval: 5)
                throw ExitCode.failure
            }
            throw error
        }
    }

    private func train(_ comm: Communicator) throws {
        func say(_ line: String) { if comm.isRoot { print(line) } }
        let images: ImageSet
        if comm.size == 1 {
            images = try loadImages()
        } else {
            // A rank that cannot read the data stops every rank at start, with its reason.
            var loaded: ImageSet?
            var failure: String?
            do { loaded = try loadImages() } catch { failure = "cannot read the data: \(error)" }
            try comm.check(failure)
            images = loaded!
        }
        var recipe = try TrainingRecipe(preset: preset, channels: images.channels, imageSize: images.height, loss: loss)
        if conditional { recipe.condition(on: images, classDropout: classDropout ?? 0.1) }
        var config = recipe.training
        if let batchSize { config.batchSize = batchSize }
        config.gradientAccumulation = accumulate
        if let steps { config.steps = steps }
        if let learningRate { config.learningRate = learningRate }
        if let warmup { config.warmupSteps = warmup }
        if let emaDecay { config.emaDecay = emaDecay }
        if let emaWarmup { config.emaWarmup = emaWarmup }
        config.gradientClip = gradClip
        if let flip { config.randomFlip = flip }
        config.seed = seed
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        config.keepCheckpoints = keep
        if let sampleEvery { config.sampleEvery = sampleEvery }
        try config.validate()
        recipe.training = config
        let shard = try Trainer.shard(of: config, rank: comm.rank, processes: comm.size)
        if comm.size > 1 { try recipe.agreeAcrossRanks(comm, images: images) }
        if let note = recipe.departuresFromPaper { say(note) }
        let unet = try UNet(recipe.model, seed: seed)
        let diffusion = try recipe.diffusion()
        let loader = try DataLoader(
            images: images, batchSize: config.batchSize / accumulate, seed: seed, horizontalFlips: config.randomFlip,
            shard: comm.size > 1 ? shard : nil)
        let trainer = try Trainer(unet: unet, diffusion: diffusion, data: loader, configuration: config, communicator: comm)
        let run = TrainingRun(trainer: trainer, output: URL(fileURLWithPath: output))
        run.checksumEvery = checksumEvery
        if let latest = try run.start(resume: resume) {
            try comm.agree(UInt64(trainer.step), what: "the step of the checkpoint resumed from")
            say("resumed from \(latest.path) at step \(trainer.step)\(comm.size > 1 ? " on \(comm.size) processes" : "")")
        }
        if comm.size > 1 {
            say(
                "data parallel: \(comm.size) processes × \(config.batchSize / accumulate / comm.size) images per micro-batch, \(ComputeSettings.threadCount) thread(s) each"
            )
        }
        if let note = recipe.conditioningNote { say(note) }
        say(ComputeSettings.convolutionBackend.description)
        say(
            "training \(unet.parameterCount.formatted()) parameters on \(images.count) images \(images.channels)x\(images.height)x\(images.width) for \(config.steps) steps → \(output)"
        )
        let bar = ProgressBar(total: config.steps, label: "step")
        let first = trainer.step
        var smoothed: Float?
        if comm.isRoot {
            run.onStep = { r in
                smoothed = smoothed.map { 0.98 * $0 + 0.02 * r.loss } ?? r.loss
                bar.update(r.step, startedAt: first, String(format: "loss %.4f %.1f img/s", smoothed!, r.imagesPerSecond))
            }
        }
        run.onFile = { what, url in if what != "checkpoint" && what != "samples" { print("\n\(what): \(url.path)") } }
        let deadline = maxMinutes.map { Date().addingTimeInterval($0 * 60) }
        try run.run(deadline: deadline)
        guard comm.isRoot else { return }
        bar.finish()
        print("stopped at step \(trainer.step) of \(config.steps); checkpoint in \(output)/checkpoints, samples in \(output)/samples")
    }

    private func loadImages() throws -> ImageSet {
        let set = try TrainingRecipe.images(
            from: try ImageSource.named(dataset.rawValue, path: data), preset: preset, strict: strict,
            labels: conditional)
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
