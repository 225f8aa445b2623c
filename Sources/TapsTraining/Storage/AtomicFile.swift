// TapsTraining: every file the product writes goes to a temporary name and is renamed into place.
import Foundation

/// Writes `data` to `url` atomically: a temporary file in the same folder, flushed, then `rename(2)`d over
/// the destination, so a reader never sees a half-written file and a crash loses nothing that was there.
/// Creates missing parent folders.
/// - Throws: `CocoaError` / POSIX errors naming the path when the folder is not writable.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    do {
        try data.write(to: tmp)
        let fd = open(tmp.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(tmp.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                NSLocalizedDescriptionKey: "cannot rename into \(url.path): \(String(cString: strerror(errno)))"])
        }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw error
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
