import NN
import Tensors

/// The DDPM residual block (Ho et al. App. B; diffusers `ResnetBlock2D`, time_embedding_norm "default"):
///
///     h = conv1(SiLU(GN(x))) + Dense(SiLU(temb))[:, :, None, None]
///     return (shortcut(x) + conv2(dropout(SiLU(GN(h))))) / outputScale     shortcut = 1×1 conv when channels change
public final class ResidualBlock: Layer {
    package let norm1: GroupNorm, conv1: Conv2d, timeProjection: Linear, norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?
    let dropout: Float, outputScale: Float
    /// Recompute SiLU(GN(x)) for conv1's backward instead of keeping it (see `UNet.recomputesActivations`).
    package var recomputesActivations = true

    package init(
        inputChannels: Int, outputChannels: Int, embeddingDimensions: Int, groups: Int, epsilon: Float, dropout: Float,
        outputScale: Float = 1, using rng: inout SeededGenerator
    ) {
        norm1 = GroupNorm(groupCount: groups, channels: inputChannels, epsilon: epsilon)
        conv1 = Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, padding: .uniform(1), using: &rng)
        timeProjection = Linear(inputDimensions: embeddingDimensions, outputDimensions: outputChannels, using: &rng)
        norm2 = GroupNorm(groupCount: groups, channels: outputChannels, epsilon: epsilon)
        conv2 = Conv2d(
            inputChannels: outputChannels, outputChannels: outputChannels, kernelSize: 3, padding: .uniform(1),
            initScale: 1e-10, using: &rng)
        shortcut =
            inputChannels == outputChannels
            ? nil
            : Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 1, padding: .uniform(0), using: &rng)
        self.dropout = dropout
        self.outputScale = outputScale
    }

    public var children: [(key: String, layer: any Layer)] {
        [("norm1", norm1), ("conv1", conv1), ("time_emb_proj", timeProjection), ("norm2", norm2), ("conv2", conv2)]
            + (shortcut.map { [("conv_shortcut", $0 as any Layer)] } ?? [])
    }

    /// x `[N, Cin, H, W]`, activated embedding SiLU(temb) `[N, E]` → `[N, Cout, H, W]`.
    package func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor, training: Bool, rng: inout SeededGenerator) -> Tensor {
        // conv1(SiLU(GN(x))) without keeping SiLU(GN(x)): the backward pass recomputes it from x,
        // which saves one activation per block for one more GroupNorm+SiLU pass (not a convolution).
        // The time embedding and the skip connection are added by the convolutions themselves.
        let (groups, epsilon) = (norm1.groupCount, norm1.epsilon)
        let t = timeProjection(activatedEmbedding)
        let h =
            !recomputesActivations
            ? conv1(norm1(x, fusingSiLU: true), imageShift: t)
            : conv2d(
                recomputing: { t in t[0].groupNormalized(groups: groups, gamma: t[1], beta: t[2], epsilon: epsilon, fusingSiLU: true) },
                of: [x, norm1.weight.value, norm1.bias.value], weight: conv1.weight.value, bias: conv1.bias?.value,
                stride: conv1.stride, padding: conv1.padding, imageShift: t)
        let out = conv2(
            norm2(h, fusingSiLU: true).dropout(probability: dropout, training: training, using: &rng), residual: shortcut?(x) ?? x)
        return outputScale == 1 ? out : out / outputScale
    }
}

/// Self-attention over all H·W positions (Ho et al. App. B; diffusers `Attention` built from the
/// deprecated attention block): GN, 1×1 q/k/v, softmax(qᵀk/√d), output projection, residual.
///
/// Works channel-major: q, k, v are `[N·heads, d, H·W]` from 1×1 convolutions whose weights are the
/// `[C, C]` Linear weights of the checkpoint, so no transposes of activations are needed.
public final class AttentionBlock: Layer {
    let groupNorm: GroupNorm, query: Linear, key: Linear, value: Linear, output: Linear
    let heads: Int

    package init(channels: Int, headDimensions: Int?, groups: Int, epsilon: Float, using rng: inout SeededGenerator) {
        groupNorm = GroupNorm(groupCount: groups, channels: channels, epsilon: epsilon)
        query = Linear(inputDimensions: channels, outputDimensions: channels, using: &rng)
        key = Linear(inputDimensions: channels, outputDimensions: channels, using: &rng)
        value = Linear(inputDimensions: channels, outputDimensions: channels, using: &rng)
        output = Linear(inputDimensions: channels, outputDimensions: channels, initScale: 1e-10, using: &rng)
        heads = headDimensions.map { channels / $0 } ?? 1
    }

    public var children: [(key: String, layer: any Layer)] {
        [("group_norm", groupNorm), ("to_q", query), ("to_k", key), ("to_v", value), ("to_out.0", output)]
    }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let d = c / heads
        let normed = groupNorm(x)
        func project(_ l: Linear) -> Tensor {  // [N, C, H, W] → [N·heads, d, H·W]
            conv2d(normed, weight: l.weight.value.reshaped(to: [c, c, 1, 1]), bias: l.bias?.value).reshaped(to: [n * heads, d, h * w])
        }
        let (q, k, v) = (project(query), project(key), project(value))
        // Σ_j v_j·softmax_j(q_i·k_j/√d), without the [N·heads, HW, HW] scores in inference.
        let attended = attention(query: q, key: k, value: v, scale: 1 / Float(d).squareRoot()).reshaped(to: [n, c, h, w])
        return conv2d(attended, weight: output.weight.value.reshaped(to: [c, c, 1, 1]), bias: output.bias?.value, residual: x)
    }
}

/// Stride-2 3×3 convolution; `downsample_padding` 0 means TensorFlow 'SAME' (pad bottom/right by 1).
package final class Downsample: Layer {
    let conv: Conv2d
    package init(channels: Int, padding: Int, using rng: inout SeededGenerator) {
        let pad = padding == 0 ? Padding2D(top: 0, bottom: 1, left: 0, right: 1) : .uniform(padding)
        conv = Conv2d(inputChannels: channels, outputChannels: channels, kernelSize: 3, stride: 2, padding: pad, using: &rng)
    }
    package var children: [(key: String, layer: any Layer)] { [("conv", conv)] }
    package func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
}

/// Nearest-neighbour ×2, then a 3×3 convolution.
final class Upsample: Layer {
    let conv: Conv2d
    package init(channels: Int, using rng: inout SeededGenerator) {
        conv = Conv2d(inputChannels: channels, outputChannels: channels, kernelSize: 3, padding: .uniform(1), using: &rng)
    }
    package var children: [(key: String, layer: any Layer)] { [("conv", conv)] }
    package func callAsFunction(_ x: Tensor) -> Tensor { conv(x.upsampledNearest2x()) }
}

/// A list of layers keyed "0", "1", … (diffusers' nn.ModuleList).
package final class LayerList<Element: Layer>: Layer {
    package let items: [Element]
    package init(_ items: [Element]) { self.items = items }
    package var children: [(key: String, layer: any Layer)] { items.enumerated().map { ("\($0.offset)", $0.element) } }
}
