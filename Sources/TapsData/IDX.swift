// TapsData: the IDX format of MNIST (LeCun et al.), raw or gzip-compressed.
//
// Images: big-endian u32 magic 0x00000803, u32 N, u32 rows, u32 cols, then N*rows*cols uint8 pixels.
// Labels: big-endian u32 magic 0x00000801, u32 N, then N uint8 labels.
// Reference: yann.lecun.com/exdb/mnist ("FILE FORMATS FOR THE MNIST DATABASE").
import Foundation

/// Reader and writer of IDX image and label files (the MNIST format), gzip-compressed or raw.
///
/// Every check on file contents throws a ``DatasetError`` instead of trapping.
public enum IDX {
    /// Magic number of a uint8 3-D (images) IDX file.
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Magic number of a uint8 1-D (labels) IDX file.
    public static let labelsMagic: UInt32 = 0x0000_0801
    /// Largest accepted image side, in pixels.
    public static let maximumSide = 65_535

    /// Images read from an IDX file: `count` images of `rows` × `cols` uint8 pixels, row-major.
    public struct Images: Sendable, Equatable {
        /// Number of images `N`.
        public var count: Int
        /// Image height.
        public var rows: Int
        /// Image width.
        public var cols: Int
        /// `N * rows * cols` pixels, image after image, row-major.
        public var pixels: [UInt8]

        /// Wraps `count` images of `rows` × `cols` pixels (`pixels.count == count * rows * cols`).
        public init(count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
            self.count = count
            self.rows = rows
            self.cols = cols
            self.pixels = pixels
        }
    }

    /// Reads an images file (`...-images-idx3-ubyte[.gz]`).
    /// - Throws: ``DatasetError`` for an unreadable file, corrupt gzip, wrong magic, bad dimensions,
    ///   truncated or over-long data.
    public static func readImages(_ url: URL) throws -> Images {
        try parseImages(readFile(url), source: url.path)
    }

    /// Reads a labels file (`...-labels-idx1-ubyte[.gz]`).
    /// - Throws: ``DatasetError`` as ``readImages(_:)``.
    public static func readLabels(_ url: URL) throws -> [UInt8] {
        try parseLabels(readFile(url), source: url.path)
    }

    /// Parses the bytes of an images file, raw or gzip-compressed; `source` names the origin in errors.
    ///
    /// A gzip stream is decompressed only as far as the header declares (`16 + N * rows * cols` bytes, plus
    /// ``Gzip/overrunAllowance`` to count a few trailing bytes exactly), so a small file that inflates to gigabytes
    /// (a gzip bomb) is refused after at most 128 KB more than declared.
    /// - Throws: ``DatasetError`` naming `source`: corrupt gzip, wrong magic, bad dimensions, truncated or
    ///   over-long data.
    public static func parseImages(_ data: Data, source: String) throws -> Images {
        let bytes = try inflatedIfGzip(data, source: source, headerBytes: 16) { try imagesLayout($0, source: source).fileBytes }
        let layout = try imagesLayout(bytes, source: source)
        let expected = layout.fileBytes - 16, available = bytes.count - 16
        if expected > available {
            throw DatasetError.truncated(file: source, field: "pixel data for \(layout.count) images of \(layout.rows)x\(layout.cols)",
                                         expectedBytes: expected, foundBytes: available)
        }
        if expected < available {
            throw DatasetError.malformed(file: source, field: "data length", expected: "\(expected) bytes after the header",
                                         found: "\(available) (trailing bytes)")
        }
        return Images(count: layout.count, rows: layout.rows, cols: layout.cols, pixels: Array(bytes[16...]))
    }

    /// Parses the bytes of a labels file, raw or gzip-compressed (decompressed only as far as the header declares,
    /// `8 + N` bytes); `source` names the origin in errors.
    /// - Throws: ``DatasetError`` as ``parseImages(_:source:)``.
    public static func parseLabels(_ data: Data, source: String) throws -> [UInt8] {
        let bytes = try inflatedIfGzip(data, source: source, headerBytes: 8) { try labelsFileBytes($0, source: source) }
        let count = try labelsFileBytes(bytes, source: source) - 8
        let available = bytes.count - 8
        if count > available {
            throw DatasetError.truncated(file: source, field: "label data for \(count) labels", expectedBytes: count, foundBytes: available)
        }
        if count < available {
            throw DatasetError.malformed(file: source, field: "data length", expected: "\(count) bytes after the header",
                                         found: "\(available) (trailing bytes)")
        }
        return Array(bytes[8...])
    }

