import ArgumentParser
import Datasets
import Foundation
import Pipelines
import SafeTensors
import Tensors

/// `ddpm bench guidance`: label accuracy and diversity of a class-conditional model by guidance
/// scale, judged by a small CNN classifier trained here with the project's engine.
struct BenchGuidance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guidance",
        abstract: "Label accuracy and diversity of a class-conditional model's samples by guidance scale.",
        discussion: """
            Trains (or loads) a small CNN classifier on the labelled training images, reports its test \
            accuracy, then samples --per-class images of every class at each guidance scale and prints \
            the classifier's accuracy against the requested class and the mean pairwise feature distance \
            within a class. Writes guidance-w<scale>.png (one class per row), guidance.md and the \
            classifier's weights to --output.
            """)

    @Option(help: "A class-conditional model directory or checkpoint.") var model = "pretrained/fashion-mnist-conditional"
    @Option(help: "The labelled data the model was trained on (fashion-mnist, mnist, cifar10, an IDX or image folder).")
    var data = "fashion-mnist"
    @Option(help: "Guidance scales, comma-separated.") var scales = "0,1,2,3,5"
    @Option(help: "Samples per class at each scale.") var perClass = 100
    @OptionGroup var sampling: SamplerOptions
    @Option(help: "Classifier training steps (batch 128, Adam 1e-3).") var classifierSteps = 1500
    @Option(help: "Classifier weights: read if the file exists, else trained and written there.") var classifier: String?
    @Option(help: "Images per sampling batch (guided scales run twice as many through the network).") var batchSize = 200
    @Option(help: "Output directory.") var output = "runs/guidance"

    func validate() throws {
        guard perClass >= 2 else { throw ValidationError("--per-class must be at least 2 (got \(perClass)).") }
        guard batchSize >= 1, classifierSteps >= 1 else { throw ValidationError("--batch-size and --classifier-steps must be at least 1.") }
        _ = try parsedScales()
    }

    func parsedScales() throws -> [Double] {
        try scales.split(separator: ",").map { item in
            guard let w = Double(item.trimmingCharacters(in: .whitespaces)), w.isFinite, w >= 0 else {
                throw ValidationError("--scales: '\(item)' is not a finite number >= 0.")
            }
            return w
        }
    }

    func run() throws {
        print(ComputeSettings.convolutionBackend.description)
        let loaded = try LoadedModel(model)
        let pipeline = try loaded.pipeline()
        let config = loaded.unet.configuration
        guard config.isClassConditional, let classes = config.classCount else {
            throw PipelineError.classCondition(
                "\(loaded.source) is not class-conditional; pass a model trained with ddpm train --conditional (--model)")
        }
        let size = config.sampleSize ?? 32
        let source = try ImageSource.detect(data)
        let judge = LabelClassifier(channels: config.inChannels, imageSize: size, classCount: classes, seed: 7)
        let out = URL(fileURLWithPath: output)
        try createOutputDirectory(out)
        let weights = URL(fileURLWithPath: classifier ?? out.appendingPathComponent("classifier.safetensors").path)
        if FileManager.default.fileExists(atPath: weights.path) {
            try judge.load(SafeTensorsFile.read(contentsOf: weights).tensors)
            print("classifier: \(weights.path)")
        } else {
            let train = try source.images(train: true, size: size, channels: config.inChannels, labels: true)
            let bar = ProgressBar(total: classifierSteps, label: "classifier")
            let start = Date()
            let loss = try judge.train(on: train, steps: classifierSteps, seed: 11) { step, loss in
                bar.update(step, String(format: "loss %.3f", loss))
            }
            bar.finish()
            try SafeTensorsFile(tensors: judge.stateDictionary()).write(to: weights)
            print(
                String(
                    format: "classifier: %d steps in %.0f s, last loss %.3f; wrote %@", classifierSteps, Date().timeIntervalSince(start),
                    loss, weights.path))
        }
        let test = try source.images(train: false, size: size, channels: config.inChannels, labels: true)
        print(String(format: "classifier test accuracy: %.2f %% on %d images", 100 * judge.accuracy(on: test), test.count))

        let sampler = try sampling.sampler(for: loaded, purpose: .preview)
        var study = try GuidanceStudy(pipeline: pipeline, classifier: judge, sampler: sampler, perClass: perClass)
        study.batchSize = batchSize
        print("model: \(loaded.source); sampler: \(sampler); \(perClass) samples per class")
        var table = [
            "| guidance scale w | label accuracy | diversity (mean pairwise feature distance) | worst class | seconds |",
            "| --- | --- | --- | --- | --- |",
        ]
        for w in try parsedScales() {
            let total = perClass * classes
            let bar = ProgressBar(total: total, label: "w = \(w)")
            var done = 0
            let row = try study.row(guidanceScale: w) { n in
                done += n
                bar.update(done)
            }
            bar.finish()
            let worst = row.classAccuracy.indices.min { row.classAccuracy[$0] < row.classAccuracy[$1] }!
            let name = config.className(worst)
            let line = String(
                format: "| %g | %.1f %% | %.2f | %@ %.0f %% | %.0f |", w, 100 * row.accuracy, row.diversity, name,
                100 * row.classAccuracy[worst], row.seconds)
            print(line)
            table.append(line)
            let grid = out.appendingPathComponent(String(format: "guidance-w%g.png", w))
            try ImageWriter.writeGrid(row.grid, to: grid, columns: study.gridColumns)
        }
        try ImageWriter.writeAtomically(Data((table.joined(separator: "\n") + "\n").utf8), to: out.appendingPathComponent("guidance.md"))
        print("wrote \(out.path)/guidance.md and guidance-w*.png (one class per row)")
    }
}
