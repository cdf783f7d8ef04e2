import Foundation
import Models
import Testing

// Issue 14: every configuration that used to trap (division by zero, negative counts,
// preconditions, terabyte allocations) is refused by validate(), before UNet allocates anything.
@Suite("U-Net configuration validation")
struct ConfigurationValidationTests {
    /// A small valid configuration (two levels of 32 channels).
    static var base: UNetConfiguration {
        var c = UNetConfiguration()
        c.blockOutChannels = [32, 64]
        c.downBlockTypes = ["DownBlock2D", "AttnDownBlock2D"]
        c.upBlockTypes = ["AttnUpBlock2D", "UpBlock2D"]
        c.sampleSize = 16
        c.layersPerBlock = 1
        c.attentionHeadDim = nil
        c.normNumGroups = 8
        return c
    }

    static let cases: [(String, @Sendable (inout UNetConfiguration) -> Void, String)] = [
        ("norm_num_groups 0", { $0.normNumGroups = 0 }, "norm_num_groups is 0; it must be at least 1 (32 in DDPM)"),
        (
            "attention_head_dim 0", { $0.attentionHeadDim = 0 },
            "attention_head_dim is 0; it must be at least 1, or null for one head over all channels"
        ),
        (
            "negative block_out_channels", { $0.blockOutChannels = [-32, 64] },
            "block_out_channels entry -32 is out of range; each level needs 1 to 8192 channels"
        ),
        (
            "sample_size not divisible", { $0.sampleSize = 17 },
            "sample_size 17 is not divisible by 2, the downsampling factor of 2 levels; use a multiple of 2"
        ),
        ("sample_size 0", { $0.sampleSize = 0 }, "sample_size is 0; 1 to 4096 pixels are supported"),
        ("sample_size negative", { $0.sampleSize = -32 }, "sample_size is -32; 1 to 4096 pixels are supported"),
        ("sample_size 2^40", { $0.sampleSize = 1 << 40 }, "sample_size is 1099511627776; 1 to 4096 pixels are supported"),
        ("layers_per_block 2^40", { $0.layersPerBlock = 1 << 40 }, "layers_per_block is 1099511627776; 1 to 32 are supported"),
        ("layers_per_block 0", { $0.layersPerBlock = 0 }, "layers_per_block is 0; 1 to 32 are supported"),
        (
            "channels 2^40", { $0.blockOutChannels = [1 << 40, 64] },
            "block_out_channels entry 1099511627776 is out of range; each level needs 1 to 8192 channels"
        ),
        (
            "2^40 levels' worth",
            { c in
                c.blockOutChannels = Array(repeating: 32, count: 9)
                c.downBlockTypes = Array(repeating: "DownBlock2D", count: 9)
                c.upBlockTypes = Array(repeating: "UpBlock2D", count: 9)
            },
            "block_out_channels has 9 entries; 1 to 8 resolution levels are supported"
        ),
        (
            "no levels",
            { c in
                c.blockOutChannels = []
                c.downBlockTypes = []
                c.upBlockTypes = []
            }, "block_out_channels has 0 entries; 1 to 8 resolution levels are supported"
        ),
        ("in_channels 0", { $0.inChannels = 0 }, "in_channels 0 and out_channels 3 must each be 1 to 64"),
        ("in_channels huge", { $0.inChannels = 1 << 40 }, "in_channels 1099511627776 and out_channels 3 must each be 1 to 64"),
        (
            "too many parameters", { $0.blockOutChannels = [8192, 8192] },
            "the configuration implies about 15569256448 parameters, more than the supported 2000000000; reduce block_out_channels or layers_per_block"
        ),
        (
            "odd first channels",
            { c in
                c.blockOutChannels = [9, 18]
                c.normNumGroups = 1
            }, "block_out_channels[0] is 9; the sinusoidal time embedding needs an even number of channels"
        ),
        (
            "freq_shift = half", { $0.freqShift = 16 },
            "freq_shift is 16; it must be in 0..<16 (half of block_out_channels[0]); diffusers models use 0 or 1"
        ),
        ("downsample_padding 5", { $0.downsamplePadding = 5 }, "downsample_padding is 5; use 1 (diffusers) or 0 (TensorFlow 'SAME')"),
        ("norm_eps NaN", { $0.normEps = .nan }, "norm_eps is nan; it must be a positive finite number (1e-5 or 1e-6)"),
        ("dropout NaN", { $0.dropout = .nan }, "dropout must be in [0, 1), got nan"),
        ("mid scale inf", { $0.midBlockScaleFactor = .infinity }, "mid_block_scale_factor is inf; it must be finite (1 in DDPM)"),
        (
            "no sample_size, 8 levels",
            { c in
                c.sampleSize = nil
                c.blockOutChannels = Array(repeating: 32, count: 7)
                c.downBlockTypes = Array(repeating: "DownBlock2D", count: 7)
                c.upBlockTypes = Array(repeating: "UpBlock2D", count: 7)
            },
            "sample_size is missing, so images are 32×32, which 7 levels cannot halve 6 times; set sample_size to a multiple of 64"
        ),
        // Class conditioning.
        (
            "class_embed_type projection", { $0.classEmbedType = "projection" },
            "class_embed_type 'projection' is not supported; UNet2DModel takes null (a table of num_class_embeds rows), 'timestep' or 'identity'"
        ),
        ("num_class_embeds 0", { $0.numClassEmbeds = 0 }, "num_class_embeds is 0; 1 to 100000 are supported"),
        ("num_class_embeds 2^40", { $0.numClassEmbeds = 1 << 40 }, "num_class_embeds is 1099511627776; 1 to 100000 are supported"),
        (
            "null label without table", { $0.nullClassLabel = 3 },
            "null_class_label 3 needs num_class_embeds (classes + 1, the null label being the last)"
        ),
        (
            "null label not last",
            { c in
                c.numClassEmbeds = 4
                c.nullClassLabel = 0
            }, "null_class_label is 0 but num_class_embeds is 4; the null label must be the last, 3, with at least one class before it"
        ),
        (
            "names miscounted", { c in c = c.withClasses(3, names: ["a", "b"]) },
            "class_names has 2 names but num_class_embeds 4 less the null label means 3 classes; give one name per class"
        ),
        (
            "duplicate names", { c in c = c.withClasses(2, names: ["a", "a"]) },
            "class_names holds 'a' twice; every class needs its own name"
        ),
        ("empty name", { c in c = c.withClasses(2, names: ["a", ""]) }, "class name '' has 0 bytes; names must have 1 to 200"),
        (
            "identity with names",
            { c in
                c.classEmbedType = "identity"
                c.classNames = ["a"]
            },
            "class_embed_type 'identity' takes embedding vectors, not labels, so null_class_label and class_names do not apply; remove them or use a table (class_embed_type null with num_class_embeds)"
        ),
    ]

