// TapsTraining: the progress lines of `taps train` (and of `taps-tui` when it runs headless).
import Foundation

/// Turns metrics events into stable, human-readable progress lines.
public enum ProgressFormatter {
    /// Print a step line every this many optimizer steps.
    public static let stepInterval = 25

    /// The line for `event`, or nil when the event prints nothing (most steps).
    public static func line(for event: MetricsEvent) -> String? {
        switch event {
        case .start(let s):
            let steps = s.stepsPerEpoch * s.epochs
            // Lambda, tau, warm-up and settle mean something only where the penalty runs.
            let gated = s.mode == .taps || s.mode == .fullyJoint
            let settle = s.settleEpochs ?? 0
            let phases = gated ? " (\(s.warmupEpochs) warm-up" + (settle > 0 ? ", \(settle) settle)" : ")") : ""
            return "taps: task \(s.task), mode \(s.mode.rawValue), base \(s.base), "
                + (gated ? "lambda \(fmt(s.lambda)), tau \(fmt(s.tau)), " : "")
                + (s.budget.map { "budget \(fmt(100 * $0))% of the backbone, " } ?? "")
                + "\(s.layers.count) gated layers, backbone \(grouped(s.backboneParameters)) parameters, "
                + "\(s.epochs) epochs\(phases) x \(s.stepsPerEpoch) steps = \(steps) steps, batch \(s.batchSize)"
        case .step(let e):
            guard e.step % stepInterval == 0 else { return nil }
            let active = e.active.filter { $0 }.count
            return String(format: "epoch %d step %5d  loss %.4f %@  acc %.3f  active %d/%d  %.0f img/s",
                          e.epoch, e.step, e.loss, lossParts(e) as NSString, e.accuracy,
                          active, e.active.count, e.samplesPerSecond)
        case .epoch(let e):
            return String(format: "epoch %d done: train loss %.4f, train acc %.4f, val acc %.4f, active %d layers, %.1f s",
                          e.epoch, e.trainLoss, e.trainAccuracy, e.validationAccuracy, e.activeLayers, e.seconds)
        case .notice(let n):
            return "  [\(n.kind.rawValue)] \(n.message)"
        case .progress:
            return nil
        case .end(let e):
            var s = "run \(e.status.rawValue) after \(e.step) steps, \(String(format: "%.1f", e.seconds)) s"
            if let t = e.testAccuracy { s += String(format: ", test acc %.4f", t) }
            if let m = e.message { s += ": \(m)" }
            return s
        }
    }

    /// The plain line for `event` with progress: step lines gain `k/N`, the percentage and the ETA when the run's
    /// total optimizer steps `totalSteps` are known (every other event prints as ``line(for:)``).
    public static func line(for event: MetricsEvent, totalSteps: Int?) -> String? {
        guard case .step(let e) = event, let totalSteps, totalSteps > 0 else { return line(for: event) }
        guard e.step % stepInterval == 0 || e.step == totalSteps else { return nil }
        let active = e.active.filter { $0 }.count
        return String(format: "epoch %d step %d/%d (%.0f%%)  loss %.4f %@  acc %.3f  active %d/%d  %.0f img/s  ETA %@",
                      e.epoch, e.step, totalSteps, 100 * Double(e.step) / Double(totalSteps), e.loss,
                      lossParts(e) as NSString, e.accuracy, active, e.active.count, e.samplesPerSecond,
                      duration(eta(e, totalSteps: totalSteps)) as NSString)
    }

    /// A share (0.2) as the percentage a user types (`20%`; at most two decimals, no trailing zeros: `19.35%`),
    /// as budgets are shown in summaries, sweeps, suites and warnings.
    public static func percent(_ share: Double) -> String { String(format: "%g%%", (10_000 * share).rounded() / 100) }

    /// What the loss of a step line is made of: `(task 0.52, penalty 0.20 x lambda 0.3)` while the penalty runs;
    /// `(penalty off)` in warm-up (and every step of fine-tuning and the probe) and `(settle, penalty off)` in the
    /// settle, where the loss is the task loss alone.
    static func lossParts(_ e: StepEvent) -> String {
        switch e.phase {
        case .sparsify: return String(format: "(task %.4f, penalty %.4f x lambda %@)", e.taskLoss, e.penalty, fmt(e.lambda) as NSString)
        case .warmup: return "(penalty off)"
        case .settle: return "(settle, penalty off)"
        }
    }

    /// The one-line status a terminal shows (rewritten in place) during a run, most important first so that a
    /// narrow terminal cuts only details:
    /// `step 120/500  24%  ETA 1m23s  1,234 img/s  epoch 2/5  loss 0.5123  acc 0.844  active 5/7`.
    public static func statusLine(_ e: StepEvent, totalSteps: Int, epochs: Int?) -> String {
        let active = e.active.filter { $0 }.count
        let epochText = epochs.map { "epoch \(e.epoch)/\($0)" } ?? "epoch \(e.epoch)"
        return String(format: "step %d/%d %3.0f%%  ETA %@  %@ img/s  %@  loss %.4f  acc %.3f  active %d/%d",
                      e.step, totalSteps, 100 * Double(e.step) / Double(max(totalSteps, 1)),
                      duration(eta(e, totalSteps: totalSteps)) as NSString,
                      grouped(Int(e.samplesPerSecond.rounded())) as NSString, epochText as NSString,
                      e.loss, e.accuracy, active, e.active.count)
    }

    /// Seconds left, from the mean time per step so far (evaluation pauses included), or nil before any step.
    public static func eta(_ e: StepEvent, totalSteps: Int) -> Double? {
        guard e.step > 0, e.elapsed > 0 else { return nil }
        return Double(max(totalSteps - e.step, 0)) * e.elapsed / Double(e.step)
    }

    /// `42s`, `3m05s`, `1h02m`; `?` for nil.
    public static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }

    /// Compact number: up to 4 significant digits, no trailing zeros (`0.3`, `0.375`, `1e-05`).
    public static func fmt(_ x: Double) -> String {
        if x == 0 { return "0" }
        let s = String(format: "%.4g", x)
        return s
    }

    /// Integer with thousands separators (`387,840`).
    public static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }
}
