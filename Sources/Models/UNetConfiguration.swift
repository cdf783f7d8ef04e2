import Foundation

/// The U-Net's shape, in diffusers' `UNet2DModel` config.json vocabulary, so that a config means
/// the same here and there. Keys missing from a config.json take `UNet2DModel`'s defaults
/// (diffusers models/unets/unet_2d.py), exactly as diffusers fills them in.
public struct UNetConfiguration: Codable, Equatable, Sendable {
    public var sampleSize: Int? = nil
    public var inChannels = 3
    public var outChannels = 3
    public var centerInputSample = false
    public var timeEmbeddingType = "positional"
    public var flipSinToCos = true
    public var freqShift = 0
    public var downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]
    public var upBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
    public var blockOutChannels = [224, 448, 672, 896]
    public var layersPerBlock = 2
    public var midBlockScaleFactor: Float = 1
    public var downsamplePadding = 1
    public var actFn = "silu"
    /// Channels per attention head; `nil` means one head over all channels (the original DDPM).
    public var attentionHeadDim: Int? = 8
    public var normNumGroups = 32
    public var normEps: Float = 1e-5
    public var resnetTimeScaleShift = "default"
    public var addAttention = true
    public var dropout: Float = 0

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", timeEmbeddingType = "time_embedding_type"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case midBlockScaleFactor = "mid_block_scale_factor", downsamplePadding = "downsample_padding", actFn = "act_fn"
        case attentionHeadDim = "attention_head_dim", normNumGroups = "norm_num_groups", normEps = "norm_eps"
        case resnetTimeScaleShift = "resnet_time_scale_shift", addAttention = "add_attention", dropout
    }

    public init() {}

    /// Decodes a diffusers config.json; absent keys keep UNet2DModel's defaults, an explicit
    /// `null` attention_head_dim means one head.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = UNetConfiguration()
        sampleSize = try c.decodeIfPresent(Int.self, forKey: .sampleSize)
        inChannels = try value(.inChannels, d.inChannels)
        outChannels = try value(.outChannels, d.outChannels)
        centerInputSample = try value(.centerInputSample, d.centerInputSample)
        timeEmbeddingType = try value(.timeEmbeddingType, d.timeEmbeddingType)
        flipSinToCos = try value(.flipSinToCos, d.flipSinToCos)
        freqShift = try value(.freqShift, d.freqShift)
        downBlockTypes = try value(.downBlockTypes, d.downBlockTypes)
        upBlockTypes = try value(.upBlockTypes, d.upBlockTypes)
        blockOutChannels = try value(.blockOutChannels, d.blockOutChannels)
        layersPerBlock = try value(.layersPerBlock, d.layersPerBlock)
        midBlockScaleFactor = try value(.midBlockScaleFactor, d.midBlockScaleFactor)
        downsamplePadding = try value(.downsamplePadding, d.downsamplePadding)
        actFn = try value(.actFn, d.actFn)
        attentionHeadDim = c.contains(.attentionHeadDim) ? try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) : d.attentionHeadDim
        normNumGroups = try value(.normNumGroups, d.normNumGroups)
        normEps = try value(.normEps, d.normEps)
        resnetTimeScaleShift = try value(.resnetTimeScaleShift, d.resnetTimeScaleShift)
        addAttention = try value(.addAttention, d.addAttention)
        dropout = try value(.dropout, d.dropout)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sampleSize, forKey: .sampleSize)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(centerInputSample, forKey: .centerInputSample)
        try c.encode(timeEmbeddingType, forKey: .timeEmbeddingType)
        try c.encode(flipSinToCos, forKey: .flipSinToCos)
        try c.encode(freqShift, forKey: .freqShift)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(midBlockScaleFactor, forKey: .midBlockScaleFactor)
        try c.encode(downsamplePadding, forKey: .downsamplePadding)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(attentionHeadDim, forKey: .attentionHeadDim)  // null = one head
        try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(resnetTimeScaleShift, forKey: .resnetTimeScaleShift)
        try c.encode(addAttention, forKey: .addAttention)
        try c.encode(dropout, forKey: .dropout)
    }

    /// Checks what this implementation supports, with a message that says what to change.
    public func validate() throws(UNetConfigurationError) {
        func fail(_ message: String) -> UNetConfigurationError { UNetConfigurationError(message: message) }
        guard !blockOutChannels.isEmpty, downBlockTypes.count == blockOutChannels.count,
              upBlockTypes.count == blockOutChannels.count
        else {
            throw fail("down_block_types (\(downBlockTypes.count)), up_block_types (\(upBlockTypes.count)) and block_out_channels (\(blockOutChannels.count)) must have the same non-zero length")
        }
        let knownDown = Set(["DownBlock2D", "AttnDownBlock2D"]), knownUp = Set(["UpBlock2D", "AttnUpBlock2D"])
        if let bad = downBlockTypes.first(where: { !knownDown.contains($0) }) {
            throw fail("down block type '\(bad)' is not supported; use DownBlock2D or AttnDownBlock2D")
        }
        if let bad = upBlockTypes.first(where: { !knownUp.contains($0) }) {
            throw fail("up block type '\(bad)' is not supported; use UpBlock2D or AttnUpBlock2D")
        }
        guard timeEmbeddingType == "positional" else { throw fail("time_embedding_type '\(timeEmbeddingType)' is not supported; use 'positional'") }
        guard actFn == "silu" || actFn == "swish" else { throw fail("act_fn '\(actFn)' is not supported; use 'silu'") }
        guard resnetTimeScaleShift == "default" else {
            throw fail("resnet_time_scale_shift '\(resnetTimeScaleShift)' is not supported; use 'default' (the DDPM block)")
        }
        if let bad = blockOutChannels.first(where: { $0 % normNumGroups != 0 }) {
            throw fail("block_out_channels entry \(bad) is not divisible by norm_num_groups \(normNumGroups)")
        }
        if let h = attentionHeadDim, let bad = blockOutChannels.first(where: { $0 % h != 0 }) {
            throw fail("block_out_channels entry \(bad) is not divisible by attention_head_dim \(h)")
        }
        guard layersPerBlock >= 1, inChannels >= 1, outChannels >= 1 else {
            throw fail("layers_per_block, in_channels and out_channels must be at least 1")
        }
        guard dropout >= 0 && dropout < 1 else { throw fail("dropout must be in [0, 1), got \(dropout)") }
    }
}

public struct UNetConfigurationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { "Unsupported U-Net configuration: \(message)." }
}
