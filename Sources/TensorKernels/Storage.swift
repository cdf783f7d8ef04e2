import Synchronization

/// Contiguous Float32 memory owned by one or more tensors.
///
/// Buffers come from `BufferPool` and go back to it on `deinit`, so a training step that makes
/// the same activations every iteration allocates nothing after the first one. This class is the
/// only owner of raw memory; a GPU backend would add a device-resident variant here.
package final class Storage: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Float>
    package let count: Int
    /// Floats actually allocated (≥ count when the pool hands out a larger cached buffer).
    let capacity: Int

    /// Uninitialised storage of `count` floats.
    package init(uninitializedCount count: Int) {
        self.count = count
        (self.pointer, self.capacity) = BufferPool.shared.take(count)
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

    deinit { BufferPool.shared.give(pointer, capacity: capacity) }

    package var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
}

/// A caching allocator: freed buffers are kept by size and handed out again.
///
/// A request takes the smallest cached buffer that holds it and is at most twice its size (best
/// fit): a U-Net step allocates the same few dozen sizes over and over, and reusing near-sizes
/// keeps the cache from holding one idle buffer per size. Twice rather than a quarter more: the
/// pages a request does not touch cost no memory, while each miss adds a buffer for good (peak
/// RSS of the cifar10 training step 1,372 → 1,333 MB, the small model's 874 → 820 MB, same
/// speed). The cache is bounded so that a run with shifting shapes cannot hoard.
package final class BufferPool: Sendable {
    package static let shared = BufferPool()

    private struct State {
        var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
        var sizes: [Int] = []  // capacities with cached buffers, ascending
        var cachedBytes = 0
        var liveBytes = 0
        var peakBytes = 0

        mutating func pop(atLeast count: Int) -> (UnsafeMutablePointer<Float>, Int)? {
            var lo = 0
            var hi = sizes.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if sizes[mid] < count { lo = mid + 1 } else { hi = mid }
            }
            guard lo < sizes.count, sizes[lo] <= 2 * count else { return nil }
            let capacity = sizes[lo]
            let p = free[capacity]!.removeLast()
            if free[capacity]!.isEmpty {
                free[capacity] = nil
                sizes.remove(at: lo)
            }
            cachedBytes -= capacity * MemoryLayout<Float>.stride
            return (p, capacity)
        }

        mutating func push(_ p: UnsafeMutablePointer<Float>, capacity: Int) {
            if free[capacity] == nil {
                var lo = 0
                var hi = sizes.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if sizes[mid] < capacity { lo = mid + 1 } else { hi = mid }
                }
                sizes.insert(capacity, at: lo)
            }
            free[capacity, default: []].append(p)
            cachedBytes += capacity * MemoryLayout<Float>.stride
        }
    }
    private let state = Mutex(State())
    /// Upper bound on memory kept for reuse.
    private let cacheLimitBytes = 4 << 30
    private static let alignment = 64

    /// A buffer of at least `count` floats and its capacity.
    package func take(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let count = max(count, 1)
        let reused = state.withLock { s -> (UnsafeMutablePointer<Float>, Int)? in
            let hit = s.pop(atLeast: count)
            s.liveBytes += (hit?.1 ?? count) * MemoryLayout<Float>.stride
            s.peakBytes = max(s.peakBytes, s.liveBytes)
            return hit
        }
        if let reused { return reused }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: Self.alignment)
        return (raw.bindMemory(to: Float.self, capacity: count), count)
    }

    package func give(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let bytes = capacity * MemoryLayout<Float>.stride
        // Passed into the lock as an address: the buffer is handed over (its storage is being
        // destroyed), so no other region keeps using it.
        let address = UInt(bitPattern: pointer)
        let keep = state.withLock { s in
            s.liveBytes -= bytes
            guard s.cachedBytes + bytes <= cacheLimitBytes else { return false }
            s.push(UnsafeMutablePointer(bitPattern: address)!, capacity: capacity)
            return true
        }
        if !keep { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// Bytes held by live tensors right now, the most ever held at once, and kept for reuse.
    package var statistics: (liveBytes: Int, peakBytes: Int, cachedBytes: Int) {
        state.withLock { ($0.liveBytes, $0.peakBytes, $0.cachedBytes) }
    }
}
