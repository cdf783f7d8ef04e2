import Dispatch
import Foundation

/// How many threads the kernels use; `DDPM_NUM_THREADS` overrides the core count.
public enum ComputeSettings {
    nonisolated(unsafe) public static var threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["DDPM_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
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
