// TapsTUI: steering a run in another process from an attached dashboard, through its run folder's control file
// (docs/method.md "Control file"): the dashboard writes `control.json`, the trainer acknowledges in
// `control-applied.json`.
import Foundation
import TapsTraining

/// The dashboard's side of a run folder's control file: the requests written so far and whether the trainer has
/// picked them up.
public final class RemoteControl {
    /// The run folder.
    public let directory: URL
    /// The last request written (or found in the folder when attaching: its sequence is continued).
    public private(set) var request: ControlRequest
    /// The sequence the trainer last acknowledged (0: none).
    public private(set) var acknowledged = 0
    private var lastAcknowledgementLook = -Double.infinity

    /// - Parameter directory: the run folder (its `control.json` is continued if present and valid).
    public init(directory: URL) {
        self.directory = directory
        let url = ControlRequest.url(in: directory)
        request = (try? Data(contentsOf: url)).flatMap { try? ControlRequest.parse($0, name: url.path) } ?? ControlRequest()
        acknowledged = ControlAcknowledgement.read(in: directory)?.sequence ?? 0
    }

    /// Writes `next` (made from ``request`` by one of its `requesting…` methods) to `control.json`.
    /// - Throws: `FileWriteError` naming the file.
    public func send(_ next: ControlRequest) throws {
        try next.write(in: directory)
        request = next
    }

    /// Re-reads `control-applied.json` (at most every `interval` seconds).
    public func refreshAcknowledgement(interval: Double = 0.25) {
        let now = ProcessInfo.processInfo.systemUptime
        guard now - lastAcknowledgementLook >= interval else { return }
        lastAcknowledgementLook = now
        if let ack = ControlAcknowledgement.read(in: directory) { acknowledged = ack.sequence }
    }

    /// The lambda requested and not yet picked up by the trainer, if any.
    public var pendingLambda: Double? { request.lambdaSequence > acknowledged ? request.lambda : nil }
    /// The pause state requested and not yet picked up, if any.
    public var pendingPause: Bool? { request.pausedSequence > acknowledged ? request.paused : nil }

    /// The requests the trainer has not picked up yet, in words (empty: none).
    public var pendingRequests: [String] {
        var out: [String] = []
        if let l = pendingLambda { out.append("lambda \(Format.number(l))") }
        if let p = pendingPause { out.append(p ? "pause" : "resume") }
        if request.checkpointSequence > acknowledged { out.append("checkpoint") }
        if request.snapshotSequence > acknowledged { out.append("snapshot") }
        return out
    }

    /// The status-line text: steering, or which requests are still waiting for the run's next step boundary.
    public var status: String {
        let pending = pendingRequests
        return pending.isEmpty ? "attached: steering" : "not picked up yet: " + pending.joined(separator: ", ")
    }

    /// A run's current lambda as its metrics tell it: the newest lambda notice when it applies after the last step
    /// reported (a change announced while paused, say), else the last step's lambda, else the start value.
    public static func runLambda(_ metrics: MetricsSnapshot) -> Double? {
        let last = metrics.lastStep
        if let n = metrics.notices.last(where: { $0.kind == .lambda && $0.to != nil }), n.step > (last?.step ?? 0) {
            return n.to
        }
        return last?.lambda ?? metrics.start?.lambda
    }

    /// Whether a run is paused as its metrics tell it (the newer of its paused / resumed notices).
    public static func runPaused(_ metrics: MetricsSnapshot) -> Bool {
        metrics.notices.last { $0.kind == .paused || $0.kind == .resumed }?.kind == .paused
    }
}
