// TapsReports: a run's metrics as TensorBoard scalars and text — live during `taps train --tensorboard DIR`, or
// afterwards from metrics.jsonl with `taps export tensorboard RUN...`.
import Foundation
import TapsTraining

/// Writes one TensorBoard event file, `DIR/events.out.tfevents.<seconds>.<host>.taps`.
///
/// Live use appends records as they come (like metrics.jsonl, the file grows while TensorBoard reads it);
/// ``TensorBoardExport/write(events:to:)`` builds a whole file in memory and writes it atomically.
public final class TensorBoardWriter: @unchecked Sendable {
    /// The event file.
    public let url: URL
    private let lock = NSLock()
    private var handle: FileHandle?
    private var pending: [UInt8] = []

    /// Creates `directory` and a new event file in it, starting with the `file_version` event.
    /// - Throws: `FileError` when the folder is not writable.
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        try FileError.makeDirectories(directory)
        url = URL(fileURLWithPath: directory).appendingPathComponent(TensorBoardExport.fileName(wallTime: wallTime))
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let h = FileHandle(forWritingAtPath: url.path) else {
            throw FileError(action: "write", path: url.path, reason: FileError.reason(errno: errno))
        }
        handle = h
        append(TensorBoardEvent(wallTime: wallTime, step: 0, fileVersion: TensorBoardExport.fileVersion))
        flush()
    }

    deinit { close() }

    /// Buffers one event (written at the next ``flush()``).
    public func append(_ event: TensorBoardEvent) {
        lock.lock(); pending += tfRecord(event.encoded()); lock.unlock()
    }

    /// Writes the buffered events to the file.
    public func flush() {
        lock.lock(); defer { lock.unlock() }
        guard !pending.isEmpty, let handle else { return }
        handle.write(Data(pending))
        pending.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file.
    public func close() {
        flush()
        lock.lock(); defer { lock.unlock() }
        try? handle?.synchronize()
        try? handle?.close()
        handle = nil
    }

    /// Converts `store`'s events from now on and appends them; flushes at every epoch and at the end.
    public func follow(_ store: MetricsStore) {
        let converter = TensorBoardConverter()
        store.onEvent { [self] event in
            for e in converter.convert(event) { append(e) }
            switch event {
            case .epoch, .end: flush()
            default: break
            }
        }
    }
}

/// Turns metrics events into TensorBoard events. Tags:
///
/// | tag | when | value |
/// |---|---|---|
/// | `loss/total`, `loss/task`, `loss/penalty` | every step | total loss, cross-entropy, unweighted penalty P(s) |
/// | `lambda`, `learning_rate` | every step | as used for the step |
/// | `accuracy/batch` | every step | fraction of the batch classified correctly |
/// | `active_layers` | every step | number of layers with s >= tau |
/// | `images_per_second` | every step | smoothed training throughput |
/// | `score/<layer>` | every step | the layer's gate score s_i (one tag per gated layer) |
/// | `loss/train_epoch`, `accuracy/train_epoch`, `accuracy/validation` | end of each epoch | |
/// | `accuracy/test` | end of the run | test accuracy of the selected model |
/// | `notices` (text) | lambda changes, warm-up over, best epoch, ... | `[kind] message` |
/// | `run` (text) | start and end | the run's settings; its outcome |
public final class TensorBoardConverter: @unchecked Sendable {
    private var layers: [String] = []
    private var startTime = 0.0
    private var lastWallTime = 0.0
    private var lastStep: Int64 = 0

    public init() {}

