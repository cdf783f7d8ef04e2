import Datasets
import Foundation
import TestSupport
import Testing

// ImageFolder.swift, CIFAR10.swift, IDX.swift: values, shapes and every data error's message.

@Suite("Dataset readers")
struct ReaderTests {
    @Test("Image folder: recursive, PNG and JPEG, corrupt files skipped and listed")
    func imageFolder() throws {
        let set = try ImageFolder.load(Fixtures.images, options: .init(size: 8, channels: 3))
        // 10 good images (8 PNG + 2 JPEG, in nested folders too); notes.txt is not looked at.
        #expect(set.count == 10)
        #expect(dims(set.channels, set.height, set.width) == dims(3, 8, 8))
        #expect(set.pixels.count == 10 * 3 * 8 * 8)
        #expect(
            set.skippedFiles.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted()
                == ["corrupt.jpg", "truncated.jpg", "truncated.png"])
        // Files are in path order; rgb.png is stored [C, H, W] and matches the resize reference.
        let files = try ImageFolder.imageFiles(in: Fixtures.images).filter { !$0.path.contains("/broken/") }
        let position = try #require(files.firstIndex { $0.lastPathComponent == "rgb.png" })
        let planes = Array(set.image(at: position))
        let interleaved = (0..<64).flatMap { i in (0..<3).map { planes[$0 * 64 + i] } }
        #expect(maxDifference(interleaved, Fixtures.expected.resize.pixels) <= 1)

