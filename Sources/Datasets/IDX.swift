import Foundation

/// MNIST-style IDX files (http://yann.lecun.com/exdb/mnist/), plain or gzip: a big-endian magic
/// 0x0000080N (unsigned bytes, N dimensions), N big-endian UInt32 sizes, then the bytes.
public enum IDX {
    /// How 28x28 digits meet a model that wants 32x32 (its U-Net halves the size several times).
    public enum Layout: Sendable, Equatable {
        /// Keep the native size.
        case native
        /// Pad with black borders (0, i.e. -1 after scaling) to `size` x `size`, image centred;
        /// images larger than that are resized (shorter side `size`) and centre-cropped instead.
        case pad(to: Int)
        /// Resize with the triangle filter of `Resampling.swift` to `size` x `size`.
        case resize(to: Int)
    }

    /// The largest image side read (MNIST's is 28): larger headers are corrupt.
    public static let maximumSide = 8192

    /// Reads an images file (magic 0x00000803, N x rows x columns) and optionally its labels file
    /// (magic 0x00000801, N).
    public static func load(images: URL, labels: URL? = nil, layout: Layout = .native) throws(DatasetError) -> ImageSet {
        let (dims, data) = try read(images, dimensions: 3)
        let (count, rows, columns) = (dims[0], dims[1], dims[2])
        guard (1...maximumSide).contains(rows), (1...maximumSide).contains(columns) else {
            throw .badIDXDimensions(
                path: images.path, expected: "[count, rows, columns] with rows and columns 1 to \(maximumSide)", actual: dims)
        }
        var labelValues: [Int] = []
        if let labels {
            let (labelDims, labelData) = try read(labels, dimensions: 1)
            guard labelDims[0] == count else {
                throw .labelCountMismatch(labels: labels.path, labelCount: labelDims[0], images: images.path, imageCount: count)
            }
            labelValues = labelData.map { Int($0) }
        }
        let native = ImageSet(channels: 1, height: rows, width: columns, pixels: data, labels: labelValues)
        /// Every image through `transform` to size×size.
        func eachImage(_ size: Int, _ transform: (RasterImage) -> RasterImage) -> ImageSet {
            var out: [UInt8] = []
            out.reserveCapacity(count * size * size)
            for n in 0..<count {
                let raster = RasterImage(
                    width: columns, height: rows, channels: 1,
                    pixels: Array(data[(n * rows * columns)..<((n + 1) * rows * columns)]))
                out.append(contentsOf: transform(raster).pixels)
            }
            return ImageSet(channels: 1, height: size, width: size, pixels: out, labels: labelValues)
        }
        switch layout {
        case .native:
            return native
        case .pad(let size) where rows > size || columns > size:
            // Larger than the model: resized so the shorter side is `size`, centre square kept,
            // exactly as image folders are prepared.
            return eachImage(size) { $0.resizedAndCentreCropped(to: size) }
        case .pad(let size):
            let (top, left) = ((size - rows) / 2, (size - columns) / 2)
            var out = [UInt8](repeating: 0, count: count * size * size)
            for n in 0..<count {
                for y in 0..<rows {
                    let from = (n * rows + y) * columns
                    let to = (n * size + top + y) * size + left
                    out.replaceSubrange(to..<(to + columns), with: data[from..<(from + columns)])
                }
            }
            return ImageSet(channels: 1, height: size, width: size, pixels: out, labels: labelValues)
        case .resize(let size):
            return eachImage(size) { $0.resized(width: size, height: size) }
        }
    }

    /// The sizes and payload of an unsigned-byte IDX file with `dimensions` dimensions.
    static func read(_ url: URL, dimensions: Int) throws(DatasetError) -> ([Int], [UInt8]) {
        let bytes = try ImageCodecs.readPossiblyGzipped(
            url, fix: "Check the path: MNIST-style files are named like train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz.")
        let expectedMagic = UInt32(0x0800 + dimensions)
        guard bytes.count >= 4 else { throw .truncatedIDX(path: url.path, expectedBytes: 4 + 4 * dimensions, actualBytes: bytes.count) }
        let magic = bigEndian(bytes, at: 0)
        guard magic == expectedMagic else { throw .badIDXMagic(path: url.path, expected: expectedMagic, actual: magic) }
        let headerSize = 4 + 4 * dimensions
        guard bytes.count >= headerSize else { throw .truncatedIDX(path: url.path, expectedBytes: headerSize, actualBytes: bytes.count) }
        let dims = (0..<dimensions).map { Int(bigEndian(bytes, at: 4 + 4 * $0)) }
        // Up to 2^96 for three dimensions: overflow-checked, and never more than the file holds.
        var payload = 1
        for d in dims {
            let p = payload.multipliedReportingOverflow(by: d)
            guard !p.overflow else {
                throw .badIDXDimensions(
                    path: url.path,
                    expected:
                        "sizes whose product (\(dims.map(String.init).joined(separator: " × "))) fits in 64 bits and the file (\(bytes.count - headerSize) data bytes)",
                    actual: dims)
            }
            payload = p.partialValue
        }
        guard bytes.count - headerSize == payload else {
            throw .truncatedIDX(
                path: url.path, expectedBytes: payload > Int.max - headerSize ? Int.max : headerSize + payload, actualBytes: bytes.count)
        }
        return (dims, Array(bytes[headerSize...]))
    }

    private static func bigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }
}

/// Fashion-MNIST (Xiao et al. 2017) as Debian's `dataset-fashion-mnist` installs it: 60,000
/// training and 10,000 test images of clothing, 28x28 grey, ten classes.
public enum FashionMNIST {
    public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    /// Reads the training (`train-*`) or test (`t10k-*`) split; `.pad(to: 32)` suits the U-Net.
    public static func load(
        train: Bool = true, directory: URL = defaultDirectory,
        layout: IDX.Layout = .pad(to: 32)
    ) throws(DatasetError) -> ImageSet {
        let prefix = train ? "train" : "t10k"
        func file(_ kind: String) throws(DatasetError) -> URL {
            for name in ["\(prefix)-\(kind)-ubyte.gz", "\(prefix)-\(kind)-ubyte"] {
                let url = directory.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: url.path) { return url }
            }
            let fix =
                directory == defaultDirectory
                ? "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, as root; scripts/setup does this)."
                : "Put \(prefix)-\(kind)-ubyte.gz there, or install Debian's dataset-fashion-mnist and use \(defaultDirectory.path)."
            throw .missing(path: directory.appendingPathComponent("\(prefix)-\(kind)-ubyte.gz").path, fix: fix)
        }
        var set = try IDX.load(images: file("images-idx3"), labels: file("labels-idx1"), layout: layout)
        set.classNames = classNames
        return set
    }

    /// Label i's name (Xiao et al. 2017, Table 1).
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
}
