import Foundation

/// Checks a zip archive's directory before ZIPFoundation reads it.
///
/// ZIPFoundation 0.9 trusts the 64-bit offsets and sizes of a zip64 directory: an offset above
/// 2^63 traps in `off_t(offset)`, and sums of offsets and sizes can overflow. This walk finds the
/// same end-of-directory records and entries it will use (the last end record in the file, the
/// zip64 records right before it, each directory entry in turn) and checks that every offset and
/// compressed size lies within the file and every uncompressed size within deflate's 1032:1 of
/// its compressed size. Archives it cannot parse are left to ZIPFoundation, which reports them.
package enum ZipPreflight {
    package struct Failure: Error, Equatable { package let reason: String }

    package static func check(_ url: URL) throws(Failure) {
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { return }
        let result: Result<Void, Failure> = data.withUnsafeBytes { raw in Result { () throws(Failure) in try check(raw) } }
        try result.get()
    }

    package static func check(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        let size = UInt64(bytes.count)
        func u16(_ at: UInt64) -> UInt64? {
            at + 2 <= size ? UInt64(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(at), as: UInt16.self))) : nil
        }
        func u32(_ at: UInt64) -> UInt64? {
            at + 4 <= size ? UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(at), as: UInt32.self))) : nil
        }
        func u64(_ at: UInt64) -> UInt64? {
            at + 8 <= size ? UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(at), as: UInt64.self)) : nil
        }
        func fail(_ reason: String) -> Failure { Failure(reason: reason) }

        // The end of central directory record: the last signature, as ZIPFoundation scans.
        guard size >= 22 else { return }
        var end: UInt64? = nil
        var p = size - 22
        while true {
            if u32(p) == 0x0605_4B50 {
                end = p
                break
            }
            if p == 0 { break }
            p -= 1
        }
        guard let eocd = end, let entries16 = u16(eocd + 10), let cdOffset32 = u32(eocd + 16) else { return }
        var entryCount = entries16
        var cdOffset = cdOffset32
        // ZIPFoundation uses zip64 records at fixed places before it when both signatures match.
        if eocd > 20 + 56, u32(eocd - 20) == 0x0706_4B50, u32(eocd - 76) == 0x0606_4B50,
            let count64 = u64(eocd - 76 + 32), let offset64 = u64(eocd - 76 + 48)
        {
            entryCount = count64
            cdOffset = offset64
        }
        guard cdOffset <= size else { throw fail("the central directory offset \(cdOffset) is beyond the file's \(size) bytes") }
        var d = cdOffset
        var index: UInt64 = 0
        while index < entryCount {
            guard u32(d) == 0x0201_4B50, let flags = u16(d + 8), let method = u16(d + 10),
                let compressed32 = u32(d + 20), let uncompressed32 = u32(d + 24), let nameLength = u16(d + 28),
                let extraLength = u16(d + 30), let commentLength = u16(d + 32), let offset32 = u32(d + 42),
                d + 46 + nameLength + extraLength + commentLength <= size
            else { return }  // ZIPFoundation stops iterating here
            var (compressed, uncompressed, offset) = (compressed32, uncompressed32, offset32)
            // zip64 extended information: the fields whose 32-bit value is 0xFFFFFFFF, in order.
            var e = d + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd, let id = u16(e), let length = u16(e + 2) {
                if id == 1 {
                    var q = e + 4
                    func next() -> UInt64? {
                        guard q + 8 <= e + 4 + length, let v = u64(q) else { return nil }
                        q += 8
                        return v
                    }
                    if uncompressed32 == 0xFFFF_FFFF, let v = next() { uncompressed = v }
                    if compressed32 == 0xFFFF_FFFF, let v = next() { compressed = v }
                    if offset32 == 0xFFFF_FFFF, let v = next() { offset = v }
                    break
                }
                e += 4 + length
            }
            let name = "entry \(index)"
            guard offset <= size - min(size, 30) else {
                throw fail("\(name): local header offset \(offset) is beyond the file's \(size) bytes")
            }
            guard compressed <= size else { throw fail("\(name): compressed size \(compressed) is more than the file's \(size) bytes") }
            let ratio: UInt64 = method == 0 ? 1 : 1032
            guard uncompressed <= compressed * ratio + 1024 else {
                throw fail("\(name): declares \(uncompressed) bytes from \(compressed) compressed bytes, more than deflate can produce")
            }
            if let localName = u16(offset + 26), let localExtra = u16(offset + 28) {
                let dataEnd = offset + 30 + localName + localExtra + compressed  // each term below 2^53
                guard dataEnd <= size else { throw fail("\(name): data ends at byte \(dataEnd), beyond the file's \(size) bytes") }
                let zip64 = uncompressed32 == 0xFFFF_FFFF || compressed32 == 0xFFFF_FFFF || offset32 == 0xFFFF_FFFF
                if flags & 8 != 0, zip64 {
                    // A zip64 data descriptor after the data overrides the sizes with 8-byte ones.
                    let signed: UInt64 = u32(dataEnd) == 0x0807_4B50 ? 4 : 0
                    if let c = u64(dataEnd + signed + 4), let u = u64(dataEnd + signed + 12), c > size || u > c * 1032 + 1024 {
                        throw fail("\(name): its data descriptor declares \(u) bytes from \(c) compressed bytes in a file of \(size)")
                    }
                }
            }
            d += 46 + nameLength + extraLength + commentLength
            index += 1
        }
    }
}
