// TapsTUI: follows a growing metrics.jsonl (a run started elsewhere) for `taps-tui --attach`.
import Foundation
import TapsTraining

/// Reads a metrics JSONL file incrementally: each `poll()` decodes the complete lines appended since the last one.
/// Lines whose `event` this version does not know (e.g. `progress` from a newer trainer) are skipped, not errors.
public final class MetricsFollower {
    public let url: URL
    public private(set) var snapshot = MetricsSnapshot()
    /// Fields the typed events do not carry (evaluation progress, per-layer gradients, penalty weights).
    public private(set) var extras = RunExtras()
    /// The last decoding problem (a malformed line), shown on the event line.
    public private(set) var problem: String?
    /// Whether the file existed at the last poll (`--attach` waits for a file that does not exist yet).
    public private(set) var fileExists = false
    /// Decode the typed events into `snapshot` (false: only `extras`, for a live run whose store has them).
    private let decodesTypedEvents: Bool
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

    /// - Parameter url: the metrics JSONL file, or a run folder (its `metrics.jsonl` is followed).
    /// - Parameter typedEvents: false to collect only `extras` (the live dashboard, whose store holds the events).
    public init(url: URL, typedEvents: Bool = true) {
        self.url = Self.metricsFile(for: url)
        decodesTypedEvents = typedEvents
    }

    /// `path` itself, or `path/metrics.jsonl` when `path` is a folder (also one that does not exist yet but is
    /// named without a `.jsonl` extension).
    public static func metricsFile(for url: URL) -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? url.appendingPathComponent("metrics.jsonl") : url
        }
        return url.pathExtension.isEmpty ? url.appendingPathComponent("metrics.jsonl") : url
    }

    /// Reads what was appended; returns true when the snapshot changed. A missing file is not an error: `poll`
    /// returns false and `fileExists` stays false until it appears.
    /// - Throws: when the file exists but cannot be read.
    @discardableResult
    public func poll() throws -> Bool {
        guard FileManager.default.fileExists(atPath: url.path) else {
            fileExists = false
            return false
        }
        fileExists = true
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        if end < offset {  // truncated or replaced: start over
            offset = 0; pending = Data(); snapshot = MetricsSnapshot(); extras = RunExtras(); lineNumber = 0
        }
        guard end > offset else { return false }
        try handle.seek(toOffset: offset)
        let data = try handle.readToEnd() ?? Data()
        offset += UInt64(data.count)
        pending.append(data)
        var changed = false
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            let line = pending[start..<newline]
            start = pending.index(after: newline)
            lineNumber += 1
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) else { continue }
            changed = apply(Data(line)) || changed
        }
        pending = Data(pending[start...])
        return changed
    }

    private func apply(_ line: Data) -> Bool {
        guard let loose = try? decoder.decode(LooseLine.self, from: line), let kind = loose.event else {
            problem = "\(url.lastPathComponent):\(lineNumber): not a metrics event"
            return false
        }
        let before = extras
        extras.apply(loose)
        guard decodesTypedEvents, typedEventKinds.contains(kind) else { return extras != before }
        do {
            snapshot.apply(try decoder.decode(MetricsEvent.self, from: line))
            return true
        } catch {
            problem = "\(url.lastPathComponent):\(lineNumber): malformed \(kind) event"
            return extras != before
        }
    }
}
