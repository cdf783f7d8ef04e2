import Datasets
import FuzzSupport

// Any bytes as a CIFAR-10 binary batch (plain or gzip).
runFuzzer { data in
    let url = FuzzInput.file(data, name: "data_batch_1.bin")
    _ = try? CIFAR10.load(files: [url])
}
