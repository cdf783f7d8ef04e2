import Foundation
import FuzzSupport
import Models
import Pipelines

// Any bytes as a model directory's config.json and scheduler_config.json; a valid U-Net
// configuration must also be buildable's preconditions-free (validate() is the contract).
runFuzzer { data in
    let config = FuzzInput.file(data, name: "config.json")
    _ = FuzzInput.file(data, name: "scheduler_config.json")
    if let c = try? ModelDirectory.configuration(at: config.deletingLastPathComponent()) {
        precondition(c.estimatedParameterCount <= UNetConfiguration.Limits.parameters)
    }
    _ = try? ModelDirectory.scheduler(at: config.deletingLastPathComponent())
}
