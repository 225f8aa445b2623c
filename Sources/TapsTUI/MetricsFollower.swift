// TapsTUI: follows a growing metrics.jsonl (a run started elsewhere) for `taps-tui --attach`.
import Foundation
import TapsTraining

/// Reads a metrics JSONL file incrementally: each `poll()` decodes the complete lines appended since the last one.
public final class MetricsFollower {
    public let url: URL
    public private(set) var snapshot = MetricsSnapshot()
    /// The last decoding problem (a malformed line), shown on the event line.
    public private(set) var problem: String?
    private var offset: UInt64 = 0
    private var pending = Data()
    private var lineNumber = 0
    private let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                   nan: "nan")
        return d
    }()

    public init(url: URL) { self.url = url }

    /// Reads what was appended; returns true when the snapshot changed.
    /// - Throws: when the file cannot be opened (missing, unreadable).
    @discardableResult
    public func poll() throws -> Bool {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        if end < offset { offset = 0; pending = Data(); snapshot = MetricsSnapshot(); lineNumber = 0 }  // truncated
        guard end > offset else { return false }
        try handle.seek(toOffset: offset)
        let data = try handle.readToEnd() ?? Data()
        offset += UInt64(data.count)
        pending.append(data)
        var changed = false
        while let newline = pending.firstIndex(of: 0x0A) {
            let line = pending[pending.startIndex..<newline]
            pending = Data(pending[pending.index(after: newline)...])
            lineNumber += 1
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) else { continue }
            do {
                snapshot.apply(try decoder.decode(MetricsEvent.self, from: Data(line)))
                changed = true
            } catch {
                problem = "\(url.lastPathComponent):\(lineNumber): not a metrics event"
            }
        }
        return changed
    }
}
