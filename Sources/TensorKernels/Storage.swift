import Synchronization

/// Contiguous Float32 memory owned by one or more tensors.
///
/// Buffers come from `BufferPool` and go back to it on `deinit`, so a training step that makes
/// the same activations every iteration allocates nothing after the first one. This class is the
/// only owner of raw memory; a GPU backend would add a device-resident variant here.
package final class Storage: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Float>
    package let count: Int

    /// Uninitialised storage of `count` floats.
    package init(uninitializedCount count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(count)
    }

    /// Storage filled with `value`.
    package convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.update(repeating: value, count: count)
    }

    package convenience init<C: Collection<Float>>(copying values: C) {
        self.init(uninitializedCount: values.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: count).initialize(from: values)
    }

    deinit { BufferPool.shared.give(pointer, count: count) }

    package var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
}

/// A caching allocator: freed buffers are kept per exact size and handed out again.
///
/// Exact sizes (not size classes) fit this workload: a U-Net step allocates the same few dozen
/// shapes over and over. The cache is bounded so that a run with shifting shapes cannot hoard.
package final class BufferPool: Sendable {
    package static let shared = BufferPool()

    private struct State {
        var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
        var cachedBytes = 0
        var liveBytes = 0
        var peakBytes = 0
    }
    private let state = Mutex(State())
    /// Upper bound on memory kept for reuse.
    private let cacheLimitBytes = 4 << 30
    private static let alignment = 64

    package func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let reused: UnsafeMutablePointer<Float>? = state.withLock { s in
            s.liveBytes += bytes
            s.peakBytes = max(s.peakBytes, s.liveBytes)
            guard var list = s.free[count], let p = list.popLast() else { return nil }
            s.free[count] = list
            s.cachedBytes -= bytes
            return p
        }
        if let reused { return reused }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    package func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let keep = state.withLock { s in
            s.liveBytes -= bytes
            guard s.cachedBytes + bytes <= cacheLimitBytes else { return false }
            s.free[count, default: []].append(pointer)
            s.cachedBytes += bytes
            return true
        }
        if !keep { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// Bytes held by live tensors right now, and the most ever held at once.
    package var statistics: (liveBytes: Int, peakBytes: Int, cachedBytes: Int) {
        state.withLock { ($0.liveBytes, $0.peakBytes, $0.cachedBytes) }
    }

    /// Releases every cached buffer and restarts the peak counter from the live size.
    package func trim() {
        let pointers = state.withLock { s -> [UnsafeMutablePointer<Float>] in
            let all = s.free.values.flatMap { $0 }
            s.free = [:]
            s.cachedBytes = 0
            s.peakBytes = s.liveBytes
            return all
        }
        for p in pointers { UnsafeMutableRawPointer(p).deallocate() }
    }
}
