import FuzzSupport
import TorchCheckpoint

// Any bytes as a torch.save .bin (zip archive, data.pkl, storages).
runFuzzer { data in
    let url = FuzzInput.file(data, name: "model.bin")
    _ = try? TorchCheckpointFile.read(contentsOf: url)
}
