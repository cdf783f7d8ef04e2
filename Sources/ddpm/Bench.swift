import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of the engine.",
        subcommands: [
            BenchKernels.self, BenchUNet.self, BenchTrain.self, BenchInception.self, BenchSampling.self, BenchSamplers.self,
            BenchParallel.self, BenchGuidance.self,
        ])
}
