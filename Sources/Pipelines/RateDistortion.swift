import Datasets
import Foundation

/// The rate–distortion curve of §4.3 (Ho et al. 2020, Fig. 5): at each paper timestep t, the
/// rate (bits/dim the receiver holds once it has x_t) and the distortion (RMSE of x̂₀(x_t) on the
/// [0, 255] scale), taken from a `LikelihoodReport` (`ddpm evaluate --nll`) or from one image's
/// progressive code (`ddpm reconstruct`).
public struct RateDistortionCurve: Equatable, Sendable {
    public struct Point: Equatable, Sendable {
        /// Paper timestep, T … 1.
        public var t: Int
        /// Reverse-process steps taken to reach x_t, T − t + 1 (the x axis of Fig. 5).
        public var reverseSteps: Int
        public var rate: Double
        public var distortion: Double
    }

    /// One point per timestep, t = T first (the order of the reverse process).
    public let points: [Point]

    /// The curve of `report`: `rate(at: t)` and `distortion[t − 1]` for t = T … 1, the numbers of
    /// `report.csv` (`--nll-table`).
    public init(_ report: LikelihoodReport) {
        let T = report.timestepCount
        points = stride(from: T, through: 1, by: -1).map {
            Point(t: $0, reverseSteps: T - $0 + 1, rate: report.rate(at: $0), distortion: report.distortion[$0 - 1])
        }
    }

    /// The CSV written beside the figure: `t,reverse_steps,rate_bits_per_dim,distortion_rmse`.
    public var csv: String {
        (["t,reverse_steps,rate_bits_per_dim,distortion_rmse"] + points.map { "\($0.t),\($0.reverseSteps),\($0.rate),\($0.distortion)" })
            .joined(separator: "\n") + "\n"
    }

    /// The three panels of Fig. 5: distortion against reverse steps, rate against reverse steps,
    /// distortion against rate.
    public var plots: [LinePlot] {
        let steps = "reverse process steps (T - t + 1)"
        let rate = "rate (bits/dim)"
        let distortion = "distortion (RMSE, 0-255)"
        return [
            LinePlot(
                title: "distortion vs steps", xLabel: steps, yLabel: distortion,
                series: [
                    .init(name: "", points: points.map { (Double($0.reverseSteps), $0.distortion) }, colour: .blue)
                ]),
            LinePlot(
                title: "rate vs steps", xLabel: steps, yLabel: rate,
                series: [
                    .init(name: "", points: points.map { (Double($0.reverseSteps), $0.rate) }, colour: .red)
                ]),
            LinePlot(
                title: "distortion vs rate", xLabel: rate, yLabel: distortion,
                series: [
                    .init(name: "", points: points.map { ($0.rate, $0.distortion) }, colour: .green)
                ]),
        ]
    }

    /// The figure: the three panels side by side.
    public func image(panelWidth: Int = 420, panelHeight: Int = 320) -> RasterImage {
        LinePlot.panels(plots, panelWidth: panelWidth, panelHeight: panelHeight)
    }

    /// Writes the figure to `png` and the numbers to the same path with extension `.csv`;
    /// returns the CSV's URL.
    @discardableResult
    public func write(to png: URL) throws(PipelineError) -> URL {
        let csvURL = Self.csvURL(beside: png)
        do { try ImageWriter.writePNG(image(), to: png) } catch { throw .cannotWrite(path: png.path, reason: error.description) }
        try atomicWrite(Data(csv.utf8), to: csvURL)
        return csvURL
    }

    /// `rd.png` → `rd.csv`.
    public static func csvURL(beside png: URL) -> URL { png.deletingPathExtension().appendingPathExtension("csv") }
}
