import Tensors

/// A dataset held in memory as 8-bit pixels, one `[C, H, W]` plane set per image.
///
/// Bytes rather than floats: 70,000 Fashion-MNIST images padded to 32x32 take 72 MB instead of
/// 287 MB. Conversion to the model's [-1, 1] floats happens per batch (`batch(indices:flips:)`).
public struct ImageSet: Sendable {
    public let channels: Int
    public let height: Int
    public let width: Int
    /// All images back to back, each `channels * height * width` bytes in `[C, H, W]` order.
    public private(set) var pixels: [UInt8]
    /// One class label per image where the format has them (CIFAR-10, IDX), else empty.
    public private(set) var labels: [Int]
    /// Label i's name where the source names its classes (CIFAR-10's batches.meta.txt,
    /// Fashion-MNIST's classes, an image folder's subfolders), else empty.
    public var classNames: [String] = []
    /// Files that could not be decoded and were skipped (image folders only).
    public internal(set) var skippedFiles: [String] = []

    public init(channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int] = []) {
        precondition(channels > 0 && height > 0 && width > 0, "[ImageSet] bad image size \(channels)x\(height)x\(width)")
        precondition(
            pixels.count % (channels * height * width) == 0,
            "[ImageSet] \(pixels.count) bytes is not a whole number of \(channels)x\(height)x\(width) images")
        precondition(
            labels.isEmpty || labels.count == pixels.count / (channels * height * width),
            "[ImageSet] \(labels.count) labels for \(pixels.count / (channels * height * width)) images")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
    }

    public var imageSize: Int { channels * height * width }
    public var count: Int { pixels.count / imageSize }

    /// The same images with `labels` (one per image) named `names` (empty: unnamed).
    public func labelled(_ labels: [Int], names: [String] = []) -> ImageSet {
        precondition(labels.count == count, "[ImageSet] \(labels.count) labels for \(count) images")
        var out = ImageSet(channels: channels, height: height, width: width, pixels: pixels, labels: labels)
        out.skippedFiles = skippedFiles
        out.classNames = names
        return out
    }

    /// The number of classes: the names' count, else one more than the largest label (0 unlabelled).
    public var classCount: Int { classNames.isEmpty ? (labels.max().map { $0 + 1 } ?? 0) : classNames.count }

    /// The bytes of image `index` in `[C, H, W]` order.
    public func image(at index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < count, "[ImageSet] index \(index) out of range 0..<\(count)")
        return pixels[(index * imageSize)..<((index + 1) * imageSize)]
    }

    /// The first `count` images (for quick runs and tests).
    public func prefix(_ n: Int) -> ImageSet {
        let n = min(n, count)
        var out = ImageSet(
            channels: channels, height: height, width: width, pixels: Array(pixels[0..<(n * imageSize)]),
            labels: labels.isEmpty ? [] : Array(labels[0..<n]))
        out.skippedFiles = skippedFiles
        out.classNames = classNames
        return out
    }

    /// Images `indices` as a `[N, C, H, W]` tensor scaled to [-1, 1] (x / 127.5 - 1); where
    /// `flips[i]` is true, image i is mirrored left to right.
    public func batch(indices: [Int], flips: [Bool]? = nil) -> Tensor {
        precondition(flips == nil || flips!.count == indices.count, "[ImageSet] \(flips!.count) flips for \(indices.count) images")
        let (size, w) = (imageSize, width)
        return Tensor.filled(shape: [indices.count, channels, height, width]) { out in
            pixels.withUnsafeBufferPointer { src in
                for (n, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count, "[ImageSet] index \(index) out of range 0..<\(count)")
                    let from = src.baseAddress! + index * size
                    let to = out.baseAddress! + n * size
                    let mirrored = flips?[n] ?? false
                    for row in stride(from: 0, to: size, by: w) {
                        for x in 0..<w {
                            let value = Float(from[row + (mirrored ? w - 1 - x : x)])
                            to[row + x] = value / 127.5 - 1
                        }
                    }
                }
            }
        }
    }
}

extension ImageSet {
    /// Stores decoded images (all `channels` x `height` x `width`, interleaved) in `[C, H, W]` order.
    init(rasters: [RasterImage], channels: Int, height: Int, width: Int) {
        let plane = height * width
        var pixels = [UInt8](repeating: 0, count: rasters.count * channels * plane)
        for (n, raster) in rasters.enumerated() {
            precondition(raster.channels == channels && raster.width == width && raster.height == height)
            let base = n * channels * plane
            for i in 0..<plane {
                for c in 0..<channels { pixels[base + c * plane + i] = raster.pixels[i * channels + c] }
            }
        }
        self.init(channels: channels, height: height, width: width, pixels: pixels)
    }
}
