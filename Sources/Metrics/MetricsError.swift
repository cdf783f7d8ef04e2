/// Everything a user or a file can get wrong when computing FID and IS, with where and how to fix it.
public enum MetricsError: Error, Equatable, CustomStringConvertible {
    /// The Inception weights file is not at `path`.
    case weightsNotFound(path: String)
    /// The weights file has a format this build cannot read.
    case unsupportedWeightsFormat(path: String)
    /// The weights file exists but could not be read (`reason` is the reader's message).
    case cannotReadWeights(path: String, reason: String)
    /// The weights do not fit the FID Inception network (`reason` lists every bad key).
    case weightsDoNotMatch(path: String, reason: String)
    /// An `.npz`/`.npy` file could not be opened or is malformed.
    case invalidArchive(path: String, reason: String)
    /// The `.npz` has no array `key`.
    case missingArray(path: String, key: String, available: [String])
    /// An array in an `.npz` has an unusable dtype or shape.
    case invalidArray(path: String, key: String, expected: String, actual: String)
    case cannotWrite(path: String, reason: String)
    /// Two inputs that must agree (feature dimensions, sample counts) do not.
    case mismatch(what: String, expected: String, actual: String)
    /// LAPACK's eigendecomposition did not converge, even with the diagonal offset.
    case decompositionFailed(info: Int)

    public var description: String {
        switch self {
        case .weightsNotFound(let path):
            """
            \(path): no such file. FID and IS need the FID Inception weights \
            \(FIDInceptionV3.weightsFileName), published with pytorch-fid's GitHub release 'fid_weights' at \
            \(FIDInceptionV3.weightsURL) (nothing is downloaded by this program). Download it there, \
            or convert it to safetensors, and pass its path.
            """
        case .unsupportedWeightsFormat(let path):
            """
            \(path): unknown weights format; pass \(FIDInceptionV3.weightsFileName) itself (.pth, also read as \
            .pt or .bin) or a safetensors conversion of it (.safetensors).
            """
        case .cannotReadWeights(let path, let reason):
            "\(path): cannot read the Inception weights: \(reason)"
        case .weightsDoNotMatch(let path, let reason):
            """
            \(path): these are not the FID Inception-v3 weights (expected pytorch-fid's \
            \(FIDInceptionV3.weightsFileName) state dict).
            \(reason)
            """
        case .invalidArchive(let path, let reason):
            "\(path): not a valid NumPy .npz/.npy file: \(reason). Write it with numpy.savez(path, mu=mu, sigma=sigma)."
        case .missingArray(let path, let key, let available):
            """
            \(path): no array '\(key)' (found: \(available.isEmpty ? "none" : available.joined(separator: ", "))). \
            FID statistics files hold 'mu' and 'sigma', as pytorch-fid --save-stats and TTUR write them.
            """
        case .invalidArray(let path, let key, let expected, let actual):
            "\(path): array '\(key)' is \(actual), expected \(expected)."
        case .cannotWrite(let path, let reason):
            "\(path): cannot write (\(reason))."
        case .mismatch(let what, let expected, let actual):
            "\(what): expected \(expected), got \(actual)."
        case .decompositionFailed(let info):
            "The symmetric eigendecomposition failed (LAPACK dsyevd info \(info)); the covariances may contain NaN or Inf."
        }
    }
}
