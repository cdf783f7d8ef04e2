import NN
import Tensors

/// The DDPM U-Net (Ho et al. 2020, App. B; `diffusion_tf/models/unet.py`) with diffusers
/// `UNet2DModel` parameter names, so google/ddpm-* checkpoints load key for key.
///
/// ε_θ(x_t, t): x `[N, C, H, W]` and the model's timestep index t ∈ 0..<T (the original code's
/// and diffusers' convention) → predicted noise `[N, outChannels, H, W]`.
public final class UNet: Layer {
    public let configuration: UNetConfiguration
    package let inputConvolution: Conv2d
    package let timeEmbedding: TimeEmbedding
    /// `class_embedding`: a table (`nn.Embedding`) or, for class_embed_type "timestep", a second
    /// time-embedding MLP over the label's sinusoid; nil for unconditional and "identity" models.
    package let classTable: Embedding?
    package let classTimestepEmbedding: TimeEmbedding?
    package let downBlocks: LayerList<DownBlock>
    let midBlock: MidBlock
    let upBlocks: LayerList<UpBlock>
    let outputNorm: GroupNorm
    let outputConvolution: Conv2d
    /// Called with each stage's output ("conv_in", "down_blocks.i", "mid_block", "up_blocks.i"),
    /// for layer-by-layer comparison with a reference implementation.
    public var activationObserver: ((String, Tensor) -> Void)?

    /// Training memory against time: with `true` (the default) each residual block recomputes
    /// SiLU(GroupNorm(x)) in the backward pass instead of keeping it (`conv2d(recomputing:…)`), which
    /// saves about a tenth of the training memory for one more GroupNorm+SiLU pass per block.
    public var recomputesActivations = true {
        didSet {
            let blocks = downBlocks.items.flatMap(\.resnets.items) + midBlock.resnets.items + upBlocks.items.flatMap(\.resnets.items)
            for block in blocks { block.recomputesActivations = recomputesActivations }
        }
    }

