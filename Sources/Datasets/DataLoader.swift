import Dispatch
import Tensors

/// Where a `DataLoader` stands: enough to resume and see exactly the batches an uninterrupted
/// run would have seen. Codable so checkpoints can store it.
public struct DataLoaderPosition: Codable, Equatable, Hashable, Sendable {
    /// Completed passes over the data.
    public var epoch: Int
    /// Images of this epoch's order already handed out.
    public var index: Int
    /// The state of the generator that draws the flips.
    public var generatorState: UInt64

    public init(epoch: Int, index: Int, generatorState: UInt64) {
        self.epoch = epoch
        self.index = index
        self.generatorState = generatorState
    }
}

/// One batch: images `[B, C, H, W]` in [-1, 1], and which dataset images they are.
public struct DataBatch: Sendable {
    public var images: Tensor
    /// Dataset indices of the images, in batch order.
    public var indices: [Int]
    /// Class labels where the dataset has them, else empty.
    public var labels: [Int]
    /// Which images were mirrored.
    public var flipped: [Bool]
}

/// Batches from an `ImageSet`: shuffled per epoch, randomly mirrored, prepared one batch ahead.
///
/// Reproducibility is by construction. The order of epoch e is a Fisher–Yates shuffle driven by
/// a generator seeded from (seed, e) alone, so it never depends on how the run got there. Flips
/// come from a second generator whose state is part of `position`. A batch is a pure function
/// of the position it starts at (`makeBatch(at:)`), so the background thread that prepares the
/// next batch computes exactly what the caller's thread would have, and restoring a saved
/// position replays the same stream. One thread calls `next()`; the loader's own thread only
/// ever runs `makeBatch(at:)`.
public final class DataLoader: @unchecked Sendable {
    public var images: ImageSet { maker.images }
    public var batchSize: Int { maker.batchSize }
    public var seed: UInt64 { maker.seed }
    public var horizontalFlips: Bool { maker.horizontalFlips }
    public var dropLast: Bool { maker.dropLast }
    /// The rows of each batch this process loads (data-parallel training), or nil for all.
    public var shard: Range<Int>? { maker.shard }
    public let prefetch: Bool

    /// The position the next `next()` starts from. Setting it (to resume) discards any batch
    /// prepared for another position.
    public var position: DataLoaderPosition

    private let maker: BatchMaker
    private let queue = DispatchQueue(label: "Datasets.DataLoader.prefetch", qos: .userInitiated)
    private var pending: (start: DataLoaderPosition, work: DispatchWorkItem, box: BatchBox)?

    /// - Parameters:
    ///   - horizontalFlips: mirror each image with probability 1/2 (on in the paper for CIFAR-10
    ///     and LSUN; switch it off where left and right matter, such as digits).
    ///   - dropLast: skip the last partial batch of each epoch, so every batch has `batchSize`.
    ///   - prefetch: prepare the next batch on a background thread; the batches are identical
    ///     either way.
    ///   - shard: load only these rows of each batch (one process of a data-parallel job). Order,
    ///     flips and position are those of the whole batch, so every process walks the same global
    ///     sequence and a run resumes with any number of processes.
    public init(
        images: ImageSet, batchSize: Int, seed: UInt64, horizontalFlips: Bool = true, dropLast: Bool = true,
        prefetch: Bool = true, shard: Range<Int>? = nil
    ) throws(DatasetError) {
        precondition(batchSize > 0, "[DataLoader] batch size must be positive, got \(batchSize)")
        precondition(
            shard.map { !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= batchSize && dropLast } ?? true,
            "[DataLoader] shard \(shard.map { "\($0)" } ?? "") must be a non-empty part of 0..<\(batchSize), with dropLast")
        guard images.count > 0, !(dropLast && images.count < batchSize) else {
            throw .tooFewImages(count: images.count, batchSize: batchSize)
        }
        self.prefetch = prefetch
        maker = BatchMaker(
            images: images, batchSize: batchSize, seed: seed, horizontalFlips: horizontalFlips, dropLast: dropLast,
            shard: shard)
        var flipSeed = SeededGenerator(seed: seed ^ 0x666C_6970_7321)  // "flips!"
        position = DataLoaderPosition(epoch: 0, index: 0, generatorState: flipSeed.next())
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int { dropLast ? images.count / batchSize : (images.count + batchSize - 1) / batchSize }

    /// The order in which epoch `epoch` visits the dataset.
    public func order(epoch: Int) -> [Int] { maker.order(epoch: epoch) }

    /// The next batch; moves `position` past it.
    public func next() -> DataBatch {
        let start = position
        let result: (DataBatch, DataLoaderPosition)
        if let pending, pending.start == start {
            pending.work.wait()
            result = pending.box.value!
        } else {
            pending?.work.wait()
            result = maker.batch(at: start)
        }
        pending = nil
        position = result.1
        if prefetch { startPrefetch(at: position) }
        return result.0
    }

    /// The batch starting at `start` and the position after it; touches no loader state.
    public func makeBatch(at start: DataLoaderPosition) -> (DataBatch, DataLoaderPosition) { maker.batch(at: start) }

    private func startPrefetch(at start: DataLoaderPosition) {
        let box = BatchBox()
        let maker = maker  // a value: the work item holds no reference back to the loader
        let work = DispatchWorkItem { box.value = maker.batch(at: start) }
        pending = (start, work, box)
        queue.async(execute: work)
    }
}

/// The pure part of the loader: the batch at a position, from the settings alone.
private struct BatchMaker: Sendable {
    let images: ImageSet
    let batchSize: Int
    let seed: UInt64
    let horizontalFlips: Bool
    let dropLast: Bool
    let shard: Range<Int>?

    func order(epoch: Int) -> [Int] {
        var generator = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
        var order = Array(0..<images.count)
        // Fisher–Yates with an unbiased bounded draw, written out so the order is fixed by this
        // file rather than by the standard library's shuffle algorithm.
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(generator.next(upperBound: UInt64(i + 1)))
            order.swapAt(i, j)
        }
        return order
    }

    func batch(at start: DataLoaderPosition) -> (DataBatch, DataLoaderPosition) {
        var epoch = start.epoch
        var index = start.index
        if index >= images.count || (dropLast && index + batchSize > images.count) { (epoch, index) = (epoch + 1, 0) }
        var indices = Array(order(epoch: epoch)[index..<min(index + batchSize, images.count)])
        var generator = SeededGenerator(seed: start.generatorState)
        var flipped = indices.map { _ in horizontalFlips && generator.next() >> 63 == 1 }
        let position = DataLoaderPosition(epoch: epoch, index: index + indices.count, generatorState: generator.state)
        if let shard { (indices, flipped) = (Array(indices[shard]), Array(flipped[shard])) }
        let batch = DataBatch(
            images: images.batch(indices: indices, flips: flipped), indices: indices,
            labels: images.labels.isEmpty ? [] : indices.map { images.labels[$0] }, flipped: flipped)
        return (batch, position)
    }
}

/// Carries a prepared batch from the prefetch thread; `DispatchWorkItem.wait()` orders the
/// write before the read.
private final class BatchBox: @unchecked Sendable {
    var value: (DataBatch, DataLoaderPosition)?
}
