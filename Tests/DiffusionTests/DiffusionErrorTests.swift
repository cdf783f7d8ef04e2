import Diffusion
import Tensors
import Testing

@Suite("Bad input gives clear errors")
struct DiffusionErrorTests {
    struct ErrorCase: CustomTestStringConvertible, Sendable {
        let id: String
        let make: @Sendable () throws(DiffusionError) -> Void
        let expected: DiffusionError
        let message: String
        var testDescription: String { id }
    }

    static let cases: [ErrorCase] = [
        ErrorCase(
            id: "T = 0", make: { () throws(DiffusionError) in _ = try NoiseSchedule(.paper, timestepCount: 0) },
            expected: .timestepCountTooSmall(0),
            message: "The diffusion chain needs at least one timestep (T = 0). Use T ≥ 1; the paper uses T = 1000."),
        ErrorCase(
            id: "β = 1", make: { () throws(DiffusionError) in _ = try NoiseSchedule(betas: [0.5, 1.0]) },
            expected: .betaOutOfRange(t: 2, beta: 1),
            message:
                "β_2 = 1.0 is outside (0, 1). Every β_t must satisfy 0 < β_t < 1; check the schedule's start and end values (the paper uses 1e-4 to 0.02)."
        ),
        ErrorCase(
            id: "β = 0", make: { () throws(DiffusionError) in _ = try NoiseSchedule(.custom([0, 0.1])) },
            expected: .betaOutOfRange(t: 1, beta: 0),
            message:
                "β_1 = 0.0 is outside (0, 1). Every β_t must satisfy 0 < β_t < 1; check the schedule's start and end values (the paper uses 1e-4 to 0.02)."
        ),
        ErrorCase(
            id: "linear end ≥ 1",
            make: { () throws(DiffusionError) in _ = try NoiseSchedule(.linear(start: 1e-4, end: 1.5), timestepCount: 10) },
            expected: .invalidLinearSchedule(start: 1e-4, end: 1.5),
            message: "A linear β schedule from 0.0001 to 1.5 is invalid. Use 0 < start ≤ end < 1 (the paper: 1e-4 to 0.02)."),
        ErrorCase(
            id: "more DDIM steps than T", make: { () throws(DiffusionError) in _ = try DDIM(DDPM(schedule: paperSchedule), steps: 1001) },
            expected: .invalidSamplingStepCount(requested: 1001, timestepCount: 1000),
            message: "Cannot sample with 1001 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000."),
        ErrorCase(
            id: "zero respaced steps", make: { () throws(DiffusionError) in _ = try DDPM(schedule: paperSchedule).respaced(steps: 0) },
            expected: .invalidSamplingStepCount(requested: 0, timestepCount: 1000),
            message: "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000."),
        ErrorCase(
            id: "unknown spacing", make: { () throws(DiffusionError) in _ = try TimestepSpacing(parsing: "karras") },
            expected: .unknownTimestepSpacing("karras"),
            message: "Unknown timestep spacing 'karras'. Use one of: leading, linspace, trailing."),
        ErrorCase(
            id: "respaced timestep beyond T",
            make: { () throws(DiffusionError) in _ = try DDPM(schedule: paperSchedule).respaced(timesteps: [1, 1001]) },
            expected: .invalidRespacedTimesteps(timesteps: [1, 1001], timestepCount: 1000),
            message: "Respaced timesteps [1, 1001] must be distinct paper timesteps in 1...1000, at least one."),
        ErrorCase(
            id: "negative η", make: { () throws(DiffusionError) in _ = try DDIM(DDPM(schedule: paperSchedule), steps: 10, eta: -0.5) },
            expected: .negativeEta(-0.5),
            message: "DDIM's η must be at least 0 (got -0.5); η = 0 is deterministic DDIM, η = 1 matches DDPM's posterior variance."),
    ]

    @Test("Each bad input throws the expected error with a message saying how to fix it", arguments: cases)
    func badInput(_ c: ErrorCase) {
        do {
            try c.make()
            Issue.record("\(c.id): no error thrown")
        } catch {
            #expect(error == c.expected)
            #expect(error.description == c.message)
        }
    }
}
