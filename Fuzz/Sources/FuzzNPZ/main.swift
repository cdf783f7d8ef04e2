import FuzzSupport
import Metrics

// Any bytes as an .npz of FID statistics.
runFuzzer { data in
    let url = FuzzInput.file(data, name: "stats.npz")
    _ = try? NumPyArchive.read(contentsOf: url)
}
