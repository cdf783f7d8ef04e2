import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import Tensors
import TestSupport
import Testing

/// `ddpm evaluate --nll --plot`: the rate–distortion figure of Ho et al. 2020 (Fig. 5).
@Suite("Rate–distortion curve (Ho et al. 2020 §4.3, Fig. 5)", .serialized)
struct RateDistortionTests {
    /// `t → (rate, distortion)` from a CSV with a header naming the columns.
    static func columns(_ csv: String, rate: String, distortion: String) throws -> [Int: (Double, Double)] {
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let header = try #require(lines.first)
        let (r, d) = (try #require(header.firstIndex(of: rate)), try #require(header.firstIndex(of: distortion)))
        var out: [Int: (Double, Double)] = [:]
        for row in lines.dropFirst() { out[try #require(Int(row[0]))] = (try #require(Double(row[r])), try #require(Double(row[d]))) }
        return out
    }

    @Test("the curve holds rate(at: t) and distortion[t − 1] for t = T … 1, and its three panels plot exactly those points")
    func curveFromReport() throws {
        let unet = try UNet(Tiny.deterministicUNet, seed: 3)
        let report = try DDPM(schedule: try NoiseSchedule(timestepCount: 6))
            .likelihood(of: Tiny.images(count: 6), count: 3, batchSize: 3, seed: 1, predictNoise: unet.noisePredictor())
        let curve = RateDistortionCurve(report)
        #expect(curve.points.map(\.t) == [6, 5, 4, 3, 2, 1] && curve.points.map(\.reverseSteps) == [1, 2, 3, 4, 5, 6])
        #expect(curve.points.map(\.rate) == (1...6).reversed().map { report.rate(at: $0) })
        #expect(curve.points.map(\.distortion) == (1...6).reversed().map { report.distortion[$0 - 1] })
        let table = try Self.columns(report.csv, rate: "rate_bits_per_dim", distortion: "distortion_rmse")
        let plotted = try Self.columns(curve.csv, rate: "rate_bits_per_dim", distortion: "distortion_rmse")
        #expect(table.count == 6 && table.keys.allSatisfy { table[$0]! == plotted[$0]! })
        let panels = curve.plots
        #expect(panels.count == 3)
        #expect(panels[0].series[0].points.map(\.y) == curve.points.map(\.distortion))
        #expect(panels[1].series[0].points.map(\.y) == curve.points.map(\.rate))
        #expect(
            panels[2].series[0].points.map(\.x) == curve.points.map(\.rate)
                && panels[2].series[0].points.map(\.y) == curve.points.map(\.distortion))
        #expect(panels[0].series[0].points.map(\.x) == [1, 2, 3, 4, 5, 6])
    }

    @Test("`--plot rd.png` beside `--nll-table`: a three-panel PNG, and a CSV whose rates and distortions equal the table's (same run)")
    func plotMatchesTable() throws {
        let directory = try temporaryDirectory("ddpm-rd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try Tiny.saveModel(in: directory)
        let data = directory.appendingPathComponent("test")
        let set = Tiny.images(count: 6)
        try ImageWriter.writeImages(set.batch(indices: Array(0..<set.count)), to: data)
        let table = directory.appendingPathComponent("table.csv")
        let plot = directory.appendingPathComponent("rd.png")
        let result = try CommandLineTool.runSeparately([
            "evaluate", "--nll", "--model", model.path, "--data", data.path, "--count", "4",
            "--batch-size", "2", "--nll-table", table.path, "--plot", plot.path,
        ])
        try #require(result.status == 0, "exit \(result.status); stderr: \(result.stderr)")
        let csv = directory.appendingPathComponent("rd.csv")
        #expect(
            result.stdout.contains("wrote the rate-distortion curve (Fig. 5) to \(plot.path) and its 8 points to \(csv.path)"),
            "\(result.stdout)")
        let fromTable = try Self.columns(
            String(contentsOf: table, encoding: .utf8), rate: "rate_bits_per_dim", distortion: "distortion_rmse")
        let fromPlot = try Self.columns(String(contentsOf: csv, encoding: .utf8), rate: "rate_bits_per_dim", distortion: "distortion_rmse")
        #expect(fromTable.count == 8 && fromPlot.count == 8)
        for t in 1...8 {
            let (a, b) = (try #require(fromTable[t]), try #require(fromPlot[t]))
            #expect(a.0 == b.0 && a.1 == b.1, "t = \(t): table \(a), plot \(b)")
        }
        #expect(fromPlot[1]!.0 > fromPlot[8]!.0, "the rate grows as t falls")
        let image = try ImageCodecs.decode(contentsOf: plot)
        #expect(image.width == 3 * 420 && image.height == 320 && image.channels == 3)
    }

    @Test("--plot needs --nll, and may not write its CSV over the --nll-table file")
    func plotValidation() throws {
        let alone = try CommandLineTool.runSeparately(["evaluate", "--images", "imgs", "--inception", "w.pth", "--plot", "rd.png"])
        #expect(
            alone.status == 64
                && alone.stderr.contains("Error: --plot draws the rate-distortion curve of --nll; add --nll --model <dir or checkpoint>."),
            "\(alone.stderr)")
        let clash = try CommandLineTool.runSeparately([
            "evaluate", "--nll", "--model", "m", "--nll-table", "out/rd.csv", "--plot", "out/rd.png",
        ])
        #expect(
            clash.status == 64
                && clash.stderr.contains(
                    "Error: --plot out/rd.png writes its numbers to out/rd.csv, the --nll-table file; give one of them another name."),
            "\(clash.stderr)")
    }
}
