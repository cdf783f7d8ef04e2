import FileIO
import Foundation
import Tensors

/// Writes model images (`[N, C, H, W]` in [-1, 1], C = 1 or 3) as PNG grids, single PNGs and
/// animated GIFs. Every file is written atomically: a temporary file beside the target is
/// written, flushed and renamed over it, so an interrupted run never leaves half an image.
public enum ImageWriter {
    /// Bytes from model values: clamp to [-1, 1], then round((x + 1) * 127.5).
    public static func rasters(_ batch: Tensor) throws(DatasetError) -> [RasterImage] {
        guard batch.rank == 4, batch.shape[1] == 1 || batch.shape[1] == 3, batch.shape[0] > 0 else {
            throw .invalidBatch(shape: batch.shape, reason: "expected [N, C, H, W] with N ≥ 1 and C = 1 or 3")
        }
        let (n, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        let plane = h * w
        return batch.withBuffer { src in
            (0..<n).map { image in
                var pixels = [UInt8](repeating: 0, count: c * plane)
                for i in 0..<plane {
                    for ch in 0..<c {
                        let x = src[(image * c + ch) * plane + i]
                        pixels[i * c + ch] = x.isNaN ? 0 : UInt8(((min(max(x, -1), 1) + 1) * 127.5).rounded())
                    }
                }
                return RasterImage(width: w, height: h, channels: c, pixels: pixels)
            }
        }
    }

    /// The images of `batch` tiled row by row, `columns` per row (default: the smallest number
    /// that makes the grid at least as tall as it is wide, e.g. 8 for 64 images), with `padding`
    /// pixels of `paddingValue` (a model value: -1 black, 1 white) around every tile, as
    /// torchvision's `make_grid` lays them out.
    public static func grid(_ batch: Tensor, columns: Int? = nil, padding: Int = 2, paddingValue: Float = -1) throws(DatasetError)
        -> RasterImage
    {
        let tiles = try rasters(batch)
        let n = tiles.count
        let c = tiles[0].channels
        let (h, w) = (tiles[0].height, tiles[0].width)
        let columnCount = max(1, min(columns ?? Int(Double(n).squareRoot().rounded(.up)), n))
        let rowCount = (n + columnCount - 1) / columnCount
        let (gridWidth, gridHeight) = (columnCount * (w + padding) + padding, rowCount * (h + padding) + padding)
        let fill = UInt8(((min(max(paddingValue, -1), 1) + 1) * 127.5).rounded())
        var pixels = [UInt8](repeating: fill, count: gridWidth * gridHeight * c)
        for (k, tile) in tiles.enumerated() {
            let (top, left) = (padding + (k / columnCount) * (h + padding), padding + (k % columnCount) * (w + padding))
            for y in 0..<h {
                let to = ((top + y) * gridWidth + left) * c
                let from = y * w * c
                pixels.replaceSubrange(to..<(to + w * c), with: tile.pixels[from..<(from + w * c)])
            }
        }
        return RasterImage(width: gridWidth, height: gridHeight, channels: c, pixels: pixels)
    }

    /// Writes `batch` as one PNG grid (see `grid(_:columns:padding:paddingValue:)`).
    public static func writeGrid(
        _ batch: Tensor, to url: URL, columns: Int? = nil, padding: Int = 2,
        paddingValue: Float = -1
    ) throws(DatasetError) {
        try writePNG(grid(batch, columns: columns, padding: padding, paddingValue: paddingValue), to: url)
    }

    /// Writes each image of `batch` to `directory/<prefix>_<i>.png` (i zero-padded, from
    /// `firstIndex`), creating the directory if needed; returns the files.
    @discardableResult
    public static func writeImages(
        _ batch: Tensor, to directory: URL, prefix: String = "sample",
        firstIndex: Int = 0
    ) throws(DatasetError) -> [URL] {
        let images = try rasters(batch)
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw .cannotWrite(path: directory.path, reason: "cannot create the directory: \((error as NSError).localizedDescription)")
        }
        let digits = max(4, String(firstIndex + images.count - 1).count)
        return try images.enumerated().map { (i, image) throws(DatasetError) -> URL in
            let number = String(firstIndex + i)
            let url = directory.appendingPathComponent("\(prefix)_\(String(repeating: "0", count: digits - number.count))\(number).png")
            try writePNG(image, to: url)
            return url
        }
    }

    /// Writes an 8-bit grey or RGB image as PNG.
    public static func writePNG(_ image: RasterImage, to url: URL) throws(DatasetError) {
        try writeAtomically(ImageCodecs.pngData(image, path: url.path), to: url)
    }

    /// Writes `data` to a temporary file beside `url`, flushes it to disk and renames it over
    /// `url`; on any failure the temporary file is removed and an earlier `url` is unchanged.
    public static func writeAtomically(_ data: Data, to url: URL) throws(DatasetError) {
        do { try AtomicFile.write(data, to: url) } catch { throw .cannotWrite(path: url.path, reason: error.reason) }
    }
}
