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
            return "taps: task \(s.task), mode \(s.mode.rawValue), base \(s.base), lambda \(fmt(s.lambda)), tau \(fmt(s.tau)), "
                + "\(s.layers.count) gated layers, backbone \(grouped(s.backboneParameters)) parameters, "
                + "\(s.epochs) epochs (\(s.warmupEpochs) warm-up) x \(s.stepsPerEpoch) steps = \(steps) steps, batch \(s.batchSize)"
        case .step(let e):
            guard e.step % stepInterval == 0 else { return nil }
            let active = e.active.filter { $0 }.count
            return String(format: "epoch %d step %5d  loss %.4f (task %.4f, penalty %.4f x lambda %@)  acc %.3f  active %d/%d  %.0f img/s",
                          e.epoch, e.step, e.loss, e.taskLoss, e.penalty, fmt(e.lambda) as NSString, e.accuracy,
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
