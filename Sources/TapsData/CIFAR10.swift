// TapsData: the CIFAR-10 binary format (Krizhevsky, 2009): records of 1 label byte + 3072 pixel bytes.
import Foundation

/// Reader of the CIFAR-10 binary version (`data_batch_1.bin` ... `test_batch.bin`, raw or gzip).
///
/// Each record is 3073 bytes: the label (0...9), then 1024 red, 1024 green and 1024 blue bytes of a
/// 32×32 image, row-major — already the CHW layout of ``LabeledImages``.
/// Reference: www.cs.toronto.edu/~kriz/cifar.html ("Binary version").
public enum CIFAR10 {
    /// Bytes per record: 1 label + 3 × 32 × 32 pixels.
    public static let recordBytes = 3073
    /// Class names by label.
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// Reads and concatenates one or more batch files into `[N, 3, 32, 32]` images with 10 classes.
    /// - Throws: ``DatasetError`` naming the file: a size that is not a whole number of records, or a
    ///   label above 9.
    public static func read(_ urls: [URL]) throws -> LabeledImages {
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for url in urls {
            let data = try readMaybeGzip(url)
            try parse(data, source: url.path, pixels: &pixels, labels: &labels)
        }
        return try LabeledImages(pixels: pixels, labels: labels, channels: 3, height: 32, width: 32, classes: 10,
                                 source: urls.first?.path ?? "<cifar>")
    }

    /// Parses the bytes of one batch file. See ``read(_:)``.
    public static func parse(_ data: Data, source: String) throws -> LabeledImages {
        var pixels: [UInt8] = [], labels: [Int] = []
        try parse(data, source: source, pixels: &pixels, labels: &labels)
        return try LabeledImages(pixels: pixels, labels: labels, channels: 3, height: 32, width: 32, classes: 10, source: source)
    }

    private static func parse(_ data: Data, source: String, pixels: inout [UInt8], labels: inout [Int]) throws {
        guard data.count % recordBytes == 0, !data.isEmpty else {
            throw DatasetError.malformed(file: source, field: "file size",
                                         expected: "a multiple of \(recordBytes) bytes (1 label + 3072 pixels per record)",
                                         found: "\(data.count) (\(data.count / recordBytes) records + \(data.count % recordBytes) bytes)")
        }
        let bytes = [UInt8](data)
        let n = bytes.count / recordBytes
        pixels.reserveCapacity(pixels.count + n * (recordBytes - 1))
        for r in 0..<n {
            let base = r * recordBytes
            let label = Int(bytes[base])
            guard label < 10 else {
                throw DatasetError.malformed(file: source, field: "label of record \(r)", expected: "0...9", found: "\(label)")
            }
            labels.append(label)
            pixels.append(contentsOf: bytes[(base + 1)..<(base + recordBytes)])
        }
    }
}

extension CIFAR10 {
    /// Bytes per CIFAR-100 record: coarse label, fine label, 3 × 32 × 32 pixels.
    public static let cifar100RecordBytes = 3074

    /// Reads a CIFAR-100 binary file (`train.bin`, `test.bin`, raw or gzip) into `[N, 3, 32, 32]` images with the
    /// 100 fine labels, or the 20 coarse labels when `coarse`.
    /// - Throws: ``DatasetError`` naming the file: a size that is not a whole number of 3074-byte records, or a
    ///   label out of range.
    public static func read100(_ url: URL, coarse: Bool = false) throws -> LabeledImages {
        let data = try readMaybeGzip(url)
        let n = cifar100RecordBytes
        guard data.count % n == 0, data.count > 0 else {
            throw DatasetError.malformed(file: url.path, field: "file size",
                                         expected: "a positive multiple of \(n) bytes (2 labels + 3072 pixels per record)",
                                         found: "\(data.count) (\(data.count / n) records + \(data.count % n) bytes)")
        }
        let bytes = [UInt8](data)
        let count = bytes.count / n, classes = coarse ? 20 : 100
        var pixels = [UInt8](), labels = [Int]()
        pixels.reserveCapacity(count * 3072); labels.reserveCapacity(count)
        for r in 0..<count {
            let base = r * n
            let label = Int(bytes[base + (coarse ? 0 : 1)])
            guard label < classes else {
                throw DatasetError.malformed(file: url.path, field: "\(coarse ? "coarse" : "fine") label of record \(r)",
                                             expected: "0...\(classes - 1)", found: "\(label)")
            }
            labels.append(label)
            pixels.append(contentsOf: bytes[(base + 2)..<(base + n)])
        }
        return try LabeledImages(pixels: pixels, labels: labels, channels: 3, height: 32, width: 32, classes: classes, source: url.path)
    }
}
