// TapsTraining: every file the product writes goes to a temporary name and is renamed into place.
import Foundation

/// Writes `data` to `url` atomically: a temporary file in the same folder, flushed, then `rename(2)`d over
/// the destination, so a reader never sees a half-written file and a crash loses nothing that was there.
/// Creates missing parent folders.
/// - Throws: `FileError` ("cannot write PATH: read-only file system") when the folder or file cannot be written.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    try FileError.makeDirectories(dir.path)
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    func failure() -> FileError { FileError(action: "write", path: url.path, reason: FileError.reason(errno: errno)) }
    let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw failure() }
    var ok = data.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }
    var error = ok ? nil : failure()
    if ok && fsync(fd) != 0 { ok = false; error = failure() }
    close(fd)
    if ok && rename(tmp.path, url.path) != 0 { ok = false; error = failure() }
    if !ok {
        unlink(tmp.path)
        throw error!
    }
}

/// JSON encoder used for every file the product writes: snake_case keys, sorted, pretty-printed.
public func makeJSONEncoder(pretty: Bool = true) -> JSONEncoder {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
}

/// JSON decoder matching ``makeJSONEncoder(pretty:)``.
public func makeJSONDecoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
}
