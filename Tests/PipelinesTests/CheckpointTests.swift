import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

@Suite("Checkpoints and model directories")
struct CheckpointTests {
    @Test("a failed save leaves the previous checkpoint intact and loadable")
    func atomicSave() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = try Tiny.trainer(steps: 3)
        try trainer.trainStep()
        let url = directory.appendingPathComponent("last.safetensors")
        try Checkpoint.save(trainer, to: url)
        let good = try Data(contentsOf: url)
        try trainer.trainStep()
        // Simulate a failing write: the temporary file's path is taken by a directory.
        let blocker = directory.appendingPathComponent(".last.safetensors.tmp-\(getpid())")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        #expect(throws: PipelineError.self) { try Checkpoint.save(trainer, to: url) }
        #expect(try Data(contentsOf: url) == good)
        #expect(try Checkpoint.load(url).step == 1)
    }

    @Test("a truncated checkpoint is refused with the file named")
    func truncated() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = try Tiny.trainer(steps: 1)
        let url = directory.appendingPathComponent("c.safetensors")
        try Checkpoint.save(trainer, to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        #expect {
            _ = try Checkpoint.load(url)
        } throws: { "\($0)".contains(url.path) && "\($0)".contains("truncated") }
    }

    @Test("a checkpoint from another configuration is refused with a fix")
    func otherConfiguration() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("c.safetensors")
        try Checkpoint.save(try Tiny.trainer(steps: 1), to: url)
        var other = Tiny.unet
        other.blockOutChannels = [16, 16]
        let data = try DataLoader(images: Tiny.images(), batchSize: 8, seed: 0)
        let trainer = try Trainer(
            unet: try UNet(other), diffusion: .init(schedule: try .init()), data: data, configuration: Tiny.configuration(steps: 1))
        #expect {
            try Checkpoint.restore(try Checkpoint.load(url), into: trainer)
        } throws: { "\($0)".contains("different U-Net configuration") }
    }

    @Test("the EMA model exports as a diffusers directory that loads back strictly")
    func diffusersExport() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = try Tiny.trainer(steps: 2)
        try trainer.trainStep()
        let ema = try trainer.emaModel()
        try ModelDirectory.save(ema, scheduler: .paper, to: directory)
        let back = try ModelDirectory.loadUNet(from: directory)
        #expect(back.configuration == ema.configuration)
        for (a, b) in zip(ema.namedParameters(), back.namedParameters()) { #expect(a.parameter.value.scalars == b.parameter.value.scalars) }
        let scheduler = try #require(try ModelDirectory.scheduler(at: directory))
        #expect(scheduler.varianceType == "fixed_large" && scheduler.clipSample)
        // diffusers' own defaults fill keys a config.json leaves out.
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("unet/config.json"))) as! [String: Any]
        #expect(config["_class_name"] as? String == "UNet2DModel")
    }

    @Test("legacy attention names load as diffusers maps them")
    func legacyKeys() {
        let state = [
            "mid_block.attentions.0.query.weight": Tensor(1), "mid_block.attentions.0.proj_attn.bias": Tensor(2),
            "mid_block.resnets.0.conv1.weight": Tensor(3),
        ]
        let renamed = ModelDirectory.renamingLegacyKeys(state)
        #expect(
            Set(renamed.keys) == [
                "mid_block.attentions.0.to_q.weight", "mid_block.attentions.0.to_out.0.bias",
                "mid_block.resnets.0.conv1.weight",
            ])
    }

    @Test("a config.json without optional keys takes UNet2DModel's defaults")
    func configDefaults() throws {
        let config = try JSONDecoder().decode(
            UNetConfiguration.self,
            from: Data(
                #"{"block_out_channels": [32, 64], "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"]}"#
                    .utf8))
        #expect(config.attentionHeadDim == 8 && config.normEps == 1e-5 && config.flipSinToCos && config.freqShift == 0)
        #expect(config.downsamplePadding == 1 && config.layersPerBlock == 2 && config.normNumGroups == 32)
        let explicitNull = try JSONDecoder().decode(UNetConfiguration.self, from: Data(#"{"attention_head_dim": null}"#.utf8))
        #expect(explicitNull.attentionHeadDim == nil)
    }
}
