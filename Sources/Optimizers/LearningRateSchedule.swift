/// Linear warm-up from 0 to the base rate over `warmupSteps`, then constant
/// (`diffusion_tf/utils.py: get_warmed_up_lr`; DDPM uses 5000 steps).
public struct LearningRateSchedule: Sendable, Equatable {
    public var baseRate: Float
    public var warmupSteps: Int
    public init(baseRate: Float = 2e-4, warmupSteps: Int = 5000) { (self.baseRate, self.warmupSteps) = (baseRate, warmupSteps) }
    /// The rate for step `step` (1-based: the first update uses step 1).
    public func rate(atStep step: Int) -> Float {
        warmupSteps <= 0 ? baseRate : baseRate * min(1, Float(step) / Float(warmupSteps))
    }
}
