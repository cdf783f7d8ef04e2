import Dispatch
import Foundation

/// How many threads the kernels use; `DDPM_NUM_THREADS` overrides the default, the cores shared
/// by this host's processes of an `mpirun` job (`OMPI_COMM_WORLD_LOCAL_SIZE`; 1 when alone), so
/// N ranks on one machine do not oversubscribe it N times.
public enum ComputeSettings {
    nonisolated(unsafe) public static var threadCount: Int = {
        let env = ProcessInfo.processInfo.environment
        if let s = env["DDPM_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        let localRanks = max(1, Int(env["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1)
        return max(1, ProcessInfo.processInfo.activeProcessorCount / localRanks)
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
    DispatchQueue.concurrentPerform(iterations: threads) { i in
        let lo = count * i / threads, hi = count * (i + 1) / threads
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(t)` for t in 0..<count on separate threads (count ≤ cores).
package enum DispatchQueueShim {
    @inlinable @inline(__always)
    package static func concurrent(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 { body(0); return }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}
