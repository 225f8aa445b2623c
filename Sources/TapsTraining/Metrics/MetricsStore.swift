// TapsTraining: the in-memory metrics store the dashboard polls, and its JSONL mirror on disk.
import Foundation
import TapsSupport

/// A run's step events, oldest first; copies share the storage while they only append (``AppendOnlyArray``).
public typealias StepHistory = AppendOnlyArray<StepEvent>

/// An immutable view of a run's metrics at one moment, safe to hand to the UI thread.
public struct MetricsSnapshot: Sendable, Equatable {
    /// Monotonic counter, bumped on every append; the UI redraws data panels only when it changes.
    public var version: Int = 0
    public var start: RunStartEvent?
    /// Every step event so far (oldest first); thinned by 2 when it exceeds the store's capacity.
    public private(set) var steps = StepHistory()
    /// Running sums of the scores of ``steps`` for the dashboard's heatmap (``ScoreRunningSums``); empty when a step
    /// has more than ``maximumScoreWidth`` scores (the heatmap then sums the steps).
    public private(set) var scoreSums = ScoreRunningSums()
    /// The most scores a step may have for ``scoreSums`` to be kept (12 bytes per step and score: 256 scores and
    /// 20 000 steps are 61 MB; DenseNet-121, the largest torchvision network taps gates, has about 120 gated layers).
    public static let maximumScoreWidth = 256
    public var epochs: [EpochEvent] = []
    /// Notices, oldest first.
    public var notices: [NoticeEvent] = []
    public var end: RunEndEvent?
    /// The evaluation in progress (recalibrating, validating, testing), nil while training steps run.
    public var progress: ProgressEvent?
    /// The run's steps in all, from the latest notice that changed it (``NoticeEvent/plannedSteps``); nil: the start
    /// event's `epochs * stepsPerEpoch` holds.
    public var plannedSteps: Int?

    public init() {}

    /// The latest step event, if any.
    public var lastStep: StepEvent? { steps.last }

    /// Folds one event into the snapshot (also used to replay a JSONL file for `--attach`).
    public mutating func apply(_ event: MetricsEvent, stepCapacity: Int = 20_000) {
        version += 1
        switch event {
        case .start(let e): start = e
        case .step(let e):
            progress = nil
            if steps.isEmpty && e.scores.count <= Self.maximumScoreWidth { scoreSums = ScoreRunningSums(width: e.scores.count) }
            steps.append(e)
            scoreSums.append(e.scores)
            if steps.count > stepCapacity {
                // Keep the newest step exactly; thin the rest evenly.
                steps = StepHistory(stride(from: steps.count - 1, through: 0, by: -2).map { steps[$0] }.reversed())
                scoreSums.removeAll()
                for s in steps { scoreSums.append(s.scores) }
            }
        case .epoch(let e): epochs.append(e)
        case .notice(let e):
            notices.append(e)
            if let planned = e.plannedSteps { plannedSteps = planned }
        case .progress(let e): progress = e.done >= e.total ? nil : e
        case .end(let e): end = e; progress = nil
        }
    }
}

/// Thread-safe store of metrics: the trainer appends, the UI reads snapshots (~10 Hz).
/// Optionally mirrors every event to a JSONL file (one JSON object per line, snake_case keys).
public final class MetricsStore: @unchecked Sendable {
    private let lock = NSLock()
    private var current = MetricsSnapshot()
    private let stepCapacity: Int
    private var sink: FileHandle?
    private var sinkPath: String?
    private var written: UInt64 = 0
    private var failure: FileWriteError?
    private let encoder: JSONEncoder
    private var listeners: [@Sendable (MetricsEvent) -> Void] = []

    /// Creates a store; `stepCapacity` bounds the step history kept in memory (the JSONL keeps all).
    public init(stepCapacity: Int = 20_000) {
        self.stepCapacity = stepCapacity
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    }

    deinit { try? sink?.close() }

    /// Starts mirroring events to `url` (created or truncated). Lines are appended as events arrive, so a
    /// reader (`taps-tui --attach`) sees a growing file; each line is complete when written.
    /// - Throws: `CocoaError` if the file cannot be created.
    public func mirror(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        lock.lock(); sink = handle; sinkPath = url.path; written = 0; lock.unlock()
    }

