// TapsData: NumPy `.npy` arrays (format versions 1.0, 2.0, 3.0).
//
// Layout: magic "\x93NUMPY", u8 major, u8 minor, header length (u16 LE for v1, u32 LE for v2/v3), then an
// ASCII (v3: UTF-8) Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
// padded with spaces and a newline, then the data. Reference: numpy.lib.format (NEP 1).
import Foundation
import TapsTensor

/// A NumPy array read from a `.npy` file: its shape and elements in C (row-major) order.
public struct NPYArray: Sendable, Equatable {
    /// The element storage, by dtype.
    public enum Elements: Sendable, Equatable {
        /// `u1` (`|u1` or `<u1`): bytes, e.g. images.
        case uint8([UInt8])
        /// `<f4`.
        case float32([Float])
        /// `<f8`.
        case float64([Double])
        /// Integers (`i1`, `i2`, `i4`, `i8`, `u2`, `u4`, `u8`), e.g. Keras's `int64` labels; written as `<i8`.
        case int64([Int64])
    }

    /// Dimensions, outermost first (`[]` for a scalar).
    public var shape: [Int]
    /// The elements, row-major.
    public var elements: Elements

    /// Creates an array. - Precondition: the element count equals the product of `shape`.
    public init(shape: [Int], elements: Elements) {
        self.shape = shape
        self.elements = elements
        precondition(count == shape.reduce(1, *), "NPYArray: \(count) elements for shape \(shape)")
    }

    /// Number of elements.
    public var count: Int {
        switch elements {
        case let .uint8(v): return v.count
        case let .float32(v): return v.count
        case let .float64(v): return v.count
        case let .int64(v): return v.count
        }
    }

    /// The NumPy dtype string this array is written with (`|u1`, `<f4`, `<f8`).
    public var descr: String {
        switch elements {
        case .uint8: return "|u1"
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .int64: return "<i8"
        }
    }

    /// The elements converted to Float (bytes become 0...255; `f8` is rounded).
    public var floats: [Float] {
        switch elements {
        case let .uint8(v): return v.map(Float.init)
        case let .float32(v): return v
        case let .float64(v): return v.map(Float.init)
        case let .int64(v): return v.map(Float.init)
        }
    }

    /// The array as a Float tensor of the same shape (values unscaled).
    public func tensor() -> Tensor { Tensor(shape: shape, storage: floats) }

    /// Interprets a `u1` array `[H, W, C]` (one image) or `[N, H, W, C]` as images, transposing HWC to
    /// the NCHW layout of ``LabeledImages``.
    /// - Parameters:
    ///   - labels: one label per image (default: all 0).
    ///   - classes: class count (default: `max label + 1`).
    /// - Throws: ``DatasetError/malformed(file:field:expected:found:)`` for another dtype or rank, or a
    ///   label count that does not match.
    public func images(labels: [Int]? = nil, classes: Int? = nil, source: String = "<npy>") throws -> LabeledImages {
        guard case let .uint8(bytes) = elements else {
            throw DatasetError.malformed(file: source, field: "dtype", expected: "|u1 for images", found: descr)
        }
        guard shape.count == 3 || shape.count == 4 else {
            throw DatasetError.malformed(file: source, field: "shape", expected: "[H, W, C] or [N, H, W, C]", found: "\(shape)")
        }
        let dims = shape.count == 3 ? [1] + shape : shape
        let (n, h, w, c) = (dims[0], dims[1], dims[2], dims[3])
        let y = labels ?? [Int](repeating: 0, count: n)
        guard y.count == n else {
            throw DatasetError.malformed(file: source, field: "labels", expected: "\(n) (one per image)", found: "\(y.count)")
        }
        var chw = [UInt8](repeating: 0, count: bytes.count)
        // No pixels (a 0 among the dimensions): nothing to move, and n x h empty rows could still be 10^12 loop steps.
        for i in 0..<(bytes.isEmpty ? 0 : n) {
            for row in 0..<h {
                for col in 0..<w {
                    let src = ((i * h + row) * w + col) * c
                    for ch in 0..<c { chw[((i * c + ch) * h + row) * w + col] = bytes[src + ch] }
                }
            }
        }
        return try LabeledImages(pixels: chw, labels: y, channels: c, height: h, width: w,
                                 classes: classes ?? ((y.max() ?? 0) + 1), source: source)
    }
}

