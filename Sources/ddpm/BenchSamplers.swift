import ArgumentParser
import Datasets
import Foundation
import Pipelines
import Tensors

/// `ddpm bench samplers`: each deterministic solver at a few step counts against a converged ODE
/// solution from the same x_T (distance and wall time per image), as a table, a CSV, a log-log
/// plot, and a grid of the same x_T sampled by every solver beside Algorithm 2 at T steps.
struct BenchSamplers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "samplers", abstract: "Quality vs steps of every solver on one model (distance to the converged ODE solution).")

    @Option(help: "A diffusers model directory or checkpoint (default: the shipped Fashion-MNIST model).") var model: String?
    @Option(help: "Images per run (one batch).") var count = 8
    @Option(help: "Step counts, comma-separated.") var steps = "5,10,20,50"
    @Option(help: "Steps of the reference solution (DPM-Solver++ order 3, trailing).") var referenceSteps = 1000
    @Option(help: "Step counts of the comparison grid, comma-separated.") var gridSteps = "10,20"
    @Option(help: "Output directory (samplers.csv, samplers.png, grid.png).") var output = "bench-samplers"

    static let solvers: [SamplerKind] = [.ddim, .pndm, .deis, .dpmSolverPlusPlus, .dpmSolverPlusPlusSinglestep, .unipc, .euler, .heun]

    func stepList(_ text: String) throws -> [Int] {
        let values = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 >= 1 }) else { throw ValidationError("'\(text)' is not a list of step counts ≥ 1.") }
        return values
    }

    func validate() throws {
        _ = try stepList(steps)
        _ = try stepList(gridSteps)
    }

    func run() throws {
        print(ComputeSettings.convolutionBackend.description)
        let loaded = try LoadedModel(model)
        let pipeline = try loaded.pipeline()
        let size = pipeline.imageSize
        let noise = pipeline.initialNoise(count: count, imageSize: size, seed: 2026)
        print(
            "model: \(loaded.source); \(count) images; reference: DPM-Solver++ order 3, \(referenceSteps) trailing steps; all solvers trailing"
        )
        let comparison = try SamplerComparison(pipeline: pipeline, noise: noise, referenceSteps: referenceSteps)
        let out = URL(fileURLWithPath: output)
        try createOutputDirectory(out)
        var csv = "sampler,steps,evaluations,rms_distance,seconds_per_image,scheduler_share\n"
        var series: [(name: String, points: [(Double, Double)])] = []
        print("sampler                    steps  NFE   RMS distance   s/image   scheduler share")
        for kind in Self.solvers {
            var points: [(Double, Double)] = []
            for n in try stepList(steps) {
                let row = try comparison.measure(Sampler(kind, steps: n)).row
                points.append((Double(row.evaluations), row.distance))
                csv += "\(kind.rawValue),\(n),\(row.evaluations),\(row.distance),\(row.secondsPerImage),\(row.schedulerShare)\n"
                print(
                    kind.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)
                        + String(
                            format: " %5d %4d   %.3e   %7.4f   %.2f%%", n, row.evaluations, row.distance, row.secondsPerImage,
                            100 * row.schedulerShare))
            }
            series.append((kind.rawValue, points))
        }
        try atomicWrite(Data(csv.utf8), to: out.appendingPathComponent("samplers.csv"))
        let palette = [
            RGB(0, 0, 0), RGB(230, 120, 0), RGB(120, 60, 180), RGB(30, 80, 200), RGB(200, 40, 40), RGB(20, 140, 60),
            RGB(0, 160, 170), RGB(160, 120, 20),
        ]
        let plot = LinePlot(
            title: "Distance to the converged ODE solution", xLabel: "network evaluations",
            yLabel: "RMS distance of x0",
            series: series.enumerated().map { i, s in
                LinePlot.Series(name: s.name, points: s.points.map { (x: $0.0, y: $0.1) }, colour: palette[i % palette.count])
            }, xScale: .logarithmic, yScale: .logarithmic)
        try ImageWriter.writePNG(plot.image(width: 760, height: 460), to: out.appendingPathComponent("samplers.png"))

        // The grid: Algorithm 2 at T steps, then each solver at the grid's step counts.
        var rows = [
            (
                label: "ddpm \(pipeline.diffusion.schedule.timestepCount)",
                samples: try comparison.pipeline.sample(from: noise, sampler: .ddpm(steps: nil), seed: 0).sample
            )
        ]
        for n in try stepList(gridSteps) {
            for kind in Self.solvers { rows.append(("\(kind.rawValue) \(n)", try comparison.measure(Sampler(kind, steps: n)).sample)) }
        }
        try ImageWriter.writePNG(SamplerComparison.figure(rows), to: out.appendingPathComponent("grid.png"))
        print("wrote \(out.path)/samplers.csv, samplers.png, grid.png (\(rows.count) labelled rows)")
    }
}
