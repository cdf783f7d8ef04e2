/// Everything that can go wrong reading a dataset or writing images: each case names the file,
/// says what was expected and what was found, and how to fix it.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// The file or directory does not exist; `fix` says how to get it.
    case missing(path: String, fix: String)
    /// The directory holds no readable PNG or JPEG image.
    case empty(path: String, skipped: Int)
    case cannotRead(path: String, reason: String)
    /// A gzip stream that zlib cannot inflate (usually a truncated download).
    case corruptGzip(path: String, reason: String)
    case badIDXMagic(path: String, expected: UInt32, actual: UInt32)
    case badIDXDimensions(path: String, expected: String, actual: [Int])
    case truncatedIDX(path: String, expectedBytes: Int, actualBytes: Int)
    /// A CIFAR-10 binary batch whose size is not a whole number of 3073-byte records.
    case truncatedCIFAR(path: String, size: Int)
    case corruptImage(path: String, reason: String)
    /// Fewer images than one batch while the last partial batch is dropped.
    case tooFewImages(count: Int, batchSize: Int)
    case invalidBatch(shape: [Int], reason: String)
    case cannotWrite(path: String, reason: String)
    /// A labels file whose count differs from its images file's.
    case labelCountMismatch(labels: String, labelCount: Int, images: String, imageCount: Int)
    /// Class-conditional training on data that carries no labels; `fix` says how to label it.
    case unlabelled(path: String, fix: String)
    /// A label outside the classes the model was made for.
    case labelOutOfRange(path: String, label: Int, classes: Int)

    public var description: String {
        switch self {
        case .missing(let path, let fix):
            "\(path): not found. \(fix)"
        case .empty(let path, let skipped):
            "\(path): no readable PNG or JPEG images found (expected at least one .png, .jpg or .jpeg file, searched recursively"
                + (skipped > 0 ? "; \(skipped) file(s) were unreadable and skipped" : "")
                + "). Point the dataset at a folder of images."
        case .cannotRead(let path, let reason):
            "\(path): cannot read (\(reason)). Check that the file exists and is readable."
        case .corruptGzip(let path, let reason):
            "\(path): corrupt or truncated gzip data (\(reason)). Download or install the file again."
        case .badIDXMagic(let path, let expected, let actual):
            "\(path): not an IDX file of unsigned bytes: magic is \(hex(actual)), expected \(hex(expected)). "
                + "Pass the images file (…-images-idx3-ubyte[.gz]) or the labels file (…-labels-idx1-ubyte[.gz])."
        case .badIDXDimensions(let path, let expected, let actual):
            "\(path): IDX dimensions \(actual), expected \(expected). The file is not MNIST-style data or is corrupt."
        case .truncatedIDX(let path, let expectedBytes, let actualBytes):
            "\(path): IDX header promises \(expectedBytes) bytes, the file has \(actualBytes). The file is truncated; download it again."
        case .truncatedCIFAR(let path, let size):
            "\(path): \(size) bytes is not a multiple of the 3073-byte CIFAR-10 record (1 label byte + 3072 pixel bytes); "
                + "\(size / 3073) whole record(s) and \(size % 3073) stray byte(s). The file is truncated or not a CIFAR-10 binary batch."
        case .corruptImage(let path, let reason):
            "\(path): corrupt or unsupported image (\(reason)). Re-export or delete it; without --strict, image folders skip such files."
        case .tooFewImages(let count, let batchSize):
            "the dataset has \(count) image(s), fewer than one batch of \(batchSize), and the last partial batch is dropped. "
                + "Use a smaller batch size or more images."
        case .invalidBatch(let shape, let reason):
            "cannot write images from a tensor of shape \(shape): \(reason)."
        case .cannotWrite(let path, let reason):
            "\(path): cannot write (\(reason)). Check that the directory exists, is writable and the disk is not full; any earlier file at this path is unchanged."
        case .labelCountMismatch(let labels, let labelCount, let images, let imageCount):
            "\(labels): \(labelCount) labels, but \(images) holds \(imageCount) images; each image needs exactly one label. "
                + "Use the labels file of the same split and download (train-… with train-…, t10k-… with t10k-…)."
        case .unlabelled(let path, let fix):
            "\(path): the data has no class labels, so it cannot train a class-conditional model. \(fix)"
        case .labelOutOfRange(let path, let label, let classes):
            "\(path): label \(label) is outside the model's \(classes) classes (0 to \(classes - 1)); the data does not match the model's class list."
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