    /// A freshly initialised network (the original's Glorot-uniform init, near-zero where it zeroes).
    public init(_ configuration: UNetConfiguration, seed: UInt64 = 0) throws(UNetConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: seed)
        let c = configuration
        let channels = c.blockOutChannels
        let embedding = 4 * channels[0]
        let groups = c.normNumGroups
        let eps = c.normEps
        inputConvolution = Conv2d(
            inputChannels: c.inChannels, outputChannels: channels[0], kernelSize: 3, padding: .uniform(1), using: &rng)
        timeEmbedding = TimeEmbedding(channels: channels[0], dimensions: embedding, using: &rng)
        var down: [DownBlock] = []
        for (i, type) in c.downBlockTypes.enumerated() {
            down.append(
                DownBlock(
                    inputChannels: i == 0 ? channels[0] : channels[i - 1], outputChannels: channels[i], layers: c.layersPerBlock,
                    attention: type == "AttnDownBlock2D" ? .some(c.attentionHeadDim) : nil, downsample: i < channels.count - 1,
                    downsamplePadding: c.downsamplePadding, embedding: embedding, groups: groups, epsilon: eps, dropout: c.dropout,
                    using: &rng))
        }
        downBlocks = LayerList(down)
        midBlock = MidBlock(
            channels: channels.last!, headDimensions: c.attentionHeadDim, attention: c.addAttention, embedding: embedding,
            groups: groups, epsilon: eps, dropout: c.dropout, outputScale: c.midBlockScaleFactor, using: &rng)
        let reversed = Array(channels.reversed())
        var up: [UpBlock] = []
        for (i, type) in c.upBlockTypes.enumerated() {
            up.append(
                UpBlock(
                    previousChannels: i == 0 ? reversed[0] : reversed[i - 1], outputChannels: reversed[i],
                    skipChannels: reversed[min(i + 1, reversed.count - 1)], layers: c.layersPerBlock + 1,
                    attention: type == "AttnUpBlock2D" ? .some(c.attentionHeadDim) : nil, upsample: i < reversed.count - 1,
                    embedding: embedding, groups: groups, epsilon: eps, dropout: c.dropout, using: &rng))
        }
        upBlocks = LayerList(up)
        outputNorm = GroupNorm(groupCount: groups, channels: channels[0], epsilon: eps)
        outputConvolution = Conv2d(
            inputChannels: channels[0], outputChannels: c.outChannels, kernelSize: 3, padding: .uniform(1),
            initScale: 1e-10, using: &rng)
        // Drawn last, so an unconditional network of a given seed is the same as before classes existed.
        classTable =
            c.isClassConditional && c.classEmbedType == nil
            ? Embedding(count: c.numClassEmbeds ?? 0, dimensions: embedding, using: &rng) : nil
        classTimestepEmbedding =
            c.classEmbedType == "timestep" ? TimeEmbedding(channels: channels[0], dimensions: embedding, using: &rng) : nil
    }

    public var children: [(key: String, layer: any Layer)] {
        let classes: [(key: String, layer: any Layer)] = [classTable as (any Layer)?, classTimestepEmbedding].compactMap {
            $0.map { ("class_embedding", $0) }
        }
        return [("conv_in", inputConvolution), ("time_embedding", timeEmbedding)] + classes
            + [
                ("down_blocks", downBlocks), ("mid_block", midBlock), ("up_blocks", upBlocks), ("conv_norm_out", outputNorm),
                ("conv_out", outputConvolution),
            ]
    }

    /// ε_θ(x, t). `training` switches dropout on; `rng` draws its masks.
    public func callAsFunction(
        _ x: Tensor, timesteps: [Int], classLabels: [Int]? = nil, training: Bool = false,
        rng: inout SeededGenerator
    ) -> Tensor {
        self(x, timesteps: timesteps.map(Double.init), classLabels: classLabels, training: training, rng: &rng)
    }

    /// ε_θ(x, t[, c]) at model timesteps that may be fractional (Euler and Karras-σ samplers).
    /// A class-conditional model needs one label per image (`classLabels`, the null label meaning
    /// "no class"), or for class_embed_type "identity" the vectors `classEmbeddings` `[N, 4·ch]`;
    /// as in diffusers, their embedding is added to the time embedding (unet_2d.py, forward step 1).
    public func callAsFunction(
        _ x: Tensor, timesteps: [Double], classLabels: [Int]? = nil, classEmbeddings: Tensor? = nil,
        training: Bool = false, rng: inout SeededGenerator
    ) -> Tensor {
        precondition(
            x.rank == 4 && x.shape[1] == configuration.inChannels,
            "[UNet] input must be [N, \(configuration.inChannels), H, W], got \(x.shape)")
        precondition(timesteps.count == x.shape[0], "[UNet] \(timesteps.count) timesteps for a batch of \(x.shape[0])")
        let factor = 1 << (configuration.blockOutChannels.count - 1)
        precondition(
            x.shape[2] % factor == 0 && x.shape[3] % factor == 0,
            "[UNet] image size \(x.shape[2])x\(x.shape[3]) must be divisible by \(factor)")
        let input = configuration.centerInputSample ? 2 * x - 1 : x
        let time = timeEmbedding(timesteps, frequencyShift: Float(configuration.freqShift), cosineFirst: configuration.flipSinToCos)
        let conditioned = classEmbedding(labels: classLabels, vectors: classEmbeddings, count: x.shape[0]).map { time + $0 } ?? time
        let embedding = conditioned.silu()  // every block applies SiLU first
        var h = inputConvolution(input)
        activationObserver?("conv_in", h)
        var skips = [h]
        for (i, block) in downBlocks.items.enumerated() {
            h = block(h, embedding: embedding, skips: &skips, training: training, rng: &rng)
            activationObserver?("down_blocks.\(i)", h)
        }
        h = midBlock(h, embedding: embedding, training: training, rng: &rng)
        activationObserver?("mid_block", h)
        for (i, block) in upBlocks.items.enumerated() {
            h = block(h, embedding: embedding, skips: &skips, training: training, rng: &rng)
            activationObserver?("up_blocks.\(i)", h)
        }
        return outputConvolution(outputNorm(h, fusingSiLU: true))
    }
}

