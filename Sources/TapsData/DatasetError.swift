// TapsData: the one error type of every dataset reader. Messages are one line and name the file.

/// Why a dataset could not be read. Every message is a single line naming the file, the field and what
/// was expected versus found, so a malformed file is reported instead of crashing the process.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read (missing, permissions).
    case unreadable(file: String, reason: String)
    /// A gzip stream is corrupt or ends early.
    case gzip(file: String, detail: String)
    /// A header field or value has the wrong value.
    case malformed(file: String, field: String, expected: String, found: String)
    /// The file ends before the data its header promises.
    case truncated(file: String, field: String, expectedBytes: Int, foundBytes: Int)
    /// An image file and its label file disagree on the number of examples.
    case countMismatch(images: String, labels: String, imageCount: Int, labelCount: Int)
    /// The file uses a valid but unsupported feature (e.g. Fortran-ordered NPY); `hint` says what to do.
    case unsupported(file: String, feature: String, hint: String)
    /// A task name is not one the catalog knows.
    case unknownTask(name: String, known: [String])

    /// The message: one line naming the file, the field and what was expected vs found.
    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .gzip(file, detail):
            return "\(file): gzip data is corrupt or truncated: \(detail)"
        case let .malformed(file, field, expected, found):
            return "\(file): \(field): expected \(expected), found \(found)"
        case let .truncated(file, field, expected, found):
            return "\(file): \(field): truncated, expected \(expected) bytes, found \(found)"
        case let .countMismatch(images, labels, n, m):
            return "\(images): has \(n) images but \(labels) has \(m) labels; counts must agree"
        case let .unsupported(file, feature, hint):
            return "\(file): unsupported \(feature); \(hint)"
        case let .unknownTask(name, known):
            return "unknown task '\(name)'; known tasks: \(known.joined(separator: ", "))"
        }
    }
}
