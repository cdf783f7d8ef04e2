import Datasets
import Foundation
import TestSupport
import Testing

// ImageCodecs.swift and Resampling.swift: every PNG colour type and bit depth, grey and RGB
// JPEG, corrupt files, conversions, and the resize + centre crop against Pillow.

@Suite("Image codecs")
struct CodecTests {
    static let pngs = [
        "grey.png", "grey_alpha.png", "rgb.png", "rgba.png", "nested/palette.png", "grey16.png",
        "nested/deeper/rgb16.png", "grey1.png",
    ]

    @Test("PNG decodes exactly", arguments: pngs)
    func png(_ name: String) throws {
        let image = try ImageCodecs.decode(contentsOf: Fixtures.images.appendingPathComponent(name))
        let want = try #require(Fixtures.expected.images[name])
        #expect(dims(image.width, image.height, image.channels) == dims(want.width, want.height, want.channels))
        #expect(image.pixels == want.pixels)
    }

    @Test("JPEG decodes as Pillow does, within 2 levels", arguments: ["grey.jpg", "upper.JPEG"])
    func jpeg(_ name: String) throws {
        let image = try ImageCodecs.decode(contentsOf: Fixtures.images.appendingPathComponent(name))
        let want = try #require(Fixtures.expected.images[name])
        #expect(dims(image.width, image.height, image.channels) == dims(want.width, want.height, want.channels))
        #expect(maxDifference(image.pixels, want.pixels) <= 2)
    }

    @Test(
        "Corrupt and truncated files are errors that name the file",
        arguments: ["broken/corrupt.jpg", "broken/truncated.jpg", "broken/truncated.png", "notes.txt"])
    func corrupt(_ name: String) throws {
        let url = Fixtures.images.appendingPathComponent(name)
        let error = try #require(datasetError { _ = try ImageCodecs.decode(contentsOf: url) })
        guard case .corruptImage(let path, let reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(path == url.path)
        #expect(!reason.isEmpty)
        #expect(error.description.hasPrefix(url.path))
        #expect(error.description.contains("--strict"))
    }

    @Test("Conversions: alpha dropped or composited, RGB to grey with PIL's luma weights")
    func conversions() {
        let rgba = RasterImage(width: 2, height: 1, channels: 4, pixels: [200, 100, 50, 255, 10, 20, 30, 0])
        #expect(rgba.converted(toChannels: 3).pixels == [200, 100, 50, 10, 20, 30])
        #expect(rgba.converted(toChannels: 3, alphaBackground: 255).pixels == [200, 100, 50, 255, 255, 255])
        // 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2
        #expect(rgba.converted(toChannels: 1).pixels == [124, 18])  // and 2.99 + 11.74 + 3.42 = 18.15
        let greyAlpha = RasterImage(width: 1, height: 1, channels: 2, pixels: [100, 128])
        #expect(greyAlpha.converted(toChannels: 3).pixels == [100, 100, 100])
        #expect(greyAlpha.converted(toChannels: 1, alphaBackground: 0).pixels == [50])
    }

    @Test("Resize on the shorter side and centre crop agree with Pillow within 1 level")
    func resizeAndCrop() throws {
        let source = try ImageCodecs.decode(contentsOf: Fixtures.images.appendingPathComponent("rgb.png"))
        let reference = Fixtures.expected.resize
        let out = source.resizedAndCentreCropped(to: reference.size)
        #expect(dims(out.width, out.height, out.channels) == dims(8, 8, 3))
        #expect(maxDifference(out.pixels, reference.pixels) <= 1)
        // Portrait images crop vertically; upscaling works too.
        let tall = RasterImage(width: 3, height: 9, channels: 1, pixels: Array(0..<27).map { UInt8($0 * 9) })
        let up = tall.resizedAndCentreCropped(to: 6)
        #expect(dims(up.width, up.height) == dims(6, 6))
    }

    @Test("PNG write then read gives the same pixels")
    func pngRoundTrip() throws {
        let directory = try temporaryDirectory()
        for channels in [1, 3] {
            let pixels = (0..<(13 * 7 * channels)).map { UInt8(($0 * 37) % 256) }
            let image = RasterImage(width: 13, height: 7, channels: channels, pixels: pixels)
            let url = directory.appendingPathComponent("round_\(channels).png")
            try ImageWriter.writePNG(image, to: url)
            #expect(try ImageCodecs.decode(contentsOf: url) == image)
        }
        // Only the final files remain: the temporary files were renamed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["round_1.png", "round_3.png"])
    }
}
