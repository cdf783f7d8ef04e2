import Tensors
import Testing

// SeededGenerator.shard: a data-parallel rank computing rows offset..<offset+b of a
// batch draws exactly the numbers one process draws for those rows, and the counter advances
// as for the whole batch, so every rank's stream stays in step.
@Suite("Random draws keyed by the global batch row")
struct BatchShardTests {
    /// Rows of the whole-batch draw against the concatenated shard draws, for 1, 2, 3 and 4 shards.
    func check(rows: Int, perRow: Int, _ draw: (inout SeededGenerator, Int) -> [Float]) {
        var whole = SeededGenerator(seed: 42)
        whole.shard = BatchShard(offset: 0, total: rows)
        let reference = draw(&whole, rows)
        for shards in [1, 2, 3, 4] where rows % shards == 0 {
            let b = rows / shards
            var joined: [Float] = []
            for r in 0..<shards {
                var g = SeededGenerator(seed: 42)
                g.shard = BatchShard(offset: r * b, total: rows)
                joined += draw(&g, b)
                #expect(g.state == whole.state, "the counter must advance past the whole batch")
            }
            #expect(joined == reference, "\(shards) shards")
        }
    }

    @Test("ε ~ N(0, I) with an odd row size (Box–Muller pairs straddle rows)")
    func normal() {
        check(rows: 12, perRow: 3 * 5 * 1) { g, b in Tensor.randomNormal([b, 3, 5, 1], using: &g).scalars }
        var plain = SeededGenerator(seed: 42)
        var sharded = plain
        sharded.shard = BatchShard(offset: 0, total: 6)
        #expect(
            Tensor.randomNormal([6, 5], using: &plain).scalars == Tensor.randomNormal([6, 5], using: &sharded).scalars,
            "one shard of the whole batch equals the unsharded draw")
    }

    @Test("uniform draws and dropout masks")
    func uniformAndDropout() {
        check(rows: 12, perRow: 7) { g, b in Tensor.randomUniform([b, 7], using: &g).scalars }
        check(rows: 12, perRow: 8) { g, b in
            Tensor.ones([b, 2, 4]).dropout(probability: 0.3, training: true, using: &g).scalars
        }
    }

    @Test("timesteps t ~ U{1…T}: one counter per row, every value in range")
    func timesteps() {
        check(rows: 12, perRow: 1) { g, b in g.integers(b, in: 1...1000).map(Float.init) }
        var g = SeededGenerator(seed: 1)
        g.shard = BatchShard(offset: 0, total: 4096)
        let t = g.integers(4096, in: 1...1000)
        #expect(t.allSatisfy { (1...1000).contains($0) } && Set(t).count > 900)
    }
}
