extension UNetConfiguration {
    /// The paper's U-Net (Ho et al. App. B; `diffusion_tf/models/unet.py`) in diffusers terms:
    /// one attention head, sin-before-cos embedding on the integer t, GroupNorm eps 1e-6, and
    /// TensorFlow 'SAME' downsampling (pad bottom/right: `downsample_padding` 0).
    public static func ddpm(
        imageSize: Int, channels: Int, baseChannels: Int, multipliers: [Int], residualBlocks: Int = 2,
        attentionResolutions: Set<Int> = [16], dropout: Float, groups: Int = 32,
        learnedVariance: Bool = false
    ) -> UNetConfiguration {
        var c = UNetConfiguration()
        c.sampleSize = imageSize
        c.inChannels = channels
        c.outChannels = learnedVariance ? 2 * channels : channels
        c.blockOutChannels = multipliers.map { $0 * baseChannels }
        let resolutions = multipliers.indices.map { imageSize >> $0 }
        c.downBlockTypes = resolutions.map { attentionResolutions.contains($0) ? "AttnDownBlock2D" : "DownBlock2D" }
        c.upBlockTypes = resolutions.reversed().map { attentionResolutions.contains($0) ? "AttnUpBlock2D" : "UpBlock2D" }
        c.layersPerBlock = residualBlocks
        c.downsamplePadding = 0
        c.flipSinToCos = false
        c.freqShift = 1
        c.normEps = 1e-6
        c.normNumGroups = groups
        c.attentionHeadDim = nil
        c.dropout = dropout
        return c
    }

    /// CIFAR-10 32×32 (`scripts/run_cifar.py`): ch 128, mult (1,2,2,2), attention at 16, dropout 0.1;
    /// 35,746,307 parameters like google/ddpm-cifar10-32.
    public static let cifar10 = ddpm(imageSize: 32, channels: 3, baseChannels: 128, multipliers: [1, 2, 2, 2], dropout: 0.1)

    /// CelebA-HQ 256×256 (`scripts/run_celebahq.py`): mult (1,1,2,2,4,4), dropout 0; about 114M parameters.
    public static let celebahq256 = ddpm(imageSize: 256, channels: 3, baseChannels: 128, multipliers: [1, 1, 2, 2, 4, 4], dropout: 0)

    /// LSUN 256×256 (`scripts/run_lsun.py`): the same network as CelebA-HQ.
    public static let lsun256 = celebahq256

    /// A small 32×32 greyscale model that trains on a CPU (Fashion-MNIST/MNIST padded to 32):
    /// channels (32, 64, 64), attention at 16, GroupNorm with 8 groups; about 1.6M parameters.
    public static let small32Grey = ddpm(imageSize: 32, channels: 1, baseChannels: 32, multipliers: [1, 2, 2], dropout: 0.1, groups: 8)

    /// A small 32×32 colour model: channels (64, 128, 128), attention at 16; about 6.4M parameters.
    public static let small32Color = ddpm(imageSize: 32, channels: 3, baseChannels: 64, multipliers: [1, 2, 2], dropout: 0.1)

    /// A tiny 8×8 greyscale model (channels (8, 16), attention at 4): for
    /// smoke runs and the multi-process tests, where a whole run must take seconds; 64,193 parameters.
    public static let tiny8Grey = ddpm(
        imageSize: 8, channels: 1, baseChannels: 8, multipliers: [1, 2], attentionResolutions: [4],
        dropout: 0.1, groups: 4)

    /// Presets by name, for the command line.
    public static let presets: [String: UNetConfiguration] = [
        "cifar10": cifar10, "celebahq256": celebahq256, "lsun256": lsun256,
        "small32-grey": small32Grey, "small32-color": small32Color, "tiny8-grey": tiny8Grey,
    ]
}
