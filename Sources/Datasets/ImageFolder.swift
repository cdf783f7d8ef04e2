import Dispatch
import Foundation

/// A folder of PNG and JPEG images, searched recursively, decoded once into an `ImageSet`.
///
/// Each image is resized so its shorter side is the model's size and the centre square is kept
/// (diffusers' and lucidrains' `Resize` + `CenterCrop`); see `Resampling.swift` for the filter.
/// Images are decoded up front, on all cores: after that, a batch is a byte copy, and a corrupt
/// file is reported before training starts rather than hours into it.
public enum ImageFolder {
    /// The file extensions read, compared case-insensitively.
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    public struct Options: Sendable {
        /// Output side length: images become `size` x `size`.
        public var size: Int
        /// 1 for grey, 3 for RGB; sources of the other kind are converted.
        public var channels: Int
        /// If true, the first unreadable image stops loading with its error; otherwise such
        /// images are skipped and listed in `ImageSet.skippedFiles`.
        public var strict: Bool
        /// Grey level to composite transparent pixels onto; nil drops alpha (PIL's `convert`).
        public var alphaBackground: UInt8?
        /// Label each image by its first-level subfolder (`root/cat/x.png` is class "cat"), the
        /// classes being the subfolder names sorted by their UTF-8 bytes (torchvision's
        /// `ImageFolder` sorts the same way), as `ImageSet.classNames`.
        public var labelsFromSubfolders = false

        public init(size: Int, channels: Int = 3, strict: Bool = false, alphaBackground: UInt8? = nil) {
            precondition(size > 0, "[ImageFolder] size must be positive, got \(size)")
            precondition(channels == 1 || channels == 3, "[ImageFolder] channels must be 1 or 3, got \(channels)")
            self.size = size
            self.channels = channels
            self.strict = strict
            self.alphaBackground = alphaBackground
        }
    }

    /// The image files under `directory`, sorted by path so the dataset order never depends on
    /// the file system.
    public static func imageFiles(in directory: URL) throws(DatasetError) -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw .missing(path: directory.path, fix: "Pass an existing folder of PNG or JPEG images.")
        }
        guard isDirectory.boolValue else {
            throw .cannotRead(path: directory.path, reason: "not a directory")
        }
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey])
        else { throw .cannotRead(path: directory.path, reason: "cannot list the directory") }
        var files: [URL] = []
        for case let url as URL in enumerator where extensions.contains(url.pathExtension.lowercased()) {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { files.append(url) }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Loads every image under `directory` (see the type's documentation).
    public static func load(_ directory: URL, options: Options) throws(DatasetError) -> ImageSet {
        let files = try imageFiles(in: directory)
        let classes = options.labelsFromSubfolders ? try subfolderLabels(files, in: directory) : nil
        var results = [Result<RasterImage, DatasetError>?](repeating: nil, count: files.count)
        results.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes only its own slot, and all finish before `results` is read.
            nonisolated(unsafe) let base = slots.baseAddress!
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                do throws(DatasetError) {
                    let decoded = try ImageCodecs.decode(contentsOf: files[i])
                    let prepared = decoded.converted(toChannels: options.channels, alphaBackground: options.alphaBackground)
                        .resizedAndCentreCropped(to: options.size)
                    base[i] = .success(prepared)
                } catch {
                    base[i] = .failure(error)
                }
            }
        }
        var images: [RasterImage] = []
        var skipped: [String] = []
        var labels: [Int] = []
        for (i, (file, result)) in zip(files, results).enumerated() {
            switch result! {
            case .success(let image):
                images.append(image)
                if let classes { labels.append(classes.labels[i]) }
            case .failure(let error):
                if options.strict { throw error }
                skipped.append(file.path)
            }
        }
        if images.isEmpty { throw .empty(path: directory.path, skipped: skipped.count) }
        var set = ImageSet(rasters: images, channels: options.channels, height: options.size, width: options.size)
        set.skippedFiles = skipped
        if let classes { set = set.labelled(labels, names: classes.names) }
        return set
    }

    /// Each file's class: the index of its first-level subfolder among the sorted subfolder names.
    /// An image directly in `directory` has no class and is refused, naming it.
    static func subfolderLabels(_ files: [URL], in directory: URL) throws(DatasetError) -> (labels: [Int], names: [String]) {
        let root = directory.standardizedFileURL.resolvingSymlinksInPath().pathComponents
        let folders = files.map { file -> String? in
            let parts = file.standardizedFileURL.resolvingSymlinksInPath().pathComponents
            return parts.count > root.count + 1 && Array(parts.prefix(root.count)) == root ? parts[root.count] : nil
        }
        if let loose = folders.firstIndex(where: { $0 == nil }) {
            throw .unlabelled(
                path: files[loose].path,
                fix:
                    "Labels come from first-level subfolders, and this image lies directly in \(directory.path). Put each class's images in a subfolder named after the class (\(directory.path)/<class>/…)."
            )
        }
        let names = Set(folders.compactMap { $0 }).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })
        return (folders.map { index[$0!]! }, names)
    }
}
