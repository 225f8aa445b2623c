// TapsNN: the safetensors format (Hugging Face), read and write, so PyTorch `state_dict`s load by name.
//
// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
// Header: `{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}}`
// with offsets relative to the start of the data buffer. Reference: github.com/huggingface/safetensors.
import Foundation
import TapsSupport
import TapsTensor

// MARK: - Public API

/// The contents of one safetensors file: named tensors (converted to Float32) and string metadata.
///
/// ```swift
/// let file = try SafeTensors.read(url)
/// let w = file["conv_layers.0.weight"]   // Tensor [32, 1, 3, 3]
/// ```
public struct SafeTensorsFile: Sendable {
    /// The tensors in file order (ascending data offset), with their PyTorch shapes.
    public var tensors: [(name: String, tensor: Tensor)]
    /// The `__metadata__` string map (empty when the file has none).
    public var metadata: [String: String]
    /// The dtype each tensor had on disk (`"F32"`, `"F16"`, `"I64"`, ...), by name.
    public var storedDTypes: [String: String]

    /// Creates a file value from tensors (kept in the given order) and metadata.
    public init(tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                storedDTypes: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
        self.storedDTypes = storedDTypes
    }

    /// The tensor with `name`, or `nil` when the file has none.
    public subscript(name: String) -> Tensor? {
        tensors.first(where: { $0.name == name })?.tensor
    }

    /// The tensor names in file order.
    public var names: [String] { tensors.map(\.name) }

    /// Total number of scalar elements over all tensors.
    public var elementCount: Int { tensors.reduce(0) { $0 + $1.tensor.count } }
}

/// Reads and writes the safetensors format.
///
/// Reading converts every supported dtype to Float32:
/// - `F32` as is; `F16` and `BF16` are upcast exactly; `F64` is rounded to the nearest Float.
/// - Integer and boolean dtypes (`I64`, `I32`, `I16`, `I8`, `U64`, `U32`, `U16`, `U8`, `BOOL`) are
///   converted to Float (exact up to 2^24). torchvision BatchNorm's `num_batches_tracked` is `I64`.
///
/// Writing always stores `F32`, tensors sorted by name (as the Python package orders equal-dtype
/// tensors), `__metadata__` first, header padded with spaces to a multiple of 8 bytes, and the file is
/// replaced atomically (temporary file in the same folder, then `rename`).
public enum SafeTensors {
    /// The dtype names accepted by ``read(_:)``.
    public static let supportedDTypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8",
                                         "U64", "U32", "U16", "U8", "BOOL"]

    /// Largest header accepted, in bytes (the Python package uses the same 100 MB cap).
    public static let maximumHeaderBytes = 100_000_000

    /// Reads the file at `url`.
    /// - Throws: ``SafeTensorsError`` naming the file and the problem (unreadable, malformed header,
    ///   unknown dtype, size or offset mismatch).
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw SafeTensorsError.unreadable(file: url.path, reason: plainFileReason(error, path: url.path))
        }
        return try read(data: data, source: url.path)
    }

    /// The reason a file could not be read or written in plain words (`no such file`, `permission denied`,
    /// `read-only file system`), never Foundation's generic "The operation could not be completed".
    static func plainFileReason(_ error: any Error, path: String) -> String {
        var isDirectory: ObjCBool = false
        let parent = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && FileManager.default.fileExists(atPath: parent.isEmpty ? "." : parent) == false {
            return "no such folder"
        }
        if isDirectory.boolValue { return "it is a folder, not a file" }
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code))).lowercased()
        }
        if ns.domain == NSCocoaErrorDomain && (ns.code == NSFileReadNoSuchFileError || ns.code == NSFileNoSuchFileError) {
            return "no such file"
        }
        return ns.localizedDescription
    }

    /// Parses safetensors bytes; `source` names the origin in error messages (a path or a label).
    /// - Throws: ``SafeTensorsError``.
    public static func read(data: Data, source: String) throws -> SafeTensorsFile {
        let (entries, metadata, dataStart) = try parseHeader(data, source: source)
        let bufferSize = data.count - dataStart
        try checkLayout(entries, bufferSize: bufferSize, source: source)
        var tensors: [(name: String, tensor: Tensor)] = []
        tensors.reserveCapacity(entries.count)
        var dtypes: [String: String] = [:]
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for entry in entries {
                let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)])
                tensors.append((entry.name, Tensor(shape: entry.shape, storage: entry.dtype.decode(bytes))))
                dtypes[entry.name] = entry.dtype.rawValue
            }
        }
        return SafeTensorsFile(tensors: tensors, metadata: metadata, storedDTypes: dtypes)
    }

    /// The bytes of a safetensors file holding `tensors` as F32 (sorted by name) and `metadata`.
    /// - Throws: ``SafeTensorsError/invalidTensorName(file:name:reason:)`` for an empty, duplicate or
    ///   reserved (`__metadata__`) name.
    public static func serialize(_ tensors: [(String, Tensor)], metadata: [String: String] = [:],
                                 source: String = "<memory>") throws -> Data {
        var seen = Set<String>()
        for (name, _) in tensors {
            if name.isEmpty { throw SafeTensorsError.invalidTensorName(file: source, name: name, reason: "empty") }
            if name == "__metadata__" {
                throw SafeTensorsError.invalidTensorName(file: source, name: name, reason: "reserved for metadata")
            }
            if !seen.insert(name).inserted {
                throw SafeTensorsError.invalidTensorName(file: source, name: name, reason: "duplicate")
            }
        }
        let sorted = tensors.sorted { $0.0 < $1.0 }
        var header = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in sorted {
            let bytes = tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        let pad = (8 - headerBytes.count % 8) % 8
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: pad))

        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for (_, tensor) in sorted {
            tensor.withBuffer { buffer in
                // Float32 little-endian: the in-memory layout on every platform Swift supports here.
                out.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
            }
        }
        return out
    }

    /// Writes `tensors` (as F32) and `metadata` to `url` atomically and durably (``writeAtomically(_:to:)``:
    /// temporary file, fsync, rename), so readers never see a partial file and a failed write keeps the old one.
    /// - Throws: ``SafeTensorsError/invalidTensorName(file:name:reason:)`` or
    ///   ``SafeTensorsError/unwritable(file:reason:)`` (e.g. "No space left on device").
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        let bytes = try serialize(tensors, metadata: metadata, source: url.path)
        do {
            try writeAtomically(bytes, to: url)
        } catch let error as FileWriteError {
            throw SafeTensorsError.unwritable(file: url.path, reason: error.reason)
        }
    }
}

