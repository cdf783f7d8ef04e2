import FuzzSupport
import SafeTensors

// Any bytes as a .safetensors file: an error is fine, a trap or an over-limit allocation is a finding.
runFuzzer { data in
    let url = FuzzInput.file(data, name: "model.safetensors")
    _ = try? SafeTensorsFile.read(contentsOf: url)
}
