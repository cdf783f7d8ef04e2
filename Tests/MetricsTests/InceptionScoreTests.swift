import Foundation
import Metrics
import Tensors
import Testing

/// Inception Score against a numpy transcription of OpenAI's improved-GAN `inception_score`.
@Suite("Inception Score equals the numpy reference")
struct InceptionScoreTests {
    @Test("mean and std over 10 splits equal numpy's to 1e-6 relative", arguments: ["1008", "uneven"])
    func score(_ name: String) throws {
        let json = try MetricsFixtures.metadata("is_\(name)").data(using: .utf8)!
        let expected = try #require(try JSONSerialization.jsonObject(with: json) as? [Double])
        let score = try InceptionScore(logits: try MetricsFixtures.tensor("is_\(name)/logits"))
        expectRelative(score.mean, expected[0], 1e-6, "IS mean \(name)")
        expectRelative(score.standardDeviation, expected[1], 1e-6, "IS std \(name)")
        #expect(score.splitScores.count == 10)
    }

    @Test("identical predictions score 1; fewer samples than splits is an error")
    func edgeCases() throws {
        let same = Tensor(shape: [20, 3], scalars: Array(repeating: [1, 2, 3], count: 20).flatMap { $0 })
        let score = try InceptionScore(logits: same)
        #expect(abs(score.mean - 1) < 1e-12 && score.standardDeviation < 1e-12)
        #expect(throws: MetricsError.mismatch(what: "samples for 10 Inception Score splits", expected: "at least 10", actual: "5")) {
            try InceptionScore(logits: .zeros([5, 3]))
        }
    }
}
