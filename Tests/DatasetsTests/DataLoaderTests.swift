import Datasets
import Foundation
import Tensors
import Testing

// DataLoader.swift: seeded order, per-epoch reshuffle, flips, exact resume, prefetch.

/// 23 grey 2x3 images; image i is filled with the value i, except a marker in its top-left
/// pixel so mirroring is visible.
func numberedImages(_ count: Int = 23) -> ImageSet {
    var pixels: [UInt8] = []
    for i in 0..<count { pixels += [UInt8(200)] + [UInt8](repeating: UInt8(i), count: 5) }
    return ImageSet(channels: 1, height: 2, width: 3, pixels: pixels, labels: Array(0..<count).map { $0 % 10 })
}

@Suite("DataLoader")
struct DataLoaderTests {
    @Test("The order depends only on the seed and the epoch, and changes every epoch")
    func shuffling() throws {
        let a = try DataLoader(images: numberedImages(), batchSize: 5, seed: 7)
        let b = try DataLoader(images: numberedImages(), batchSize: 5, seed: 7)
        let c = try DataLoader(images: numberedImages(), batchSize: 5, seed: 8)
        #expect(a.order(epoch: 0) == b.order(epoch: 0))
        #expect(a.order(epoch: 3) == b.order(epoch: 3))
        #expect(a.order(epoch: 0) != a.order(epoch: 1))
        #expect(a.order(epoch: 0) != c.order(epoch: 0))
        #expect(a.order(epoch: 0).sorted() == Array(0..<23))

        // 23 images, batches of 5, last partial batch dropped: 4 batches per epoch.
        #expect(a.batchesPerEpoch == 4)
        let epoch0 = (0..<4).map { _ in a.next() }
        #expect(epoch0.flatMap(\.indices) == Array(a.order(epoch: 0).prefix(20)))
        let first = a.next()
        #expect(first.indices == Array(a.order(epoch: 1).prefix(5)))
        #expect(a.position.epoch == 1 && a.position.index == 5)
    }

    @Test("Keeping the last partial batch")
    func keepLast() throws {
        let loader = try DataLoader(images: numberedImages(), batchSize: 5, seed: 1, dropLast: false)
        #expect(loader.batchesPerEpoch == 5)
        let sizes = (0..<6).map { _ in loader.next().indices.count }
        #expect(sizes == [5, 5, 5, 5, 3, 5])
    }

    @Test("Batches hold the right images, scaled to [-1, 1], mirrored where flipped")
    func contentsAndFlips() throws {
        let images = numberedImages()
        let loader = try DataLoader(images: images, batchSize: 23, seed: 3)
        let batch = loader.next()
        #expect(batch.images.shape == [23, 1, 2, 3])
        #expect(batch.labels == batch.indices.map { $0 % 10 })
        let flips = batch.flipped.filter { $0 }.count
        #expect(flips > 3 && flips < 20)  // about half, never all or none for 23 fair draws with this seed
        let values = batch.images.scalars
        for (n, index) in batch.indices.enumerated() {
            let marker: Float = 200 / 127.5 - 1
            let fill = Float(index) / 127.5 - 1
            let expected: [Float] = batch.flipped[n] ? [fill, fill, marker, fill, fill, fill] : [marker] + Array(repeating: fill, count: 5)
            #expect(Array(values[(n * 6)..<(n * 6 + 6)]) == expected)
        }

        let plain = try DataLoader(images: images, batchSize: 23, seed: 3, horizontalFlips: false)
        let unflipped = plain.next()
        #expect(unflipped.flipped.allSatisfy { !$0 })
        #expect(unflipped.indices == batch.indices)
    }

    @Test("A restored position replays exactly the same batches")
    func resume() throws {
        let reference = try DataLoader(images: numberedImages(), batchSize: 4, seed: 11)
        let stream = (0..<17).map { _ in reference.next() }

        let first = try DataLoader(images: numberedImages(), batchSize: 4, seed: 11)
        for _ in 0..<7 { _ = first.next() }
        let saved = try JSONEncoder().encode(first.position)

        let resumed = try DataLoader(images: numberedImages(), batchSize: 4, seed: 11)
        resumed.position = try JSONDecoder().decode(DataLoaderPosition.self, from: saved)
        for k in 7..<17 {
            let batch = resumed.next()
            #expect(batch.indices == stream[k].indices)
            #expect(batch.flipped == stream[k].flipped)
            #expect(batch.images.scalars == stream[k].images.scalars)
        }
    }

    @Test("Prefetching gives the same batches as loading in line")
    func prefetch() throws {
        let images = try IDX.load(images: Fixtures.url("idx/images-idx3-ubyte.gz"), layout: .pad(to: 32))
        let background = try DataLoader(images: images, batchSize: 2, seed: 5, prefetch: true)
        let inline = try DataLoader(images: images, batchSize: 2, seed: 5, prefetch: false)
        for step in 0..<9 {
            if step == 4 { background.position = inline.position }  // restoring mid-stream discards the prefetched batch
            let (a, b) = (background.next(), inline.next())
            #expect(a.indices == b.indices && a.flipped == b.flipped)
            #expect(a.images.scalars == b.images.scalars)
            #expect(background.position == inline.position)
        }
    }

    @Test("Fewer images than one batch is an error")
    func tooFew() {
        let error = datasetError { _ = try DataLoader(images: numberedImages(3), batchSize: 4, seed: 0) }
        #expect(error == .tooFewImages(count: 3, batchSize: 4))
        #expect(error!.description.contains("Use a smaller batch size"))
    }
}

@Suite("DataLoader shards (data-parallel ranks)")
struct DataLoaderShardTests {
    @Test("Shards of each batch join to the whole batch, flips included, and positions stay in step")
    func shardsJoin() throws {
        let whole = try DataLoader(images: numberedImages(), batchSize: 6, seed: 3, horizontalFlips: true)
        let shards = try (0..<3).map { r in
            try DataLoader(images: numberedImages(), batchSize: 6, seed: 3, horizontalFlips: true, shard: 2 * r..<2 * r + 2)
        }
        for _ in 0..<9 {  // across epoch ends (23 images, 3 batches per epoch)
            let reference = whole.next()
            let parts = shards.map { $0.next() }
            #expect(parts.flatMap(\.indices) == reference.indices)
            #expect(parts.flatMap(\.flipped) == reference.flipped)
            #expect(parts.flatMap(\.images.scalars) == reference.images.scalars)
            #expect(shards.allSatisfy { $0.position == whole.position })
        }
    }
}
