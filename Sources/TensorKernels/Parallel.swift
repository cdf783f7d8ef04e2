import CMachine
import Dispatch
import Foundation
import Synchronization

/// How many threads the kernels use; `DDPM_NUM_THREADS` overrides the default, the usable cores.
/// Under `mpirun`: when Open MPI bound this rank (`OMPI_MCA_orte_bound_at_launch`, its
/// default for -np ≤ 2 is one core per rank), the cores it was bound to, since more threads would
/// only share them; unbound, the cores divided by this host's ranks (`OMPI_COMM_WORLD_LOCAL_SIZE`),
/// so N ranks on one machine do not oversubscribe it N times.
public enum ComputeSettings {
    /// Read on every kernel call and set by tests and benchmarks from any thread, hence atomic.
    public static var threadCount: Int {
        get { threads.load(ordering: .relaxed) }
        set { threads.store(newValue, ordering: .relaxed) }
    }
    private static let threads = Atomic<Int>(defaultThreadCount)
    private static let defaultThreadCount: Int = {
        let env = ProcessInfo.processInfo.environment
        if let s = env["DDPM_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        let affinity = Int(ddpm_affinity_cores())
        let cores = max(
            1, affinity > 0 ? min(affinity, ProcessInfo.processInfo.activeProcessorCount) : ProcessInfo.processInfo.activeProcessorCount)
        if env["OMPI_MCA_orte_bound_at_launch"] == "1" { return cores }
        let localRanks = max(1, Int(env["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1)
        return max(1, cores / localRanks)
    }()
}

/// Splits `0..<count` into contiguous chunks of at least `grain` items and runs them on up to
/// `ComputeSettings.threadCount` threads. Chunk boundaries depend on the thread count, so callers
/// that reduce must combine per-item (not per-chunk) results to stay thread-count independent.
@inlinable @inline(__always)
package func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(ComputeSettings.threadCount, max(1, count / max(grain, 1)))
    if threads <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    DispatchQueueShim.concurrent(threads) { i in
        let lo = count * i / threads
        let hi = count * (i + 1) / threads
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(t)` for t in 0..<count on separate threads (count ≤ cores).
@usableFromInline package enum DispatchQueueShim {
    @inlinable @inline(__always)
    package static func concurrent(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 {
            body(0)
            return
        }
        // `concurrentPerform` wants a `@Sendable` body, but kernel bodies capture raw pointers.
        // Sharing them is safe: callers' iterations write disjoint ranges, and the call returns
        // only after all of them finished, so nothing outlives or races the caller's buffers.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: count) { body($0) }
        }
    }
}