    /// The TensorBoard events for one metrics event (none for kinds it does not know).
    public func convert(_ event: MetricsEvent) -> [TensorBoardEvent] {
        switch event {
        case .start(let s):
            layers = s.layers.map(\.name)
            startTime = s.time; lastWallTime = s.time
            let text = "task **\(s.task)**, mode **\(s.mode.rawValue)**, base \(s.base), lambda \(ProgressFormatter.fmt(s.lambda)), "
                + "tau \(ProgressFormatter.fmt(s.tau)), \(s.epochs) epochs (\(s.warmupEpochs) warm-up) x \(s.stepsPerEpoch) steps, "
                + "batch \(s.batchSize), seed \(s.seed), \(s.layers.count) gated layers, backbone \(s.backboneParameters) parameters"
            return [TensorBoardEvent(wallTime: s.time, step: 0, values: [("run", .text(text))])]
        case .step(let e):
            lastWallTime = startTime + e.elapsed
            lastStep = Int64(e.step)
            var values: [(tag: String, value: TensorBoardValue)] = [
                ("loss/total", .scalar(Float(e.loss))), ("loss/task", .scalar(Float(e.taskLoss))),
                ("loss/penalty", .scalar(Float(e.penalty))), ("lambda", .scalar(Float(e.lambda))),
                ("learning_rate", .scalar(Float(e.learningRate))), ("accuracy/batch", .scalar(Float(e.accuracy))),
                ("active_layers", .scalar(Float(e.active.filter { $0 }.count))),
                ("images_per_second", .scalar(Float(e.samplesPerSecond))),
            ]
            for (i, score) in e.scores.enumerated() {
                values.append(("score/" + (i < layers.count ? layers[i] : "layer\(i)"), .scalar(Float(score))))
            }
            return [TensorBoardEvent(wallTime: lastWallTime, step: Int64(e.step), values: values)]
        case .epoch(let e):
            lastStep = Int64(e.step)
            return [TensorBoardEvent(wallTime: lastWallTime, step: Int64(e.step), values: [
                ("loss/train_epoch", .scalar(Float(e.trainLoss))), ("accuracy/train_epoch", .scalar(Float(e.trainAccuracy))),
                ("accuracy/validation", .scalar(Float(e.validationAccuracy))),
            ])]
        case .progress:
            return []
        case .notice(let n):
            return [TensorBoardEvent(wallTime: lastWallTime, step: Int64(n.step), values: [("notices", .text("[\(n.kind.rawValue)] \(n.message)"))])]
        case .end(let e):
            lastWallTime = startTime + e.seconds
            var values: [(tag: String, value: TensorBoardValue)] = []
            if let t = e.testAccuracy { values.append(("accuracy/test", .scalar(Float(t)))) }
            var text = "\(e.status.rawValue) after \(e.step) steps, \(String(format: "%.1f", e.seconds)) s"
            if let t = e.testAccuracy { text += String(format: ", test accuracy %.4f", t) }
            text += ", active layers: " + (e.activeLayers.isEmpty ? "(none)" : e.activeLayers.joined(separator: ", "))
            if let m = e.message { text += " (\(m))" }
            values.append(("run", .text(text)))
            return [TensorBoardEvent(wallTime: lastWallTime, step: Int64(e.step), values: values)]
        }
    }
}

/// `taps export tensorboard`: a run folder's metrics.jsonl as a TensorBoard event file.
public enum TensorBoardExport {
    /// The `file_version` of the first event (what tf.summary writes).
    public static let fileVersion = "brain.Event:2"

    /// `events.out.tfevents.<seconds>.<host>.taps` (TensorBoard finds files by the `tfevents` in their name).
    public static func fileName(wallTime: Double) -> String {
        "events.out.tfevents.\(Int(wallTime)).\(ProcessInfo.processInfo.hostName).taps"
    }

    /// Reads a metrics.jsonl, skipping event kinds this version does not know (e.g. from a newer taps) and a
    /// truncated last line of a live file.
    /// - Throws: `FileError` when unreadable, `MetricsError.malformedLine` naming the file and line for a line
    ///   that is not JSON or a known event with missing fields.
    public static func readMetrics(_ url: URL) throws -> [MetricsEvent] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FileError(action: "read", path: url.path, reason: plainDescription(of: error).components(separatedBy: ": ").last ?? "unreadable")
        }
        let decoder = makeJSONDecoder()
        let known: Set<String> = ["start", "step", "epoch", "notice", "end"]
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        var events: [MetricsEvent] = []
        for (i, line) in lines.enumerated() where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                if i == lines.count - 1 { break }
                throw MetricsError.malformedLine(file: url.path, line: i + 1, reason: "not a JSON object")
            }
            guard let kind = object["event"] as? String, known.contains(kind) else { continue }
            do { events.append(try decoder.decode(MetricsEvent.self, from: Data(line))) } catch {
                throw MetricsError.malformedLine(file: url.path, line: i + 1, reason: "\(error)")
            }
        }
        return events
    }

    /// Converts `events` and writes them as one event file in `directory` (atomically).
    /// - Returns: the file written.
    /// - Throws: `FileError` when the folder is not writable.
    @discardableResult
    public static func write(events: [MetricsEvent], to directory: String) throws -> URL {
        let converter = TensorBoardConverter()
        var wallTime = Date().timeIntervalSince1970
        if case .start(let s)? = events.first { wallTime = s.time }
        var bytes = tfRecord(TensorBoardEvent(wallTime: wallTime, step: 0, fileVersion: fileVersion).encoded())
        for e in events { for t in converter.convert(e) { bytes += tfRecord(t.encoded()) } }
        let url = URL(fileURLWithPath: directory).appendingPathComponent(fileName(wallTime: wallTime))
        // One event file per folder: replace an earlier export of the same run.
        if let old = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in old where name.hasPrefix("events.out.tfevents.") && name.hasSuffix(".taps") && name != url.lastPathComponent {
                try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
            }
        }
        try writeAtomically(Data(bytes), to: url)
        return url
    }
}
