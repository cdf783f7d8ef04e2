import Diffusion
import Foundation
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// End-to-end parity with diffusers' schedulers on the shipped Fashion-MNIST model: each fixture of
/// scripts/reference/make_sampler_fixtures.py is `Cls.from_config(model's scheduler_config)` run by
/// the pipelines' loop from a stored x_T; ours is `SamplingPipeline` with the same sampler name.
@Suite("Samplers end to end against diffusers (shipped Fashion-MNIST model)")
struct SamplerParityTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let fixture: String
        let sampler: Sampler
        /// scheduler_config.json keys set as the fixture script's `from_config(config, **options)` does.
        var options: [String: ConfigValue] = [:]
        var testDescription: String { fixture }
    }

    static let cases: [Case] = [
        Case(fixture: "ddim", sampler: Sampler(.ddim)),
        Case(fixture: "pndm", sampler: Sampler(.pndm)),
        Case(fixture: "plms", sampler: Sampler(.pndm), options: ["skip_prk_steps": .bool(true)]),
        Case(fixture: "deis", sampler: Sampler(.deis)),
        Case(fixture: "unipc", sampler: Sampler(.unipc)),
        Case(fixture: "dpm-solver++", sampler: Sampler(.dpmSolverPlusPlus)),
        Case(fixture: "dpm-solver++-3m", sampler: Sampler(.dpmSolverPlusPlus, order: 3)),
        Case(
            fixture: "dpm-solver++-karras-trailing", sampler: Sampler(.dpmSolverPlusPlus, karras: true),
            options: ["timestep_spacing": .string("trailing")]),
        Case(fixture: "dpm-solver++-singlestep", sampler: Sampler(.dpmSolverPlusPlusSinglestep)),
        Case(fixture: "euler", sampler: Sampler(.euler)),
        Case(fixture: "euler-karras", sampler: Sampler(.euler, karras: true)),
        Case(fixture: "heun", sampler: Sampler(.heun)),
    ]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = Result { () throws(SafeTensorsError) in
        try SafeTensorsFile.read(contentsOf: ParityFixtures.root.appendingPathComponent("samplers_e2e.safetensors"))
    }

    static func pipeline(_ c: Case) throws -> SamplingPipeline {
        var model = try LoadedModel(root.appendingPathComponent("pretrained/fashion-mnist").path)
        for (key, value) in c.options { model.scheduler.options[key] = value }
        return try model.pipeline()
    }

    @Test("x₀ from the same x_T equals diffusers' to 1e-4 of the largest value, 10, 20 and 50 steps", arguments: cases, [10, 20, 50])
    func endToEnd(_ c: Case, steps: Int) throws {
        let fixtures = try Self.fixtures.get()  // committed (scripts/reference/make_sampler_fixtures.py): its absence is a failure
        let pipeline = try Self.pipeline(c)
        var sampler = c.sampler
        sampler.steps = steps
        let scheduler = try pipeline.scheduler(for: sampler)
        let expectedTimesteps = try fixtures.tensor("\(c.fixture).\(steps).timesteps", in: "samplers_e2e").scalars.map(Double.init)
        #expect(scheduler.modelTimesteps.count == expectedTimesteps.count)
        // Karras timesteps come from σ through log σ; our σ (Float64 ᾱ) and diffusers' (float32 ᾱ) differ
        // by up to ~4e-5 relative, which moves them by up to ~2.5e-5 relative. Integer grids are exact.
        for (ours, theirs) in zip(scheduler.modelTimesteps, expectedTimesteps) { #expect(abs(ours - theirs) <= 1e-3 + 5e-5 * theirs) }
        let sample = try pipeline.sample(from: try fixtures.tensor("xT", in: "samplers_e2e"), sampler: sampler, seed: 0).sample
        let error = relativeError(sample, try fixtures.tensor("\(c.fixture).\(steps).sample", in: "samplers_e2e"))
        print("parity end to end \(c.fixture) \(steps) steps: \(error) relative to the largest value")
        #expect(error <= 1e-4)
    }
}
