// TapsData: gzip through zlib (inflate with automatic gzip/zlib header detection).
import CTapsZlib
import Foundation

/// gzip compression and decompression through the system zlib.
public enum Gzip {
    /// Whether `data` starts with the gzip magic bytes `1f 8b`.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// The largest output per compressed byte deflate can produce (258-byte matches in 2 bits each).
    public static let maximumRatio = 1032

    /// How far past the declared size decompression goes before giving up, so a few trailing bytes are still
    /// counted exactly by the reader's own "trailing bytes" check.
    public static let overrunAllowance = 1 << 16

    /// Decompresses a gzip (or zlib) stream; concatenated gzip members are decoded in sequence.
    /// `source` names the origin in errors.
    ///
    /// `declaredSize`, when given, bounds the output by what the file's own header says (a gzip bomb stops there):
    /// it is called with the output so far until it returns the total decompressed size the header declares
    /// (nil while the header is incomplete; it may throw for a malformed header). A declared size that these
    /// compressed bytes cannot hold (more than ``maximumRatio`` times their count) is refused before inflating
    /// further, and so is output beyond the declared size plus ``overrunAllowance`` (shorter overruns are returned
    /// for the caller's exact length check).
    /// - Throws: ``DatasetError/gzip(file:detail:)`` when the stream is corrupt or ends early;
    ///   ``DatasetError/malformed(file:field:expected:found:)`` when it is much longer than declared; whatever
    ///   `declaredSize` throws.
    public static func decompress(_ data: Data, source: String, declaredSize: ((Data) throws -> Int?)? = nil) throws -> Data {
        var output = Data()
        var bound: Int?
        var stream = z_stream()
        // windowBits 15 + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError.gzip(file: source, detail: "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.bindMemory(to: UInt8.self).baseAddress else {
                throw DatasetError.gzip(file: source, detail: "empty input")
            }
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(input.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                if bound == nil, let declaredSize, let declared = try declaredSize(output) {
                    bound = try checkedBound(declared, compressedBytes: input.count, source: source)
                }
                if let bound, output.count > bound + overrunAllowance {
                    throw DatasetError.malformed(file: source, field: "decompressed data", expected: "\(bound) bytes as its header declares",
                                                 found: "more than \(bound + overrunAllowance) (stopped at \(output.count) bytes)")
                }
                switch status {
                case Z_STREAM_END:
                    // Another gzip member may follow (as `cat a.gz b.gz` produces).
                    if stream.avail_in > 0, stream.next_in.pointee == 0x1F {
                        guard inflateReset(&stream) == Z_OK else {
                            throw DatasetError.gzip(file: source, detail: "inflateReset failed")
                        }
                        continue
                    }
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 {
                        throw DatasetError.gzip(file: source, detail: "stream ends early after \(input.count) compressed bytes")
                    }
                    continue
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw DatasetError.gzip(file: source, detail: message)
                }
            }
        }
        return output
    }

    /// `declared` when `compressedBytes` can inflate to that many bytes; otherwise the one-line error.
    private static func checkedBound(_ declared: Int, compressedBytes: Int, source: String) throws -> Int {
        let (most, overflow) = compressedBytes.multipliedReportingOverflow(by: maximumRatio)
        guard declared >= 0, overflow || declared <= most + (1 << 16) else {
            throw DatasetError.malformed(file: source, field: "header", expected: "a size \(compressedBytes) compressed bytes can hold "
                                         + "(at most \(maximumRatio)x)", found: "\(declared) bytes declared")
        }
        return declared
    }

    /// Compresses `data` into a gzip stream (default level, no file name, mtime 0).
    public static func compress(_ data: Data) -> Data {
        var stream = z_stream()
        // windowBits 15 + 16: write a gzip header and trailer.
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return Data() }
        defer { deflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var input = [UInt8](data)
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            var status: Int32 = Z_OK
            repeat {
                status = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return deflate(&stream, Z_FINISH)
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
            } while status == Z_OK
        }
        return output
    }
}

/// Reads a whole file, decompressing it when it starts with the gzip magic.
/// - Throws: ``DatasetError/unreadable(file:reason:)`` or ``DatasetError/gzip(file:detail:)``.
func readMaybeGzip(_ url: URL) throws -> Data {
    let raw = try readFile(url)
    return Gzip.isGzip(raw) ? try Gzip.decompress(raw, source: url.path) : raw
}

/// Reads a whole file as it is on disk.
/// - Throws: ``DatasetError/unreadable(file:reason:)``.
func readFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url)
    } catch {
        throw DatasetError.unreadable(file: url.path, reason: error.localizedDescription)
    }
}
