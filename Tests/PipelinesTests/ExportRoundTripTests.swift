import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// The model export both ways: what `ModelDirectory.save` writes in each layout loads back here,
/// and the pipeline layout a training run exports loads in diffusers as a `DDPMPipeline` that
/// reproduces this project's samples (Fixtures/exported-pipeline and export.safetensors, written by
/// scripts/reference/make_export_fixtures.py from a `ddpm train` run and diffusers 0.42).
@Suite("Model export: the pipeline layout, both layouts read back, the diffusers round trip")
struct ExportRoundTripTests {
    static let exported = ParityFixtures.root.appendingPathComponent("exported-pipeline")

    static func fixture(_ key: String) throws -> Tensor {
        try SafeTensorsFile.read(contentsOf: ParityFixtures.root.appendingPathComponent("export.safetensors")).tensor(
            key, in: "export.safetensors")
    }

    static func files(in url: URL) -> Set<String> {
        let names = FileManager.default.enumerator(atPath: url.path)?.compactMap { $0 as? String } ?? []
        return Set(names.filter { !$0.hasSuffix("unet") && !$0.hasSuffix("scheduler") })
    }

    static let pipelineFiles: Set<String> = [
        "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
        "scheduler/scheduler_config.json",
    ]
    static let flatFiles: Set<String> = ["config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json"]

    @Test("a training run's export has the google/ddpm-* pipeline layout and a model_index.json naming both parts")
    func exportedLayout() throws {
        #expect(Self.files(in: Self.exported) == Self.pipelineFiles)
        let index =
            try JSONSerialization.jsonObject(with: Data(contentsOf: Self.exported.appendingPathComponent("model_index.json")))
            as? [String: Any]
        #expect(index?["_class_name"] as? String == "DDPMPipeline")
        #expect(
            index?["unet"] as? [String] == ["diffusers", "UNet2DModel"]
                && index?["scheduler"] as? [String] == ["diffusers", "DDPMScheduler"])
        let model = try LoadedModel(Self.exported.path)
        #expect(model.unet.configuration.sampleSize == 8 && model.scheduler.numTrainTimesteps == 1000)
    }

    @Test(
        "each layout is written atomically with only its own files, replaces the other, and loads back bit for bit",
        arguments: [(ModelDirectory.Layout.pipeline, ModelDirectory.Layout.flat), (.flat, .pipeline)])
    func layouts(_ first: ModelDirectory.Layout, _ second: ModelDirectory.Layout) throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var scheduler = SchedulerConfiguration.paper
        scheduler.numTrainTimesteps = 8
        let unet = try UNet(Tiny.deterministicUNet, seed: 9)
        for layout in [first, second] {
            try ModelDirectory.save(unet, scheduler: scheduler, to: directory, layout: layout)
            #expect(Self.files(in: directory) == (layout == .pipeline ? Self.pipelineFiles : Self.flatFiles), "\(layout)")
            let back = try LoadedModel(directory.path)
            #expect(back.unet.configuration == unet.configuration)
            #expect(back.scheduler.numTrainTimesteps == 8 && back.scheduler.className == "DDPMScheduler")
            let (a, b) = (unet.stateDictionary(), back.unet.stateDictionary())
            #expect(a.keys.sorted() == b.keys.sorted() && a.allSatisfy { b[$0.key]?.scalars == $0.value.scalars })
        }
    }

    @Test("`ddpm sample --sampler ddim` on the export gives diffusers' DDIM samples from the same x_T (and the recorded ones)")
    func ddimThroughDiffusers() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let noise = directory.appendingPathComponent("xT.safetensors")
        let out = directory.appendingPathComponent("out")
        try SafeTensorsFile(tensors: ["noise": try Self.fixture("ddim.xT")]).write(to: noise)
        let (status, output) = try CommandLineTool.run([
            "sample", "--model", Self.exported.path, "--sampler", "ddim", "--steps", "20",
            "--initial-noise", noise.path, "--output", out.path,
        ])
        try #require(status == 0, "\(output)")
        let samples = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("samples.safetensors")).tensor("samples")
        let (diffusers, recorded) = (
            relativeError(samples, try Self.fixture("ddim.diffusers")), relativeError(samples, try Self.fixture("ddim.project"))
        )
        print("export round trip, DDIM 20 steps: vs diffusers \(diffusers), vs the recorded project output \(recorded)")
        #expect(diffusers < 1e-4 && recorded < 1e-5)
    }

    @Test("DDPMPipeline's own 1000-step ancestral run, replayed here from its x_T and step noise, gives its sample")
    func ddpmPipelineReplay() throws {
        let model = try LoadedModel(Self.exported.path)
        let diffusion = try model.scheduler.diffusion()
        let predict = model.unet.noisePredictor()
        let noise = try Self.fixture("ddpm.noise")
        try #require(noise.shape.first == diffusion.schedule.timestepCount)
        var x = try Self.fixture("ddpm.xT")
        for i in 0..<noise.shape[0] {
            let t = diffusion.schedule.timestepCount - i
            let z = noise.sliced(alongAxis: 0, i..<(i + 1)).reshaped(to: x.shape)
            x =
                diffusion.reverseStep(
                    x, at: t, modelOutput: predict(x, diffusion.modelTimesteps(Array(repeating: t, count: x.shape[0]))), noise: z
                ).previous
        }
        let error = relativeError(x, try Self.fixture("ddpm.diffusers"))
        print("export round trip, DDPMPipeline 1000 ancestral steps: \(error)")
        #expect(error < 1e-4)
    }
}