    /// Continues an existing metrics file at `offset` bytes (a checkpoint's ``bytesWritten``): the file is cut
    /// there (dropping events a killed run wrote after its checkpoint, and any partial line), the events before
    /// it are replayed into memory (so the dashboard shows the whole run), and new events are appended.
    /// - Throws: ``FileWriteError`` when the file cannot be opened or cut; ``MetricsError`` for a malformed line.
    public func resumeMirror(at url: URL, offset: UInt64) throws {
        guard truncate(url.path, off_t(offset)) == 0 else {
            throw FileWriteError(path: url.path, reason: String(cString: strerror(errno)))
        }
        let events = try Self.readJSONL(url)
        let handle: FileHandle
        do {
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw FileWriteError(path: url.path, reason: plainReason(error))
        }
        lock.lock()
        for e in events { current.apply(e, stepCapacity: stepCapacity) }
        sink = handle; sinkPath = url.path; written = offset
        lock.unlock()
    }

    /// Bytes of JSONL written to the mirrored file so far (the offset a checkpoint records).
    public var bytesWritten: UInt64 { lock.lock(); defer { lock.unlock() }; return written }

    /// The first failed write to the mirrored file (disk full, I/O error), if any. The run loop stops the run
    /// with this message; the store keeps working in memory.
    public var writeFailure: FileWriteError? { lock.lock(); defer { lock.unlock() }; return failure }

    /// Registers a callback run (on the appending thread) for every event, e.g. the CLI's progress lines.
    public func onEvent(_ listener: @escaping @Sendable (MetricsEvent) -> Void) {
        lock.lock(); listeners.append(listener); lock.unlock()
    }

    /// Appends an event: updates the snapshot, writes one JSONL line, notifies listeners.
    public func append(_ event: MetricsEvent) {
        let line = (try? encoder.encode(event)).map { $0 + Data([0x0A]) }
        lock.lock()
        current.apply(event, stepCapacity: stepCapacity)
        if let line, let sink, failure == nil {
            do {
                try sink.write(contentsOf: line)
                written += UInt64(line.count)
            } catch {
                failure = FileWriteError(path: sinkPath ?? "metrics.jsonl", reason: plainReason(error))
            }
        }
        let ls = listeners
        lock.unlock()
        for l in ls { l(event) }
    }

    /// Flushes the JSONL file to disk.
    public func flush() {
        lock.lock(); defer { lock.unlock() }
        try? sink?.synchronize()
    }

    /// Flushes and closes the mirrored file (no more lines are written).
    public func closeMirror() {
        lock.lock(); defer { lock.unlock() }
        try? sink?.synchronize()
        try? sink?.close()
        sink = nil
    }

    /// A consistent copy of everything so far.
    public func snapshot() -> MetricsSnapshot {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Whether the run's end event has arrived (cheap: a snapshot would make the trainer's next append copy what it
    /// writes to).
    public var hasEnded: Bool {
        lock.lock(); defer { lock.unlock() }
        return current.end != nil
    }

    /// The current version counter (cheap; lets a poller skip unchanged frames).
    public var version: Int {
        lock.lock(); defer { lock.unlock() }
        return current.version
    }

    /// Decodes a JSONL metrics file into events; blank lines are skipped, a truncated last line
    /// (a run still writing) is ignored.
    /// - Throws: `MetricsError.malformedLine` naming the file and line for any other bad line.
    public static func readJSONL(_ url: URL) throws -> [MetricsEvent] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try Data(contentsOf: url)
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        var events: [MetricsEvent] = []
        for (i, line) in lines.enumerated() where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
            do {
                events.append(try decoder.decode(MetricsEvent.self, from: Data(line)))
            } catch MetricsError.unknownEvent {
                continue  // an event kind of a newer version: skipped, as every reader of the stream does
            } catch {
                if i == lines.count - 1 { break }  // partial last line of a live file
                throw MetricsError.malformedLine(file: url.path, line: i + 1, reason: "\(error)")
            }
        }
        return events
    }
}

/// Errors reading a metrics stream.
public enum MetricsError: Error, CustomStringConvertible {
    case malformedLine(file: String, line: Int, reason: String)
    /// A line whose `event` kind this version does not know (readers skip it).
    case unknownEvent(String)
    public var description: String {
        switch self {
        case .unknownEvent(let kind): return "unknown metrics event '\(kind)'"
        case let .malformedLine(file, line, reason): return "\(file):\(line): not a metrics event (\(reason))"
        }
    }
}