/// Why a safetensors file could not be read or written. Each message is one line that names the file
/// and the problem.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The file could not be written or renamed into place.
    case unwritable(file: String, reason: String)
    /// The file is shorter than the 8-byte header-length prefix.
    case tooShort(file: String, bytes: Int)
    /// The header length prefix exceeds the file size or the 100 MB cap.
    case headerLength(file: String, declared: UInt64, available: Int)
    /// The header is not UTF-8 or not a JSON object.
    case headerNotJSON(file: String, detail: String)
    /// A tensor entry lacks a field or has one of the wrong type.
    case missingField(file: String, tensor: String, field: String, expected: String)
    /// A tensor's dtype is not one of ``SafeTensors/supportedDTypes``.
    case unknownDType(file: String, tensor: String, dtype: String)
    /// A tensor's byte range does not match its shape and dtype.
    case sizeMismatch(file: String, tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
    /// A tensor's byte range lies outside the data buffer.
    case offsetsOutOfRange(file: String, tensor: String, begin: Int, end: Int, bufferBytes: Int)
    /// Tensor byte ranges overlap, leave gaps, or do not cover the data buffer exactly.
    case offsetsNotContiguous(file: String, tensor: String, expectedBegin: Int, actualBegin: Int)
    /// A `__metadata__` value (or the map itself) is not a string.
    case nonStringMetadata(file: String, key: String)
    /// A tensor name given to the writer is empty, duplicated or reserved.
    case invalidTensorName(file: String, name: String, reason: String)
    /// The header names a tensor (or `__metadata__`) more than once; which entry is meant is ambiguous.
    case duplicateTensorName(file: String, name: String)

    /// The message: one line naming the file and the problem.
    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read safetensors file: \(reason)"
        case let .unwritable(file, reason):
            return "\(file): cannot write safetensors file: \(reason)"
        case let .tooShort(file, bytes):
            return "\(file): file is \(bytes) bytes, shorter than the 8-byte safetensors header length"
        case let .headerLength(file, declared, available):
            return "\(file): header length \(declared) bytes is larger than the \(available) bytes available "
                + "(cap \(SafeTensors.maximumHeaderBytes)); not a safetensors file or truncated"
        case let .headerNotJSON(file, detail):
            return "\(file): safetensors header is not a valid JSON object: \(detail)"
        case let .missingField(file, tensor, field, expected):
            return "\(file): tensor '\(tensor)' is missing field '\(field)' (expected \(expected))"
        case let .unknownDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)' has unknown dtype '\(dtype)'; supported: "
                + SafeTensors.supportedDTypes.joined(separator: ", ")
        case let .sizeMismatch(file, tensor, shape, dtype, expected, actual):
            return "\(file): tensor '\(tensor)' shape \(shape) \(dtype) needs \(expected) bytes but its "
                + "data_offsets span \(actual) bytes"
        case let .offsetsOutOfRange(file, tensor, begin, end, buffer):
            return "\(file): tensor '\(tensor)' data_offsets [\(begin), \(end)] are out of range of the "
                + "\(buffer)-byte data buffer"
        case let .offsetsNotContiguous(file, tensor, expected, actual):
            return "\(file): tensor '\(tensor)' data_offsets begin at \(actual), expected \(expected) "
                + "(tensors overlap or leave a gap in the data buffer)"
        case let .nonStringMetadata(file, key):
            return "\(file): __metadata__ value for '\(key)' is not a string"
        case let .invalidTensorName(file, name, reason):
            return "\(file): invalid tensor name '\(name)': \(reason)"
        case let .duplicateTensorName(file, name):
            return "\(file): the header names tensor '\(name)' more than once; each name must appear once"
        }
    }
}

