import ArgumentParser

/// `--dataset` of `train`, `interpolate` and `reconstruct`: the names `ImageSource.named` reads.
enum DatasetKind: String, CaseIterable, ExpressibleByArgument {
    case fashionMNIST = "fashion-mnist"
    case mnist, cifar10, folder
}
