import DataParallel
import Datasets
import Diffusion
import FileIO
import Foundation
import Models
import Tensors

/// A training run on disk: the loop around `Trainer` that writes metrics.jsonl, sample grids from
/// the EMA model with fixed noise, rotating checkpoints, and at the end the EMA model as a
/// diffusers directory and a loss plot.
///
///     <output>/metrics.jsonl  checkpoints/step-<n>.safetensors  samples/step-<n>.png
///     <output>/model/ (a diffusers DDPMPipeline: model_index.json, unet/, scheduler/)
///     <output>/loss.png
public final class TrainingRun {
    public let trainer: Trainer
    public let output: URL
    public var scheduler = SchedulerConfiguration.paper
    /// Called after every step with its record (progress bars).
    public var onStep: (StepRecord) -> Void = { _ in }
    /// Called with each file written (so the CLI can say where things are).
    public var onFile: (String, URL) -> Void = { _, _ in }
    var losses: [Float] = []
    /// w of the conditional models' progress grids (one row per class; see `ClassConditioning`).
    public var sampleGuidanceScale = 2.0
    /// Steps between weights checksums compared across ranks (data parallel only).
    public var checksumEvery = 50
    /// Whether this process writes files: rank 0 alone, so N processes write one run directory.
    public var writesFiles: Bool { trainer.communicator.isRoot }

    public init(trainer: Trainer, output: URL) {
        self.trainer = trainer
        self.output = output
        if trainer.diffusion.variance == .learnedRange { scheduler.varianceType = "learned_range" }  // hybrid loss
    }

    var checkpointDirectory: URL { output.appendingPathComponent("checkpoints") }

    /// The newest checkpoint in the run directory, if any.
    public func latestCheckpoint() -> URL? {
        let files = (try? FileManager.default.contentsOfDirectory(at: checkpointDirectory, includingPropertiesForKeys: nil)) ?? []
        return files.filter { $0.lastPathComponent.hasPrefix("step-") && $0.pathExtension == "safetensors" }
            .max { stepNumber($0) < stepNumber($1) }
    }

    func stepNumber(_ url: URL) -> Int { Int(url.deletingPathExtension().lastPathComponent.dropFirst(5)) ?? -1 }

