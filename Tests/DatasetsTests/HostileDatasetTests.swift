import Datasets
import Foundation
import TestSupport
import Testing

// Issue 14: dataset files that used to trap (IDX larger than the model, header products that
// overflow) or that allocate without bound (image and gzip bombs).
@Suite("Hostile dataset files")
final class HostileDatasetTests {
    let directory: URL
    init() throws {
        directory = try temporaryDirectory("datasets-hostile")
    }
    deinit { try? FileManager.default.removeItem(at: directory) }

    func bigEndian(_ values: [UInt32]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bigEndian) { Array($0) } } }

    func idx(_ name: String, count: Int, rows: Int, columns: Int) throws -> URL {
        let url = directory.appendingPathComponent(name)
        let pixels = (0..<(count * rows * columns)).map { UInt8($0 % 251) }
        try Data(bigEndian([0x803, UInt32(count), UInt32(rows), UInt32(columns)]) + pixels).write(to: url)
        return url
    }

    @Test("IDX images larger than the model's 32×32 (56×28, 40×49) are resized and centre-cropped, not a trap")
    func largerThanTheModel() throws {
        for (rows, columns) in [(56, 28), (40, 49), (33, 33)] {
            let url = try idx("big-\(rows)x\(columns)-idx3-ubyte", count: 2, rows: rows, columns: columns)
            let set = try IDX.load(images: url, layout: .pad(to: 32))
            #expect(set.count == 2 && set.height == 32 && set.width == 32, "\(rows)x\(columns)")
            // The same as preparing the image as an image folder does.
            let first = RasterImage(width: columns, height: rows, channels: 1, pixels: (0..<(rows * columns)).map { UInt8($0 % 251) })
            #expect(Array(set.image(at: 0)) == first.resizedAndCentreCropped(to: 32).pixels)
        }
        // Smaller ones are still padded.
        let small = try IDX.load(images: try idx("small-idx3-ubyte", count: 1, rows: 28, columns: 28), layout: .pad(to: 32))
        #expect(small.height == 32 && small.image(at: 0).first == 0)
    }

    @Test("an IDX header whose dimension product overflows 64 bits is an error naming the dimensions")
    func dimensionOverflow() throws {
        let url = directory.appendingPathComponent("overflow-idx3-ubyte")
        try Data(bigEndian([0x803, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]) + [1, 2, 3]).write(to: url)
        #expect(
            throws: DatasetError.badIDXDimensions(
                path: url.path,
                expected: "sizes whose product (4294967295 × 4294967295 × 4294967295) fits in 64 bits and the file (3 data bytes)",
                actual: [4_294_967_295, 4_294_967_295, 4_294_967_295])
        ) {
            try IDX.load(images: url)
        }
        // A product that fits but exceeds the file is the truncation error, with the sizes.
        try Data(bigEndian([0x803, 0x7FFF_FFFF, 0x7FFF_FFFF, 2]) + [1]).write(to: url)
        #expect(throws: DatasetError.truncatedIDX(path: url.path, expectedBytes: 9_223_372_028_264_841_234, actualBytes: 17)) {
            try IDX.load(images: url)
        }
    }

    @Test("fuzz crash 2: zero images of 4294967295×4294901760 pixels is an error, not an overflow in ImageSet")
    func zeroHugeImages() throws {
        let url = directory.appendingPathComponent("zero-idx3-ubyte")
        try Data(bigEndian([0x803, 0, 0xFFFF_FFFF, 0xFFFF_0000])).write(to: url)  // the fuzzer's 16 bytes
        #expect(
            throws: DatasetError.badIDXDimensions(
                path: url.path, expected: "[count, rows, columns] with rows and columns 1 to 8192",
                actual: [0, 4_294_967_295, 4_294_901_760])
        ) {
            try IDX.load(images: url)
        }
    }

    /// A gzip stream of stored deflate blocks: `size` zero bytes (CRC left wrong: the reader
    /// must stop at the limit before it gets there).
    func gzipOfZeros(_ size: Int) -> Data {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        var left = size
        while left > 0 {
            let n = min(left, 65535)
            left -= n
            out += [left == 0 ? 1 : 0, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += [UInt8](repeating: 0, count: n)
        }
        out += [0, 0, 0, 0] + withUnsafeBytes(of: UInt32(size).littleEndian) { Array($0) }
        return Data(out)
    }

    @Test("a gzip file inflating past the limit (a gzip bomb) stops with an error naming the limit")
    func gzipBomb() throws {
        let url = directory.appendingPathComponent("bomb-idx3-ubyte.gz")
        try gzipOfZeros(3 << 20).write(to: url)
        #expect(
            throws: DatasetError.corruptGzip(
                path: url.path, reason: "it inflates to more than the 1048576-byte limit (a gzip bomb or not a dataset file)")
        ) {
            try ImageCodecs.readPossiblyGzipped(url, limit: 1 << 20)
        }
        #expect(ImageCodecs.maximumInflatedBytes == 1 << 32)
    }

    /// A PNG that is only a signature, an IHDR chunk declaring `width` x `height` and an empty IDAT.
    func pngHeader(width: UInt32, height: UInt32) -> Data {
        var chunk = Array("IHDR".utf8) + bigEndian([width, height]) + [8, 0, 0, 0, 0]
        var crc: UInt32 = 0xFFFF_FFFF
        for b in chunk {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        chunk += bigEndian([~crc])
        // An empty IDAT chunk: libpng reads the header up to the first IDAT.
        let idat: [UInt8] = bigEndian([0]) + Array("IDAT".utf8) + [0x35, 0xAF, 0x06, 0x1E]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + bigEndian([13]) + chunk + idat)
    }

    @Test("a PNG declaring 100000×100000 pixels is refused before its buffer is allocated")
    func imageBomb() throws {
        #expect(throws: DatasetError.corruptImage(path: "bomb.png", reason: "100000x100000 pixels is more than the supported 67108864")) {
            try ImageCodecs.decode(pngHeader(width: 100_000, height: 100_000), path: "bomb.png")
        }
        // Within the limit the same header gets as far as the missing image data.
        #expect(throws: (any Error).self) { try ImageCodecs.decode(pngHeader(width: 4, height: 4), path: "small.png") }
    }

    @Test("a FIFO given as a dataset file is named for what it is")
    func fifo() throws {
        let url = directory.appendingPathComponent("train-images-idx3-ubyte")
        #expect(mkfifo(url.path, 0o600) == 0)
        #expect(throws: DatasetError.cannotRead(path: url.path, reason: "it is a FIFO (named pipe), not a regular file")) {
            try IDX.load(images: url)
        }
    }
}