extension UNet {
    /// The class term added to the time embedding, `[N, 4·ch]`; nil for an unconditional model.
    /// Wrong class inputs are programming errors here (diffusers raises); the pipelines check
    /// user input with typed errors before calling.
    func classEmbedding(labels: [Int]?, vectors: Tensor?, count: Int) -> Tensor? {
        let c = configuration
        guard c.isClassConditional else {
            precondition(labels == nil && vectors == nil, "[UNet] class input given to an unconditional model (no class_embedding)")
            return nil
        }
        if c.classEmbedType == "identity" {
            guard let vectors else {
                preconditionFailure("[UNet] class_embed_type 'identity' needs classEmbeddings [N, \(4 * c.blockOutChannels[0])]")
            }
            precondition(
                vectors.shape == [count, 4 * c.blockOutChannels[0]],
                "[UNet] classEmbeddings must be [\(count), \(4 * c.blockOutChannels[0])], got \(vectors.shape)")
            return vectors
        }
        guard let labels else { preconditionFailure("[UNet] a class-conditional model needs one class label per image") }
        precondition(labels.count == count, "[UNet] \(labels.count) class labels for a batch of \(count)")
        if let classTable { return classTable(labels) }
        precondition(labels.allSatisfy { $0 >= 0 }, "[UNet] class labels must be non-negative, got \(labels)")
        return classTimestepEmbedding!(labels.map(Double.init), frequencyShift: Float(c.freqShift), cosineFirst: c.flipSinToCos)
    }
}

/// Sinusoidal embedding of t, then Dense(4ch), SiLU, Dense(4ch) (diffusers `time_embedding`).
package final class TimeEmbedding: Layer {
    let channels: Int
    let linear1: Linear, linear2: Linear
    package init(channels: Int, dimensions: Int, using rng: inout SeededGenerator) {
        self.channels = channels
        linear1 = Linear(inputDimensions: channels, outputDimensions: dimensions, using: &rng)
        linear2 = Linear(inputDimensions: dimensions, outputDimensions: dimensions, using: &rng)
    }
    package var children: [(key: String, layer: any Layer)] { [("linear_1", linear1), ("linear_2", linear2)] }
    package func callAsFunction(_ t: [Double], frequencyShift: Float, cosineFirst: Bool) -> Tensor {
        let sinusoid = Tensor.timestepEmbedding(t, dimension: channels, frequencyShift: frequencyShift, cosineFirst: cosineFirst)
        return linear2(linear1(sinusoid).silu())
    }
}

/// `layers` residual blocks (each followed by attention in an attention block), then a stride-2
/// downsample except at the lowest resolution; every output is pushed as a skip connection.
package final class DownBlock: Layer {
    package let resnets: LayerList<ResidualBlock>
    let attentions: LayerList<AttentionBlock>?
    package let downsamplers: LayerList<Downsample>?

    package init(
        inputChannels: Int, outputChannels: Int, layers: Int, attention headDimensions: Int??, downsample: Bool,
        downsamplePadding: Int, embedding: Int, groups: Int, epsilon: Float, dropout: Float, using rng: inout SeededGenerator
    ) {
        resnets = LayerList(
            (0..<layers).map { j in
                ResidualBlock(
                    inputChannels: j == 0 ? inputChannels : outputChannels, outputChannels: outputChannels,
                    embeddingDimensions: embedding, groups: groups, epsilon: epsilon, dropout: dropout, using: &rng)
            })
        attentions = attentionLayers(headDimensions, count: layers, channels: outputChannels, groups: groups, epsilon: epsilon, using: &rng)
        downsamplers = downsample ? LayerList([Downsample(channels: outputChannels, padding: downsamplePadding, using: &rng)]) : nil
    }

    package var children: [(key: String, layer: any Layer)] {
        blockChildren(resnets, attentions, resampler: downsamplers.map { ("downsamplers", $0) })
    }

    package func callAsFunction(_ x: Tensor, embedding: Tensor, skips: inout [Tensor], training: Bool, rng: inout SeededGenerator) -> Tensor
    {
        var h = x
        for (j, resnet) in resnets.items.enumerated() {
            h = resnet(h, activatedEmbedding: embedding, training: training, rng: &rng)
            if let attentions { h = attentions.items[j](h) }
            skips.append(h)
        }
        if let down = downsamplers?.items.first {
            h = down(h)
            skips.append(h)
        }
        return h
    }
}

/// Residual block, attention, residual block at the lowest resolution.
final class MidBlock: Layer {
    package let resnets: LayerList<ResidualBlock>
    let attentions: LayerList<AttentionBlock>?

