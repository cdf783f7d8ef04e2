import DataParallel
import Datasets
import Diffusion
import Models
import NN
import SafeTensors

/// What can go wrong loading, saving or running a pipeline, with where and how to fix it.
public enum PipelineError: Error, CustomStringConvertible {
    case missingFile(path: String, hint: String)
    case unreadable(path: String, reason: String)
    case unsupported(String)
    case invalid(String)
    case parameters(path: String, ParameterLoadError)
    case cannotWrite(path: String, reason: String)
    case nonFinite(step: Int, what: String)
    /// A scheduler_config.json option with a value its class does not take.
    case invalidSchedulerOption(className: String, key: String, value: String, accepted: String)
    /// A scheduler_config.json `_class_name` that no solver here implements.
    case unknownSchedulerClass(String, known: [String])
    /// A sampling option given to a solver that does not take it.
    case inapplicableSamplerOption(option: String, sampler: String, takenBy: [String])
    /// A schedule or sampler the diffusion mathematics refuses.
    case diffusion(DiffusionError)
    /// A scheduler configuration that contradicts the model's own (`key`: the model's vs the given value).
    case schedulerMismatch(key: String, model: String, given: String)
    /// A data set or image file that cannot be read, kept typed (its path and reason are its own).
    case dataset(DatasetError)
    /// A U-Net configuration the model refuses.
    case model(UNetConfigurationError)
    /// A data-parallel failure, which every rank reaches together; `consequence` says what it means for the run.
    case distributed(DistributedError, consequence: String? = nil)
    /// Two things that must agree and do not: `what`, the expected and the actual value (a shape, a channel count).
    case mismatch(what: String, expected: String, actual: String)
    /// A file whose tensors are not what the command needs (`found`: the names it holds).
    case missingTensor(path: String, expected: String, found: [String], hint: String)
    /// A safetensors file that cannot be read, kept typed.
    case safeTensors(SafeTensorsError)
    /// An output directory that cannot be made (`reason`: the file system's).
    case cannotCreateDirectory(path: String, reason: String)
    /// `--resume` in a run directory without a checkpoint.
    case noCheckpointToResume(directory: String)
    /// `--resume` from a checkpoint made with other training options.
    case resumeOptionsDiffer(checkpoint: String)
    /// A new run in a directory that already holds one (its checkpoints would be mixed with the new run's).
    case runExists(directory: String)
    /// A class or guidance request the model cannot serve (unknown name, index out of range, a
    /// class for an unconditional model), or labels the data cannot give.
    case classCondition(String)

    public var description: String {
        switch self {
        case .missingFile(let path, let hint): "\(path): not found. \(hint)"
        // Reasons from the readers' own errors start with the path already: print it once.
        case .unreadable(let path, let reason): reason.hasPrefix(path + ": ") ? reason : "\(path): \(reason)"
        case .unsupported(let what): "Unsupported \(what)."
        case .invalid(let what): "Invalid input: \(what)"
        case .parameters(let path, let e): "\(path): the weights do not fit the model.\n\(e.description)"
        case .cannotWrite(let path, let reason): "\(path): cannot write (\(reason)); the previous file, if any, is unchanged."
        case .nonFinite(let step, let what):
            "Step \(step): \(what) is NaN or infinite; stopped without saving. Lower the learning rate or check the data."
        case .invalidSchedulerOption(let className, let key, let value, let accepted):
            "\(className): option '\(key)' = \(value) is not supported; \(accepted)."
        case .unknownSchedulerClass(let name, let known):
            "Unknown scheduler class '\(name)'. Supported: \(known.joined(separator: ", "))."
        case .inapplicableSamplerOption(let option, let sampler, let takenBy):
            "\(option) does not apply to the \(sampler) sampler; it is taken by \(takenBy.joined(separator: ", "))."
        case .diffusion(let e): e.description
        case .schedulerMismatch(let key, let model, let given):
            "The scheduler configuration disagrees with the model: \(key) is \(model) for the model but \(given) in the given configuration. Use a configuration made for this model."
        case .dataset(let e): e.description
        case .model(let e): e.description
        case .distributed(let e, let consequence): consequence.map { "\(e.description); \($0)" } ?? e.description
        case .mismatch(let what, let expected, let actual): "\(what): expected \(expected), got \(actual)."
        case .missingTensor(let path, let expected, let found, let hint): "\(path): expected \(expected); found \(found.sorted()). \(hint)"
        case .safeTensors(let e): e.description
        case .cannotCreateDirectory(let path, let reason): "\(path): cannot create the output directory (\(reason))."
        case .noCheckpointToResume(let directory): "--resume: no checkpoint in \(directory)/checkpoints; start without --resume."
        case .resumeOptionsDiffer(let checkpoint):
            "--resume: \(checkpoint) was made with different training options; repeat the original command's options."
        case .runExists(let directory):
            "\(directory) already holds checkpoints; pass --resume to continue it or choose another --output."
        case .classCondition(let what): "Class conditioning: \(what)."
        }
    }
}
