import Datasets
import Tensors

/// A labelled grid of model images for figures (Fig. 6 and 7 of Ho et al.): row labels on the
/// left, column headers above, a few lines of text under each column, each image enlarged.
enum FigureGrid {
    /// - Parameters:
    ///   - rows: the tiles, row by row, each `[1, C, H, W]` in [−1, 1] (one size and C per figure).
    ///   - rowLabels: text lines left of each row.
    ///   - columnHeaders: one per column (empty for none), above the first row.
    ///   - columnFooters: text lines per column, under the last row.
    static func image(
        _ rows: [[Tensor]], rowLabels: [[String]], columnHeaders: [String], columnFooters: [[String]] = [],
        scale: Int
    ) throws(PipelineError) -> RasterImage {
        var rasters: [[RasterImage]] = []
        do {
            for row in rows { rasters.append(try row.map { tile throws(DatasetError) in try ImageWriter.rasters(tile)[0] }) }
        } catch { throw .dataset(error) }
        guard let first = rasters.first?.first else { return Canvas(width: 1, height: 1).image }
        let (gap, line) = (6, BitmapFont.glyphHeight + 3)
        let (tileWidth, tileHeight) = (first.width * scale, first.height * scale)
        let footerWidth = columnFooters.flatMap { $0 }.map { BitmapFont.width(of: $0) }.max() ?? 0
        let columnWidth = max(tileWidth, footerWidth) + gap
        let left = gap + (rowLabels.flatMap { $0 }.map { BitmapFont.width(of: $0) }.max() ?? 0) + gap
        let top = gap + (columnHeaders.contains { !$0.isEmpty } ? line + 2 : 0)
        let footerLines = columnFooters.map(\.count).max() ?? 0
        let columnCount = rasters.map(\.count).max() ?? 0
        let width = left + columnCount * columnWidth + gap
        let height = top + rasters.count * (tileHeight + gap) + footerLines * line + gap
        var canvas = Canvas(width: width, height: height)
        for (c, header) in columnHeaders.enumerated() { canvas.text(header, x: left + c * columnWidth, y: gap) }
        for (r, row) in rasters.enumerated() {
            let y = top + r * (tileHeight + gap)
            for (k, text) in (r < rowLabels.count ? rowLabels[r] : []).enumerated() {
                canvas.text(text, x: gap, y: y + (tileHeight - line) / 2 + k * line)
            }
            for (c, tile) in row.enumerated() { canvas.draw(tile, x: left + c * columnWidth, y: y, scale: scale) }
        }
        let footerTop = top + rasters.count * (tileHeight + gap)
        for (c, lines) in columnFooters.enumerated() {
            for (k, text) in lines.enumerated() { canvas.text(text, x: left + c * columnWidth, y: footerTop + k * line) }
        }
        return canvas.image
    }
}