/// Reader and writer of NumPy `.npy` files (versions 1.0, 2.0, 3.0; dtypes `u1`, `f4`, `f8`; byte order
/// `<` or `|`; C order). Fortran-ordered and big-endian arrays are rejected with a hint.
public enum NPY {
    /// Reads the `.npy` file at `url` (gzip-compressed files are accepted too).
    /// - Throws: ``DatasetError`` naming the file, e.g. bad magic, unsupported dtype or order, truncated data.
    public static func read(_ url: URL) throws -> NPYArray {
        try parse(readMaybeGzip(url), source: url.path)
    }

    /// Parses `.npy` bytes; `source` names the origin in errors.
    public static func parse(_ data: Data, source: String) throws -> NPYArray {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10 else {
            throw DatasetError.truncated(file: source, field: "NPY preamble", expectedBytes: 10, foundBytes: bytes.count)
        }
        guard Array(bytes[0..<6]) == magic else {
            throw DatasetError.malformed(file: source, field: "magic", expected: "\\x93NUMPY", found: bytes[0..<6].map { String(format: "%02x", $0) }.joined(separator: " "))
        }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else {
                throw DatasetError.truncated(file: source, field: "NPY preamble", expectedBytes: 12, foundBytes: bytes.count)
            }
            headerStart = 12
            headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        default:
            throw DatasetError.unsupported(file: source, feature: "NPY format version \(major).\(bytes[7])",
                                           hint: "versions 1.0, 2.0 and 3.0 are supported")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw DatasetError.truncated(file: source, field: "NPY header", expectedBytes: headerStart + headerLength, foundBytes: bytes.count)
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw DatasetError.malformed(file: source, field: "header", expected: "text", found: "undecodable bytes")
        }
        let (descr, fortran, shape) = try parseHeader(header, source: source)
        if fortran {
            throw DatasetError.unsupported(file: source, feature: "Fortran-ordered array (fortran_order: True)",
                                           hint: "re-save it in C order: np.save(path, np.ascontiguousarray(a))")
        }
        guard descr.count == 3, let order = descr.first, let kind = descr.dropFirst().first, let size = Int(descr.suffix(1)) else {
            throw DatasetError.malformed(file: source, field: "descr", expected: "a simple dtype such as '<f4' or '|u1'", found: "'\(descr)'")
        }
        if order == ">" {
            throw DatasetError.unsupported(file: source, feature: "big-endian dtype '\(descr)'",
                                           hint: "re-save it little-endian: np.save(path, a.astype('<\(kind)\(size)'))")
        }
        guard order == "<" || order == "|" || order == "=" else {
            throw DatasetError.malformed(file: source, field: "descr byte order", expected: "'<' or '|'", found: "'\(order)'")
        }
        let integer = ["i1", "i2", "i4", "i8", "u2", "u4", "u8"].contains("\(kind)\(size)")
        guard integer || ["u1", "f4", "f8"].contains("\(kind)\(size)") else {
            throw DatasetError.unsupported(file: source, feature: "dtype '\(descr)'",
                                           hint: "supported dtypes: u1, f4, f8 and integers i1-i8, u2-u8")
        }
        // As NumPy ("array is too big"): the product of the non-zero dimensions must fit, even when another is 0,
        // so no consumer multiplying two of them (height x width x channels) can overflow.
        var extent = 1
        for d in shape where d > 0 {
            let (p, overflow) = extent.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw DatasetError.malformed(file: source, field: "shape", expected: "a size that fits in memory", found: "\(shape)")
            }
            extent = p
        }
        let count = shape.contains(0) ? 0 : extent
        let start = headerStart + headerLength
        let available = bytes.count - start
        let (needed, overflow) = count.multipliedReportingOverflow(by: size)
        if overflow || needed > available {
            throw DatasetError.truncated(file: source, field: "data for shape \(shape) \(descr)",
                                         expectedBytes: overflow ? Int.max : needed, foundBytes: available)
        }
        if needed < available {
            throw DatasetError.malformed(file: source, field: "data length", expected: "\(needed) bytes after the header",
                                         found: "\(available) (trailing bytes)")
        }
        let payload = bytes[start...]
        let elements: NPYArray.Elements = payload.withUnsafeBytes { raw in
            if integer {
                return .int64((0..<count).map { i -> Int64 in
                    let at = i * size
                    switch (kind, size) {
                    case ("i", 1): return Int64(raw.load(fromByteOffset: at, as: Int8.self))
                    case ("i", 2): return Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                    case ("i", 4): return Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                    case ("u", 2): return Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                    case ("u", 4): return Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    case ("u", 8): return Int64(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                    default: return Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                    }
                })
            }
            switch size {
            case 1: return .uint8(Array(payload))
            case 4: return .float32((0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) })
            default: return .float64((0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) })
            }
        }
        return NPYArray(shape: shape, elements: elements)
    }

    /// The bytes of a `.npy` file for `array` (version 1.0 unless the header needs more; `version` 2 or 3
    /// forces a 4-byte header length). The header is padded so the data starts 64-byte aligned.
    public static func encode(_ array: NPYArray, version: UInt8 = 1) -> Data {
        let shapeText = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(array.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let major: UInt8 = max(version, header.utf8.count + 11 > 65_535 ? 2 : 1)
        let preamble = major == 1 ? 10 : 12
        let total = preamble + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
        let length = header.utf8.count
        if major == 1 {
            out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        } else {
            withUnsafeBytes(of: UInt32(length).littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: Array(header.utf8))
        switch array.elements {
        case let .uint8(v): out.append(contentsOf: v)
        case let .float32(v): for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case let .float64(v): for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case let .int64(v): for x in v { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    // MARK: - Header dict

    private static func parseHeader(_ text: String, source: String) throws -> (descr: String, fortran: Bool, shape: [Int]) {
        func value(after key: String) throws -> Substring {
            guard let range = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\""),
                  let colon = text[range.upperBound...].firstIndex(of: ":") else {
                throw DatasetError.malformed(file: source, field: "header", expected: "key '\(key)'",
                                             found: "\(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(120))")
            }
            return text[text.index(after: colon)...].drop(while: { $0 == " " })
        }
        let descrValue = try value(after: "descr")
        guard let quote = descrValue.first, quote == "'" || quote == "\"",
              let end = descrValue.dropFirst().firstIndex(of: quote) else {
            throw DatasetError.unsupported(file: source, feature: "structured dtype \(descrValue.prefix(40))",
                                           hint: "supported dtypes: u1, f4, f8")
        }
        let descr = String(descrValue[descrValue.index(after: descrValue.startIndex)..<end])
        let fortranValue = try value(after: "fortran_order")
        let fortran: Bool
        if fortranValue.hasPrefix("True") { fortran = true } else if fortranValue.hasPrefix("False") { fortran = false } else {
            throw DatasetError.malformed(file: source, field: "fortran_order", expected: "True or False", found: "\(fortranValue.prefix(10))")
        }
        let shapeValue = try value(after: "shape")
        guard shapeValue.first == "(", let close = shapeValue.firstIndex(of: ")") else {
            throw DatasetError.malformed(file: source, field: "shape", expected: "a tuple such as (2, 3)", found: "\(shapeValue.prefix(20))")
        }
        var shape: [Int] = []
        for part in shapeValue[shapeValue.index(after: shapeValue.startIndex)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if trimmed.isEmpty { continue }
            guard let d = Int(trimmed), d >= 0 else {
                throw DatasetError.malformed(file: source, field: "shape", expected: "non-negative integers", found: "'\(trimmed)'")
            }
            shape.append(d)
        }
        return (descr, fortran, shape)
    }
}
