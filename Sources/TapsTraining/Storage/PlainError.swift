// TapsTraining: errors about files and folders in plain words ("cannot write runs/x: read-only file system"),
// never a raw Foundation error (NSCocoaErrorDomain codes, "The file doesn't exist.").
import Foundation

/// A file-system operation that failed, with the path and the operating system's reason.
public struct FileError: Error, CustomStringConvertible, Equatable {
    /// What was attempted: `write`, `read`, `create folder`.
    public var action: String
    public var path: String
    /// The reason in the operating system's words (`strerror`), e.g. `read-only file system`.
    public var reason: String

    public init(action: String, path: String, reason: String) {
        self.action = action; self.path = path; self.reason = reason
    }

    /// `cannot write runs/x/config.json: read-only file system`
    public var description: String { "cannot \(action) \(path): \(reason)" }

    /// The reason for POSIX error `code`, lower-cased as in `ls` and `cp` messages (`permission denied`).
    public static func reason(errno code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// `mkdir -p`: creates `directory` and its missing parents.
    /// - Throws: `FileError` naming the first folder that cannot be created, or a path component that is a file.
    public static func makeDirectories(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw FileError(action: "write into", path: directory, reason: "it is a file, not a folder") }
            return
        }
        var path = directory.hasPrefix("/") ? "/" : ""
        for part in directory.split(separator: "/") {
            path += (path.isEmpty || path.hasSuffix("/") ? "" : "/") + part
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw FileError(action: "create folder", path: directory, reason: "\(path) is a file") }
                continue
            }
            if mkdir(path, 0o777) != 0 && errno != EEXIST {
                throw FileError(action: "create folder", path: path, reason: reason(errno: errno))
            }
        }
    }

    /// Checks that `directory` exists (creating it and its parents) and that a file can be created in it, so a run
    /// fails at once with a plain message instead of after training.
    /// - Throws: `FileError` naming the first folder that cannot be created or written.
    public static func checkWritableDirectory(_ directory: String) throws {
        try makeDirectories(directory)
        let probe = (directory as NSString).appendingPathComponent(".taps-write-check-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw FileError(action: "write", path: directory, reason: reason(errno: errno)) }
        close(fd)
        unlink(probe)
    }
}

/// One line describing `error` for a person: `FileError`s and Foundation's file errors become
/// "cannot ACTION PATH: REASON" with the operating system's reason; other errors keep their own description.
public func plainDescription(of error: any Error) -> String {
    if let e = error as? FileError { return e.description }
    if let e = error as? CocoaError {
        // Our own code's CocoaErrors carry their message; Foundation's do not.
        if let text = e.userInfo[NSLocalizedDescriptionKey] as? String { return text }
        let path = (e.userInfo[NSFilePathErrorKey] as? String) ?? e.userInfo[NSURLErrorKey].map { ($0 as? URL)?.path ?? "\($0)" }
        var code: Int32?
        if let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            code = Int32(underlying.code)
        } else if let posix = e.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            code = posix.code.rawValue
        }
        let reason = code.map(FileError.reason(errno:)) ?? cocoaReason(e.code)
        let action = e.code.rawValue >= CocoaError.fileWriteUnknown.rawValue ? "write" : "read"
        return path.map { "cannot \(action) \($0): \(reason)" } ?? "cannot \(action) a file: \(reason)"
    }
    if let e = error as? POSIXError { return FileError.reason(errno: e.code.rawValue) }
    return "\(error)"
}

private func cocoaReason(_ code: CocoaError.Code) -> String {
    switch code {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
    case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
    case .fileWriteVolumeReadOnly: return "read-only file system"
    case .fileWriteOutOfSpace: return "no space left on device"
    case .fileWriteFileExists: return "a file with that name already exists"
    case .fileReadCorruptFile: return "the file is not in the expected format"
    case .fileReadTooLarge: return "the file is too large"
    default: return "I/O error (code \(code.rawValue))"
    }
}
