/// Why a data-parallel run cannot start or go on; each message names the ranks and values.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// Launched by mpirun but libmpi could not be loaded.
    case mpiUnavailable(String)
    /// An MPI call returned an error code.
    case callFailed(String, code: Int32)
    /// A value every rank must share differs (configuration hash, weights checksum, data size).
    case mismatch(what: String, values: [(rank: Int, value: UInt64)], rootValue: UInt64)
    /// The global batch cannot be split evenly over the processes.
    case batchNotDivisible(batch: Int, accumulation: Int, processes: Int)
    /// Some ranks failed at start (each with its message).
    case ranksFailed([(rank: Int, message: String)])

    public var description: String {
        switch self {
        case .mpiUnavailable(let why): return "started by mpirun but Open MPI is unusable: \(why)"
        case .callFailed(let call, let code): return "\(call) failed with error code \(code)"
        case .mismatch(let what, let values, let root):
            let list = values.map { "rank \($0.rank): \(hex($0.value))" }.joined(separator: ", ")
            return "\(what) differs between ranks: rank 0: \(hex(root)), \(list)"
        case .batchNotDivisible(let batch, let accumulation, let processes):
            return "batch size \(batch) with \(accumulation) micro-batch(es) cannot be split evenly over \(processes) processes: "
                + "batch / accumulation = \(batch / max(accumulation, 1)) must be a multiple of \(processes)"
        case .ranksFailed(let failures):
            return failures.map { "rank \($0.rank): \($0.message)" }.joined(separator: "; ")
        }
    }

    public static func == (a: Self, b: Self) -> Bool { a.description == b.description }
}

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
