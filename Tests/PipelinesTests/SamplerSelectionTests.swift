import Diffusion
import Foundation
import Pipelines
import Tensors
import TestSupport
import Testing

/// Which scheduler a configuration and the sampler options mean, and the messages for bad ones.
@Suite("Sampler selection: scheduler_config.json classes, options and their errors")
struct SamplerSelectionTests {
    static func configuration(_ json: String) throws -> SchedulerConfiguration {
        try JSONDecoder().decode(SchedulerConfiguration.self, from: Data(json.utf8))
    }

    @Test("_class_name picks the sampler; a DDPMScheduler config means the command's default; sde algorithm types pick the SDE solver")
    func classNames() throws {
        for kind in SamplerKind.allCases where kind != .dpmSolverPlusPlusSDE {
            let c = try Self.configuration("{\"_class_name\": \"\(kind.className)\"}")
            #expect(try SamplerKind(configuration: c) == kind)
        }
        let sde = try Self.configuration("{\"_class_name\": \"DPMSolverMultistepScheduler\", \"algorithm_type\": \"sde-dpmsolver++\"}")
        #expect(try SamplerKind(configuration: sde) == .dpmSolverPlusPlusSDE)
        let ddpm = try Self.configuration("{\"_class_name\": \"DDPMScheduler\"}")
        #expect(try SamplerKind(configuration: ddpm, ddpmSchedulerMeans: .ddim) == .ddim)
        let unipc = try Self.configuration("{\"_class_name\": \"UniPCMultistepScheduler\"}")
        #expect(try SamplerKind(configuration: unipc, ddpmSchedulerMeans: .ddim) == .unipc)
    }

