import Datasets
import Foundation

/// The training-loss chart (`loss.png` of a run): the raw loss per step in grey and its moving
/// average in blue, on a log axis (diffusion losses fall by orders of magnitude early on).
public enum LossPlot {
    public static func plot(losses: [Float]) -> LinePlot {
        let window = max(1, losses.count / 50)
        var smoothed: [(x: Double, y: Double)] = []
        var sum: Float = 0
        for (i, v) in losses.enumerated() {
            sum += v
            if i >= window { sum -= losses[i - window] }
            smoothed.append((Double(i + 1), Double(sum / Float(min(i + 1, window)))))
        }
        let raw = losses.enumerated().map { (x: Double($0.offset + 1), y: Double($0.element)) }
        return LinePlot(
            title: "training loss", xLabel: "step", yLabel: "loss",
            series: [
                .init(name: "loss", points: raw, colour: .grey, thickness: 1),
                .init(name: "moving average (\(window) steps)", points: smoothed, colour: .blue, thickness: 2),
            ],
            yScale: .logarithmic)
    }

    public static func image(losses: [Float], width: Int = 640, height: Int = 360) -> RasterImage {
        plot(losses: losses).image(width: width, height: height)
    }
}
