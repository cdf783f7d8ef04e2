import CImageCodecs
import FileIO
import Foundation

/// An 8-bit image in memory: `channels` samples per pixel, interleaved, rows top to bottom.
///
/// `channels` is 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA); readers reduce it to 1 or 3.
public struct RasterImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(
            pixels.count == width * height * channels,
            "[RasterImage] \(width)x\(height)x\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Converts to grey (1) or RGB (3) channels.
    ///
    /// Alpha is dropped, as PIL's `convert("RGB")` (used by diffusers and lucidrains) does, unless
    /// `alphaBackground` is given: then pixels are composited over that grey level (255 = white),
    /// which suits transparent clip art and emoji. RGB becomes grey with the ITU-R 601 luma
    /// weights that PIL uses (L = 0.299 R + 0.587 G + 0.114 B).
    public func converted(toChannels target: Int, alphaBackground: UInt8? = nil) -> RasterImage {
        precondition(target == 1 || target == 3, "[RasterImage] can convert to 1 or 3 channels, not \(target)")
        if channels == target { return self }
        let count = width * height
        let colourCount = channels >= 3 ? 3 : 1
        let hasAlpha = channels % 2 == 0
        var out = [UInt8](repeating: 0, count: count * target)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    var colour: (Float, Float, Float)
                    let p = i * channels
                    if colourCount == 3 {
                        colour = (Float(src[p]), Float(src[p + 1]), Float(src[p + 2]))
                    } else {
                        colour = (Float(src[p]), Float(src[p]), Float(src[p]))
                    }
                    if hasAlpha, let background = alphaBackground {
                        let a = Float(src[p + channels - 1]) / 255
                        let b = Float(background) * (1 - a)
                        colour = (colour.0 * a + b, colour.1 * a + b, colour.2 * a + b)
                    }
                    if target == 3 {
                        dst[3 * i] = clampedByte(colour.0)
                        dst[3 * i + 1] = clampedByte(colour.1)
                        dst[3 * i + 2] = clampedByte(colour.2)
                    } else if colourCount == 1 {
                        dst[i] = clampedByte(colour.0)
                    } else {
                        dst[i] = clampedByte(0.299 * colour.0 + 0.587 * colour.1 + 0.114 * colour.2)
                    }
                }
            }
        }
        return RasterImage(width: width, height: height, channels: target, pixels: out)
    }
}

@inline(__always)
func clampedByte(_ value: Float) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }

/// PNG and JPEG through libpng and libjpeg-turbo (Sources/CImageCodecs), gzip through zlib.
public enum ImageCodecs {
    /// Decodes a PNG or JPEG file, recognised by its first bytes rather than its extension.
    public static func decode(contentsOf url: URL) throws(DatasetError) -> RasterImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .cannotRead(path: url.path, reason: (error as NSError).localizedDescription)
        }
        return try decode(data, path: url.path)
    }

    /// Decodes PNG or JPEG bytes; `path` only labels errors.
    public static func decode(_ data: Data, path: String) throws(DatasetError) -> RasterImage {
        let bytes = [UInt8](data)
        var image = ddpm_decoded_image()
        var message = [CChar](repeating: 0, count: Int(DDPM_CODEC_MESSAGE_LENGTH))
        let status: Int32
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            status = ddpm_png_decode(bytes, bytes.count, &image, &message)
        } else if bytes.starts(with: [0xFF, 0xD8]) {
            status = ddpm_jpeg_decode(bytes, bytes.count, &image, &message)
        } else {
            throw .corruptImage(
                path: path,
                reason:
                    "neither PNG nor JPEG: the file starts with bytes \(bytes.prefix(4).map { String($0, radix: 16) }.joined(separator: " "))"
            )
        }
        guard status == 0, let pixels = image.pixels else {
            throw .corruptImage(path: path, reason: codecMessage(message))
        }
        defer { ddpm_codec_free(pixels) }
        let count = Int(image.width) * Int(image.height) * Int(image.channels)
        return RasterImage(
            width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
            pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    /// Encodes an 8-bit grey or RGB image as PNG bytes.
    public static func pngData(_ image: RasterImage, path: String = "<memory>") throws(DatasetError) -> Data {
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(DDPM_CODEC_MESSAGE_LENGTH))
        let status = ddpm_png_encode(
            image.pixels, Int32(image.width), Int32(image.height), Int32(image.channels),
            &output, &size, &message)
        guard status == 0, let output else { throw .cannotWrite(path: path, reason: "PNG encoding failed: \(codecMessage(message))") }
        defer { ddpm_codec_free(output) }
        return Data(bytes: output, count: size)
    }

    /// The bytes of a file, inflated if it is gzip (zlib passes other files through unchanged).
    /// The most a dataset file may inflate to: 4 GiB (MNIST's training images are 47 MB, all of
    /// CIFAR-10 is 180 MB).
    public static let maximumInflatedBytes = 1 << 32

    public static func readPossiblyGzipped(
        _ url: URL, fix: String = "Check the path.",
        limit: Int = maximumInflatedBytes
    ) throws(DatasetError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missing(path: url.path, fix: fix) }
        if let kind = AtomicFile.nonRegularFileKind(url.path) {
            throw .cannotRead(path: url.path, reason: "it is \(kind), not a regular file")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(DDPM_CODEC_MESSAGE_LENGTH))
        guard ddpm_gz_read_file(url.path, limit, &output, &size, &message) == 0, let output else {
            throw .corruptGzip(path: url.path, reason: codecMessage(message))
        }
        defer { ddpm_codec_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}

/// A C message buffer up to its terminator (`String(cString:)` on arrays is deprecated).
private func codecMessage(_ message: [CChar]) -> String {
    String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
