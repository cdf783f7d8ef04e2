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
    /// diffusers' class conditioning (Ho & Salimans 2022's c): `nil` with `numClassEmbeds` set is a
    /// learned table `class_embedding.weight` `[num_class_embeds, 4·ch]`; "timestep" embeds the label
    /// like t (sinusoid, then `class_embedding.linear_1/2`); "identity" adds a given `[N, 4·ch]`
    /// vector. Either way the result is added to the time embedding before the blocks see it.
    public var classEmbedType: String? = nil
    /// Rows of the class table. Models trained here hold one extra row, the null label of
    /// classifier-free guidance, so diffusers sees `num_class_embeds = classes + 1`.
    public var numClassEmbeds: Int? = nil
    /// swift-ddpm's key (diffusers warns that it is unexpected and ignores it): the label meaning
    /// "no class", always `num_class_embeds − 1`; set when the model was trained with class dropout,
    /// so it can sample unconditionally and with guidance.
    public var nullClassLabel: Int? = nil
    /// swift-ddpm's key (ignored by diffusers): label i's name (a dataset's class or subfolder name).
    public var classNames: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size"
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case centerInputSample = "center_input_sample"
        case timeEmbeddingType = "time_embedding_type"
        case flipSinToCos = "flip_sin_to_cos"
        case freqShift = "freq_shift"
        case downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block"
        case midBlockScaleFactor = "mid_block_scale_factor"
        case downsamplePadding = "downsample_padding"
        case actFn = "act_fn"
        case attentionHeadDim = "attention_head_dim"
        case normNumGroups = "norm_num_groups"
        case normEps = "norm_eps"
        case resnetTimeScaleShift = "resnet_time_scale_shift"
        case addAttention = "add_attention"
        case dropout
        case classEmbedType = "class_embed_type"
        case numClassEmbeds = "num_class_embeds"
        case nullClassLabel = "null_class_label"
        case classNames = "class_names"
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
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        numClassEmbeds = try c.decodeIfPresent(Int.self, forKey: .numClassEmbeds)
        nullClassLabel = try c.decodeIfPresent(Int.self, forKey: .nullClassLabel)
        classNames = try c.decodeIfPresent([String].self, forKey: .classNames)
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
        // Written only for conditional models, so unconditional config.json files stay as they were.
        try c.encodeIfPresent(classEmbedType, forKey: .classEmbedType)
        try c.encodeIfPresent(numClassEmbeds, forKey: .numClassEmbeds)
        try c.encodeIfPresent(nullClassLabel, forKey: .nullClassLabel)
        try c.encodeIfPresent(classNames, forKey: .classNames)
    }

    /// What this implementation supports; `validate()` refuses anything outside it before a
    /// single weight is allocated. The published DDPM models (32×32 to 256×256, 35.7M–114M
    /// parameters) are far inside every limit.
    public enum Limits {
        /// Resolution levels (entries of block_out_channels): 1...8.
        public static let levels = 1...8
        /// Channels of one level: 1...8192.
        public static let channels = 1...8192
        /// layers_per_block: 1...32.
        public static let layersPerBlock = 1...32
        /// in_channels and out_channels: 1...64.
        public static let imageChannels = 1...64
        /// sample_size: 1...4096 (and a multiple of 2^(levels - 1)).
        public static let sampleSize = 1...4096
        /// The parameter count the configuration implies (about 4 bytes each, three times
        /// that while training): at most 2 billion.
        public static let parameters = 2_000_000_000
        /// num_class_embeds: 1...100,000 (ImageNet has 1,000 classes).
        public static let classEmbeddings = 1...100_000
        /// A class name: 1 to 200 UTF-8 bytes.
        public static let classNameBytes = 1...200
    }

    /// An upper estimate of the parameter count, computed without overflow (saturating at
    /// `Int.max`), from the block structure; used to refuse configurations that cannot fit.
    public var estimatedParameterCount: Int {
        func mul(_ a: Int, _ b: Int) -> Int {
            let r = a.multipliedReportingOverflow(by: b)
            return r.overflow ? .max : r.partialValue
        }
        func add(_ a: Int, _ b: Int) -> Int {
            let r = a.addingReportingOverflow(b)
            return r.overflow ? .max : r.partialValue
        }
        let embedding = mul(4, blockOutChannels.first ?? 0)
        // A residual block: two 3×3 convolutions, a time projection and a 1×1 shortcut;
        // attention: four c×c projections. Every block is counted at its widest input.
        let widest = blockOutChannels.max() ?? 0
        let resnet = add(add(mul(mul(18, widest), widest), mul(embedding, widest)), mul(widest, widest))
        let attention = mul(4, mul(widest, widest))
        let perLayer = add(resnet, attention)
        let layers = mul(blockOutChannels.count, add(mul(2, layersPerBlock), 1))
        let classTable =
            classEmbedType == nil
            ? mul(numClassEmbeds ?? 0, embedding)
            : classEmbedType == "timestep" ? add(mul(blockOutChannels.first ?? 0, embedding), mul(embedding, embedding)) : 0
        return add(add(mul(add(layers, 2), perLayer), mul(embedding, embedding)), classTable)
    }

    /// Checks the whole configuration against what this implementation supports (`Limits`),
    /// with a message that names the key, the value and what to change. Call it before
    /// building anything: every later step (`UNet.init`) assumes it passed.
    public func validate() throws(UNetConfigurationError) {
        func fail(_ message: String) -> UNetConfigurationError { UNetConfigurationError(message: message) }
        guard Limits.levels.contains(blockOutChannels.count) else {
            throw fail(
                "block_out_channels has \(blockOutChannels.count) entries; \(Limits.levels.lowerBound) to \(Limits.levels.upperBound) resolution levels are supported"
            )
        }
        guard downBlockTypes.count == blockOutChannels.count, upBlockTypes.count == blockOutChannels.count else {
            throw fail(
                "down_block_types (\(downBlockTypes.count)), up_block_types (\(upBlockTypes.count)) and block_out_channels (\(blockOutChannels.count)) must have the same non-zero length"
            )
        }
        if let bad = blockOutChannels.first(where: { !Limits.channels.contains($0) }) {
            throw fail(
                "block_out_channels entry \(bad) is out of range; each level needs \(Limits.channels.lowerBound) to \(Limits.channels.upperBound) channels"
            )
        }
        let knownDown = Set(["DownBlock2D", "AttnDownBlock2D"])
        let knownUp = Set(["UpBlock2D", "AttnUpBlock2D"])
        if let bad = downBlockTypes.first(where: { !knownDown.contains($0) }) {
            throw fail("down block type '\(bad)' is not supported; use DownBlock2D or AttnDownBlock2D")
        }
        if let bad = upBlockTypes.first(where: { !knownUp.contains($0) }) {
            throw fail("up block type '\(bad)' is not supported; use UpBlock2D or AttnUpBlock2D")
        }
        guard timeEmbeddingType == "positional" else {
            throw fail("time_embedding_type '\(timeEmbeddingType)' is not supported; use 'positional'")
        }
        guard actFn == "silu" || actFn == "swish" else { throw fail("act_fn '\(actFn)' is not supported; use 'silu'") }
        guard resnetTimeScaleShift == "default" else {
            throw fail("resnet_time_scale_shift '\(resnetTimeScaleShift)' is not supported; use 'default' (the DDPM block)")
        }
        guard Limits.layersPerBlock.contains(layersPerBlock) else {
            throw fail(
                "layers_per_block is \(layersPerBlock); \(Limits.layersPerBlock.lowerBound) to \(Limits.layersPerBlock.upperBound) are supported"
            )
        }
        guard Limits.imageChannels.contains(inChannels), Limits.imageChannels.contains(outChannels) else {
            throw fail(
                "in_channels \(inChannels) and out_channels \(outChannels) must each be \(Limits.imageChannels.lowerBound) to \(Limits.imageChannels.upperBound)"
            )
        }
        guard normNumGroups >= 1 else { throw fail("norm_num_groups is \(normNumGroups); it must be at least 1 (32 in DDPM)") }
        if let bad = blockOutChannels.first(where: { $0 % normNumGroups != 0 }) {
            throw fail("block_out_channels entry \(bad) is not divisible by norm_num_groups \(normNumGroups)")
        }
        if let h = attentionHeadDim {
            guard h >= 1 else { throw fail("attention_head_dim is \(h); it must be at least 1, or null for one head over all channels") }
            if let bad = blockOutChannels.first(where: { $0 % h != 0 }) {
                throw fail("block_out_channels entry \(bad) is not divisible by attention_head_dim \(h)")
            }
        }
        let first = blockOutChannels[0]
        guard first % 2 == 0 else {
            throw fail("block_out_channels[0] is \(first); the sinusoidal time embedding needs an even number of channels")
        }
        guard freqShift >= 0, freqShift < first / 2 else {
            throw fail(
                "freq_shift is \(freqShift); it must be in 0..<\(first / 2) (half of block_out_channels[0]); diffusers models use 0 or 1")
        }
        guard downsamplePadding == 0 || downsamplePadding == 1 else {
            throw fail("downsample_padding is \(downsamplePadding); use 1 (diffusers) or 0 (TensorFlow 'SAME')")
        }
        let factor = 1 << (blockOutChannels.count - 1)
        if sampleSize == nil, 32 % factor != 0 {
            throw fail(
                "sample_size is missing, so images are 32×32, which \(blockOutChannels.count) levels cannot halve \(blockOutChannels.count - 1) times; set sample_size to a multiple of \(factor)"
            )
        }
        if let size = sampleSize {
            guard Limits.sampleSize.contains(size) else {
                throw fail(
                    "sample_size is \(size); \(Limits.sampleSize.lowerBound) to \(Limits.sampleSize.upperBound) pixels are supported")
            }
            guard size % factor == 0 else {
                throw fail(
                    "sample_size \(size) is not divisible by \(factor), the downsampling factor of \(blockOutChannels.count) levels; use a multiple of \(factor)"
                )
            }
        }
        guard normEps.isFinite, normEps > 0 else {
            throw fail("norm_eps is \(normEps); it must be a positive finite number (1e-5 or 1e-6)")
        }
        guard midBlockScaleFactor.isFinite else {
            throw fail("mid_block_scale_factor is \(midBlockScaleFactor); it must be finite (1 in DDPM)")
        }
        guard dropout >= 0 && dropout < 1 else { throw fail("dropout must be in [0, 1), got \(dropout)") }
        try validateClassConditioning()
        let parameters = estimatedParameterCount
        guard parameters <= Limits.parameters else {
            throw fail(
                "the configuration implies about \(parameters == .max ? "more than 2^63" : String(parameters)) parameters, more than the supported \(Limits.parameters); reduce block_out_channels or layers_per_block"
            )
        }
    }
}

public struct UNetConfigurationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { "Unsupported U-Net configuration: \(message)." }
}
