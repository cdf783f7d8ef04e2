import NN

/// What can go wrong loading, saving or running a pipeline, with where and how to fix it.
public enum PipelineError: Error, CustomStringConvertible {
    case missingFile(path: String, hint: String)
    case unreadable(path: String, reason: String)
    case unsupported(String)
    case invalid(String)
    case parameters(path: String, ParameterLoadError)
    case cannotWrite(path: String, reason: String)
    case nonFinite(step: Int, what: String)

    public var description: String {
        switch self {
        case let .missingFile(path, hint): "\(path): not found. \(hint)"
        // Reasons from the readers' own errors start with the path already: print it once.
        case let .unreadable(path, reason): reason.hasPrefix(path + ": ") ? reason : "\(path): \(reason)"
        case let .unsupported(what): "Unsupported \(what)."
        case let .invalid(what): "Invalid input: \(what)"
        case let .parameters(path, e): "\(path): the weights do not fit the model.\n\(e.description)"
        case let .cannotWrite(path, reason): "\(path): cannot write (\(reason)); the previous file, if any, is unchanged."
        case let .nonFinite(step, what): "Step \(step): \(what) is NaN or infinite; stopped without saving. Lower the learning rate or check the data."
        }
    }
}
