import Datasets

/// An 8-bit RGB colour.
public struct RGB: Equatable, Sendable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) { (self.red, self.green, self.blue) = (red, green, blue) }

    public static let black = RGB(0, 0, 0), white = RGB(255, 255, 255), grey = RGB(190, 190, 190)
    public static let lightGrey = RGB(232, 232, 232), blue = RGB(30, 80, 200), red = RGB(200, 40, 40), green = RGB(20, 140, 60)
}

/// An RGB raster to draw figures into: pixels, lines, rectangles, images and `BitmapFont` text.
/// Coordinates are pixels from the top-left corner; anything outside the canvas is clipped.
public struct Canvas: Sendable {
    public let width: Int, height: Int
    public private(set) var pixels: [UInt8]
    /// When set, only this rectangle (x, y, width, height) is drawn into.
    public var clip: (x: Int, y: Int, width: Int, height: Int)?

    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width > 0 && height > 0, "[Canvas] size must be positive, got \(width)×\(height)")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    /// The canvas as an RGB image (for `ImageWriter.writePNG`).
    public var image: RasterImage { RasterImage(width: width, height: height, channels: 3, pixels: pixels) }

    /// The colour at (`x`, `y`).
    public func colour(x: Int, y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func set(x: Int, y: Int, _ colour: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        if let clip, x < clip.x || x >= clip.x + clip.width || y < clip.y || y >= clip.y + clip.height { return }
        let i = (y * width + x) * 3
        (pixels[i], pixels[i + 1], pixels[i + 2]) = (colour.red, colour.green, colour.blue)
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ colour: RGB) {
        for row in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for column in max(0, x)..<max(max(0, x), min(width, x + w)) { set(x: column, y: row, colour) }
        }
    }

    /// A straight line from (x0, y0) to (x1, y1), `thickness` pixels wide (a square pen).
    public mutating func line(from x0: Int, _ y0: Int, to x1: Int, _ y1: Int, _ colour: RGB, thickness: Int = 1) {
        let n = max(abs(x1 - x0), abs(y1 - y0), 1)
        let offset = (thickness - 1) / 2
        for k in 0...n {
            let (x, y) = (x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n)
            fill(x: x - offset, y: y - offset, width: thickness, height: thickness, colour)
        }
    }

    /// Text with its top-left corner at (`x`, `y`), each font pixel `scale`×`scale`; `vertical`
    /// runs it bottom to top (a y-axis label), with (`x`, `y`) its bottom-left corner.
    public mutating func text(_ string: String, x: Int, y: Int, _ colour: RGB = .black, scale: Int = 1, vertical: Bool = false) {
        for (index, character) in string.enumerated() {
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<BitmapFont.glyphWidth where BitmapFont.isInk(character, column: column, row: row) {
                    let along = (index * BitmapFont.advance + column) * scale
                    let across = row * scale
                    if vertical {
                        fill(x: x + across, y: y - along - scale, width: scale, height: scale, colour)
                    } else {
                        fill(x: x + along, y: y + across, width: scale, height: scale, colour)
                    }
                }
            }
        }
    }

    /// Draws `image` (grey or RGB) with its top-left corner at (`x`, `y`), each pixel `scale`×`scale`.
    public mutating func draw(_ image: RasterImage, x: Int, y: Int, scale: Int = 1) {
        precondition(image.channels == 1 || image.channels == 3, "[Canvas] draws grey or RGB images, got \(image.channels) channels")
        for row in 0..<image.height {
            for column in 0..<image.width {
                let i = (row * image.width + column) * image.channels
                let colour =
                    image.channels == 1
                    ? RGB(image.pixels[i], image.pixels[i], image.pixels[i])
                    : RGB(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2])
                fill(x: x + column * scale, y: y + row * scale, width: scale, height: scale, colour)
            }
        }
    }
}