    /// Trains until `trainer.configuration.steps` or until `deadline`, whichever comes first;
    /// always ends with a checkpoint, the exported EMA model and the loss plot.
    public func run(deadline: Date? = nil) throws(PipelineError) {
        let config = trainer.configuration
        let comm = trainer.communicator
        // Same seed, same initialisation (or the same checkpoint): checked, not broadcast.
        try checkWeights(atStart: true)
        guard writesFiles else {
            // Other ranks compute their shards, check the weights and stop with rank 0.
            while trainer.step < config.steps {
                try trainer.trainStep()
                try checkWeights()
                if try stopForDeadline(deadline) { break }
            }
            comm.finalize()
            return
        }
        do {
            for dir in [output, checkpointDirectory, output.appendingPathComponent("samples")] {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            }
        } catch { throw .cannotWrite(path: output.path, reason: "\(error)") }
        removeStaleTemporaries()
        let metrics = output.appendingPathComponent("metrics.jsonl")
        // A resumed run repeats the steps after its checkpoint: drop their old records first.
        let kept = ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").filter { line in
            (try? JSONDecoder().decode(StepRecord.self, from: Data(line.utf8))).map { $0.step <= trainer.step } ?? false
        }
        do { try atomicWrite(Data(kept.map { $0 + "\n" }.joined().utf8), to: metrics) } catch {
            throw .cannotWrite(path: metrics.path, reason: "\(error)")
        }
        // A log, appended line by line rather than rewritten atomically: a crash loses at most a
        // half line, which fails to decode and is dropped by the next resume above.
        guard let log = FileHandle(forWritingAtPath: metrics.path) else { throw .cannotWrite(path: metrics.path, reason: "cannot open") }
        defer { try? log.close() }
        _ = try? log.seekToEnd()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let fixedNoise = sampleNoise()
        while trainer.step < config.steps {
            let record = try trainer.trainStep()
            losses.append(record.loss)
            onStep(record)
            if record.step % config.logEvery == 0 || record.step == 1, let line = try? encoder.encode(record) {
                try? log.write(contentsOf: line + Data("\n".utf8))
            }
            if config.sampleEvery > 0, record.step % config.sampleEvery == 0 { try writeSamples(fixedNoise) }
            if record.step % config.checkpointEvery == 0 { try saveCheckpoint() }
            try checkWeights()
            if try stopForDeadline(deadline) { break }
        }
        if latestCheckpoint().map(stepNumber) != trainer.step { try saveCheckpoint() }
        if config.sampleEvery == 0 || trainer.step % config.sampleEvery != 0 { try writeSamples(fixedNoise) }
        let modelDirectory = output.appendingPathComponent("model")
        try ModelDirectory.save(try trainer.emaModel(), scheduler: scheduler, to: modelDirectory)
        onFile("EMA model (diffusers layout)", modelDirectory)
        let plot = output.appendingPathComponent("loss.png")
        do { try ImageWriter.writePNG(LossPlot.image(losses: allLosses(metrics)), to: plot) } catch {
            throw .cannotWrite(path: plot.path, reason: error.description)
        }
        onFile("loss curve", plot)
        comm.finalize()
    }

    /// Every `checksumEvery` steps under MPI: the weights' checksum must agree on all ranks, else
    /// the run stops naming the ranks (they would otherwise drift apart silently).
    func checkWeights(atStart: Bool = false) throws(PipelineError) {
        let comm = trainer.communicator
        guard comm.size > 1, atStart || trainer.step % checksumEvery == 0 else { return }
        do { try comm.agree(weightsChecksum(trainer), what: "the weights checksum at step \(trainer.step)") } catch {
            throw .distributed(
                error, consequence: "the ranks' weights have drifted apart, so the run stops (resume from the last checkpoint)")
        }
    }

    /// Whether every rank stops now: rank 0's clock decides, so all stop after the same step.
    func stopForDeadline(_ deadline: Date?) throws(PipelineError) -> Bool {
        guard let deadline else { return false }
        let late = trainer.communicator.isRoot && Date() >= deadline
        do { return try trainer.communicator.any(late) } catch { throw .distributed(error) }
    }

    /// Deletes the temporary files that killed runs left in the run directory (a `kill -9` during
    /// a checkpoint write leaves `.step-N.safetensors.tmp-PID`, tens of MB each); files of live
    /// processes are kept. Called when a run starts or resumes; each removal goes to `onFile`.
    @discardableResult
    public func removeStaleTemporaries() -> [URL] {
        let folders = [output, checkpointDirectory, output.appendingPathComponent("samples"), output.appendingPathComponent("model")]
        let removed = folders.flatMap { AtomicFile.removeStaleTemporaries(in: $0) }
        for url in removed { onFile("removed stale temporary file", url) }
        return removed
    }

    /// Losses of this run, including steps before a resume (from metrics.jsonl) plus this session's.
    func allLosses(_ metrics: URL) -> [Float] {
        guard let text = try? String(contentsOf: metrics, encoding: .utf8) else { return losses }
        let logged = text.split(separator: "\n").compactMap { try? JSONDecoder().decode(StepRecord.self, from: Data($0.utf8)) }
        return logged.count >= 2 ? logged.map(\.loss) : losses
    }

    /// Saves `checkpoints/step-<n>.safetensors` and deletes all but the newest `keepCheckpoints`.
    public func saveCheckpoint() throws(PipelineError) {
        let url = checkpointDirectory.appendingPathComponent("step-\(trainer.step).safetensors")
        try Checkpoint.save(trainer, to: url)
        onFile("checkpoint", url)
        let files = ((try? FileManager.default.contentsOfDirectory(at: checkpointDirectory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.lastPathComponent.hasPrefix("step-") && $0.pathExtension == "safetensors" }
            .sorted { stepNumber($0) > stepNumber($1) }
        for old in files.dropFirst(trainer.configuration.keepCheckpoints) { try? FileManager.default.removeItem(at: old) }
    }

    /// Progress grids of a conditional model: one row of `gridColumns` images for each of its first
    /// (up to) 10 classes, at `sampleGuidanceScale` (1 without a null label); nil for an unconditional one.
    var gridClasses: ClassConditioning? {
        let c = trainer.unet.configuration
        guard c.takesClassLabels else { return nil }
        let rows = min(c.classCount ?? 10, 10)
        return .rows(Array(0..<rows), perRow: 8, guidanceScale: c.nullClassLabel == nil ? 1 : sampleGuidanceScale)
    }

    /// Fixed x_T for progress grids: the same 16 images (8 per class row) every time, so progress is comparable.
    func sampleNoise() -> Tensor {
        var rng = SeededGenerator(seed: 1234)
        let c = trainer.unet.configuration
        let size = c.sampleSize ?? 32
        return Tensor.randomNormal([gridClasses?.labels.count ?? 16, c.inChannels, size, size], using: &rng)
    }

    /// A grid sampled from the EMA model with 50 DDIM steps (fast; the paper's sampler is `ddpm sample`).
    func writeSamples(_ noise: Tensor) throws(PipelineError) {
        let pipeline = SamplingPipeline(unet: try trainer.emaModel(), diffusion: trainer.diffusion)
        let steps = min(50, trainer.diffusion.schedule.timestepCount)
        let classes = gridClasses
        let result = try pipeline.sample(from: noise, sampler: .ddim(steps: steps, eta: 0), seed: 0, classes: classes)
        let url = output.appendingPathComponent("samples/step-\(trainer.step).png")
        do { try ImageWriter.writeGrid(result.sample, to: url, columns: classes == nil ? 4 : 8) } catch {
            throw .cannotWrite(path: url.path, reason: error.description)
        }
        onFile(classes.map { "samples (one row per class, guidance \($0.guidanceScale))" } ?? "samples", url)
    }
}

/// FNV-1a over the bit patterns of every weight and EMA average: cheap, and any one-bit
/// difference between ranks changes it.
public func weightsChecksum(_ trainer: Trainer) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for t in trainer.parameters.map(\.parameter.value) + trainer.ema.averages {
        t.withBuffer { b in for v in b { h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01B3 } }
    }
    return h
}