    /// The raw (uncompressed) bytes of an images file.
    /// - Precondition: `pixels.count == count * rows * cols`.
    public static func encodeImages(_ images: Images) -> Data {
        precondition(images.pixels.count == images.count * images.rows * images.cols, "IDX.encodeImages: pixel count")
        var out = Data()
        for v in [imagesMagic, UInt32(images.count), UInt32(images.rows), UInt32(images.cols)] { appendU32(&out, v) }
        out.append(contentsOf: images.pixels)
        return out
    }

    /// The raw (uncompressed) bytes of a labels file.
    public static func encodeLabels(_ labels: [UInt8]) -> Data {
        var out = Data()
        appendU32(&out, labelsMagic)
        appendU32(&out, UInt32(labels.count))
        out.append(contentsOf: labels)
        return out
    }

    // MARK: - Helpers

    /// The bytes themselves, or their gzip stream decompressed no further than `declared(header)` bytes, where
    /// `header` is the first `headerBytes` decompressed bytes.
    private static func inflatedIfGzip(_ data: Data, source: String, headerBytes: Int,
                                       declared: @escaping ([UInt8]) throws -> Int) throws -> [UInt8] {
        guard Gzip.isGzip(data) else { return [UInt8](data) }
        let inflated = try Gzip.decompress(data, source: source) { output in
            output.count >= headerBytes ? try declared([UInt8](output.prefix(headerBytes))) : nil
        }
        return [UInt8](inflated)
    }

    /// The header of an images file and the file size it declares (`16 + count * rows * cols`).
    /// - Throws: for a short header, a wrong magic, a side outside `1...maximumSide`, or a size beyond `Int`.
    private static func imagesLayout(_ bytes: [UInt8], source: String) throws -> (count: Int, rows: Int, cols: Int, fileBytes: Int) {
        try checkHeader(bytes, magic: imagesMagic, headerBytes: 16, source: source)
        let count = Int(readU32(bytes, at: 4)), rows = Int(readU32(bytes, at: 8)), cols = Int(readU32(bytes, at: 12))
        for (field, value) in [("rows", rows), ("cols", cols)] where value < 1 || value > maximumSide {
            throw DatasetError.malformed(file: source, field: "header \(field)", expected: "1...\(maximumSide)", found: "\(value)")
        }
        let pixels = count.multipliedReportingOverflow(by: rows * cols)
        let total = pixels.partialValue.addingReportingOverflow(16)
        if pixels.overflow || total.overflow {
            throw DatasetError.truncated(file: source, field: "pixel data for \(count) images of \(rows)x\(cols)",
                                         expectedBytes: Int.max, foundBytes: bytes.count - 16)
        }
        return (count, rows, cols, total.partialValue)
    }

    /// The file size a labels header declares (`8 + count`).
    private static func labelsFileBytes(_ bytes: [UInt8], source: String) throws -> Int {
        try checkHeader(bytes, magic: labelsMagic, headerBytes: 8, source: source)
        return 8 + Int(readU32(bytes, at: 4))
    }

    private static func checkHeader(_ bytes: [UInt8], magic: UInt32, headerBytes: Int, source: String) throws {
        guard bytes.count >= 4 else {
            throw DatasetError.truncated(file: source, field: "IDX header", expectedBytes: headerBytes, foundBytes: bytes.count)
        }
        let found = readU32(bytes, at: 0)
        guard found == magic else {
            let hint = found == (magic == imagesMagic ? labelsMagic : imagesMagic) ? " (images and labels swapped?)" : ""
            throw DatasetError.malformed(file: source, field: "magic", expected: hex(magic), found: hex(found) + hint)
        }
        guard bytes.count >= headerBytes else {
            throw DatasetError.truncated(file: source, field: "IDX header", expectedBytes: headerBytes, foundBytes: bytes.count)
        }
    }

    private static func readU32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func appendU32(_ data: inout Data, _ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }

    private static func hex(_ v: UInt32) -> String { "0x" + String(format: "%08X", v) }
}
