import Foundation

/// The integer timestep grid that diffusers' multistep ODE solvers share (DPMSolverMultistep,
/// DPMSolverSinglestep, UniPC, DEIS `set_timesteps`), in 0-based model timesteps, descending, for
/// N steps over the first `last` training timesteps (T, or fewer when λ is clipped):
///
///     linspace  round(linspace(0, last − 1, N + 1))[::-1][:-1]              (their default)
///     leading   round(arange(N + 1) · ⌊last / (N + 1)⌋)[::-1][:-1] + steps_offset
///     trailing  round(arange(last, 0, −T/N)) − 1
///
/// Rounding is numpy's, half to even. Unlike `TimestepSpacing.timesteps` (DDPM/DDIM), linspace
/// and leading divide by N + 1 and drop the last point, so t = 0 is never visited.
public enum SolverTimesteps {
    public static func grid(
        _ spacing: TimestepSpacing, steps: Int, trainTimesteps: Int, last: Int? = nil,
        stepsOffset: Int = 0
    ) -> [Int] {
        let last = last ?? trainTimesteps
        let n = steps
        switch spacing {
        case .linspace:
            let step = Double(last - 1) / Double(n)
            let points = (0...n).map { i in i == n ? Double(last - 1) : Double(i) * step }
            return points.reversed().dropLast().map { Int($0.rounded(.toNearestOrEven)) }
        case .leading:
            let ratio = last / (n + 1)
            return (0...n).reversed().dropLast().map { $0 * ratio + stepsOffset }
        case .trailing:
            let ratio = Double(trainTimesteps) / Double(n)
            let count = Int((Double(last) / ratio).rounded(.up))  // numpy.arange's length
            return (0..<count).map { Int((Double(last) - Double($0) * ratio).rounded(.toNearestOrEven)) - 1 }
        }
    }
}
