// TapsReports: TensorBoard event files — the TFRecord container of `Event` protocol buffers that TensorBoard,
// tf.summary and W&B's TensorBoard sync read.
//
// Record (tensorflow/core/lib/io/record_writer.cc):
//     uint64 length (little-endian) | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)
// Messages written (field numbers from tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto):
//     Event        { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//     Summary      { repeated Value value = 1; }
//     Value        { string tag = 1; float simple_value = 2; TensorProto tensor = 8; SummaryMetadata metadata = 9; }
//     SummaryMetadata { PluginData plugin_data = 1 { string plugin_name = 1; } }
//     TensorProto  { DataType dtype = 1 (DT_STRING = 7); TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8; }
import Foundation

/// One value of a summary: a scalar (`simple_value`) or a text (a string tensor for TensorBoard's text plugin).
public enum TensorBoardValue: Sendable, Equatable {
    case scalar(Float)
    case text(String)
}

/// One event of an event file, as written and as read back.
public struct TensorBoardEvent: Sendable, Equatable {
    /// Seconds since 1970.
    public var wallTime: Double
    public var step: Int64
    /// Set on the first event of a file only: `brain.Event:2`.
    public var fileVersion: String?
    /// The summary's values, by tag, in order.
    public var values: [(tag: String, value: TensorBoardValue)]

    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, values: [(tag: String, value: TensorBoardValue)] = []) {
        self.wallTime = wallTime; self.step = step; self.fileVersion = fileVersion; self.values = values
    }

    public static func == (a: TensorBoardEvent, b: TensorBoardEvent) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion
            && a.values.map(\.tag) == b.values.map(\.tag) && a.values.map(\.value) == b.values.map(\.value)
    }

    // MARK: - Encoding

    /// The `Event` protocol buffer.
    public func encoded() -> [UInt8] {
        var out = ProtoWriter()
        out.double(1, wallTime)
        out.varint(2, UInt64(bitPattern: step))
        if let fileVersion { out.bytes(3, Array(fileVersion.utf8)) }
        if !values.isEmpty {
            var summary = ProtoWriter()
            for (tag, value) in values {
                var v = ProtoWriter()
                v.bytes(1, Array(tag.utf8))
                switch value {
                case .scalar(let x):
                    v.float(2, x)
                case .text(let text):
                    var tensor = ProtoWriter()
                    tensor.varint(1, 7)  // DT_STRING
                    var dim = ProtoWriter(); dim.varint(1, 1)
                    var shape = ProtoWriter(); shape.bytes(2, dim.data)
                    tensor.bytes(2, shape.data)
                    tensor.bytes(8, Array(text.utf8))
                    v.bytes(8, tensor.data)
                    var plugin = ProtoWriter(); plugin.bytes(1, Array("text".utf8))
                    var metadata = ProtoWriter(); metadata.bytes(1, plugin.data)
                    v.bytes(9, metadata.data)
                }
                summary.bytes(1, v.data)
            }
            out.bytes(5, summary.data)
        }
        return out.data
    }

    /// Decodes an `Event` protocol buffer (the fields above; others are skipped).
    /// - Throws: `TensorBoardError.malformed` for a truncated or invalid message.
    public init(decoding bytes: [UInt8]) throws {
        self.init(wallTime: 0, step: 0)
        var r = ProtoReader(bytes)
        while let (field, wire) = try r.next() {
            switch (field, wire) {
            case (1, 1): wallTime = Double(bitPattern: try r.fixed64())
            case (2, 0): step = Int64(bitPattern: try r.varint())
            case (3, 2): fileVersion = String(decoding: try r.lengthDelimited(), as: UTF8.self)
            case (5, 2):
                var s = ProtoReader(try r.lengthDelimited())
                while let (sf, sw) = try s.next() {
                    guard sf == 1, sw == 2 else { try s.skip(sw); continue }
                    var v = ProtoReader(try s.lengthDelimited())
                    var tag = "", value: TensorBoardValue?
                    while let (vf, vw) = try v.next() {
                        switch (vf, vw) {
                        case (1, 2): tag = String(decoding: try v.lengthDelimited(), as: UTF8.self)
                        case (2, 5): value = .scalar(Float(bitPattern: try v.fixed32()))
                        case (8, 2):
                            var t = ProtoReader(try v.lengthDelimited())
                            var strings: [String] = []
                            while let (tf, tw) = try t.next() {
                                if tf == 8, tw == 2 { strings.append(String(decoding: try t.lengthDelimited(), as: UTF8.self)) } else { try t.skip(tw) }
                            }
                            value = .text(strings.joined(separator: "\n"))
                        default: try v.skip(vw)
                        }
                    }
                    if let value { values.append((tag, value)) }
                }
            default: try r.skip(wire)
            }
        }
    }
}

