import ArgumentParser
import Foundation

@main
struct DDPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddpm",
        abstract: "Denoising diffusion probabilistic models (Ho, Jain & Abbeel 2020) in Swift.",
        subcommands: [Train.self, Sample.self, Interpolate.self, Reconstruct.self, Evaluate.self, Inspect.self, Bench.self])

    /// ArgumentParser reads `--steps -5` as an option `-5` and reports a missing value (for every
    /// option that takes one). A negative number after a long option is its value: pass it on as
    /// `--steps=-5`, so the option's own range check names the problem.
    static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a.hasPrefix("--"), !a.contains("="), a.count > 2, i + 1 < arguments.count, isNegativeNumber(arguments[i + 1]) {
                out.append(a + "=" + arguments[i + 1])
                i += 2
            } else {
                out.append(a)
                i += 1
            }
        }
        return out
    }

    static func isNegativeNumber(_ s: String) -> Bool { s.count > 1 && s.hasPrefix("-") && Double(s) != nil }

    static func main() {
        let arguments = DeprecatedSpellings.rewritten(Array(CommandLine.arguments.dropFirst())) { note in
            FileHandle.standardError.write(Data((note + "\n").utf8))
        }
        main(joiningNegativeValues(arguments))
    }
}