        let grey = try ImageFolder.load(Fixtures.images, options: .init(size: 4, channels: 1))
        #expect(dims(grey.count, grey.channels, grey.height, grey.width) == dims(10, 1, 4, 4))
    }

    @Test("Image folder under strict: the first corrupt image is an error")
    func strict() {
        let error = datasetError { _ = try ImageFolder.load(Fixtures.images, options: .init(size: 8, strict: true)) }
        guard case .corruptImage(let path, _)? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(path.hasSuffix("broken/corrupt.jpg"))
    }

    @Test("Missing and empty folders say what to do")
    func missingAndEmpty() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/images")
        let error = datasetError { _ = try ImageFolder.load(missing, options: .init(size: 8)) }
        #expect(error == .missing(path: missing.path, fix: "Pass an existing folder of PNG or JPEG images."))
        #expect(error?.description == "/nonexistent/images: not found. Pass an existing folder of PNG or JPEG images.")

        let directory = try temporaryDirectory()
        try Data("x".utf8).write(to: directory.appendingPathComponent("bad.png"))
        let empty = datasetError { _ = try ImageFolder.load(directory, options: .init(size: 8)) }
        #expect(empty == .empty(path: directory.path, skipped: 1))
        #expect(empty!.description.contains("no readable PNG or JPEG images"))
        #expect(empty!.description.contains("1 file(s) were unreadable"))
    }

    @Test("CIFAR-10: labels and R, G, B planes")
    func cifar() throws {
        let set = try CIFAR10.load(directory: Fixtures.url("cifar"))
        #expect(dims(set.count, set.channels, set.height, set.width) == dims(10, 3, 32, 32))
        #expect(set.labels == Array(0..<10))
        for (i, c, y, x) in [(0, 0, 0, 0), (3, 1, 5, 7), (9, 2, 31, 31)] {
            #expect(set.image(at: i)[set.image(at: i).startIndex + (c * 32 + y) * 32 + x] == UInt8((17 * i + 5 * c + 3 * y + x) % 256))
        }
        let batch = set.batch(indices: [9])
        #expect(batch.shape == [1, 3, 32, 32])
        #expect(batch[flat: 0] == Float(153) / 127.5 - 1)
    }

    @Test("CIFAR-10: a truncated file and a missing folder")
    func cifarErrors() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("data_batch_1.bin")
        try Data(try Data(contentsOf: Fixtures.url("cifar/data_batch_1.bin")).prefix(3073 * 2 + 100)).write(to: file)
        let error = datasetError { _ = try CIFAR10.load(files: [file]) }
        #expect(error == .truncatedCIFAR(path: file.path, size: 6246))
        #expect(error!.description.contains("not a multiple of the 3073-byte CIFAR-10 record"))
        #expect(error!.description.contains("2 whole record(s) and 100 stray byte(s)"))

        let none = datasetError { _ = try CIFAR10.load(directory: directory, train: false) }
        guard case .missing(let path, let fix)? = none else {
            Issue.record("unexpected \(String(describing: none))")
            return
        }
        #expect(path.hasSuffix("test_batch.bin"))
        #expect(fix.contains("cifar-10-batches-bin"))
    }

    @Test("IDX: gzip and plain files agree; labels; native, padded and resized layouts")
    func idx() throws {
        let gz = try IDX.load(images: Fixtures.url("idx/images-idx3-ubyte.gz"), labels: Fixtures.url("idx/labels-idx1-ubyte.gz"))
        let plain = try IDX.load(images: Fixtures.url("idx/images-idx3-ubyte"))
        #expect(gz.pixels == plain.pixels)
        #expect(gz.labels == [3, 1, 4, 1, 5])
        #expect(dims(gz.count, gz.channels, gz.height, gz.width) == dims(5, 1, 28, 28))
        let value: Int = (40 * 2 + 9 * 10 + 5 * 3) % 256  // image 2, y 10, x 3
        #expect(Int(gz.image(at: 2)[2 * 784 + 10 * 28 + 3]) == value)

        let padded = try IDX.load(images: Fixtures.url("idx/images-idx3-ubyte.gz"), layout: .pad(to: 32))
        #expect(dims(padded.count, padded.height, padded.width) == dims(5, 32, 32))
        let image = Array(padded.image(at: 1))
        #expect(image[0..<64].allSatisfy { $0 == 0 } && image[(30 * 32)...].allSatisfy { $0 == 0 })
        #expect((2..<30).allSatisfy { y in image[y * 32] == 0 && image[y * 32 + 1] == 0 && image[y * 32 + 30] == 0 })
        let corner: Int = (40 + 9 * 27 + 5 * 27) % 256  // image 1, y 27, x 27
        #expect(image[2 * 32 + 2] == 40)
        #expect(Int(image[29 * 32 + 29]) == corner)
        // Padding is black: -1 after scaling.
        #expect(padded.batch(indices: [1])[flat: 0] == -1)

        let resized = try IDX.load(images: Fixtures.url("idx/images-idx3-ubyte"), layout: .resize(to: 32))
        #expect(maxDifference(Array(resized.image(at: 0)), Fixtures.expected.idxResize.pixels) <= 1)
    }

    @Test("IDX errors: wrong magic, truncated data, mismatched labels, corrupt gzip")
    func idxErrors() throws {
        let directory = try temporaryDirectory()
        let source = try Data(contentsOf: Fixtures.url("idx/images-idx3-ubyte"))

        let labelsAsImages = Fixtures.url("idx/labels-idx1-ubyte.gz")
        let magic = datasetError { _ = try IDX.load(images: labelsAsImages) }
        #expect(magic == .badIDXMagic(path: labelsAsImages.path, expected: 0x803, actual: 0x801))
        #expect(magic!.description.contains("magic is 0x00000801, expected 0x00000803"))

        let short = directory.appendingPathComponent("short-idx3-ubyte")
        try Data(source.prefix(1000)).write(to: short)
        let truncated = datasetError { _ = try IDX.load(images: short) }
        #expect(truncated == .truncatedIDX(path: short.path, expectedBytes: 16 + 5 * 784, actualBytes: 1000))
        #expect(truncated!.description.contains("promises 3936 bytes, the file has 1000"))

        let labels = directory.appendingPathComponent("labels-idx1-ubyte")
        try Data([0, 0, 8, 1, 0, 0, 0, 2, 7, 7]).write(to: labels)
        let mismatch = datasetError { _ = try IDX.load(images: Fixtures.url("idx/images-idx3-ubyte"), labels: labels) }
        let images = Fixtures.url("idx/images-idx3-ubyte")
        #expect(mismatch == .labelCountMismatch(labels: labels.path, labelCount: 2, images: images.path, imageCount: 5))
        #expect(mismatch!.description.contains("2 labels, but \(images.path) holds 5 images; each image needs exactly one label"))

        let cut = directory.appendingPathComponent("cut-idx3-ubyte.gz")
        let gz = try Data(contentsOf: Fixtures.url("idx/images-idx3-ubyte.gz"))
        try Data(gz.prefix(gz.count / 2)).write(to: cut)
        let corrupt = datasetError { _ = try IDX.load(images: cut) }
        guard case .corruptGzip(cut.path, _)? = corrupt else {
            Issue.record("unexpected \(String(describing: corrupt))")
            return
        }
    }

    @Test("Fashion-MNIST: a missing install names the package to install")
    func fashionMissing() throws {
        let directory = try temporaryDirectory()
        let error = datasetError { _ = try FashionMNIST.load(directory: directory) }
        guard case .missing(let path, _)? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(path.hasSuffix("train-images-idx3-ubyte.gz"))
        #expect(error!.description.contains("dataset-fashion-mnist"))

        if !FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory.path) {
            let fromDebian = datasetError { _ = try FashionMNIST.load() }
            #expect(fromDebian!.description.contains("apt-get install dataset-fashion-mnist"))
        }
    }

    @Test(
        "Fashion-MNIST from Debian's dataset-fashion-mnist: 10,000 test images, 1,000 per class",
        .enabled(
            if: FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory.path),
            "Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)"))
    func fashionInstalled() throws {
        let test = try FashionMNIST.load(train: false)
        #expect(dims(test.count, test.channels, test.height, test.width) == dims(10000, 1, 32, 32))
        #expect(test.pixels.count == 10000 * 32 * 32)  // bytes, not floats: compact in memory
        var perClass = [Int](repeating: 0, count: 10)
        for label in test.labels { perClass[label] += 1 }
        #expect(perClass == [Int](repeating: 1000, count: 10))
    }
}
