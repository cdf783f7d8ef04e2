import Foundation
import SafeTensors
import Tensors
import Testing

@Suite("SafeTensors round trip")
struct RoundTripTests {
    @Test("write then read gives the same tensors and metadata")
    func roundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "roundtrip-\(UInt32.random(in: 0...UInt32.max)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let a = Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-8, 7])
        let file = SafeTensorsFile(tensors: ["a": a, "b.c": Tensor(4.25)], metadata: ["step": "3"])
        try file.write(to: url)
        let back = try SafeTensorsFile.read(contentsOf: url)
        #expect(back.tensors["a"]?.shape == [2, 3])
        #expect(back.tensors["a"]?.scalars == a.scalars)
        #expect(back.tensors["b.c"]?.scalars == [4.25])
        #expect(back.metadata == ["step": "3"])
    }
}
