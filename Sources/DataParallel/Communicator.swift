import CMPI
import Foundation

/// The processes of a data-parallel job and the few collectives training needs
/// (ARCHITECTURE.md §4 "Data parallel"): a gradient all-reduce on the hot path, and at start and
/// every few steps small agreements (configuration hash, weights checksum, stop flags).
///
/// Launched by `mpirun` (Open MPI sets `OMPI_COMM_WORLD_SIZE`), `world` is MPI_COMM_WORLD via
/// the `CMPI` shim; otherwise it is a single process whose collectives are identities, so the
/// same binary trains alone on a machine without Open MPI.
public final class Communicator: @unchecked Sendable {
    /// This process's rank in [0, size), and the number of processes.
    public let rank: Int
    public let size: Int
    /// Processes of this job on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`; 1 alone).
    public let localSize: Int
    /// Whether collectives go through MPI.
    public let usesMPI: Bool
    private var finalized = false

    /// Floats per `MPI_Allreduce` call: large enough to amortise the latency of a call, small
    /// enough to keep each piece in cache (PyTorch DDP's default bucket is 25 MB).
    public static let bucketElements = 25 << 18  // 25 MiB of Float32

    /// Whether this process was started by Open MPI's `mpirun`.
    public static var launchedByMPI: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// A one-process communicator (nothing to exchange).
    public static let single = Communicator(rank: 0, size: 1, localSize: 1, usesMPI: false)

    private init(rank: Int, size: Int, localSize: Int, usesMPI: Bool) {
        (self.rank, self.size, self.localSize, self.usesMPI) = (rank, size, localSize, usesMPI)
    }

    /// Written under `worldLock`, so MPI_Init runs once even when two threads ask at once.
    nonisolated(unsafe) private static var cachedWorld: Communicator?
    private static let worldLock = NSLock()

    /// The job's communicator: MPI_COMM_WORLD under `mpirun`, else `single`. MPI_Init runs once,
    /// on first use.
    public static func world() throws(DistributedError) -> Communicator {
        worldLock.lock()
        defer { worldLock.unlock() }
        if let cachedWorld { return cachedWorld }
        guard launchedByMPI else {
            cachedWorld = single
            return single
        }
        guard ddpm_mpi_load() == 1 else { throw .mpiUnavailable(String(cString: ddpm_mpi_error())) }
        var rank: Int32 = 0
        var size: Int32 = 0
        let rc = ddpm_mpi_init(&rank, &size)
        guard rc == 0 else { throw .callFailed("MPI_Init", code: rc) }
        let local = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? Int(size)
        let world = Communicator(rank: Int(rank), size: Int(size), localSize: max(1, local), usesMPI: true)
        cachedWorld = world
        return world
    }

    public var isRoot: Bool { rank == 0 }

    public enum Reduction: Sendable { case sum, average }

    /// In-place all-reduce of a flat Float buffer, in buckets of `bucketElements`.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ op: Reduction = .sum) throws(DistributedError) {
        guard usesMPI, let base = buffer.baseAddress else { return }
        var start = 0
        while start < buffer.count {
            let n = min(Self.bucketElements, buffer.count - start)
            let rc = ddpm_mpi_allreduce_float_sum(base + start, Int64(n))
            guard rc == 0 else { throw .callFailed("MPI_Allreduce", code: rc) }
            start += n
        }
        if op == .average, size > 1 {
            let scale = 1 / Float(size)
            for i in buffer.indices { buffer[i] *= scale }
        }
    }

    public func allReduce(_ values: inout [Float], _ op: Reduction = .sum) throws(DistributedError) {
        var failure: DistributedError?
        values.withUnsafeMutableBufferPointer { b in
            do { try allReduce(b, op) } catch { failure = error as? DistributedError ?? .callFailed("MPI_Allreduce", code: -1) }
        }
        if let failure { throw failure }
    }

    /// Sums of small Double vectors (flags, losses): exact for the counts and 0/1 flags used here.
    public func allReduce(_ values: inout [Double]) throws(DistributedError) {
        guard usesMPI else { return }
        let rc = values.withUnsafeMutableBufferPointer { ddpm_mpi_allreduce_double_sum($0.baseAddress, Int64($0.count)) }
        guard rc == 0 else { throw .callFailed("MPI_Allreduce", code: rc) }
    }

    /// Every rank's `value`, in rank order (a sum of one-hot vectors: no extra MPI entry point).
    public func allGather(_ value: UInt64) throws(DistributedError) -> [UInt64] {
        guard usesMPI else { return [value] }
        var slots = [UInt64](repeating: 0, count: size)
        slots[rank] = value
        let rc = slots.withUnsafeMutableBufferPointer { ddpm_mpi_allreduce_u64_sum($0.baseAddress, Int64($0.count)) }
        guard rc == 0 else { throw .callFailed("MPI_Allreduce", code: rc) }
        return slots
    }

    /// Root's bytes on every rank (`bytes` must have the same count everywhere).
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws(DistributedError) {
        guard usesMPI, !bytes.isEmpty else { return }
        let rc = bytes.withUnsafeMutableBytes { ddpm_mpi_broadcast($0.baseAddress, Int64($0.count), Int32(root)) }
        guard rc == 0 else { throw .callFailed("MPI_Bcast", code: rc) }
    }

    public func barrier() throws(DistributedError) {
        guard usesMPI else { return }
        let rc = ddpm_mpi_barrier()
        guard rc == 0 else { throw .callFailed("MPI_Barrier", code: rc) }
    }

    /// Whether any rank passes true (a 0/1 flag summed): every rank gets the same answer the same
    /// step, so all stop together.
    public func any(_ flag: Bool) throws(DistributedError) -> Bool {
        var v: [Double] = [flag ? 1 : 0]
        try allReduce(&v)
        return v[0] > 0
    }

    /// Compares `value` across ranks; throws `mismatch` naming the ranks that differ from rank 0.
    public func agree(_ value: UInt64, what: String) throws(DistributedError) {
        let all = try allGather(value)
        let differing = all.indices.filter { all[$0] != all[0] }
        guard differing.isEmpty else {
            throw .mismatch(what: what, values: differing.map { ($0, all[$0]) }, rootValue: all[0])
        }
    }

    /// Throws `ranksFailed` on every rank when any rank passes a failure (its message travels by
    /// broadcast), so a rank that cannot read its data stops the whole job at start with its
    /// reason instead of leaving the others waiting in the first all-reduce.
    public func check(_ failure: String?) throws(DistributedError) {
        guard usesMPI else {
            if let failure { throw .ranksFailed([(0, failure)]) }
            return
        }
        let failed = try allGather(failure == nil ? 0 : 1)
        guard failed.contains(1) else { return }
        var failures: [(rank: Int, message: String)] = []
        for r in failed.indices where failed[r] == 1 {
            let mine = Array((failure ?? "").utf8.prefix(4000))
            var length = [UInt8](repeating: 0, count: 8)
            if r == rank { withUnsafeBytes(of: UInt64(mine.count).littleEndian) { length = Array($0) } }
            try broadcast(&length, root: r)
            let n = length.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
            var bytes = r == rank ? mine : [UInt8](repeating: 0, count: n)
            try broadcast(&bytes, root: r)
            failures.append((r, String(decoding: bytes, as: UTF8.self)))
        }
        throw .ranksFailed(failures)
    }

    /// MPI_Finalize, once, at a clean end. Not called on error paths: a rank that leaves without
    /// it makes `mpirun` end the whole job instead of waiting in a collective.
    public func finalize() {
        guard usesMPI, !finalized else { return }
        finalized = true
        _ = ddpm_mpi_finalize()
    }
}
