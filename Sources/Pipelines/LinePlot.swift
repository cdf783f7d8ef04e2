import Datasets
import Foundation

/// A line chart drawn into a `Canvas`: axes with "nice" ticks (1, 2 or 5 × 10ⁿ; decades on a log
/// axis), tick labels, grid lines, axis labels, a title and a legend. Used by the training-loss
/// plot and the rate–distortion figure (Ho et al. 2020, Fig. 5).
///
/// ```swift
/// let plot = LinePlot(title: "rate", xLabel: "t", yLabel: "bits/dim",
///                     series: [.init(name: "rate", points: [(1, 1.7), (500, 0.4), (1000, 0)])])
/// try ImageWriter.writePNG(plot.image(width: 480, height: 320), to: url)
/// ```
public struct LinePlot: Sendable {
    public enum Scale: Sendable { case linear, logarithmic }

    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var colour: RGB
        public var thickness: Int

        public init(name: String, points: [(x: Double, y: Double)], colour: RGB = .blue, thickness: Int = 2) {
            (self.name, self.points, self.colour, self.thickness) = (name, points, colour, thickness)
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var xScale: Scale
    public var yScale: Scale
    /// Draw the legend (top right) when there is more than one series or a named one.
    public var showsLegend: Bool

    public init(
        title: String = "", xLabel: String = "", yLabel: String = "", series: [Series] = [],
        xScale: Scale = .linear, yScale: Scale = .linear, showsLegend: Bool = true
    ) {
        (self.title, self.xLabel, self.yLabel, self.series) = (title, xLabel, yLabel, series)
        (self.xScale, self.yScale, self.showsLegend) = (xScale, yScale, showsLegend)
    }

    /// The plot alone as an RGB image.
    public func image(width: Int = 640, height: Int = 360) -> RasterImage {
        var canvas = Canvas(width: width, height: height)
        draw(into: &canvas, x: 0, y: 0, width: width, height: height)
        return canvas.image
    }

    /// Several plots side by side, each `panelWidth` × `panelHeight` (the layout of Fig. 5).
    public static func panels(_ plots: [LinePlot], panelWidth: Int = 420, panelHeight: Int = 320) -> RasterImage {
        var canvas = Canvas(width: panelWidth * max(1, plots.count), height: panelHeight)
        for (i, plot) in plots.enumerated() { plot.draw(into: &canvas, x: i * panelWidth, y: 0, width: panelWidth, height: panelHeight) }
        return canvas.image
    }

    /// The axis ranges: the finite points (positive ones on a log axis) widened to the outer ticks.
    /// `nil` when no point can be drawn.
    public func axes() -> (x: ClosedRange<Double>, y: ClosedRange<Double>)? {
        let points = series.flatMap(\.points).filter { usable($0.x, xScale) && usable($0.y, yScale) }
        guard let first = points.first else { return nil }
        let x = points.reduce(first.x...first.x) { min($0.lowerBound, $1.x)...max($0.upperBound, $1.x) }
        let y = points.reduce(first.y...first.y) { min($0.lowerBound, $1.y)...max($0.upperBound, $1.y) }
        return (Self.widened(x, xScale), Self.widened(y, yScale))
    }

    /// About `count` round tick values covering `range`: multiples of 1, 2 or 5 × 10ⁿ, or on a log
    /// axis the powers of ten (with 2 and 5 × 10ⁿ when the range spans less than two decades).
    public static func ticks(_ range: ClosedRange<Double>, scale: Scale = .linear, count: Int = 5) -> [Double] {
        switch scale {
        case .linear:
            let step = niceStep(range.upperBound - range.lowerBound, count: count)
            let first = (range.lowerBound / step).rounded(.up)
            let last = (range.upperBound / step).rounded(.down)
            guard first <= last else { return [range.lowerBound] }
            return stride(from: first, through: last, by: 1).map { $0 * step }
        case .logarithmic:
            let (lo, hi) = (log10(range.lowerBound), log10(range.upperBound))
            let decades = stride(from: lo.rounded(.up), through: hi.rounded(.down), by: 1).map { pow(10, $0) }
            guard hi - lo < 2 else { return decades }
            let (low, high): (Double, Double) = (range.lowerBound * (1 - 1e-9), range.upperBound * (1 + 1e-9))
            let candidates: [Double] = stride(from: lo.rounded(.down), through: hi.rounded(.down), by: 1).flatMap { e in
                [1.0, 2, 5].map { $0 * pow(10, e) }
            }
            return candidates.filter { $0 >= low && $0 <= high }
        }
    }

    /// A tick label: as many decimals as the tick spacing needs, or `1e-3` style for very large or
    /// small values.
    public static func label(_ value: Double, spacing: Double) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 1e5 || abs(value) < 1e-3 {  // 1e-04 → 1e-4, 2e+06 → 2e6
            return String(format: "%.0e", value).replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e")
        }
        let decimals = max(0, Int(-log10(spacing).rounded(.down)))
        return String(format: "%.\(min(decimals, 6))f", value)
    }

