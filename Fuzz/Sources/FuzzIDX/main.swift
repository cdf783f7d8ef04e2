import Datasets
import FuzzSupport

// Any bytes as an IDX images file (plain, or gzip: the reader inflates what starts with the gzip
// magic), loaded natively, padded and resized to the model's 32×32.
runFuzzer { data in
    let url = FuzzInput.file(data, name: "train-images-idx3-ubyte.gz")
    for layout in [IDX.Layout.native, .pad(to: 32), .resize(to: 32)] { _ = try? IDX.load(images: url, layout: layout) }
    _ = try? IDX.load(images: url, labels: url)
}
