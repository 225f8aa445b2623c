// TapsTraining: the control file (`RUN/control.json`) through which a dashboard attached to a run folder steers a
// run in another process (docs/method.md "Control file"), and the trainer's side that reads it at step boundaries.
import Foundation

/// The requests in a run folder's `control.json`, written (atomically) by an attached dashboard.
///
/// Every write increments ``sequence``. Each request carries the sequence of the write that made it
/// (`lambdaSequence`, `pausedSequence`, `checkpointSequence`, `snapshotSequence`); the trainer applies a request
/// when its sequence is newer than the last file it applied, so a request applies exactly once and later writes
/// may carry it unchanged. Example:
///
/// ```json
/// {"format": "taps-control", "version": 1, "sequence": 4,
///  "lambda": 0.0125, "lambda_sequence": 4, "paused": false, "paused_sequence": 2,
///  "checkpoint_sequence": 3, "snapshot_sequence": 0}
/// ```
public struct ControlRequest: Sendable, Equatable, Codable {
    /// File name inside the run folder.
    public static let fileName = "control.json"
    /// The value of `format`.
    public static let formatName = "taps-control"
    /// The format version this build reads and writes.
    public static let currentVersion = 1

    public var format = ControlRequest.formatName
    public var version = ControlRequest.currentVersion
    /// Incremented by every write; the trainer ignores a file whose sequence it has already applied.
    public var sequence = 0
    /// Requested sparsity weight (clamped by the trainer to `0 ... TrainingControl.maximumLambda`).
    public var lambda: Double?
    /// Sequence of the write that requested ``lambda`` (0: never).
    public var lambdaSequence = 0
    /// Requested pause state (true: pause at the next step boundary; false: resume).
    public var paused: Bool?
    /// Sequence of the write that requested ``paused`` (0: never).
    public var pausedSequence = 0
    /// Sequence of the last checkpoint request (0: never).
    public var checkpointSequence = 0
    /// Sequence of the last snapshot request (0: never).
    public var snapshotSequence = 0

    public init() {}

    /// The control file of the run folder `directory`.
    public static func url(in directory: URL) -> URL { directory.appendingPathComponent(fileName) }

    /// A copy with the next sequence and lambda requested.
    public func requestingLambda(_ value: Double) -> ControlRequest {
        var r = self; r.sequence += 1; r.lambda = value; r.lambdaSequence = r.sequence; return r
    }

    /// A copy with the next sequence and a pause (true) or resume (false) requested.
    public func requestingPause(_ paused: Bool) -> ControlRequest {
        var r = self; r.sequence += 1; r.paused = paused; r.pausedSequence = r.sequence; return r
    }

    /// A copy with the next sequence and a checkpoint requested.
    public func requestingCheckpoint() -> ControlRequest {
        var r = self; r.sequence += 1; r.checkpointSequence = r.sequence; return r
    }

    /// A copy with the next sequence and a snapshot requested.
    public func requestingSnapshot() -> ControlRequest {
        var r = self; r.sequence += 1; r.snapshotSequence = r.sequence; return r
    }

    /// Writes the request to `RUN/control.json` atomically.
    /// - Throws: `FileWriteError` naming the file.
    public func write(in directory: URL) throws {
        try writeAtomically(try makeJSONEncoder(pretty: false).encode(self), to: Self.url(in: directory))
    }

    /// Parses a control file; `name` is used in messages (e.g. `runs/x/control.json`).
    /// - Throws: ``ControlFileError`` naming the file, the field and what was expected.
    public static func parse(_ data: Data, name: String) throws -> ControlRequest {
        func bad(_ field: String, _ expected: String, _ got: JSONValue?) -> ControlFileError {
            ControlFileError(file: name, field: field, expected: expected, got: got?.description ?? "nothing")
        }
        guard let fields = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            throw ControlFileError(file: name, field: nil, expected: "a JSON object", got: "\(data.count) bytes that are not one")
        }
        func integer(_ key: String, required: Bool = false) throws -> Int {
            guard let raw = fields[key], raw != .null else {
                if required { throw bad(key, "a whole number >= 0", nil) }
                return 0
            }
            guard case .number(let d) = raw, d >= 0, d <= 1e15, let v = Int(exactly: d) else {
                throw bad(key, "a whole number >= 0", raw)
            }
            return v
        }
        var r = ControlRequest()
        guard case .string(formatName)? = fields["format"] else {
            throw bad("format", "\"\(formatName)\"", fields["format"])
        }
        let version = try integer("version", required: true)
        guard version == currentVersion else { throw bad("version", "\(currentVersion)", fields["version"]) }
        r.sequence = try integer("sequence", required: true)
        if let raw = fields["lambda"], raw != .null {
            guard case .number(let d) = raw, d.isFinite, d >= 0 else { throw bad("lambda", "a number >= 0", raw) }
            r.lambda = d
        }
        if let raw = fields["paused"], raw != .null {
            guard case .bool(let b) = raw else { throw bad("paused", "true or false", raw) }
            r.paused = b
        }
        r.lambdaSequence = try integer("lambda_sequence")
        r.pausedSequence = try integer("paused_sequence")
        r.checkpointSequence = try integer("checkpoint_sequence")
        r.snapshotSequence = try integer("snapshot_sequence")
        for (key, value) in [("lambda_sequence", r.lambdaSequence), ("paused_sequence", r.pausedSequence),
                             ("checkpoint_sequence", r.checkpointSequence), ("snapshot_sequence", r.snapshotSequence)]
        where value > r.sequence {
            throw bad(key, "a number <= sequence (\(r.sequence))", .number(Double(value)))
        }
        if r.lambdaSequence > 0 && r.lambda == nil { throw bad("lambda", "a number >= 0 (lambda_sequence is set)", nil) }
        if r.pausedSequence > 0 && r.paused == nil { throw bad("paused", "true or false (paused_sequence is set)", nil) }
        return r
    }
}