    // MARK: - Drawing

    /// Draws the plot into the rectangle (`x`, `y`, `width`, `height`) of `canvas`.
    public func draw(into canvas: inout Canvas, x: Int, y: Int, width: Int, height: Int) {
        let font = BitmapFont.glyphHeight
        let axes = axes() ?? (0...1, 0...1)
        let xTicks = Self.ticks(axes.x, scale: xScale)
        let yTicks = Self.ticks(axes.y, scale: yScale)
        let yLabels = yTicks.map { Self.label($0, spacing: spacing(yTicks)) }
        let left = x + (yLabel.isEmpty ? 6 : font + 10) + (yLabels.map { BitmapFont.width(of: $0) }.max() ?? 0) + 6
        let top = y + (title.isEmpty ? 10 : font + 14)
        let right = x + width - 16
        let bottom = y + height - (xLabel.isEmpty ? font + 12 : 2 * font + 18)
        guard right - left > 10, bottom - top > 10 else { return }
        func px(_ v: Double) -> Int { left + Int((fraction(v, axes.x, xScale) * Double(right - left)).rounded()) }
        func py(_ v: Double) -> Int { bottom - Int((fraction(v, axes.y, yScale) * Double(bottom - top)).rounded()) }

        // 1. grid lines, ticks and tick labels
        for (tick, text) in zip(xTicks, xTicks.map { Self.label($0, spacing: spacing(xTicks)) }) {
            let p = px(tick)
            canvas.line(from: p, top, to: p, bottom, .lightGrey)
            canvas.line(from: p, bottom, to: p, bottom + 4, .black)
            canvas.text(text, x: p - BitmapFont.width(of: text) / 2, y: bottom + 7)
        }
        for (tick, text) in zip(yTicks, yLabels) {
            let p = py(tick)
            canvas.line(from: left, p, to: right, p, .lightGrey)
            canvas.line(from: left - 4, p, to: left, p, .black)
            canvas.text(text, x: left - 7 - BitmapFont.width(of: text), y: p - font / 2 + 1)
        }
        // 2. the series, clipped to the plot area
        for s in series {
            let points = s.points.filter { usable($0.x, xScale) && usable($0.y, yScale) }.map { (px($0.x), py($0.y)) }
            canvas.clip = (left, top, right - left + 1, bottom - top + 1)
            if points.count == 1 { canvas.fill(x: points[0].0 - 2, y: points[0].1 - 2, width: 5, height: 5, s.colour) }
            for (a, b) in zip(points, points.dropFirst()) { canvas.line(from: a.0, a.1, to: b.0, b.1, s.colour, thickness: s.thickness) }
            canvas.clip = nil
        }
        // 3. axes, labels, title, legend
        canvas.line(from: left, bottom, to: right, bottom, .black)
        canvas.line(from: left, top, to: left, bottom, .black)
        canvas.text(xLabel, x: (left + right - BitmapFont.width(of: xLabel)) / 2, y: bottom + font + 12)
        canvas.text(yLabel, x: x + 4, y: (top + bottom + BitmapFont.width(of: yLabel)) / 2, vertical: true)
        canvas.text(title, x: (left + right - BitmapFont.width(of: title)) / 2, y: y + 6)
        let named = series.filter { !$0.name.isEmpty }
        guard showsLegend, !named.isEmpty else { return }
        let rowHeight = font + 4
        let boxWidth = 30 + (named.map { BitmapFont.width(of: $0.name) }.max() ?? 0)
        let (boxX, boxY) = (right - boxWidth - 6, top + 6)
        canvas.fill(x: boxX, y: boxY, width: boxWidth, height: named.count * rowHeight + 6, .white)
        for (i, s) in named.enumerated() {
            let rowY = boxY + 4 + i * rowHeight
            canvas.line(from: boxX + 4, rowY + font / 2, to: boxX + 20, rowY + font / 2, s.colour, thickness: s.thickness)
            canvas.text(s.name, x: boxX + 25, y: rowY)
        }
    }

