import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import Tensors
import TestSupport
import Testing

@Suite("Likelihood bound on a test set (Ho et al. 2020, Table 2 and §4.3)")
struct LikelihoodEvaluationTests {
    @Test("a tiny model gives finite bits/dim whose prior and per-timestep terms sum to the total; T evaluations per batch")
    func tinyModelBound() throws {
        let unet = try UNet(Tiny.deterministicUNet, seed: 3)
        let ddpm = DDPM(schedule: try NoiseSchedule(timestepCount: 12))
        var evaluations = 0
        let report = try ddpm.likelihood(
            of: Tiny.images(count: 6), count: 5, batchSize: 2, seed: 9,
            predictNoise: unet.noisePredictor()
        ) { evaluations += 1 }
        #expect(evaluations == 12 * 3)
        #expect(report.imageCount == 5 && report.terms.count == 12 && report.distortion.count == 12)
        #expect(report.total.isFinite && report.total > 0 && report.standardError.isFinite)
        #expect(report.terms.allSatisfy(\.isFinite) && report.distortion.allSatisfy { $0.isFinite && $0 >= 0 })
        let sum = report.prior + report.terms.reduce(0, +)
        #expect(abs(sum - report.total) <= 1e-9 * report.total, "prior + Σ terms = \(sum), total \(report.total)")
        #expect(report.decoder == report.terms[0])
        #expect(report.rate(at: 12) == report.prior)
        #expect(abs(report.rate(at: 1) + report.terms[0] - report.total) <= 1e-9 * report.total)

        let rows = report.csv.split(separator: "\n")
        #expect(rows.count == 13 && rows[0] == "t,term_bits_per_dim,rate_bits_per_dim,distortion_rmse")
        #expect(rows[1].hasPrefix("12,") && rows[12].hasPrefix("1,"))
        #expect(report.summaryTimesteps(rows: 4) == [12, 9, 5, 1])
    }

    @Test("the same seed gives the same bound; a different one a different draw")
    func seeded() throws {
        let unet = try UNet(Tiny.deterministicUNet, seed: 3)
        let ddpm = DDPM(schedule: try NoiseSchedule(timestepCount: 4))
        func run(_ seed: UInt64) throws -> LikelihoodReport {
            try ddpm.likelihood(of: Tiny.images(count: 6), count: 2, batchSize: 2, seed: seed, predictNoise: unet.noisePredictor())
        }
        #expect(try run(1) == run(1))
        #expect(try run(1).total != run(2).total)
    }
}
