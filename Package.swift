// swift-tools-version:6.2
import PackageDescription

// Portable code generation: no `-target-cpu` (or any other ISA flag) anywhere. Such a flag applies
// to the whole module on every machine, so `haswell` fails on aarch64 and the binary dies with
// SIGILL on x86-64 CPUs without AVX2; `#if arch(x86_64)` here would test the host, not the target.
// The loops that need FMA and wide vectors are in C (Sources/CKernels), compiled once per ISA
// (AVX-512F, AVX2+FMA, baseline) and picked at run time from the CPU; see README "Portable builds".
//
// Only the raw loops drop overflow and bounds traps, which block vectorisation. Everything above
// keeps its preconditions, so bad shapes stop with a message even in release builds. -Ounchecked
// is an unsafe flag, which SwiftPM accepts in a dependency since tools version 6.2.
let kernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "swift-ddpm",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Optimizers", targets: ["Optimizers"]),
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Pipelines", targets: ["Pipelines"]),
        .library(name: "TorchCheckpoint", targets: ["TorchCheckpoint"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Metrics", targets: ["Metrics"]),
        .executable(name: "ddpm", targets: ["ddpm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // .npz reading and writing (FID statistics files are zip archives of .npy arrays).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // `swift package generate-documentation` (scripts/docs); no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Implementation details
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        // oneDNN glue, loaded with dlopen at run time (see Sources/CDNNL/include/CDNNL.h).
        .target(name: "CDNNL", path: "Sources/CDNNL"),
        // Open MPI glue, loaded with dlopen at run time (see Sources/CMPI/include/CMPI.h).
        .target(name: "CMPI", path: "Sources/CMPI"),
        // The FMA peak probe (512-bit vectors need C).
        .target(name: "CMachine", path: "Sources/CMachine"),
        // The ISA-dependent loops, one build per ISA chosen at run time (Sources/CKernels/dispatch.h).
        .target(name: "CKernels", path: "Sources/CKernels"),
        // libpng and libjpeg-turbo through pkg-config, so Homebrew's prefixes are found on macOS.
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(
            name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        // libpng, libjpeg-turbo and zlib behind setjmp-guarded calls (Sources/CImageCodecs/include/CImageCodecs.h).
        // zlib comes with the macOS SDK and Debian's zlib1g-dev, in the default search paths.
        .target(
            name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"], path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "TensorKernels",
            dependencies: ["CDNNL", "CKernels", "CMachine", .target(name: "CBLAS", condition: .when(platforms: [.linux]))],
            swiftSettings: kernels),

        // MARK: - Public API
        .target(name: "Tensors", dependencies: ["TensorKernels"]),
        // Atomic writes, stale temporary files, file-kind checks: every writer and reader uses it.
        .target(name: "FileIO"),
        .target(name: "SafeTensors", dependencies: ["Tensors", "FileIO"]),
        .target(name: "NN", dependencies: ["Tensors"]),
        .target(name: "Models", dependencies: ["NN", "Tensors"]),
        .target(name: "Optimizers", dependencies: ["NN", "Tensors", "TensorKernels"]),
        .target(name: "Diffusion", dependencies: ["Tensors"], exclude: ["README.md"]),
        // Data-parallel training over Open MPI (ARCHITECTURE.md §4 "Data parallel": the `Distributed`
        // module, named DataParallel because Swift ships a module called Distributed).
        .target(name: "DataParallel", dependencies: ["CMPI"]),
        .target(
            name: "Pipelines",
            dependencies: [
                "Datasets", "Diffusion", "DataParallel", "FileIO", "Metrics", "Models", "NN", "Optimizers", "SafeTensors", "Tensors",
                "TorchCheckpoint",
            ]),
        // torch.save .bin/.pt state dicts, read by a restricted unpickler that executes nothing.
        .target(name: "TorchCheckpoint", dependencies: ["FileIO", "Tensors", "SafeTensors", "ZIPFoundation"]),
        .target(name: "Datasets", dependencies: ["Tensors", "CImageCodecs", "FileIO"]),
        .target(
            name: "Metrics", dependencies: ["FileIO", "NN", "Tensors", "TensorKernels", "SafeTensors", "TorchCheckpoint", "ZIPFoundation"]),
        .executableTarget(
            name: "ddpm",
            dependencies: [
                "Datasets", "Diffusion", "DataParallel", "Metrics", "Models", "NN", "Optimizers", "Pipelines", "SafeTensors", "Tensors",
                "TensorKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: - Unit test bundles
        // What the suites share (temporary directories, the built binary, relative errors, the tiny
        // model): a plain target that no product exports, so downstream packages never build it.
        .target(name: "TestSupport", dependencies: ["Datasets", "Diffusion", "Models", "Pipelines", "Tensors"], path: "Tests/TestSupport"),
        .testTarget(
            name: "TensorsTests", dependencies: ["TestSupport", "Tensors", "TensorKernels", "CKernels", "SafeTensors"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["TestSupport", "SafeTensors", "Tensors", "FileIO"]),
        .testTarget(
            name: "PipelinesTests",
            dependencies: [
                "TestSupport", "Pipelines", "Optimizers", "DataParallel", "FileIO", "Datasets", "Diffusion", "Models", "NN", "SafeTensors",
                "Tensors",
            ],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["TestSupport", "Datasets", "Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ModelsTests", dependencies: ["TestSupport", "Models", "NN", "Optimizers", "Tensors", "TensorKernels", "SafeTensors"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "DiffusionTests", dependencies: ["TestSupport", "Diffusion", "Tensors", "SafeTensors"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "TorchCheckpointTests", dependencies: ["TestSupport", "TorchCheckpoint", "SafeTensors", "Tensors", "ZIPFoundation"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "MetricsTests",
            dependencies: ["TestSupport", "Metrics", "NN", "Tensors", "TensorKernels", "SafeTensors", "ZIPFoundation"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "EvaluationTests",
            dependencies: ["TestSupport", "Pipelines", "Metrics", "Datasets", "Diffusion", "Models", "NN", "SafeTensors", "Tensors"]),
    ]
)
