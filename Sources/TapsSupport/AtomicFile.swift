// TapsSupport: every file the product writes goes to a temporary name, is flushed, and is renamed into place.
import Foundation

/// A file could not be written. The description is one line: the path and the operating system's reason,
/// e.g. `cannot write runs/x/task.safetensors: No space left on device`.
public struct FileWriteError: Error, CustomStringConvertible, Equatable {
    /// The file that was to be written (not the temporary name).
    public var path: String
    /// What failed, in plain words (`strerror`).
    public var reason: String

    public init(path: String, reason: String) { self.path = path; self.reason = reason }

    public var description: String { "cannot write \(path): \(reason)" }
}

/// Prefix of the temporary files ``writeAtomically(_:to:)`` creates next to their destination
/// (`.<name>.tmp-<pid>-<random>`); ``removeStaleTemporaryFiles(in:)`` deletes leftovers of killed processes.
public let temporaryFileMarker = ".tmp-"

/// Writes `data` to `url` atomically and durably: a temporary file in the same folder, written in full,
/// `fsync`ed, then `rename(2)`d over the destination, then the folder is `fsync`ed. A reader never sees a
/// half-written file, and a crash or a full disk never destroys the previous version. Creates missing
/// parent folders. On any failure the temporary file is removed.
/// - Throws: ``FileWriteError`` naming `url` and the reason (e.g. "No space left on device",
///   "Read-only file system", "Permission denied").
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    } catch {
        throw FileWriteError(path: url.path, reason: "cannot create folder \(dir.path): \(plainReason(error))")
    }
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent)\(temporaryFileMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
    func fail(_ code: Int32) -> FileWriteError {
        close(fd)
        unlink(tmp.path)
        return FileWriteError(path: url.path, reason: String(cString: strerror(code)))
    }
    let ok: Int32 = data.withUnsafeBytes { raw -> Int32 in
        guard var p = raw.baseAddress else { return 0 }
        var left = raw.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            p += n
            left -= n
        }
        return 0
    }
    if ok != 0 { throw fail(ok) }
    if fsync(fd) != 0 { throw fail(errno) }
    if close(fd) != 0 {
        let code = errno
        unlink(tmp.path)
        throw FileWriteError(path: url.path, reason: String(cString: strerror(code)))
    }
    guard rename(tmp.path, url.path) == 0 else {
        let code = errno
        unlink(tmp.path)
        throw FileWriteError(path: url.path, reason: String(cString: strerror(code)))
    }
    let dfd = open(dir.path, O_RDONLY | O_CLOEXEC)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}

/// Deletes temporary files left in `folder` by a writer that was killed mid-write (names containing
/// ``temporaryFileMarker``). Returns how many were removed.
@discardableResult
public func removeStaleTemporaryFiles(in folder: URL) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    var removed = 0
    for name in names where name.hasPrefix(".") && name.contains(temporaryFileMarker) {
        if unlink(folder.appendingPathComponent(name).path) == 0 { removed += 1 }
    }
    return removed
}

/// The operating system's reason behind a Foundation error, in plain words ("Permission denied"), without
/// Foundation's domain and code.
public func plainReason(_ error: any Error) -> String {
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(posix.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let e = error as? FileWriteError { return e.reason }
    return ns.localizedDescription
}
