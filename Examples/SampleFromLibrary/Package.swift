// swift-tools-version:6.2
import PackageDescription

// A package that uses swift-ddpm as a library, by version, as any downstream project would.
// Replace the URL by the repository's; scripts/check-downstream rewrites this line to a tagged
// temporary clone and builds the package in debug and release.
let swiftDDPM = "https://example.invalid/swift-ddpm.git"

let package = Package(
    name: "SampleFromLibrary",
    platforms: [.macOS(.v15)],
    dependencies: [.package(url: swiftDDPM, from: "0.1.0")],
    targets: [
        .executableTarget(
            name: "SampleFromLibrary",
            dependencies: [.product(name: "Pipelines", package: "swift-ddpm"), .product(name: "Datasets", package: "swift-ddpm")])
    ]
)