    @Test("each hostile value is refused with a message naming the key, the value and the limit", arguments: 0..<cases.count)
    func refused(_ index: Int) throws {
        let (name, mutate, message) = Self.cases[index]
        var c = Self.base
        mutate(&c)
        #expect(throws: UNetConfigurationError(message: message), "\(name)") { try c.validate() }
        #expect(throws: UNetConfigurationError(message: message), "\(name)") { _ = try UNet(c) }  // UNet validates first
    }

    @Test("the base configuration and every preset validate and build")
    func validOnesPass() throws {
        try Self.base.validate()
        _ = try UNet(Self.base)
        for (name, preset) in UNetConfiguration.presets {
            #expect(throws: Never.self, "\(name)") { try preset.validate() }
            #expect(preset.estimatedParameterCount <= UNetConfiguration.Limits.parameters)
        }
    }

    @Test("class keys round-trip through config.json under diffusers' names, and only conditional models write them")
    func classKeys() throws {
        let c = Self.base.withClasses(10, names: (0..<10).map { "class \($0)" })
        try c.validate()
        #expect(c.classCount == 10 && c.numClassEmbeds == 11 && c.nullClassLabel == 10 && c.takesClassLabels)
        let data = try JSONEncoder().encode(c)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["num_class_embeds"] as? Int == 11 && object["null_class_label"] as? Int == 10)
        #expect(try JSONDecoder().decode(UNetConfiguration.self, from: data) == c)
        let plain = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.base)) as? [String: Any])
        #expect(plain.keys.allSatisfy { !$0.contains("class") })
        #expect(!Self.base.isClassConditional && Self.base.classCount == nil)
    }

    @Test("a config.json with hostile values decodes and is then refused by validate (no trap in decoding)")
    func decodedHostileJSON() throws {
        let json =
            #"{"block_out_channels": [32, 64], "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"], "norm_num_groups": 0}"#
        let c = try JSONDecoder().decode(UNetConfiguration.self, from: Data(json.utf8))
        #expect(throws: UNetConfigurationError(message: "norm_num_groups is 0; it must be at least 1 (32 in DDPM)")) { try c.validate() }
    }
}
