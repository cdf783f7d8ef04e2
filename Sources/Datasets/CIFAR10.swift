import Foundation

/// CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`) from
/// https://www.cs.toronto.edu/~kriz/cifar.html: each record is 1 label byte, then 3072 bytes
/// holding the 32x32 red plane, green plane and blue plane, rows top to bottom. The planes are
/// already in `[C, H, W]` order, so records copy straight into an `ImageSet`.
public enum CIFAR10 {
    public static let recordSize = 1 + 3 * 32 * 32

    /// Reads one or more batch files, in the order given.
    public static func load(files: [URL]) throws(DatasetError) -> ImageSet {
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for file in files {
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw .missing(path: file.path, fix: "Download the CIFAR-10 binary version (cifar-10-binary.tar.gz) and unpack it.")
            }
            let bytes = try ImageCodecs.readPossiblyGzipped(file)
            guard !bytes.isEmpty, bytes.count % recordSize == 0 else { throw .truncatedCIFAR(path: file.path, size: bytes.count) }
            pixels.reserveCapacity(pixels.count + bytes.count / recordSize * (recordSize - 1))
            for start in stride(from: 0, to: bytes.count, by: recordSize) {
                labels.append(Int(bytes[start]))
                pixels.append(contentsOf: bytes[(start + 1)..<(start + recordSize)])
            }
        }
        return ImageSet(channels: 3, height: 32, width: 32, pixels: pixels, labels: labels)
    }

    /// Reads the training batches (`data_batch_*.bin`, sorted) or `test_batch.bin` in `directory`
    /// (the unpacked `cifar-10-batches-bin`).
    public static func load(directory: URL, train: Bool = true) throws(DatasetError) -> ImageSet {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw .missing(
                path: directory.path,
                fix: "Download the CIFAR-10 binary version (cifar-10-binary.tar.gz) and pass its cifar-10-batches-bin folder.")
        }
        let wanted = names.filter { train ? ($0.hasPrefix("data_batch_") && $0.hasSuffix(".bin")) : $0 == "test_batch.bin" }.sorted()
        guard !wanted.isEmpty else {
            throw .missing(
                path: directory.appendingPathComponent(train ? "data_batch_*.bin" : "test_batch.bin").path,
                fix: "Pass the cifar-10-batches-bin folder of the CIFAR-10 binary version.")
        }
        var set = try load(files: wanted.map { directory.appendingPathComponent($0) })
        set.classNames = classNames(in: directory)
        return set
    }

    /// The ten classes in label order, as batches.meta.txt lists them.
    public static let standardClassNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// The names in `directory/batches.meta.txt` (one per line, the label byte's order), else the standard ten.
    static func classNames(in directory: URL) -> [String] {
        let file = directory.appendingPathComponent("batches.meta.txt")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return standardClassNames }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return names.count == 10 && Set(names).count == 10 ? names : standardClassNames
    }
}