    @Test("an unknown scheduler class is refused with the list of supported ones")
    func unknownClass() throws {
        let c = try Self.configuration("{\"_class_name\": \"LCMScheduler\"}")
        #expect(throws: PipelineError.self) { try SamplerKind(configuration: c) }
        do { _ = try SamplerKind(configuration: c) } catch {
            #expect(
                error.description.hasPrefix(
                    "Unknown scheduler class 'LCMScheduler'. Supported: DDIMScheduler, DDPMScheduler, DEISMultistepScheduler,"))
        }
    }

    @Test("options a sampler does not take are refused, naming the samplers that take them")
    func inapplicableOptions() {
        let cases: [(Sampler, String)] = [
            (
                Sampler(.euler, order: 2),
                "--order does not apply to the euler sampler; it is taken by deis, dpm-solver++, dpm-solver++-sde, dpm-solver++-singlestep, unipc."
            ),
            (Sampler(.dpmSolverPlusPlus, eta: 0.5), "--eta does not apply to the dpm-solver++ sampler; it is taken by ddim."),
            (
                Sampler(.ddim, karras: true),
                "--karras does not apply to the ddim sampler; it is taken by deis, dpm-solver++, dpm-solver++-sde, dpm-solver++-singlestep, unipc, euler, euler-ancestral, heun."
            ),
            (Sampler(.unipc, order: 4), "Invalid input: --order must be 1, 2 or 3 (got 4)"),
            (Sampler(.ddim, steps: 0), "Invalid input: --steps must be at least 1 (got 0)"),
        ]
        for (sampler, message) in cases {
            do {
                try sampler.validate()
                Issue.record("\(sampler) was accepted")
            } catch { #expect(error.description == message) }
        }
    }

    @Test("more steps than T, a bad option value in the config, and starting at an intermediate t with a solver are refused")
    func badValues() throws {
        let pipeline = try ParityFixtures.pipeline()
        #expect(throws: PipelineError.self) { _ = try pipeline.scheduler(for: Sampler(.ddim, steps: 1001)) }
        do { _ = try pipeline.scheduler(for: Sampler(.ddim, steps: 1001)) } catch {
            #expect(error.description == "Invalid input: --steps 1001 is more than the model's T = 1000")
        }
        var sideways = pipeline
        sideways.configuration.options["timestep_spacing"] = .string("sideways")
        do {
            _ = try sideways.scheduler(for: Sampler(.ddim))
            Issue.record("timestep_spacing 'sideways' was accepted")
        } catch {
            #expect(
                error.description
                    == "DDIMScheduler: option 'timestep_spacing' = \"sideways\" is not supported; use one of \"leading\", \"linspace\", \"trailing\"."
            )
        }
        do {
            _ = try pipeline.scheduler(for: Sampler(.euler), startingAt: 500)
            Issue.record("euler from t = 500 was accepted")
        } catch { #expect(error.description.contains("starting from an intermediate t with euler")) }
    }

    @Test("a scheduler config whose chain or prediction type differs from the model's is refused with both values")
    func mismatch() throws {
        var model = LoadedModel(unet: try ParityFixtures.pipeline().unet, scheduler: .paper, source: "tiny")
        let other = try Self.configuration("{\"_class_name\": \"EulerDiscreteScheduler\", \"prediction_type\": \"v_prediction\"}")
        do {
            try model.useScheduler(other)
            Issue.record("a v_prediction config was accepted for an epsilon model")
        } catch {
            #expect(
                error.description
                    == "The scheduler configuration disagrees with the model: prediction_type is epsilon for the model but v_prediction in the given configuration. Use a configuration made for this model."
            )
        }
        let same = try Self.configuration("{\"_class_name\": \"DDIMScheduler\", \"timestep_spacing\": \"trailing\"}")
        try model.useScheduler(same)
        #expect(model.scheduler.className == "DDIMScheduler" && model.scheduler.timestepSpacing == "trailing")
    }

    @Test("a scheduler_config.json saved by diffusers (with -Infinity) selects its class and options, as from_config does")
    func diffusersSavedConfig() throws {
        let file = ParityFixtures.root.appendingPathComponent("dpm_solver_scheduler_config.json")
        var model = LoadedModel(unet: try ParityFixtures.pipeline().unet, scheduler: .paper, source: "tiny")
        try model.useScheduler(try SchedulerConfiguration.read(contentsOf: file))
        let kind = try SamplerKind(configuration: model.scheduler, ddpmSchedulerMeans: .ddim)
        #expect(kind == .dpmSolverPlusPlus)
        let pipeline = try model.pipeline()
        let scheduler = try #require(try pipeline.scheduler(for: Sampler(kind, steps: 10)) as? DPMSolverMultistep)
        #expect(scheduler.configuration.solverOrder == 3 && scheduler.configuration.timestepSpacing == .trailing)
        #expect(scheduler.configuration.lambdaMinClipped == -.infinity)
        #expect(scheduler.modelTimesteps.first == 999 && scheduler.modelTimesteps.count == 10)
        // `--order` and `--spacing` override the file; keys the file does not have take the class defaults.
        var overridden = pipeline
        overridden.spacing = .leading
        let o = try #require(try overridden.scheduler(for: Sampler(kind, steps: 10, order: 1)) as? DPMSolverMultistep)
        #expect(o.configuration.solverOrder == 1 && o.configuration.timestepSpacing == .leading)
    }

    @Test("a scheduler_config.json of invalid UTF-8 is an error, not a trap (fuzz crash in Foundation's JSON5 reader)")
    func invalidUTF8() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ddpm-fuzz-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data([0x7B, 0x0A, 0x0A, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x63, 0x6C, 0x20]).write(to: file)
        #expect(throws: PipelineError.self) { _ = try SchedulerConfiguration.read(contentsOf: file) }
        try Data("{\"_class_name\": \"DPMSolverMultistepScheduler\", \"lambda_min_clipped\": -Infinity, \"x\": \"-Infinity\"}".utf8).write(
            to: file)
        let c = try SchedulerConfiguration.read(contentsOf: file)
        #expect(c.options["lambda_min_clipped"] == .null && c.options["x"] == .string("-Infinity"))
    }

    @Test("Algorithm 2 and DDIM through the factory equal DDPM.sample and DDIM.sample (same draws)")
    func legacyPathsUnchanged() throws {
        let pipeline = try ParityFixtures.pipeline()
        let xT = standardNormal([2, 3, 16, 16], seed: 5)
        let predictor = pipeline.unet.noisePredictor()
        var rng = SeededGenerator(seed: 9)
        let respaced = try pipeline.diffusion.respaced(steps: 10, spacing: .leading)
        let direct = respaced.sample(from: xT, using: &rng, predictNoise: predictor).sample
        let viaFactory = try pipeline.sample(from: xT, sampler: .ddpm(steps: 10), seed: 9).sample
        #expect(direct.maxAbsoluteDifference(viaFactory) == 0)
        rng = SeededGenerator(seed: 4)
        let ddim = try DDIM(pipeline.diffusion, steps: 10, spacing: .leading, eta: 1).sample(from: xT, using: &rng, predictNoise: predictor)
            .sample
        #expect(ddim.maxAbsoluteDifference(try pipeline.sample(from: xT, sampler: .ddim(steps: 10, eta: 1), seed: 4).sample) == 0)
    }
}
