import ArgumentParser

@main
struct DDPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddpm",
        abstract: "Denoising diffusion probabilistic models (Ho, Jain & Abbeel 2020) in Swift.",
        subcommands: [Train.self, Sample.self, Interpolate.self, Reconstruct.self, Evaluate.self, Inspect.self, Bench.self])
}
