// TapsTUI: everything the dashboard shows, as one value; render() is a pure function of it.
import Foundation
import TapsTraining

/// The tasks of a suite as the dashboard's tab line shows them.
public struct SuiteTabs: Sendable, Equatable {
    /// One name per view (`stage1` first in joint mode, then the tasks).
    public var names: [String]
    /// The view shown.
    public var viewing: Int
    /// The view in training (nil when the suite is over).
    public var training: Int?
    /// Whether each view's run has ended.
    public var done: [Bool]
    /// Whether the view follows the task in training (until `t` is pressed; pressing `t` back onto it follows again).
    public var following: Bool

    public init(names: [String], viewing: Int, training: Int?, done: [Bool], following: Bool) {
        self.names = names; self.viewing = viewing; self.training = training; self.done = done; self.following = following
    }
}

/// The state of the dashboard at one frame: the metrics so far plus what the UI itself knows.
public struct DashboardState: Sendable, Equatable {
    /// Metrics from the trainer (or a replayed/followed JSONL file).
    public var metrics: MetricsSnapshot
    /// Lambda in the control box now (it reaches the metrics at the next step); nil when attached read-only.
    public var lambda: Double?
    /// The run's starting lambda (the `0` key returns to it).
    public var initialLambda: Double?
    /// Training paused from the dashboard.
    public var paused: Bool
    /// Quit requested; waiting for the trainer to finish its step.
    public var stopping: Bool
    /// The help overlay is open.
    public var showHelp: Bool
    /// Attached to a file: keys that steer training are off.
    public var readOnly: Bool
    /// Step budget of the run when `--steps` is given (else epochs x steps per epoch).
    public var totalSteps: Int?
    /// A message from the UI itself (theme fallback, "read-only", last key effect); shown on the event line.
    public var message: String?
    /// Measured frames per second, shown in the hint line when known.
    public var framesPerSecond: Double?
    /// The suite's tasks when several run (`taps-tui --tasks a,b,...`); nil for a single run.
    public var suite: SuiteTabs?
    /// First gated layer shown in the heatmap when not every layer fits (scrolled with j/k, PgUp/PgDn).
    public var heatmapOffset: Int = 0

    public init(metrics: MetricsSnapshot = MetricsSnapshot(), lambda: Double? = nil, initialLambda: Double? = nil,
                paused: Bool = false, stopping: Bool = false, showHelp: Bool = false, readOnly: Bool = false,
                totalSteps: Int? = nil, message: String? = nil, framesPerSecond: Double? = nil, suite: SuiteTabs? = nil) {
        self.metrics = metrics; self.lambda = lambda; self.initialLambda = initialLambda; self.paused = paused
        self.stopping = stopping; self.showHelp = showHelp; self.readOnly = readOnly; self.totalSteps = totalSteps
        self.message = message; self.framesPerSecond = framesPerSecond; self.suite = suite
    }
}

// MARK: - Derived values

/// The run's state in one word, as the status badge shows it.
public enum RunStatus: String, Sendable {
    case starting = "STARTING", running = "RUNNING", paused = "PAUSED", stopping = "STOPPING"
    case done = "DONE", stopped = "STOPPED", failed = "FAILED"
}

extension DashboardState {
    public var status: RunStatus {
        if let end = metrics.end {
            switch end.status {
            case .done: return .done
            case .failed: return .failed
            case .stopped: return .stopped
            }
        }
        if stopping { return .stopping }
        if metrics.start == nil { return .starting }
        return paused ? .paused : .running
    }

    /// Steps the run will take in total, when known.
    public var plannedSteps: Int? {
        if let totalSteps { return totalSteps }
        guard let s = metrics.start, s.stepsPerEpoch > 0 else { return nil }
        return s.epochs * s.stepsPerEpoch
    }

    /// Lambda to show: the control box's value, else the latest step's.
    public var currentLambda: Double? { lambda ?? metrics.lastStep?.lambda ?? metrics.start?.lambda }

    /// Lambda values in order: the start value, every change announced by the trainer, and a pending value.
    public var lambdaHistory: [Double] {
        var values: [Double] = []
        if let first = metrics.start?.lambda ?? initialLambda { values.append(first) }
        for n in metrics.notices where n.kind == .lambda {
            if let to = n.to, values.last != to { values.append(to) }
        }
        if let lambda, values.last != lambda { values.append(lambda) }
        return values
    }

    /// Active gated layers now (from the latest step; all gates start on). Once a run has ended successfully, the
    /// layers of the model it kept (the selected epoch, which is what the export holds), so that k/N, the marks and
    /// the task-specific count agree.
    public var activeFlags: [Bool] {
        if let end = metrics.end, end.status != .failed, let layers = metrics.start?.layers {
            let kept = Set(end.activeLayers)
            return layers.map { kept.contains($0.name) }
        }
        if let last = metrics.lastStep { return last.active }
        return Array(repeating: true, count: metrics.start?.layers.count ?? 0)
    }

    /// Task-specific parameters: exact from the end event, otherwise estimated from the start event as active deltas
    /// plus the non-gated backbone parameters (biases, normalisation); the head is counted only in the exact value.
    public var taskSpecificParameters: (count: Int, exact: Bool)? {
        if let end = metrics.end { return (end.taskSpecificParameters, true) }
        guard let s = metrics.start else { return nil }
        let gated = s.layers.reduce(0) { $0 + $1.parameters }
        let active = zip(s.layers, activeFlags).reduce(0) { $0 + ($1.1 ? $1.0.parameters : 0) }
        return (active + max(0, s.backboneParameters - gated), false)
    }

    /// Seconds left at the current pace, when it can be estimated.
    public var etaSeconds: Double? {
        guard let last = metrics.lastStep, let planned = plannedSteps, last.step > 0, metrics.end == nil else {
            return nil
        }
        return last.elapsed / Double(last.step) * Double(max(0, planned - last.step))
    }
}

// MARK: - Number formatting shared by the widgets

enum Format {
    /// Up to 4 significant digits, no exponent for ordinary magnitudes: 0.375, 1.25e-05, 12.5.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e-3 && a < 1e5 {
            var s = String(format: "%.4g", v)
            if s.contains("e") { s = String(format: "%.1f", v) }
            return s
        }
        return String(format: "%.3g", v)
    }

    /// 1234 -> 1.2k, 1234567 -> 1.23M.
    static func count(_ n: Int) -> String {
        let a = Double(n)
        if n < 1000 { return "\(n)" }
        if n < 1_000_000 { return String(format: a < 10_000 ? "%.2fk" : "%.1fk", a / 1000) }
        return String(format: "%.2fM", a / 1_000_000)
    }

    /// 83 -> 1:23, 3723 -> 1:02:03.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }

    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }
}
