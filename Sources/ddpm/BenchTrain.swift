import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import Tensors

/// `ddpm bench train`: training images/s on Fashion-MNIST with the real data path (IDX decode,
/// shuffling, batching on the prefetch thread) against the pure model step on one fixed batch,
/// measured alternately in the same process, so the data path's cost shows as a percentage.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Benchmark the data path: training with Fashion-MNIST vs the pure model step.")

    @Option(help: "Model preset.") var preset = "small32-grey"
    @Option(help: "Batch size.") var batchSize = 64
    @Option(help: "Timed steps per variant (median step time reported).") var steps = 6

    func validate() throws {
        guard UNetConfiguration.presets[preset] != nil else { throw ValidationError("unknown --preset '\(preset)'.") }
        guard steps >= 1, batchSize >= 1 else { throw ValidationError("--steps and --batch-size must be at least 1.") }
    }

    func run() throws {
        print(ComputeSettings.convolutionBackend.description)
        let images = try FashionMNIST.load(train: true)
        var config = TrainingConfiguration()
        config.batchSize = batchSize
        config.steps = Int.max / 2
        func trainer(_ data: ImageSet) throws -> Trainer {
            let loader = try DataLoader(images: data, batchSize: batchSize, seed: 0, horizontalFlips: false)
            return try Trainer(
                unet: try UNet(UNetConfiguration.presets[preset]!), diffusion: DDPM(schedule: try NoiseSchedule()),
                data: loader, configuration: config)
        }
        let real = try trainer(images)
        let pure = try trainer(images)
        let batch = images.batch(indices: Array(0..<batchSize))  // one fixed tensor: no data path at all
        try real.trainStep()
        try pure.trainStep { batch }  // warm-up
        var (realTimes, fixedTimes): ([Double], [Double]) = ([], [])
        for _ in 0..<steps {  // alternate, so machine noise hits both alike
            realTimes.append(Double(batchSize) / (try real.trainStep()).imagesPerSecond)
            fixedTimes.append(Double(batchSize) / (try pure.trainStep { batch }).imagesPerSecond)
        }
        let (r, f) = (realTimes.sorted()[steps / 2], fixedTimes.sorted()[steps / 2])
        print("\(preset), batch \(batchSize), median of \(steps) steps each")
        print("with Fashion-MNIST data path: \(format(Double(batchSize) / r)) img/s")
        print("pure model step (fixed batch): \(format(Double(batchSize) / f)) img/s")
        print("data path cost: \(format(100 * (r - f) / f))% of the step time")
    }
}