    private func usable(_ v: Double, _ scale: Scale) -> Bool { v.isFinite && (scale == .linear || v > 0) }

    private func spacing(_ ticks: [Double]) -> Double {
        ticks.count > 1 ? zip(ticks, ticks.dropFirst()).map { abs($1 - $0) }.min()! : max(abs(ticks.first ?? 1), 1e-12)
    }

    private func fraction(_ v: Double, _ range: ClosedRange<Double>, _ scale: Scale) -> Double {
        switch scale {
        case .linear: (v - range.lowerBound) / (range.upperBound - range.lowerBound)
        case .logarithmic: (log10(v) - log10(range.lowerBound)) / (log10(range.upperBound) - log10(range.lowerBound))
        }
    }

    static func niceStep(_ span: Double, count: Int) -> Double {
        let raw = max(span, 1e-300) / Double(max(1, count))
        let magnitude = pow(10, log10(raw).rounded(.down))
        return ([1.0, 2, 5, 10].first { $0 * magnitude >= raw } ?? 10) * magnitude
    }

    static func widened(_ range: ClosedRange<Double>, _ scale: Scale) -> ClosedRange<Double> {
        switch scale {
        case .linear:
            let (lo, hi) =
                range.lowerBound == range.upperBound
                ? (range.lowerBound - max(1, abs(range.lowerBound) * 0.1), range.upperBound + max(1, abs(range.upperBound) * 0.1))
                : (range.lowerBound, range.upperBound)
            let step = niceStep(hi - lo, count: 5)
            return ((lo / step).rounded(.down) * step)...((hi / step).rounded(.up) * step)
        case .logarithmic:
            var (lo, hi) = (log10(range.lowerBound), log10(range.upperBound))
            if hi - lo < 1e-9 { (lo, hi) = (lo - 0.5, hi + 0.5) }
            let (a, b) = hi - lo < 2 ? (log10(niceFloor(pow(10, lo))), log10(niceCeil(pow(10, hi)))) : (lo.rounded(.down), hi.rounded(.up))
            return pow(10, a)...pow(10, b)
        }
    }

    /// The largest 1, 2 or 5 × 10ⁿ at most `v`, and the smallest at least `v`.
    static func niceFloor(_ v: Double) -> Double {
        let m = pow(10, log10(v).rounded(.down))
        return ([5.0, 2, 1].first { $0 * m <= v * (1 + 1e-12) } ?? 1) * m
    }
    static func niceCeil(_ v: Double) -> Double {
        let m = pow(10, log10(v).rounded(.down))
        return ([1.0, 2, 5, 10].first { $0 * m >= v * (1 - 1e-12) } ?? 10) * m
    }
}
