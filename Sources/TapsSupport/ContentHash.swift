// TapsSupport: the one content hash of the project (bases, exports, files).
import Foundation

/// FNV-1a 64-bit hash, shown as `fnv1a64:<16 hex digits>`. Identifies a base's weights in every export
/// (`base_hash`) and detects any change of a file's bytes. Not cryptographic: it guards against mix-ups,
/// not against an adversary.
///
/// ```swift
/// var h = ContentHash()
/// h.combine(bytes)
/// h.description   // "fnv1a64:..."
/// ```
public struct ContentHash: Sendable, Equatable, CustomStringConvertible {
    /// The running 64-bit state.
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    /// Mixes `bytes` into the hash, in order.
    public mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        value = h
    }

    /// Mixes the bytes of `data`.
    public mutating func combine(_ data: Data) { data.withUnsafeBytes { combine($0) } }

    /// Mixes the UTF-8 bytes of `text`.
    public mutating func combine(_ text: String) { combine(Data(text.utf8)) }

    /// Mixes a 32-bit value, little-endian.
    public mutating func combine(_ n: UInt32) { withUnsafeBytes(of: n.littleEndian) { combine($0) } }

    /// `fnv1a64:` and the 16 hex digits of the state.
    public var description: String { String(format: "fnv1a64:%016llx", value) }

    /// The hash of a file's bytes.
    /// - Throws: a file error when `url` cannot be read.
    public static func ofFile(_ url: URL) throws -> String {
        var h = ContentHash()
        h.combine(try Data(contentsOf: url, options: .mappedIfSafe))
        return h.description
    }
}
