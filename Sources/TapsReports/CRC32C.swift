// TapsReports: CRC-32C (Castagnoli), the checksum of TensorBoard's record format, from Intel ISA-L.
import CISAL

/// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected) of `bytes`, computed by ISA-L's `crc32_iscsi`
/// (hardware-accelerated where the CPU has SSE4.2). `crc32c("123456789") == 0xE3069283`.
public func crc32c<Bytes: Collection>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
    var copy = Array(bytes)
    let raw = copy.withUnsafeMutableBufferPointer { buffer -> UInt32 in
        UInt32(crc32_iscsi(buffer.baseAddress, Int32(buffer.count), 0xFFFF_FFFF))
    }
    return ~raw
}

/// TFRecord's masked CRC: `((crc >> 15) | (crc << 17)) + 0xa282ead8`, so that CRCs of data holding CRCs stay robust
/// (tensorflow/core/lib/hash/crc32c.h, `Mask`).
public func maskedCRC32C<Bytes: Collection>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
    let crc = crc32c(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}
