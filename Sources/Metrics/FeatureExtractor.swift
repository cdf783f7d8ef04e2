import Tensors

/// A network that turns images into FID features and IS logits: the FID Inception-v3 in real use,
/// a small stand-in in tests (so the evaluation pipeline is testable without the 95 MB weights).
public protocol FeatureExtractor: AnyObject {
    /// The feature dimension D of `pool` (2048 for Inception).
    var featureDimension: Int { get }
    /// Pool features `[N, D]` and class logits `[N, K]` of RGB images `[N, 3, H, W]` in [−1, 1].
    func poolAndLogits(_ images: Tensor) -> (pool: Tensor, logits: Tensor)
}

extension FIDInceptionV3: FeatureExtractor {
    public var featureDimension: Int { Self.featureDimension }

    public func poolAndLogits(_ images: Tensor) -> (pool: Tensor, logits: Tensor) { features(images, range: .minusOneToOne) }
}
