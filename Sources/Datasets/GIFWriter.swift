import Foundation
import Tensors

/// Animated GIF89a output for the generative process (x_T … x_0 as frames), written from scratch
/// (LZW included) since it needs no library: grey images use a 256-level grey palette, colour
/// images the 6x6x6 "web-safe" colour cube, which is coarse but enough to watch noise turn into
/// an image.
extension ImageWriter {
    /// Writes `frames` (each `[C, H, W]` or `[1, C, H, W]` in [-1, 1], all the same shape, or
    /// grids) as an animated GIF that loops forever, showing each frame for `delay` hundredths
    /// of a second.
    public static func writeGIF(frames: [Tensor], to url: URL, delay: Int = 10) throws(DatasetError) {
        guard let first = frames.first else { throw .invalidBatch(shape: [], reason: "no frames for the GIF") }
        var images: [RasterImage] = []
        for frame in frames {
            guard frame.shape == first.shape else {
                throw .invalidBatch(shape: frame.shape, reason: "GIF frames differ in shape (first is \(first.shape))")
            }
            let batch = frame.rank == 3 ? frame.reshaped(to: [1] + frame.shape) : frame
            guard batch.rank == 4, batch.shape[0] == 1 else {
                throw .invalidBatch(shape: frame.shape, reason: "a GIF frame must be [C, H, W] or [1, C, H, W]")
            }
            try images.append(rasters(batch)[0])
        }
        try writeAtomically(gifData(images, delay: delay), to: url)
    }

    /// GIF89a bytes for frames of one size (1 or 3 channels).
    public static func gifData(_ frames: [RasterImage], delay: Int = 10) -> Data {
        let (w, h, colour) = (frames[0].width, frames[0].height, frames[0].channels == 3)
        var out = Data("GIF89a".utf8)
        func word(_ v: Int) {
            out.append(UInt8(v & 0xFF))
            out.append(UInt8((v >> 8) & 0xFF))
        }
        word(w)
        word(h)
        out.append(contentsOf: [0xF7, 0, 0])  // global colour table of 2^(7+1) entries, 8 bits per primary
        for i in 0..<256 {
            if colour {
                let rgb = i < 216 ? [i / 36, (i / 6) % 6, i % 6].map { UInt8($0 * 51) } : [0, 0, 0]
                out.append(contentsOf: rgb)
            } else {
                out.append(contentsOf: [UInt8(i), UInt8(i), UInt8(i)])
            }
        }
        // NETSCAPE2.0 application extension: loop forever.
        out.append(contentsOf: [0x21, 0xFF, 0x0B] + Array("NETSCAPE2.0".utf8) + [0x03, 0x01, 0x00, 0x00, 0x00])
        for frame in frames {
            precondition(frame.width == w && frame.height == h && (frame.channels == 3) == colour, "[gifData] frames differ in size")
            out.append(contentsOf: [0x21, 0xF9, 0x04, 0x00])  // graphic control: no transparency
            word(delay)
            out.append(contentsOf: [0x00, 0x00])
            out.append(0x2C)  // image descriptor at (0, 0), no local palette, not interlaced
            word(0)
            word(0)
            word(w)
            word(h)
            out.append(0x00)
            let indices: [UInt8] =
                colour
                ? (0..<(w * h)).map { i in
                    let q = (0..<3).map { (Int(frame.pixels[3 * i + $0]) + 25) / 51 }
                    return UInt8(q[0] * 36 + q[1] * 6 + q[2])
                }
                : frame.pixels
            out.append(8)  // LZW minimum code size
            let compressed = lzwCompress(indices)
            for start in stride(from: 0, to: compressed.count, by: 255) {
                let chunk = compressed[start..<min(start + 255, compressed.count)]
                out.append(UInt8(chunk.count))
                out.append(contentsOf: chunk)
            }
            out.append(0x00)
        }
        out.append(0x3B)
        return out
    }

    /// GIF's variable-width LZW (8-bit symbols, codes of 9 to 12 bits, least significant bit
    /// first); the table restarts with a clear code when all 4096 codes are taken.
    static func lzwCompress(_ symbols: [UInt8]) -> [UInt8] {
        let clear = 256
        let end = 257
        var bytes: [UInt8] = []
        var buffer = 0
        var bitCount = 0
        var width = 9
        var nextCode = 258
        var table: [Int: Int] = [:]
        func emit(_ code: Int) {
            buffer |= code << bitCount
            bitCount += width
            while bitCount >= 8 {
                bytes.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                bitCount -= 8
            }
        }
        emit(clear)
        guard var prefix = symbols.first.map(Int.init) else {
            emit(end)
            return bytes + (bitCount > 0 ? [UInt8(buffer)] : [])
        }
        for symbol in symbols.dropFirst() {
            let key = prefix << 8 | Int(symbol)
            if let code = table[key] {
                prefix = code
                continue
            }
            emit(prefix)
            table[key] = nextCode
            nextCode += 1
            // The decoder adds each entry one code later, so it widens once `nextCode` passes 2^width.
            if nextCode > 1 << width, width < 12 { width += 1 }
            if nextCode == 4096 {
                emit(clear)
                table.removeAll(keepingCapacity: true)
                (width, nextCode) = (9, 258)
            }
            prefix = Int(symbol)
        }
        emit(prefix)
        // The decoder adds an entry for that last code too and may widen before reading `end`.
        if nextCode == 1 << width, width < 12 { width += 1 }
        emit(end)
        if bitCount > 0 { bytes.append(UInt8(buffer & 0xFF)) }
        return bytes
    }
}
