import ArgumentParser

/// `--dataset` of `train`, `interpolate` and `reconstruct`: the names `ImageSource.named` reads.
enum DatasetKind: String, CaseIterable, ExpressibleByArgument { case fashionMNIST = "fashion-mnist", mnist, cifar10, folder }