    package init(
        channels: Int, headDimensions: Int?, attention: Bool, embedding: Int, groups: Int, epsilon: Float, dropout: Float,
        outputScale: Float, using rng: inout SeededGenerator
    ) {
        resnets = LayerList(
            (0..<2).map { _ in
                ResidualBlock(
                    inputChannels: channels, outputChannels: channels, embeddingDimensions: embedding, groups: groups,
                    epsilon: epsilon, dropout: dropout, outputScale: outputScale, using: &rng)
            })
        attentions =
            attention
            ? LayerList([
                AttentionBlock(
                    channels: channels, headDimensions: headDimensions, groups: groups,
                    epsilon: epsilon, using: &rng)
            ]) : nil
    }

    package var children: [(key: String, layer: any Layer)] {
        [("attentions", attentions as (any Layer)?), ("resnets", resnets)].compactMap { k, l in l.map { (k, $0) } }
    }

    package func callAsFunction(_ x: Tensor, embedding: Tensor, training: Bool, rng: inout SeededGenerator) -> Tensor {
        var h = resnets.items[0](x, activatedEmbedding: embedding, training: training, rng: &rng)
        if let attentions { h = attentions.items[0](h) }
        return resnets.items[1](h, activatedEmbedding: embedding, training: training, rng: &rng)
    }
}

/// `layers` residual blocks, each on concat(h, skip) (+ attention), then nearest ×2 and a conv
/// except at full resolution.
final class UpBlock: Layer {
    package let resnets: LayerList<ResidualBlock>
    let attentions: LayerList<AttentionBlock>?
    let upsamplers: LayerList<Upsample>?

    package init(
        previousChannels: Int, outputChannels: Int, skipChannels: Int, layers: Int, attention headDimensions: Int??,
        upsample: Bool, embedding: Int, groups: Int, epsilon: Float, dropout: Float, using rng: inout SeededGenerator
    ) {
        resnets = LayerList(
            (0..<layers).map { j in
                let skip = j == layers - 1 ? skipChannels : outputChannels
                let input = j == 0 ? previousChannels : outputChannels
                return ResidualBlock(
                    inputChannels: input + skip, outputChannels: outputChannels, embeddingDimensions: embedding,
                    groups: groups, epsilon: epsilon, dropout: dropout, using: &rng)
            })
        attentions = attentionLayers(headDimensions, count: layers, channels: outputChannels, groups: groups, epsilon: epsilon, using: &rng)
        upsamplers = upsample ? LayerList([Upsample(channels: outputChannels, using: &rng)]) : nil
    }

    package var children: [(key: String, layer: any Layer)] {
        blockChildren(resnets, attentions, resampler: upsamplers.map { ("upsamplers", $0) })
    }

    package func callAsFunction(_ x: Tensor, embedding: Tensor, skips: inout [Tensor], training: Bool, rng: inout SeededGenerator) -> Tensor
    {
        var h = x
        for (j, resnet) in resnets.items.enumerated() {
            h = resnet(
                Tensor.concatenated([h, skips.removeLast()], alongAxis: 1), activatedEmbedding: embedding,
                training: training, rng: &rng)
            if let attentions { h = attentions.items[j](h) }
        }
        if let up = upsamplers?.items.first { h = up(h) }
        return h
    }
}

/// One attention layer per residual block of a down or up block with attention (`headDimensions`
/// non-nil; its inner nil: one head over all channels), else none.
private func attentionLayers(
    _ headDimensions: Int??, count: Int, channels: Int, groups: Int, epsilon: Float,
    using rng: inout SeededGenerator
) -> LayerList<AttentionBlock>? {
    guard let d = headDimensions else { return nil }
    return LayerList(
        (0..<count).map { _ in AttentionBlock(channels: channels, headDimensions: d, groups: groups, epsilon: epsilon, using: &rng) })
}

/// A down or up block's children in diffusers' key order: resnets, attentions, then the resampler.
private func blockChildren(
    _ resnets: LayerList<ResidualBlock>, _ attentions: LayerList<AttentionBlock>?,
    resampler: (key: String, layer: any Layer)?
) -> [(key: String, layer: any Layer)] {
    var c: [(key: String, layer: any Layer)] = [("resnets", resnets)]
    if let attentions { c.append(("attentions", attentions)) }
    if let resampler { c.append(resampler) }
    return c
}
