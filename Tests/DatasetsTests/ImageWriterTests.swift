import Datasets
import Foundation
import Tensors
import TestSupport
import Testing

// ImageWriter.swift and GIFWriter.swift: value mapping, grid layout, files, GIF, errors.

@Suite("Image writer")
struct ImageWriterTests {
    @Test("Model values map to bytes: clamp, (x + 1) * 127.5, round")
    func mapping() throws {
        let batch = Tensor(shape: [1, 1, 1, 6], scalars: [-2, -1, 0, 0.5, 1, 3])
        #expect(try ImageWriter.rasters(batch)[0].pixels == [0, 0, 128, 191, 255, 255])
    }

    @Test("Grid layout: columns, padding and padding value")
    func grid() throws {
        // 5 RGB 2x3 images of value k / 4 (0, 0.25, …), 3 columns, padding 1 of white.
        let scalars = (0..<5).flatMap { k in [Float](repeating: Float(k) / 4, count: 3 * 2 * 3) }
        let grid = try ImageWriter.grid(Tensor(shape: [5, 3, 2, 3], scalars: scalars), columns: 3, padding: 1, paddingValue: 1)
        #expect(dims(grid.width, grid.height, grid.channels) == dims(3 * 4 + 1, 2 * 3 + 1, 3))
        func pixel(_ x: Int, _ y: Int) -> UInt8 { grid.pixels[(y * grid.width + x) * 3] }
        #expect(pixel(0, 0) == 255 && pixel(4, 1) == 255)
        #expect(pixel(1, 1) == 128)  // image 0 at (1, 1)
        #expect(pixel(5, 1) == 159)  // image 1: round(1.25 * 127.5) = 159
        #expect(pixel(1, 4) == 223)  // image 3 starts the second row: round(1.75 * 127.5)
        #expect(pixel(9, 4) == 255)  // empty sixth cell keeps the padding value
        #expect(try ImageWriter.grid(Tensor(shape: [64, 1, 2, 2], scalars: [Float](repeating: 0, count: 256))).width == 8 * 4 + 2)
    }

    @Test("Grid and single PNGs are written and read back")
    func files() throws {
        let directory = try temporaryDirectory()
        let batch = Tensor(shape: [3, 1, 4, 5], scalars: (0..<60).map { Float($0) / 30 - 1 })
        let gridURL = directory.appendingPathComponent("grid.png")
        try ImageWriter.writeGrid(batch, to: gridURL, columns: 2, padding: 0)
        let grid = try ImageCodecs.decode(contentsOf: gridURL)
        #expect(dims(grid.width, grid.height, grid.channels) == dims(10, 8, 1))

        let urls = try ImageWriter.writeImages(batch, to: directory.appendingPathComponent("samples"), firstIndex: 8)
        #expect(urls.map(\.lastPathComponent) == ["sample_0008.png", "sample_0009.png", "sample_0010.png"])
        let second = try ImageCodecs.decode(contentsOf: urls[1])
        let expected: [UInt8] = (20..<40).map { (i: Int) -> UInt8 in
            let value: Float = Float(i) / 30  // (x + 1) with x = i / 30 - 1
            return UInt8((value * 127.5).rounded())
        }
        #expect(second.pixels == expected)
    }

    @Test("An unwritable path is an error naming it; no temporary file is left")
    func unwritable() throws {
        let batch = Tensor(shape: [1, 1, 2, 2], scalars: [0, 0, 0, 0])
        let url = URL(fileURLWithPath: "/nonexistent-directory/grid.png")
        let error = datasetError { try ImageWriter.writeGrid(batch, to: url) }
        guard case .cannotWrite(url.path, _)? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(error!.description.hasPrefix("/nonexistent-directory/grid.png: cannot write"))

        let bad = datasetError {
            try ImageWriter.writeGrid(Tensor(shape: [2, 2, 2, 2], scalars: [Float](repeating: 0, count: 16)), to: url)
        }
        guard case .invalidBatch([2, 2, 2, 2], _)? = bad else {
            Issue.record("unexpected \(String(describing: bad))")
            return
        }
    }

    @Test("GIF: header, frames, and LZW data that decodes back to the frame", arguments: [1, 3])
    func gif(_ channels: Int) throws {
        let (h, w) = (40, 50)  // 2000 pixels of noise overflow the 4096-entry code table, so clear codes are exercised
        var rng = SystemRandomNumberGenerator()
        let frames = (0..<2).map { _ in
            Tensor(shape: [channels, h, w], scalars: (0..<(channels * h * w)).map { _ in Float.random(in: -1...1, using: &rng) })
        }
        let url = try temporaryDirectory().appendingPathComponent("process.gif")
        try ImageWriter.writeGIF(frames: frames, to: url, delay: 20)
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(Array(bytes[0..<6]) == Array("GIF89a".utf8) && bytes.last == 0x3B)
        #expect(Int(bytes[6]) | Int(bytes[7]) << 8 == w)

        // The first frame's image data starts after header (13), palette (768), loop extension
        // (19), graphic control (8) and image descriptor (10), then the minimum code size.
        var offset = 13 + 768 + 19 + 8 + 10
        #expect(bytes[offset] == 8)
        offset += 1
        var data: [UInt8] = []
        while bytes[offset] != 0 {
            data += bytes[(offset + 1)..<(offset + 1 + Int(bytes[offset]))]
            offset += 1 + Int(bytes[offset])
        }
        let raster = try ImageWriter.rasters(frames[0].reshaped(to: [1, channels, h, w]))[0]
        var expected: [UInt8] = raster.pixels
        if channels == 3 {
            expected = (0..<(h * w)).map { (i: Int) -> UInt8 in
                let levels: [Int] = (0..<3).map { (c: Int) -> Int in (Int(raster.pixels[3 * i + c]) + 25) / 51 }
                return UInt8(levels[0] * 36 + levels[1] * 6 + levels[2])
            }
        }
        #expect(lzwDecode(data) == expected)
    }
}

/// A plain GIF LZW decoder (8-bit symbols) to check the encoder against.
func lzwDecode(_ data: [UInt8]) -> [UInt8] {
    var table: [[UInt8]] = (0..<256).map { [UInt8($0)] } + [[], []]
    var width = 9
    var bitPosition = 0
    var previous: [UInt8]? = nil
    var out: [UInt8] = []
    while bitPosition + width <= data.count * 8 {
        var code = 0
        for b in 0..<width where data[(bitPosition + b) / 8] >> ((bitPosition + b) % 8) & 1 == 1 { code |= 1 << b }
        bitPosition += width
        if code == 256 {
            table.removeSubrange(258...)
            width = 9
            previous = nil
            continue
        }
        if code == 257 { break }
        let entry: [UInt8]
        if code < table.count { entry = table[code] } else if let p = previous { entry = p + [p[0]] } else { return out }
        out += entry
        if let p = previous, table.count < 4096 { table.append(p + [entry[0]]) }
        if table.count == 1 << width, width < 12 { width += 1 }
        previous = entry
    }
    return out
}
