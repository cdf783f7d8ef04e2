import Diffusion
import Foundation
import SafeTensors
import Tensors
import TestSupport
import Testing

@Suite("DPM-Solver bad options give clear errors")
struct DPMSolverErrorTests {
    typealias Config = DPMSolverMultistep.Configuration

    static func multistep(_ steps: Int, _ edit: @escaping @Sendable (inout Config) -> Void) -> @Sendable () throws(DiffusionError) -> Void {
        { () throws(DiffusionError) in
            var c = Config()
            edit(&c)
            _ = try DPMSolverMultistep(schedule: paperSchedule, steps: steps, configuration: c)
        }
    }

    static func singlestep(_ steps: Int, _ edit: @escaping @Sendable (inout DPMSolverSinglestep.Configuration) -> Void)
        -> @Sendable () throws(DiffusionError) -> Void
    {
        { () throws(DiffusionError) in
            var c = DPMSolverSinglestep.Configuration()
            edit(&c)
            _ = try DPMSolverSinglestep(schedule: paperSchedule, steps: steps, configuration: c)
        }
    }

    static let cases: [(String, @Sendable () throws(DiffusionError) -> Void, String)] = [
        (
            "multistep, 0 steps", multistep(0) { _ in },
            "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000."
        ),
        (
            "multistep, 1001 steps", multistep(1001) { _ in },
            "Cannot sample with 1001 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000."
        ),
        (
            "multistep, order 4", multistep(10) { $0.solverOrder = 4 },
            "DPMSolverMultistepScheduler: solver_order = 4 is not supported; use 1, 2 or 3."
        ),
        (
            "multistep, dpmsolver with final σ = 0", multistep(10) { $0.algorithmType = .dpmSolver },
            "DPMSolverMultistepScheduler: final_sigmas_type = zero is not supported; dpmsolver and sde-dpmsolver need sigma_min."
        ),
        (
            "multistep, sde-dpmsolver order 3",
            multistep(10) {
                $0.algorithmType = .sdeDPMSolver
                $0.finalSigma = .sigmaMin
                $0.solverOrder = 3
            },
            "DPMSolverMultistepScheduler: solver_order = 3 is not supported; sde-dpmsolver has orders 1 and 2 only."
        ),
        (
            "multistep, thresholding ratio 0",
            multistep(10) {
                $0.thresholding = true
                $0.dynamicThresholdingRatio = 0
            },
            "DPMSolverMultistepScheduler: dynamic_thresholding_ratio, sample_max_value = 0.0, 1.0 is not supported; use a ratio in (0, 1] and a maximum ≥ 1."
        ),
        (
            "multistep, steps_offset −1", multistep(10) { $0.stepsOffset = -1 },
            "DPMSolverMultistepScheduler: steps_offset = -1 is not supported; use an offset ≥ 0."
        ),
        (
            "singlestep, 0 steps", singlestep(0) { _ in },
            "Cannot sample with 0 steps from a chain of T = 1000 timesteps. Choose a step count between 1 and 1000."
        ),
        (
            "singlestep, order 0", singlestep(10) { $0.solverOrder = 0 },
            "DPMSolverSinglestepScheduler: solver_order = 0 is not supported; use 1, 2 or 3."
        ),
        (
            "singlestep, sde-dpmsolver",
            singlestep(10) {
                $0.algorithmType = .sdeDPMSolver
                $0.finalSigma = .sigmaMin
            },
            "DPMSolverSinglestepScheduler: algorithm_type = sde-dpmsolver is not supported; use dpmsolver++, sde-dpmsolver++ or dpmsolver."
        ),
        (
            "singlestep, dpmsolver with final σ = 0", singlestep(10) { $0.algorithmType = .dpmSolver },
            "DPMSolverSinglestepScheduler: final_sigmas_type = zero is not supported; dpmsolver needs sigma_min."
        ),
        (
            "singlestep, dpmsolver with thresholding",
            singlestep(10) {
                $0.algorithmType = .dpmSolver
                $0.finalSigma = .sigmaMin
                $0.thresholding = true
            },
            "DPMSolverSinglestepScheduler: thresholding = true is not supported; dpmsolver does not support it; use dpmsolver++ or sde-dpmsolver++."
        ),
        (
            "singlestep, sample_max_value 0.5",
            singlestep(10) {
                $0.thresholding = true
                $0.sampleMaxValue = 0.5
            },
            "DPMSolverSinglestepScheduler: dynamic_thresholding_ratio, sample_max_value = 0.995, 0.5 is not supported; use a ratio in (0, 1] and a maximum ≥ 1."
        ),
    ]

    @Test("Each invalid option's message", arguments: cases.indices)
    func message(_ index: Int) {
        let (name, make, message) = Self.cases[index]
        do {
            try make()
            Issue.record("\(name): no error")
        } catch {
            #expect(error.description == message, "\(name)")
        }
    }
}
