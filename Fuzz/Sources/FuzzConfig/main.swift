import Foundation
import FuzzSupport
import Models
import Pipelines
import Tensors

// Any bytes as a model directory's config.json and scheduler_config.json. validate() is the
// contract: whatever passes it must build and run without a trap, so small valid U-Nets are
// built and evaluated once at the smallest image size their levels allow.
runFuzzer { data in
    let config = FuzzInput.file(data, name: "config.json")
    _ = FuzzInput.file(data, name: "scheduler_config.json")
    if let c = try? ModelDirectory.configuration(at: config.deletingLastPathComponent()) {
        precondition(c.estimatedParameterCount <= UNetConfiguration.Limits.parameters)
        if c.estimatedParameterCount <= 60_000, let unet = try? UNet(c) {
            let side = 1 << (c.blockOutChannels.count - 1)
            var rng = SeededGenerator(seed: 0)
            _ = unet(Tensor.zeros([1, c.inChannels, side, side]), timesteps: [0], rng: &rng)
        }
    }
    _ = try? ModelDirectory.scheduler(at: config.deletingLastPathComponent())
}
