import Datasets
import Foundation
import Pipelines
import Testing

/// The small plotting helper behind loss.png and the rate–distortion figure.
@Suite("Line plots: ticks, labels, series, legend")
struct LinePlotTests {
    /// The pixels of `image` (RGB) equal to `colour`, as (x, y).
    static func pixels(of colour: RGB, in image: RasterImage) -> [(x: Int, y: Int)] {
        var found: [(x: Int, y: Int)] = []
        for y in 0..<image.height {
            for x in 0..<image.width {
                let i = (y * image.width + x) * 3
                if RGB(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]) == colour { found.append((x, y)) }
            }
        }
        return found
    }

    @Test("ticks are 1, 2 or 5 × 10ⁿ (decades on a log axis) and their labels carry the decimals the spacing needs")
    func ticksAndLabels() {
        #expect(LinePlot.ticks(0...80) == [0, 20, 40, 60, 80])
        #expect(LinePlot.ticks(0...1.5) == [0, 0.5, 1, 1.5])
        #expect(LinePlot.ticks(1e-3...1, scale: .logarithmic) == [1e-3, 1e-2, 1e-1, 1])
        #expect(LinePlot.ticks(0.02...1, scale: .logarithmic).map { ($0 * 1e6).rounded() / 1e6 } == [0.02, 0.05, 0.1, 0.2, 0.5, 1])
        #expect(
            LinePlot.label(0.5, spacing: 0.5) == "0.5" && LinePlot.label(20, spacing: 20) == "20" && LinePlot.label(0, spacing: 1) == "0")
        #expect(LinePlot.label(1e-4, spacing: 1e-4) == "1e-4" && LinePlot.label(2e6, spacing: 1e6) == "2e6")
        let plot = LinePlot(series: [.init(name: "", points: [(3, 0.013), (997, 83.2)])])
        let axes = try! #require(plot.axes())
        #expect(axes.x == 0...1000 && axes.y == 0...100, "\(axes)")
    }

    @Test("a rising series runs from the bottom left to the top right of the axes; title, labels and legend are drawn")
    func drawing() throws {
        let rising = LinePlot.Series(name: "rising", points: (0...10).map { (Double($0), Double($0)) }, colour: .red)
        let flat = LinePlot.Series(name: "flat", points: [(0, 5), (10, 5)], colour: .green)
        let image = LinePlot(title: "TITLE", xLabel: "x", yLabel: "y", series: [rising, flat]).image(width: 400, height: 300)
        #expect(image.width == 400 && image.height == 300 && image.channels == 3)
        let red = Self.pixels(of: .red, in: image)
        let green = Self.pixels(of: .green, in: image)
        try #require(red.count > 200 && green.count > 100, "\(red.count) red and \(green.count) green pixels")
        let first = red.min { $0.x < $1.x }!
        let last = red.max { $0.x < $1.x }!
        #expect(first.y > last.y + 150, "the line rises: \(first) → \(last)")
        // The flat line sits half-way up: its y is the middle of the red line's extent.
        let middle = Double(first.y + last.y) / 2
        #expect(
            green.filter { $0.x < 300 }.allSatisfy { abs(Double($0.y) - middle) <= 3 }, "flat line at \(green.first!), middle \(middle)")
        // Text is black: the title band at the top and the legend box at the top right hold ink.
        let black = Self.pixels(of: .black, in: image)
        #expect(black.contains { $0.y < 14 && $0.x > 150 && $0.x < 250 }, "title")
        #expect(black.contains { $0.y < 60 && $0.x > 330 }, "legend text")
        #expect(red.contains { $0.y < 60 && $0.x > 300 && $0.y > 14 && abs($0.y - 36) <= 2 }, "legend swatch")
    }

    @Test("the loss plot draws the raw loss in grey and its moving average in blue, falling on a log axis")
    func lossPlot() throws {
        let losses = (0..<500).map { Float(exp(-Double($0) / 100)) + Float($0 % 7) * 1e-3 }
        let image = LossPlot.image(losses: losses)
        let blue = Self.pixels(of: .blue, in: image).filter { $0.x < 500 || $0.y > 60 }  // leave out the legend
        try #require(blue.count > 300 && Self.pixels(of: .grey, in: image).count > 100)
        let left = blue.min { $0.x < $1.x }!
        let right = blue.max { $0.x < $1.x }!
        #expect(left.y < right.y - 150, "falling: \(left) → \(right)")
        #expect(LossPlot.plot(losses: losses).yScale == .logarithmic)
    }
}
