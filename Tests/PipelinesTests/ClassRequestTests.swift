import Models
import Pipelines
import TestSupport
import Testing

/// `--class` / `--guidance-scale` turned into labels: rows for `sample`, class-balanced
/// labels for `evaluate --model`, one class for `interpolate`.
@Suite("Class requests (--class, --guidance-scale)")
struct ClassRequestTests {
    static let conditional = Tiny.unet.withClasses(3, names: ["bar", "stripe", "dot"])

    @Test("sample: one row per requested class, all classes by default, w defaulting to 2 with a null label")
    func rows() throws {
        let all = try #require(try ClassRequest().rows(for: Self.conditional, perClass: 2))
        #expect(all.labels == [0, 0, 1, 1, 2, 2] && all.guidanceScale == 2)
        #expect(try ClassRequest(classes: ["all"]).rows(for: Self.conditional, perClass: 1)?.labels == [0, 1, 2])
        let two = try #require(try ClassRequest(classes: ["dot", "0"], guidanceScale: 4).rows(for: Self.conditional, perClass: 2))
        #expect(two.labels == [2, 2, 0, 0] && two.guidanceScale == 4)
        #expect(try ClassRequest(classes: ["stripe", "dot"]).rows(for: Self.conditional, total: 5)?.labels == [1, 1, 1, 2, 2])
        var noNull = Self.conditional
        (noNull.numClassEmbeds, noNull.nullClassLabel) = (3, nil)
        #expect(try ClassRequest().rows(for: noNull, perClass: 1)?.guidanceScale == 1)
    }

    @Test("evaluate: class-balanced labels cycle through the classes")
    func balanced() throws {
        let c = try #require(try ClassRequest().balanced(for: Self.conditional, count: 7))
        #expect(c.labels == [0, 1, 2, 0, 1, 2, 0])
        #expect(try ClassRequest(classes: ["stripe"]).balanced(for: Self.conditional, count: 3)?.labels == [1, 1, 1])
    }

    @Test("an unconditional model takes neither option, and gets nil without them")
    func unconditional() throws {
        #expect(try ClassRequest().rows(for: Tiny.unet, perClass: 4) == nil)
        #expect(try ClassRequest().balanced(for: Tiny.unet, count: 4) == nil)
        #expect(try ClassRequest().single(for: Tiny.unet) == nil)
        #expect(throws: PipelineError.self) { try ClassRequest(classes: ["1"]).rows(for: Tiny.unet, perClass: 1) }
        #expect(throws: PipelineError.self) { try ClassRequest(guidanceScale: 3).balanced(for: Tiny.unet, count: 4) }
    }

    @Test("bad requests: 'all' with others, no or two classes for interpolation, non-finite w, w ≠ 1 without a null label")
    func refusals() throws {
        func message(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(
            message { _ = try ClassRequest(classes: ["all", "bar"]).rows(for: Self.conditional, perClass: 1) }.contains(
                "--class all already means every class"))
        #expect(message { _ = try ClassRequest().single(for: Self.conditional) }.contains("give exactly one --class"))
        #expect(message { _ = try ClassRequest(classes: ["bar", "dot"]).single(for: Self.conditional) }.contains("not bar, dot"))
        #expect(
            message { _ = try ClassRequest(classes: ["bar"], guidanceScale: .nan).rows(for: Self.conditional, perClass: 1) }.contains(
                "finite"))
        var noNull = Self.conditional
        (noNull.numClassEmbeds, noNull.nullClassLabel) = (3, nil)
        #expect(
            message { _ = try ClassRequest(classes: ["bar"], guidanceScale: 3).rows(for: noNull, perClass: 1) }.contains("no null label"))
        #expect(try ClassRequest(classes: ["dot"]).single(for: Self.conditional)?.label == 2)
    }
}
