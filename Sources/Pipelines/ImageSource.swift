import Datasets
import Foundation
import Metrics

/// Where images come from — training data, the sources of an interpolation, an FID reference or
/// the test set of `--nll` — with one spelling for the CLI: `fashion-mnist` (Debian's install), an `.npz` of FID statistics, a
/// CIFAR-10 binary directory (`data_batch_*.bin`/`test_batch.bin`), an IDX directory
/// (`train-`/`t10k-images-idx3-ubyte[.gz]`, Fashion-MNIST or MNIST) or a folder of PNG/JPEG images.
public enum ImageSource: Equatable, Sendable {
    case fashionMNIST(directory: URL)
    case statistics(URL)
    case cifar10(directory: URL)
    case idx(directory: URL)
    case imageFolder(URL)

    /// Recognises `spec` (see the type's documentation); a missing path names what is accepted.
    public static func detect(_ spec: String) throws(PipelineError) -> ImageSource {
        if spec == "fashion-mnist" { return .fashionMNIST(directory: FashionMNIST.defaultDirectory) }
        let url = URL(fileURLWithPath: spec)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .missingFile(path: spec, hint: Self.accepted)
        }
        guard isDirectory.boolValue else {
            guard url.pathExtension.lowercased() == "npz" else {
                throw .unsupported("evaluation data \(spec): a file must be an .npz of FID statistics (mu, sigma). \(Self.accepted)")
            }
            return .statistics(url)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        if names.contains(where: { $0 == "test_batch.bin" || ($0.hasPrefix("data_batch_") && $0.hasSuffix(".bin")) }) {
            return .cifar10(directory: url)
        }
        if names.contains(where: { $0.hasPrefix("t10k-images-idx3-ubyte") || $0.hasPrefix("train-images-idx3-ubyte") }) {
            return .idx(directory: url)
        }
        return .imageFolder(url)
    }

    static let accepted = """
        Pass fashion-mnist, an .npz of FID statistics (mu, sigma), a CIFAR-10 binary directory \
        (cifar-10-batches-bin), an IDX directory (t10k-images-idx3-ubyte.gz) or a folder of PNG/JPEG images.
        """

    /// A short description for reports ("CIFAR-10 train split, …").
    public func describe(train: Bool) -> String {
        let split = train ? "train" : "test"
        switch self {
        case .fashionMNIST(let d): return "Fashion-MNIST \(split) split (\(d.path))"
        case .statistics(let u): return "statistics \(u.path)"
        case .cifar10(let d): return "CIFAR-10 \(split) split (\(d.path))"
        case .idx(let d): return "IDX \(split) split (\(d.path))"
        case .imageFolder(let u): return "image folder \(u.path)"
        }
    }

    /// The source a `--dataset KIND [--data PATH]` pair names (KIND: fashion-mnist, mnist,
    /// cifar10 or folder; mnist reads IDX files).
    public static func named(_ kind: String, path: String?) throws(PipelineError) -> ImageSource {
        if kind == "fashion-mnist" {
            return .fashionMNIST(directory: path.map { URL(fileURLWithPath: $0) } ?? FashionMNIST.defaultDirectory)
        }
        guard let path else { throw .invalid("--dataset \(kind) needs --data <directory>.") }
        let url = URL(fileURLWithPath: path)
        switch kind {
        case "mnist": return .idx(directory: url)
        case "cifar10": return .cifar10(directory: url)
        case "folder": return .imageFolder(url)
        default: throw .invalid("unknown dataset '\(kind)'; use fashion-mnist, mnist, cifar10 or folder.")
        }
    }

    /// The images, 8-bit. IDX data is padded to `size` (resized and centre-cropped when larger); a folder is
    /// read at `size` (nil: the first image's shorter side) with `channels` (nil: 3); `strict`
    /// makes an unreadable image in a folder an error instead of a skipped file.
    ///
    /// With `labels` (class-conditional training) every image also gets its class: CIFAR-10's
    /// label byte, the IDX labels file beside the images (`train-labels-idx1-ubyte[.gz]`), or a
    /// folder's first-level subfolder; data without labels is refused with how to label it.
    public func images(train: Bool, size: Int? = nil, channels: Int? = nil, strict: Bool = false, labels: Bool = false) throws -> ImageSet {
        let set = try unlabelledOrLabelled(train: train, size: size, channels: channels, strict: strict, labels: labels)
        if labels, set.labels.isEmpty {
            throw DatasetError.unlabelled(
                path: describe(train: train),
                fix: "Use CIFAR-10, an IDX directory with its labels file, or an image folder with one subfolder per class.")
        }
        return set
    }

    private func unlabelledOrLabelled(train: Bool, size: Int?, channels: Int?, strict: Bool, labels: Bool) throws -> ImageSet {
        switch self {
        case .fashionMNIST(let directory):
            return try FashionMNIST.load(train: train, directory: directory, layout: Self.idxLayout(size))
        case .statistics(let url):
            throw PipelineError.invalid("\(url.path) holds FID statistics, not images; pass a dataset or a folder.")
        case .cifar10(let directory):
            return try CIFAR10.load(directory: directory, train: train)
        case .idx(let directory):
            let prefix = train ? "train" : "t10k"
            let candidates = ["\(prefix)-images-idx3-ubyte.gz", "\(prefix)-images-idx3-ubyte"].map { directory.appendingPathComponent($0) }
            guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                throw PipelineError.missingFile(
                    path: candidates[0].path,
                    hint: "An IDX directory needs \(prefix)-images-idx3-ubyte(.gz) for the \(train ? "train" : "test") split.")
            }
            guard labels else { return try IDX.load(images: file, layout: Self.idxLayout(size)) }
            let names = ["\(prefix)-labels-idx1-ubyte.gz", "\(prefix)-labels-idx1-ubyte"].map { directory.appendingPathComponent($0) }
            guard let labelFile = names.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                throw DatasetError.unlabelled(
                    path: file.path,
                    fix:
                        "Put its labels file, \(names[0].lastPathComponent) (one unsigned byte per image, the same split), beside it in \(directory.path)."
                )
            }
            return try IDX.load(images: file, labels: labelFile, layout: Self.idxLayout(size))
        case .imageFolder(let url):
            let side: Int
            if let size {
                side = size
            } else {
                guard let first = try ImageFolder.imageFiles(in: url).first else {
                    throw DatasetError.empty(path: url.path, skipped: 0)
                }
                let image = try ImageCodecs.decode(contentsOf: first)
                side = min(image.width, image.height)
            }
            var options = ImageFolder.Options(size: side, channels: channels ?? 3, strict: strict)
            options.labelsFromSubfolders = labels
            return try ImageFolder.load(url, options: options)
        }
    }

    /// IDX images meet the model's size: padded when smaller, resized and centre-cropped when larger.
    private static func idxLayout(_ size: Int?) -> IDX.Layout { .pad(to: size ?? 32) }
}