/// Errors reading or writing event files.
public enum TensorBoardError: Error, CustomStringConvertible, Equatable {
    case malformed(file: String, reason: String)
    public var description: String {
        switch self {
        case let .malformed(file, reason): return "\(file): not a TensorBoard event file (\(reason))"
        }
    }
}

// MARK: - Records

/// The TFRecord framing of one event.
public func tfRecord(_ data: [UInt8]) -> [UInt8] {
    var length = [UInt8](repeating: 0, count: 8)
    for i in 0..<8 { length[i] = UInt8(truncatingIfNeeded: UInt64(data.count) >> (8 * UInt64(i))) }
    var out = length
    out += littleEndian(maskedCRC32C(length))
    out += data
    out += littleEndian(maskedCRC32C(data))
    return out
}

private func littleEndian(_ x: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: x >> (8 * UInt32($0))) } }

/// Reads every event of an event file, checking both CRCs of every record.
/// - Throws: `TensorBoardError.malformed` naming the file for a truncated record or a CRC mismatch.
public func readTensorBoardEvents(_ url: URL) throws -> [TensorBoardEvent] {
    let bytes = [UInt8](try Data(contentsOf: url))
    var events: [TensorBoardEvent] = []
    var i = 0
    func fail(_ reason: String) -> TensorBoardError { .malformed(file: url.path, reason: reason) }
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
    while i < bytes.count {
        guard i + 12 <= bytes.count else { throw fail("truncated record header at byte \(i)") }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) }
        guard maskedCRC32C(bytes[i..<(i + 8)]) == u32(i + 8) else { throw fail("length CRC mismatch at byte \(i)") }
        guard length <= UInt64(bytes.count - i - 16) else { throw fail("truncated record at byte \(i)") }
        let start = i + 12, end = start + Int(length)
        guard maskedCRC32C(bytes[start..<end]) == u32(end) else { throw fail("data CRC mismatch at byte \(i)") }
        do { events.append(try TensorBoardEvent(decoding: Array(bytes[start..<end]))) } catch {
            throw fail("record at byte \(i): \(error)")
        }
        i = end + 4
    }
    return events
}

// MARK: - Protocol buffer wire format (the few field types used here)

struct ProtoWriter {
    var data: [UInt8] = []
    private mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { data.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        data.append(UInt8(v))
    }
    private mutating func key(_ field: Int, _ wire: UInt64) { rawVarint(UInt64(field) << 3 | wire) }
    mutating func varint(_ field: Int, _ v: UInt64) { key(field, 0); rawVarint(v) }
    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        let bits = v.bitPattern
        for i in 0..<8 { data.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
    }
    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        let bits = v.bitPattern
        for i in 0..<4 { data.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(i)))) }
    }
    mutating func bytes(_ field: Int, _ b: [UInt8]) { key(field, 2); rawVarint(UInt64(b.count)); data += b }
}

struct ProtoReader {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    struct Malformed: Error, CustomStringConvertible { var description: String }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard i < bytes.count, shift < 64 else { throw Malformed(description: "bad varint") }
            let b = bytes[i]; i += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }
    mutating func next() throws -> (Int, UInt64)? {
        guard i < bytes.count else { return nil }
        let k = try varint()
        return (Int(k >> 3), k & 7)
    }
    mutating func fixed64() throws -> UInt64 {
        guard i + 8 <= bytes.count else { throw Malformed(description: "truncated fixed64") }
        defer { i += 8 }
        return (0..<8).reduce(0) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) }
    }
    mutating func fixed32() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw Malformed(description: "truncated fixed32") }
        defer { i += 4 }
        return (0..<4).reduce(0) { $0 | UInt32(bytes[i + $1]) << (8 * UInt32($1)) }
    }
    mutating func lengthDelimited() throws -> [UInt8] {
        let n = Int(clamping: try varint())
        guard n <= bytes.count - i else { throw Malformed(description: "truncated field") }
        defer { i += n }
        return Array(bytes[i..<(i + n)])
    }
    mutating func skip(_ wire: UInt64) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw Malformed(description: "unsupported wire type \(wire)")
        }
    }
}
