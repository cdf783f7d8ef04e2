import Datasets
import Foundation

/// A PNG line chart of the training loss (raw in grey, moving average in blue), drawn directly
/// into a raster: a handful of lines does not justify a plotting dependency.
public enum LossPlot {
    public static func image(losses: [Float], width: Int = 640, height: Int = 360) -> RasterImage {
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        let margin = 30
        func set(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = (y * width + x) * 3
            (pixels[i], pixels[i + 1], pixels[i + 2]) = rgb
        }
        for x in margin..<(width - margin) { set(x, height - margin, (0, 0, 0)) }   // x axis
        for y in margin..<(height - margin) { set(margin, y, (0, 0, 0)) }          // y axis
        let finite = losses.filter(\.isFinite)
        guard finite.count >= 2, let low = finite.min(), let high = finite.max() else {
            return RasterImage(width: width, height: height, channels: 3, pixels: pixels)
        }
        // Log scale: diffusion losses fall by orders of magnitude early on.
        let (lo, hi) = (Foundation.log(Double(max(low, 1e-8))), Foundation.log(Double(max(high, low * 1.0001, 1e-8))))
        func point(_ i: Int, _ v: Float) -> (Int, Int) {
            let x = margin + Int(Double(i) / Double(losses.count - 1) * Double(width - 2 * margin - 1))
            let f = (Foundation.log(Double(max(v, 1e-8))) - lo) / max(hi - lo, 1e-12)
            return (x, height - margin - Int(f * Double(height - 2 * margin - 1)))
        }
        func line(_ values: [Float], _ rgb: (UInt8, UInt8, UInt8)) {
            for i in 1..<values.count where values[i].isFinite && values[i - 1].isFinite {
                let (x0, y0) = point(i - 1, values[i - 1]), (x1, y1) = point(i, values[i])
                let n = max(abs(x1 - x0), abs(y1 - y0), 1)
                for k in 0...n { set(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, rgb) }
            }
        }
        line(losses, (190, 190, 190))
        let window = max(1, losses.count / 50)
        var smoothed: [Float] = []
        var sum: Float = 0
        for (i, v) in losses.enumerated() {
            sum += v
            if i >= window { sum -= losses[i - window] }
            smoothed.append(sum / Float(min(i + 1, window)))
        }
        line(smoothed, (30, 80, 200))
        return RasterImage(width: width, height: height, channels: 3, pixels: pixels)
    }
}
