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
    /// What the views are: `tasks` (a suite) or `settings` (a sweep).
    public var label: String
    /// A suite attached from its folder: which views are in training now (several with a job array); empty otherwise.
    public var running: [Bool] = []
    /// A suite attached from its folder: which views have not started (no metrics file yet); empty otherwise.
    public var waiting: [Bool] = []

    public init(names: [String], viewing: Int, training: Int?, done: [Bool], following: Bool, label: String = "tasks") {
        self.names = names; self.viewing = viewing; self.training = training; self.done = done; self.following = following
        self.label = label
    }
}

/// Another run shown beside the main one (an earlier run of this session, or another attached file).
public struct ComparedRun: Sendable, Equatable {
    /// Short name in legends (the run folder's name).
    public var name: String
    public var metrics: MetricsSnapshot
    public var extras: RunExtras
    /// Whether the file is still missing (`--attach` of a run that has not started).
    public var waiting: Bool

    public init(name: String, metrics: MetricsSnapshot, extras: RunExtras = RunExtras(), waiting: Bool = false) {
        self.name = name; self.metrics = metrics; self.extras = extras; self.waiting = waiting
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
    /// Attached to a run that can be steered through its control file: what the status line says (steering, or the
    /// requests the run has not picked up yet); nil otherwise.
    public var remoteStatus: String?
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
    /// The heatmap's layer cursor (row index into the start event's layers).
    public var layerCursor: Int = 0
    /// The layer panel (Enter) of the layer under the cursor is open.
    public var showLayerPanel: Bool = false
    /// The event log overlay (`l`) is open, scrolled this many entries up from the newest.
    public var showEventLog: Bool = false
    public var eventLogOffset: Int = 0
    /// EMA weight of per-step curves (0: raw), cycled with `s`.
    public var smoothing: Double = 0.6
    /// Logarithmic y axis on the loss chart (`L`).
    public var logY: Bool = false
    /// The text typed so far at the exact-lambda prompt (`=`); nil when no prompt is open.
    public var lambdaPrompt: String?
    /// The options typed so far at the new-run prompt (`R`); nil when no prompt is open.
    public var optionsPrompt: String?
    /// The largest lambda the keys and the prompt accept.
    public var lambdaCeiling: Double = DashboardState.defaultLambdaCeiling
    /// Fields of the stream the typed events do not carry (progress, per-layer gradients, penalty weights).
    public var extras = RunExtras()
    /// This run's name when runs are compared (`--attach a --attach b`, or after `r`); nil for a lone run.
    public var runName: String?
    /// Other runs drawn for comparison: their curves overlaid, their heatmaps beside this one's.
    public var comparisons: [ComparedRun] = []

    /// Lambda's documented ceiling (TrainingControl.maximumLambda in the trainer).
    public static let defaultLambdaCeiling = TrainingControl.maximumLambda
    /// The smoothing weights `s` cycles through.
    public static let smoothingSteps: [Double] = [0, 0.6, 0.9, 0.99]

    public init(metrics: MetricsSnapshot = MetricsSnapshot(), lambda: Double? = nil, initialLambda: Double? = nil,
                paused: Bool = false, stopping: Bool = false, showHelp: Bool = false, readOnly: Bool = false,
                totalSteps: Int? = nil, message: String? = nil, framesPerSecond: Double? = nil, suite: SuiteTabs? = nil,
                extras: RunExtras = RunExtras()) {
        self.extras = extras
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

    /// Epochs the run will take in total: the start event's, or, once a path run's search is over, enough for its
    /// announced steps (``plannedSteps``).
    public var plannedEpochs: Int? {
        guard let s = metrics.start else { return nil }
        guard let planned = metrics.plannedSteps, s.stepsPerEpoch > 0, planned >= 0 else { return s.epochs }
        return max(s.epochs, planned / s.stepsPerEpoch + (planned % s.stepsPerEpoch == 0 ? 0 : 1))
    }

    /// Steps the run will take in total, when known.
    public var plannedSteps: Int? {
        if let planned = metrics.plannedSteps { return planned }   // a path run's, known once its search is over
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

    /// Task-specific parameters, counted as the export stores them: active deltas, the non-gated backbone tensors
    /// (biases, normalisation) and the head. Exact from the end event; before it, estimated from the start event,
    /// with the head included when the stream gives its size (`includesHead`). The head is not part of the backbone,
    /// so the share of the backbone can exceed 100% (fine-tuning stores every layer plus the head).
    public var taskSpecificParameters: (count: Int, exact: Bool, includesHead: Bool)? {
        if let end = metrics.end, end.status != .failed || end.taskSpecificParameters > 0 {
            return (end.taskSpecificParameters, true, true)
        }
        guard let s = metrics.start else { return nil }
        let gated = s.layers.reduce(0) { $0 &+ max(0, $1.parameters) }
        let active = zip(s.layers, activeFlags).reduce(0) { $0 &+ ($1.1 ? max(0, $1.0.parameters) : 0) }
        let head = extras.headParameters.map { max(0, $0) }
        return (active &+ max(0, s.backboneParameters &- gated) &+ (head ?? 0), false, head != nil)
    }

    /// Where the charts draw vertical markers: every lambda change (at the first step it applies to) and the end of
    /// warm-up (from its notice, else from the first step after a warm-up step whose phase is not warm-up).
    public var chartMarkers: [ChartMarker] {
        var out: [ChartMarker] = []
        var warmupSeen = false
        for n in metrics.notices {
            if n.kind == .lambda { out.append(ChartMarker(step: n.step, kind: .lambda)) }
            if n.kind == .warmupOver { out.append(ChartMarker(step: n.step, kind: .warmupOver)); warmupSeen = true }
        }
        // One pass over a buffer: indexing `metrics.steps` inside a closure copied each StepEvent (retaining its
        // arrays), twice per step and per chart, 20 000 steps per frame.
        if !warmupSeen, let step = metrics.steps.withUnsafeBufferPointer({ b -> Int? in
            var i = 1
            while i < b.count {
                if b[i - 1].phase == .warmup && b[i].phase != .warmup { return b[i].step }
                i += 1
            }
            return nil
        }) {
            out.append(ChartMarker(step: step, kind: .warmupOver))
        }
        return out
    }

    /// Lambda changes with the step they apply from, oldest first (the start value at step 1).
    public var lambdaChanges: [(step: Int, value: Double)] {
        var out: [(step: Int, value: Double)] = []
        if let first = metrics.start?.lambda ?? initialLambda { out.append((1, first)) }
        for n in metrics.notices where n.kind == .lambda {
            if let to = n.to { out.append((n.step, to)) }
        }
        return out
    }

    /// The layer under the cursor, clamped to the layers of the run (nil before the start event).
    public var cursorLayer: Int? {
        guard let n = metrics.start?.layers.count, n > 0 else { return nil }
        return min(max(0, layerCursor), n - 1)
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

/// Number formatting shared by the widgets (public for tests and the snapshot writer).
public enum Format {
    /// Up to 4 significant digits, no exponent for ordinary magnitudes: 0.375, 1.25e-05, 12.5.
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1 && a < 1e15 && v == v.rounded() && a >= 1e4 { return String(format: "%.0f", v) }  // 10000, not 1e+04
        if a >= 1e-3 && a < 1e5 {
            var s = String(format: "%.4g", v)
            if s.contains("e") { s = String(format: "%.1f", v) }
            return s
        }
        return String(format: "%.3g", v)
    }

    /// `v` in at most `width` cells with as many significant digits as fit, never cut mid-number:
    /// `1.4M` (SI suffix from 1e3 to 1e15), `7.0e6` / `1e-4` (short exponent), `-4.9` (fewer decimals), `NaN`,
    /// `inf`, `-inf`. When not even one digit fits, `#` repeated (`width` cells; a spreadsheet's "too narrow").
    public static func fit(_ v: Double, width: Int) -> String {
        guard width > 0 else { return "" }
        var found: String?
        forEachCandidate(v) { candidate in
            if candidate.utf8.count <= width { found = candidate; return true }
            return false
        }
        return found ?? String(repeating: "#", count: width)
    }

    /// Ways to write `v`, most precise first.
    public static func fitCandidates(_ v: Double) -> [String] {
        var out: [String] = []
        forEachCandidate(v) { out.append($0); return false }
        return out
    }

    /// Calls `body` with each way to write `v`, most precise first, until it returns true (formatting is the
    /// expensive part of a frame, so candidates are made only as needed).
    private static func forEachCandidate(_ v: Double, _ body: (String) -> Bool) {
        if v.isNaN { for c in ["NaN", "nan", "!"] where body(c) { return }; return }
        if v.isInfinite { for c in v > 0 ? ["inf", "+"] : ["-inf", "-"] where body(c) { return }; return }
        if v == 0 { _ = body("0"); return }
        let plain = number(v)
        if !plain.contains("e"), body(plain) { return }
        let a = abs(v)
        func fixed(_ x: Double, _ d: Int) -> String { String(format: "%.\(d)f", x) }
        if a >= 1e3 && a < 1e15 {
            let units: [(Double, String)] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
            if let (scale, suffix) = units.first(where: { a >= $0.0 }) {
                for d in [3, 2, 1, 0] where body(fixed(v / scale, d) + suffix) { return }
            }
        } else if a >= 1 && a < 1e3 {
            for d in [3, 2, 1, 0] where body(fixed(v, d)) { return }
        } else if a < 1 {
            for d in [4, 3, 2, 1] where (pow(10, Double(d)) * a).rounded() >= 1 && body(fixed(v, d)) { return }
        }
        for d in [2, 1, 0] {
            // "%.{d}e" gives 7.01e+06; shorten to 7.01e6, 1e-4.
            let raw = String(format: "%.\(d)e", v)
            guard let e = raw.firstIndex(of: "e") else { if body(raw) { return }; continue }
            let mantissa = raw[..<e]
            var exp = String(raw[raw.index(after: e)...])
            let negative = exp.hasPrefix("-")
            exp = String(exp.drop { $0 == "+" || $0 == "-" }.drop { $0 == "0" })
            if body(mantissa + "e" + (negative ? "-" : "") + (exp.isEmpty ? "0" : exp)) { return }
        }
    }

    /// 1234 -> 1.2k, 1234567 -> 1.23M.
    public static func count(_ n: Int) -> String {
        let a = Double(n)
        if n < 1000 { return "\(n)" }
        if n < 1_000_000 { return String(format: a < 10_000 ? "%.2fk" : "%.1fk", a / 1000) }
        return String(format: "%.2fM", a / 1_000_000)
    }

    /// Bytes with a decimal unit in at most 7 cells: 288B, 73.7kB, 1.18MB, 2.4GB.
    public static func bytes(_ n: Int) -> String {
        let a = Double(n)
        if n < 1000 { return "\(n)B" }
        let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        let (scale, unit) = units.first { a >= $0.0 } ?? (1e3, "kB")
        return fit(a / scale, width: 5) + unit
    }

    /// 83 -> 1:23, 3723 -> 1:02:03.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }

    public static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }
}
