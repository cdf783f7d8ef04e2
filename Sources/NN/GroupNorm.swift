import Tensors

/// Group normalisation with a per-channel affine transform (Wu & He 2018).
public final class GroupNorm: Layer {
    public let weight: Parameter
    public let bias: Parameter
    public let groupCount: Int
    public let epsilon: Float

    public init(groupCount: Int, channels: Int, epsilon: Float) {
        precondition(channels % groupCount == 0, "[GroupNorm] \(channels) channels are not divisible into \(groupCount) groups")
        weight = Parameter(.ones([channels]))
        bias = Parameter(.zeros([channels]))
        self.groupCount = groupCount
        self.epsilon = epsilon
    }

    public var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }

    /// GroupNorm(x), or SiLU(GroupNorm(x)) in one pass when `fusingSiLU`.
    public func callAsFunction(_ x: Tensor, fusingSiLU: Bool = false) -> Tensor {
        x.groupNormalized(groups: groupCount, gamma: weight.value, beta: bias.value, epsilon: epsilon, fusingSiLU: fusingSiLU)
    }
}
