// TapsTraining: the command box from the UI (or any controller) to the trainer, read at step boundaries.
import Foundation

/// Thread-safe controls for a running trainer: lambda, pause/resume, stop and snapshot requests.
///
/// The UI thread writes; the trainer reads at step boundaries only, so a change applies from the next
/// optimizer step (docs/method.md "Loss and the penalty update"). Pausing blocks the trainer's queue, never the UI.
public final class TrainingControl: @unchecked Sendable {
    private let condition = NSCondition()
    private var _lambda: Double
    private var _paused = false
    private var _stop = false
    private var _snapshotRequests = 0
    private var _checkpointRequested = false
    /// Lambda at the start of the run (the `0` key returns to it).
    public let initialLambda: Double

    /// The largest lambda a run accepts (`--lambda`, the dashboard's keys and prompt): 1e4. With the mean
    /// penalty and the default learning rate, lambda 1e4 already switches every gate off within one step after
    /// warm-up, so larger values only risk an overflowing loss (docs/method.md "Loss and the penalty update").
    public static let maximumLambda = 1e4
    /// The factor of one lambda step: the dashboard's `]`/`[` keys and the budget controller's raise.
    public static let lambdaStep = 1.25

    /// `value` clamped to `[0, maximumLambda]`; NaN becomes 0.
    public static func clampLambda(_ value: Double) -> Double {
        value.isNaN ? 0 : min(max(0, value), maximumLambda)
    }

    /// Creates a control box with the run's starting lambda (clamped to `[0, maximumLambda]`).
    public init(lambda: Double) {
        _lambda = Self.clampLambda(lambda)
        initialLambda = _lambda
    }

    /// Sparsity weight lambda to use from the next step; values outside `[0, maximumLambda]` are clamped.
    public var lambda: Double {
        get { condition.lock(); defer { condition.unlock() }; return _lambda }
        set { condition.lock(); _lambda = Self.clampLambda(newValue); condition.unlock() }
    }

    /// Multiplies lambda by `factor` (e.g. 1.25 or 0.8) and returns the new value, clamped to
    /// `[0, maximumLambda]`. A lambda of 0 becomes a small positive value (1e-3) when multiplied up, so the
    /// keys never get stuck at zero.
    @discardableResult
    public func scaleLambda(by factor: Double) -> Double {
        condition.lock(); defer { condition.unlock() }
        _lambda = _lambda == 0 && factor > 1 ? 1e-3 : Self.clampLambda(_lambda * factor)
        return _lambda
    }

    /// Whether training is paused.
    public var isPaused: Bool {
        condition.lock(); defer { condition.unlock() }; return _paused
    }

    /// Pauses or resumes training (takes effect at the next step boundary).
    public func setPaused(_ paused: Bool) {
        condition.lock(); _paused = paused; condition.broadcast(); condition.unlock()
    }

    /// Toggles pause and returns the new state.
    @discardableResult
    public func togglePause() -> Bool {
        condition.lock(); _paused.toggle(); let p = _paused; condition.broadcast(); condition.unlock()
        return p
    }

    /// Asks the trainer to stop at the next step boundary (it still writes a complete run folder).
    public func requestStop() {
        condition.lock(); _stop = true; condition.broadcast(); condition.unlock()
    }

    /// Whether a stop was requested.
    public var isStopRequested: Bool {
        condition.lock(); defer { condition.unlock() }; return _stop
    }

    /// Asks the trainer to export a snapshot of the active-layer map at the next step boundary.
    public func requestSnapshot() {
        condition.lock(); _snapshotRequests += 1; condition.broadcast(); condition.unlock()
    }

    /// Asks the trainer to write a checkpoint at the next step boundary (the dashboard's checkpoint key).
    public func requestCheckpoint() {
        condition.lock(); _checkpointRequested = true; condition.unlock()
    }

    /// Returns and clears a pending checkpoint request (trainer side).
    public func takeCheckpointRequest() -> Bool {
        condition.lock(); defer { condition.unlock() }
        let r = _checkpointRequested; _checkpointRequested = false; return r
    }

    /// Returns and clears the number of pending snapshot requests (trainer side).
    public func takeSnapshotRequests() -> Int {
        condition.lock(); defer { condition.unlock() }
        let n = _snapshotRequests; _snapshotRequests = 0; return n
    }

    /// Trainer side: blocks while paused (waking for stop or snapshot requests). Returns true if it waited.
    /// `whilePaused` runs (unlocked) each time the trainer wakes with a snapshot request while paused; `poll` runs
    /// (unlocked) about every 0.25 s while paused, so requests from outside (the control file) can resume the run.
    @discardableResult
    public func waitWhilePaused(poll: () -> Void = {}, whilePaused: () -> Void = {}) -> Bool {
        var waited = false
        condition.lock()
        while _paused && !_stop {
            waited = true
            if _snapshotRequests > 0 {
                condition.unlock(); whilePaused(); condition.lock()
                continue
            }
            _ = condition.wait(until: Date().addingTimeInterval(0.25))
            condition.unlock(); poll(); condition.lock()
        }
        condition.unlock()
        return waited
    }
}
