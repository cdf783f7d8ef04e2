import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one way this package writes a file: into `.NAME.tmp-PID` beside it, fsync the file,
/// rename it over `NAME`, fsync the directory. A crash or a full disk at any moment leaves
/// either the previous file or the new one, never half of one; a `kill -9` can leave the
/// temporary file behind, which `removeStaleTemporaries(in:)` deletes on the next run.
public enum AtomicFile {
    /// Why a write failed; any earlier file at `path` is unchanged.
    public struct WriteError: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): cannot write (\(reason)); any earlier file at this path is unchanged." }
    }

    nonisolated(unsafe) private static var counter = 0
    nonisolated(unsafe) private static var inFlight = Set<String>()
    private static let lock = NSLock()

    /// The temporary path beside `url`: `.NAME.tmp-PID`, or `.NAME.tmp-PID-N` while another
    /// thread of this process is writing the same file. Released by `release(_:)`.
    static func temporaryURL(for url: URL) -> URL {
        let base = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        return lock.withLock {
            var candidate = base
            while inFlight.contains(candidate.path) {
                counter += 1
                candidate = URL(fileURLWithPath: base.path + "-\(counter)")
            }
            inFlight.insert(candidate.path)
            return candidate
        }
    }

    static func release(_ temporary: URL) { _ = lock.withLock { inFlight.remove(temporary.path) } }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws(WriteError) {
        try write(to: url) { handle in try handle.write(contentsOf: data) }
    }

    /// Creates the temporary file, lets `body` write it through a handle, then publishes it.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws(WriteError) {
        try produce(url) { temporary in
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
                let handle = FileHandle(forWritingAtPath: temporary.path)
            else { throw WriteError(path: url.path, reason: creationFailure(url)) }
            defer { try? handle.close() }
            try body(handle)
        }
    }

    /// `body` creates the file at the temporary path it is given (e.g. a zip archive); it is
    /// then flushed and renamed over `url`. On any failure the temporary file is removed.
    public static func produce(_ url: URL, _ body: (URL) throws -> Void) throws(WriteError) {
        let temporary = temporaryURL(for: url)
        defer { release(temporary) }
        func fail(_ reason: String) -> WriteError {
            try? FileManager.default.removeItem(at: temporary)
            return WriteError(path: url.path, reason: reason)
        }
        do { try body(temporary) } catch let e as WriteError { throw fail(e.reason) } catch {
            throw fail((error as NSError).localizedDescription)
        }
        guard fsyncPath(temporary.path, directory: false) else { throw fail("fsync failed: \(String(cString: strerror(errno)))") }
        guard rename(temporary.path, url.path) == 0 else { throw fail(String(cString: strerror(errno))) }
        _ = fsyncPath(url.deletingLastPathComponent().path, directory: true)  // some file systems refuse; the rename stands
    }

    private static func creationFailure(_ url: URL) -> String {
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            return "the directory \(folder) does not exist"
        }
        guard isDirectory.boolValue else { return "\(folder) is not a directory" }
        return access(folder, W_OK) == 0 ? "cannot create a file in \(folder)" : "the directory \(folder) is not writable"
    }

    private static func fsyncPath(_ path: String, directory: Bool) -> Bool {
        let fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return fsync(fd) == 0
    }

    /// The process id in a temporary file's name (`.NAME.tmp-PID` or `.NAME.tmp-PID-N`), if it is one.
    public static func writerProcess(ofTemporary name: String) -> Int32? {
        guard name.hasPrefix("."), let range = name.range(of: ".tmp-", options: .backwards),
            range.lowerBound > name.index(after: name.startIndex)
        else { return nil }
        let parts = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let pid = Int32(parts[0]), pid > 0
        else { return nil }
        return pid
    }

    /// Deletes the temporary files in `directory` (not recursive) left by processes that no
    /// longer exist (`kill(pid, 0)` fails with ESRCH); those of live processes, this one
    /// included, are kept. Returns the files removed.
    @discardableResult
    public static func removeStaleTemporaries(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var removed: [URL] = []
        for name in names.sorted() {
            guard let pid = writerProcess(ofTemporary: name), pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            let url = directory.appendingPathComponent(name)
            if (try? FileManager.default.removeItem(at: url)) != nil { removed.append(url) }
        }
        return removed
    }

    /// What a path is when it is not a regular file ("a FIFO", "a character device", "a
    /// directory", …), or nil for a regular file or a missing path (whose open reports itself).
    public static func nonRegularFileKind(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}