/// Any JSON value, for field-by-field validation with messages that say what was found.
enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array, object

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if (try? c.decode([JSONValue].self)) != nil { self = .array }
        else { _ = try c.decode([String: JSONValue].self); self = .object }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
        case .string(let s): "\"\(s.prefix(40))\""
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A control file that cannot be used: one line naming the file, the field and what was expected.
public struct ControlFileError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// The offending field (nil: the file as a whole).
    public var field: String?
    public var expected: String
    public var got: String

    public var description: String {
        "\(file): " + (field.map { "field \($0): " } ?? "") + "expected \(expected), got \(got); ignored"
    }
}

/// What the trainer last took from `control.json`, written beside it (`control-applied.json`) so an attached
/// dashboard can tell whether its request has been picked up.
public struct ControlAcknowledgement: Sendable, Equatable, Codable {
    /// File name inside the run folder.
    public static let fileName = "control-applied.json"
    /// The sequence of the last control file applied.
    public var sequence: Int
    /// The run's step when it was applied (the requests take effect from the next step).
    public var step: Int

    public init(sequence: Int, step: Int) { self.sequence = sequence; self.step = step }

    /// Reads `RUN/control-applied.json`; nil when missing or unreadable.
    public static func read(in directory: URL) -> ControlAcknowledgement? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(fileName)) else { return nil }
        return try? makeJSONDecoder().decode(ControlAcknowledgement.self, from: data)
    }
}

/// The trainer's side of the control file: checks `RUN/control.json` cheaply (one `stat` at most every
/// ``minimumInterval`` seconds; read only when it changed) and moves new requests into a ``TrainingControl``.
///
/// A file present when the watcher is created (a previous process's) is taken as already applied. A malformed file
/// is reported once (per version of the file) and ignored.
public final class ControlFileWatcher {
    /// What one ``poll(step:)`` found.
    public enum Outcome: Equatable {
        /// Nothing new (not yet due, unchanged, or an already applied sequence).
        case unchanged
        /// A new request was moved into the control box.
        case applied(ControlRequest)
        /// The file changed but cannot be used (or the acknowledgement cannot be written); one line for a notice.
        case problem(String)
    }

    public let directory: URL
    /// Seconds between two looks at the file.
    public let minimumInterval: Double
    private let control: TrainingControl
    private var lastLook = -Double.infinity
    private var lastSeen: [FileAttributeKey: AnyHashable]?
    /// The last request applied (or found at start).
    public private(set) var applied: ControlRequest?

    /// - Parameter directory: the run folder. - Parameter minimumInterval: seconds between two `stat`s.
    public init(directory: URL, control: TrainingControl, minimumInterval: Double = 0.5) {
        self.directory = directory
        self.control = control
        self.minimumInterval = minimumInterval
        let url = ControlRequest.url(in: directory)
        lastSeen = Self.identity(url)
        if lastSeen != nil, let data = try? Data(contentsOf: url) {
            applied = try? ControlRequest.parse(data, name: url.path)
        }
    }

    private static func identity(_ url: URL) -> [FileAttributeKey: AnyHashable]? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: url.path) else { return nil }
        var id: [FileAttributeKey: AnyHashable] = [:]
        for key in [FileAttributeKey.modificationDate, .size, .systemFileNumber] {
            if let v = a[key] as? AnyHashable { id[key] = v }
        }
        return id
    }

    /// Looks at the file when due and applies a new request to the control box: lambda (clamped), pause or resume,
    /// a checkpoint, a snapshot. Writes `control-applied.json` after applying. Never throws.
    /// - Parameter step: the run's step now (recorded in the acknowledgement). - Parameter force: look now.
    public func poll(step: Int, force: Bool = false) -> Outcome {
        let now = ProcessInfo.processInfo.systemUptime
        guard force || now - lastLook >= minimumInterval else { return .unchanged }
        lastLook = now
        let url = ControlRequest.url(in: directory)
        let id = Self.identity(url)
        guard let id, id != lastSeen else { return .unchanged }
        lastSeen = id
        let request: ControlRequest
        do {
            request = try ControlRequest.parse(try Data(contentsOf: url), name: url.path)
        } catch let error as ControlFileError {
            return .problem(error.description)
        } catch {
            return .problem("\(url.path): cannot be read (\(plainReason(error))); ignored")
        }
        let before = applied?.sequence ?? 0
        guard request.sequence > before else { return .unchanged }
        if request.lambdaSequence > before, let lambda = request.lambda { control.lambda = lambda }
        if request.pausedSequence > before, let paused = request.paused { control.setPaused(paused) }
        if request.checkpointSequence > before { control.requestCheckpoint() }
        if request.snapshotSequence > before { control.requestSnapshot() }
        applied = request
        let ack = ControlAcknowledgement(sequence: request.sequence, step: step)
        if let data = try? makeJSONEncoder(pretty: false).encode(ack) {
            do { try writeAtomically(data, to: directory.appendingPathComponent(ControlAcknowledgement.fileName)) } catch {
                return .problem("\(error); the request was applied but the dashboard cannot see that")
            }
        }
        return .applied(request)
    }
}