// MARK: - Header parsing

private struct Entry {
    var name: String
    var dtype: DType
    var shape: [Int]
    var begin: Int
    var end: Int
}

extension SafeTensors {
    private static func parseHeader(_ data: Data, source: String) throws
        -> (entries: [Entry], metadata: [String: String], dataStart: Int) {
        guard data.count >= 8 else { throw SafeTensorsError.tooShort(file: source, bytes: data.count) }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(maximumHeaderBytes), length <= UInt64(data.count - 8) else {
            throw SafeTensorsError.headerLength(file: source, declared: length, available: data.count - 8)
        }
        let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(length)))
        guard String(data: headerData, encoding: .utf8) != nil else {
            throw SafeTensorsError.headerNotJSON(file: source, detail: "not UTF-8")
        }
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: headerData)
        } catch {
            throw SafeTensorsError.headerNotJSON(file: source, detail: jsonErrorSummary(error))
        }
        guard case let .object(object) = root else {
            throw SafeTensorsError.headerNotJSON(file: source, detail: "top level is not an object")
        }
        // The decoder keeps one value per key; a repeated name would silently lose the other entry.
        if let repeated = firstRepeatedKey(ofObject: [UInt8](headerData)) {
            throw SafeTensorsError.duplicateTensorName(file: source, name: repeated)
        }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard case let .object(map) = value else {
                    throw SafeTensorsError.nonStringMetadata(file: source, key: "__metadata__")
                }
                for (key, v) in map {
                    guard case let .string(s) = v else { throw SafeTensorsError.nonStringMetadata(file: source, key: key) }
                    metadata[key] = s
                }
                continue
            }
            entries.append(try parseEntry(name, value, source: source))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        // Offset of the data buffer from the first byte of `data` (not from `data.startIndex`).
        return (entries, metadata, 8 + Int(length))
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, source: String) throws -> Entry {
        guard case let .object(info) = value else {
            throw SafeTensorsError.missingField(file: source, tensor: name, field: "dtype", expected: "an object with dtype, shape, data_offsets")
        }
        guard case let .string(dtypeName)? = info["dtype"] else {
            throw SafeTensorsError.missingField(file: source, tensor: name, field: "dtype", expected: "a string such as \"F32\"")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(file: source, tensor: name, dtype: dtypeName)
        }
        guard case let .array(shapeValues)? = info["shape"],
              case let shape = shapeValues.compactMap(\.nonNegativeInt), shape.count == shapeValues.count else {
            throw SafeTensorsError.missingField(file: source, tensor: name, field: "shape", expected: "an array of non-negative integers")
        }
        guard case let .array(offsetValues)? = info["data_offsets"], offsetValues.count == 2,
              let begin = offsetValues[0].nonNegativeInt, let end = offsetValues[1].nonNegativeInt else {
            throw SafeTensorsError.missingField(file: source, tensor: name, field: "data_offsets", expected: "[begin, end] non-negative integers")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// Checks sizes against shapes and that the sorted ranges tile the buffer `[0, bufferSize)` exactly.
    private static func checkLayout(_ entries: [Entry], bufferSize: Int, source: String) throws {
        var expectedBegin = 0
        for e in entries {
            guard e.begin <= e.end, e.end <= bufferSize else {
                throw SafeTensorsError.offsetsOutOfRange(file: source, tensor: e.name, begin: e.begin, end: e.end, bufferBytes: bufferSize)
            }
            var elements = 1
            var overflow = false
            for d in e.shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                elements = p; overflow = overflow || o
            }
            let (bytes, o2) = elements.multipliedReportingOverflow(by: e.dtype.size)
            if overflow || o2 || bytes != e.end - e.begin {
                throw SafeTensorsError.sizeMismatch(file: source, tensor: e.name, shape: e.shape, dtype: e.dtype.rawValue,
                                                    expectedBytes: overflow || o2 ? Int.max : bytes, actualBytes: e.end - e.begin)
            }
            guard e.begin == expectedBegin else {
                throw SafeTensorsError.offsetsNotContiguous(file: source, tensor: e.name, expectedBegin: expectedBegin, actualBegin: e.begin)
            }
            expectedBegin = e.end
        }
        if expectedBegin != bufferSize {
            throw SafeTensorsError.offsetsNotContiguous(file: source, tensor: "<end of data>", expectedBegin: bufferSize, actualBegin: expectedBegin)
        }
    }

    /// The first key of the top-level JSON object in `json` that appears more than once (after unescaping), or nil.
    /// `json` is a valid JSON object (the decoder accepted it); anything unexpected ends the scan with nil.
    static func firstRepeatedKey(ofObject json: [UInt8]) -> String? {
        var i = 0
        func skipSpace() { while i < json.count, [0x20, 0x09, 0x0A, 0x0D].contains(json[i]) { i += 1 } }
        /// Skips a string starting at the quote `json[i]`; returns its raw bytes with the quotes.
        func skipString() -> ArraySlice<UInt8>? {
            let start = i
            i += 1
            while i < json.count {
                switch json[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""): i += 1; return json[start..<i]
                default: i += 1
                }
            }
            return nil
        }
        /// Skips one value (string, object, array or scalar).
        func skipValue() -> Bool {
            var depth = 0
            while i < json.count {
                switch json[i] {
                case UInt8(ascii: "\""): if skipString() == nil { return false }; if depth == 0 { return true }; continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }
                    depth -= 1
                    if depth == 0 { i += 1; return true }
                case UInt8(ascii: ","): if depth == 0 { return true }
                default: break
                }
                i += 1
            }
            return false
        }
        skipSpace()
        guard i < json.count, json[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var seen = Set<String>()
        while true {
            skipSpace()
            guard i < json.count, json[i] == UInt8(ascii: "\""), let raw = skipString() else { return nil }
            let key = raw.contains(UInt8(ascii: "\\"))
                ? (try? JSONDecoder().decode(String.self, from: Data(raw))) ?? String(decoding: raw, as: UTF8.self)
                : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
            if !seen.insert(key).inserted { return key }
            skipSpace()
            guard i < json.count, json[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            guard skipValue() else { return nil }
            skipSpace()
            guard i < json.count, json[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    private static func jsonErrorSummary(_ error: any Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case let .dataCorrupted(context): return context.debugDescription
            default: return String(describing: e)
            }
        }
        return error.localizedDescription
    }

    /// JSON string literal with the escapes serde_json uses (`"`, `\`, control characters).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

// MARK: - JSON values (the header has dynamic keys, so decode into a small tree)

private enum JSONValue: Decodable {
    case null, bool(Bool), int(Int64), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var nonNegativeInt: Int? {
        if case let .int(i) = self, i >= 0, i <= Int64(Int.max) { return Int(i) }
        return nil
    }
}

// MARK: - Dtypes

private enum DType: String {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

    var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Converts little-endian elements to Float32 (`bytes.count` is a multiple of `size`).
    func decode(_ bytes: UnsafeRawBufferPointer) -> [Float] {
        let n = bytes.count / size
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            func each<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Float) {
                for i in 0..<n { out[i] = convert(T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * size, as: T.self))) }
            }
            switch self {
            case .f32:
                if n > 0, let base = bytes.baseAddress, let dst = out.baseAddress {
                    memcpy(dst, base, n * 4)
                }
            case .f64: each(UInt64.self) { Float(Double(bitPattern: $0)) }
            case .f16: each(UInt16.self) { halfToFloat($0) }
            case .bf16: each(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
            case .i64: each(Int64.self) { Float($0) }
            case .i32: each(Int32.self) { Float($0) }
            case .i16: each(Int16.self) { Float($0) }
            case .i8: each(Int8.self) { Float($0) }
            case .u64: each(UInt64.self) { Float($0) }
            case .u32: each(UInt32.self) { Float($0) }
            case .u16: each(UInt16.self) { Float($0) }
            case .u8: each(UInt8.self) { Float($0) }
            case .bool: each(UInt8.self) { $0 == 0 ? 0 : 1 }
            }
            initialized = n
        }
    }
}

/// IEEE 754 binary16 → binary32, exact for every value including subnormals, infinities and NaN.
/// (Written out because `Float16` is unavailable on macOS x86_64.)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Zero or subnormal: value = mantissa * 2^-24, exact in Float.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
}
