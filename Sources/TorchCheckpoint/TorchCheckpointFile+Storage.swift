import Foundation
import SafeTensors
import Tensors
import ZIPFoundation

extension TorchCheckpointFile {
    /// Turns storage views into contiguous Float32 tensors. Every view is checked before any
    /// storage is read; each storage entry is then extracted once, however many tensors share
    /// it, and dropped before the next.
    static func materialize(
        _ references: [(key: String, tensor: TensorReference)], storagesIn archive: Archive,
        entryPrefix: String, path: String
    ) throws(TorchCheckpointError) -> [String: Tensor] {
        var order: [String] = []
        var viewsOfStorage: [String: [Int]] = [:]
        for (index, (key, tensor)) in references.enumerated() {
            try validate(tensor, key: key, path: path)
            if viewsOfStorage[tensor.storage.key] == nil { order.append(tensor.storage.key) }
            viewsOfStorage[tensor.storage.key, default: []].append(index)
        }
        // Every storage entry must exist and declare exactly the bytes its tensors say, and the
        // views together may not materialise much more than the storages hold (shared storages
        // are views, but a thousand views of one large storage would be a memory bomb).
        var entries: [String: Entry] = [:]
        var storageElements = 0
        var viewElements = 0
        for storageKey in order {
            let entryPath = entryPrefix + storageKey
            guard let entry = archive[entryPath] else { throw .missingEntry(path: path, entry: entryPath) }
            let first = references[viewsOfStorage[storageKey]![0]]
            let byteCount = first.tensor.storage.count * first.tensor.storage.type.elementSize!  // checked in validate
            guard entry.uncompressedSize == UInt64(byteCount) else {
                throw .badLayout(
                    path: path, key: first.key,
                    reason:
                        "storage '\(entryPath)' holds \(entry.uncompressedSize) bytes, expected \(first.tensor.storage.count) \(first.tensor.storage.type.dtypeName) elements (\(byteCount) bytes)"
                )
            }
            entries[storageKey] = entry
            storageElements = storageElements.addingReportingOverflow(first.tensor.storage.count).partialValue
        }
        for (_, tensor) in references { viewElements = viewElements.addingReportingOverflow(tensor.shape.reduce(1, *)).partialValue }
        guard storageElements >= 0, viewElements >= 0, viewElements <= 4 * storageElements + (1 << 20) else {
            throw .badLayout(
                path: path, key: references.first?.key ?? "",
                reason:
                    "the tensors view \(viewElements) elements of storages holding \(storageElements); a state dict views each storage about once"
            )
        }
        var tensors: [String: Tensor] = [:]
        for storageKey in order {
            let views = viewsOfStorage[storageKey]!
            let entryPath = entryPrefix + storageKey
            let entry = entries[storageKey]!
            let data = try extract(entry, from: archive, path: path, limit: entry.uncompressedSize)
            for index in views {
                let (key, tensor) = references[index]
                let byteCount = tensor.storage.count * tensor.storage.type.elementSize!
                guard data.count == byteCount else {
                    throw .badLayout(
                        path: path, key: key,
                        reason:
                            "storage '\(entryPath)' holds \(data.count) bytes, expected \(tensor.storage.count) \(tensor.storage.type.dtypeName) elements (\(byteCount) bytes)"
                    )
                }
                tensors[key] = data.withUnsafeBytes { raw in
                    Tensor.filled(shape: tensor.shape) { out in gather(tensor, from: raw, into: out) }
                }
            }
        }
        return tensors
    }

    /// Checks dtype, offset, size and stride against the storage, with overflow-checked
    /// arithmetic since every number comes from the file.
    private static func validate(_ tensor: TensorReference, key: String, path: String) throws(TorchCheckpointError) {
        let storage = tensor.storage
        guard let elementSize = storage.type.elementSize else {
            throw .unsupportedDType(path: path, key: key, dtype: storage.type.dtypeName)
        }
        func bad(_ reason: String) -> TorchCheckpointError { .badLayout(path: path, key: key, reason: reason) }
        guard tensor.shape.count == tensor.strides.count else {
            throw bad("size \(tensor.shape) and stride \(tensor.strides) differ in rank")
        }
        guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.strides.allSatisfy({ $0 >= 0 }), tensor.offset >= 0 else {
            throw bad("negative size, stride or offset (size \(tensor.shape), stride \(tensor.strides), offset \(tensor.offset))")
        }
        guard !storage.count.multipliedReportingOverflow(by: elementSize).overflow else {
            throw bad("storage of \(storage.count) elements is too large")
        }
        var count = 1
        var last = tensor.offset
        for (size, stride) in zip(tensor.shape, tensor.strides) {
            let c = count.multipliedReportingOverflow(by: size)
            guard !c.overflow else { throw bad("size \(tensor.shape) is too large") }
            count = c.partialValue
            guard size > 0 else { continue }
            let step = (size - 1).multipliedReportingOverflow(by: stride)
            let end = last.addingReportingOverflow(step.partialValue)
            guard !step.overflow, !end.overflow else { throw bad("stride \(tensor.strides) is too large") }
            last = end.partialValue
        }
        guard count == 0 || last < storage.count else {
            throw bad(
                "size \(tensor.shape), stride \(tensor.strides) at offset \(tensor.offset) reach element \(last) of a storage of \(storage.count)"
            )
        }
    }

    /// Copies a strided view into contiguous row-major order, one innermost row at a time.
    /// Preconditions hold after `validate`.
    private static func gather(
        _ tensor: TensorReference, from bytes: UnsafeRawBufferPointer,
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        guard !out.isEmpty else { return }
        let element = tensor.storage.type.element!
        guard let rowLength = tensor.shape.last, let rowStride = tensor.strides.last else {
            convertRow(bytes, element, start: tensor.offset, stride: 1, into: out)  // 0-d
            return
        }
        let outer = Array(tensor.shape.dropLast())
        let outerStrides = Array(tensor.strides.dropLast())
        var index = [Int](repeating: 0, count: outer.count)
        var start = tensor.offset
        for row in 0..<(out.count / rowLength) {
            let destination = UnsafeMutableBufferPointer(rebasing: out[(row * rowLength)..<((row + 1) * rowLength)])
            convertRow(bytes, element, start: start, stride: rowStride, into: destination)
            // Odometer over the outer dimensions, innermost first.
            var d = outer.count - 1
            while d >= 0 {
                index[d] += 1
                start += outerStrides[d]
                if index[d] < outer[d] { break }
                start -= index[d] * outerStrides[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// Converts `out.count` elements at `start`, `start + stride`, … (in elements) to Float32.
    private static func convertRow(
        _ bytes: UnsafeRawBufferPointer, _ element: StorageType.Element,
        start: Int, stride: Int, into out: UnsafeMutableBufferPointer<Float>
    ) {
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * (start + i * stride), as: T.self))
        }
        switch element {
        case .float32: for i in out.indices { out[i] = Float(bitPattern: load(UInt32.self, i)) }
        case .float64: for i in out.indices { out[i] = Float(Double(bitPattern: load(UInt64.self, i))) }
        case .int64: for i in out.indices { out[i] = Float(load(Int64.self, i)) }
        case .int32: for i in out.indices { out[i] = Float(load(Int32.self, i)) }
        case .bfloat16: for i in out.indices { out[i] = Float(bitPattern: UInt32(load(UInt16.self, i)) << 16) }
        case .float16: for i in out.indices { out[i] = SafeTensorsFile.halfToFloat(load(UInt16.self, i)) }
        }
    }
}
