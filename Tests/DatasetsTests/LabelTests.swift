import Datasets
import Foundation
import Tensors
import TestSupport
import Testing

/// Class labels for conditional training CIFAR-10's names, image folders' subfolders.
@Suite("Class labels")
struct LabelTests {
    /// `root/<class>/<n>.png` for each (class, count), 4×4 grey images of value `10·class`.
    static func folder(_ classes: [(String, Int)], loose: Bool = false) throws -> URL {
        let root = try temporaryDirectory()
        for (k, (name, count)) in classes.enumerated() {
            let pixels = Tensor(repeating: Float(k) / 10 - 0.5, shape: [count, 1, 4, 4])
            _ = try ImageWriter.writeImages(pixels, to: root.appendingPathComponent(name), prefix: "img")
        }
        if loose { _ = try ImageWriter.writeImages(Tensor.zeros([1, 1, 4, 4]), to: root, prefix: "loose") }
        return root
    }

    @Test("an image folder is labelled by its first-level subfolders, sorted, nested folders included")
    func subfolders() throws {
        let root = try Self.folder([("zebra", 2), ("Ant", 1), ("cat", 3)])
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try ImageWriter.writeImages(Tensor.zeros([1, 1, 4, 4]), to: root.appendingPathComponent("cat/kittens"), prefix: "deep")
        var options = ImageFolder.Options(size: 4, channels: 1)
        options.labelsFromSubfolders = true
        let set = try ImageFolder.load(root, options: options)
        #expect(set.classNames == ["Ant", "cat", "zebra"])  // byte order: upper case first
        #expect(set.count == 7 && set.labels.count == 7)
        #expect(set.labels.filter { $0 == 1 }.count == 4, "cat/ and cat/kittens/ are one class")
        #expect(set.labels.filter { $0 == 2 }.count == 2 && set.labels.filter { $0 == 0 }.count == 1)
        #expect(set.classCount == 3 && set.prefix(2).classNames == set.classNames)
        // Without the option the folder is unlabelled, as before.
        #expect(try ImageFolder.load(root, options: .init(size: 4, channels: 1)).labels.isEmpty)
    }

    @Test("an image directly in the root has no class and is refused, naming it and saying how to fix it")
    func looseImage() throws {
        let root = try Self.folder([("a", 1), ("b", 1)], loose: true)
        defer { try? FileManager.default.removeItem(at: root) }
        var options = ImageFolder.Options(size: 4, channels: 1)
        options.labelsFromSubfolders = true
        do {
            _ = try ImageFolder.load(root, options: options)
            Issue.record("a loose image was accepted")
        } catch {
            guard case .unlabelled(let path, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(path.hasSuffix("loose_00000.png") || path.contains("loose"))
            #expect(error.description.contains("Put each class's images in a subfolder named after the class"))
        }
    }

    @Test("CIFAR-10 names its classes (batches.meta.txt, else the standard ten)")
    func cifarNames() throws {
        let set = try CIFAR10.load(directory: Fixtures.url("cifar"))
        #expect(set.classNames.count == 10 && set.classNames[0] == "airplane" && set.classNames[9] == "truck")
        #expect(!set.labels.isEmpty)
    }

    @Test("labelled() keeps the pixels and checks the count")
    func labelled() {
        let set = ImageSet(channels: 1, height: 2, width: 2, pixels: [UInt8](repeating: 7, count: 12))
        let named = set.labelled([0, 2, 1], names: ["x", "y", "z"])
        #expect(named.pixels == set.pixels && named.labels == [0, 2, 1] && named.classCount == 3)
        #expect(set.labelled([4, 0, 0]).classCount == 5, "unnamed: one more than the largest label")
    }
}
