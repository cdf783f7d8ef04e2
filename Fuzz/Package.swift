// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets, one per reader of untrusted bytes, built apart from the main package
// (coverage instrumentation everywhere): `scripts/fuzz [SECONDS]` builds and runs them all.
// Each target writes its input to a temporary file and calls the same entry point the tool
// uses, so the file-level checks (sizes against the file size, zip directories) are fuzzed too.
let targets: [(name: String, dependencies: [Target.Dependency])] = [
    ("FuzzSafeTensors", [.product(name: "SafeTensors", package: "swift-ddpm")]),
    (
        "FuzzTorchCheckpoint",
        [.product(name: "TorchCheckpoint", package: "swift-ddpm"), .product(name: "ZIPFoundation", package: "ZIPFoundation")]
    ),
    (
        "FuzzConfig",
        [
            .product(name: "Pipelines", package: "swift-ddpm"), .product(name: "Models", package: "swift-ddpm"),
            .product(name: "Tensors", package: "swift-ddpm"),
        ]
    ),
    ("FuzzIDX", [.product(name: "Datasets", package: "swift-ddpm")]),
    ("FuzzCIFAR10", [.product(name: "Datasets", package: "swift-ddpm")]),
    ("FuzzPNG", [.product(name: "Datasets", package: "swift-ddpm")]),
    ("FuzzJPEG", [.product(name: "Datasets", package: "swift-ddpm")]),
    ("FuzzNPZ", [.product(name: "Metrics", package: "swift-ddpm")]),
]

let package = Package(
    name: "swift-ddpm-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-ddpm", path: ".."),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),  // the main package's, to wrap pickles
    ],
    targets: [
        .target(name: "CFuzzerDriver", path: "Sources/CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"], path: "Sources/FuzzSupport"),
    ]
        + targets.map { t in
            .executableTarget(name: t.name, dependencies: t.dependencies + ["FuzzSupport"], path: "Sources/\(t.name)")
        }
)
