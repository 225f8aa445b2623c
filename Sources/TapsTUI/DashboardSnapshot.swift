// TapsTUI: the dashboard's own snapshot (`e` after a run ends, or when attached): the scalar history as CSV, a
// plain-text copy of the screen, and an SVG of the loss and accuracy curves with lambda markers for a paper.
import Foundation
import TapsTraining

public enum DashboardSnapshot {
    /// Writes `dashboard-stepNNNNNN.csv`, `.txt` (when `screen` is given) and `.svg` into `folder`, atomically.
    /// Returns the files written.
    /// - Throws: the file system's error naming the path when the folder is not writable.
    public static func write(state: DashboardState, screen: ScreenBuffer?, folder: URL) throws -> [URL] {
        let step = state.metrics.lastStep?.step ?? 0
        let base = folder.appendingPathComponent(String(format: "dashboard-step%06d", step))
        var written: [URL] = []
        let csvURL = base.appendingPathExtension("csv")
        try writeAtomically(Data(scalarCSV(state.metrics).utf8), to: csvURL)
        written.append(csvURL)
        if let screen {
            let txtURL = base.appendingPathExtension("txt")
            try writeAtomically(Data((screen.text + "\n").utf8), to: txtURL)
            written.append(txtURL)
        }
        let svgURL = base.appendingPathExtension("svg")
        try writeAtomically(Data(svg(state).utf8), to: svgURL)
        written.append(svgURL)
        return written
    }

    /// One row per step: `step,epoch,phase,loss,task_loss,penalty,lambda_times_penalty,lambda,accuracy,
    /// train_accuracy,val_accuracy` (the last two only on the step that ends an epoch). NaN/Inf written as
    /// `nan`/`inf`/`-inf`.
    public static func scalarCSV(_ m: MetricsSnapshot) -> String {
        let epochsByStep = Dictionary(m.epochs.map { ($0.step, $0) }, uniquingKeysWith: { _, last in last })
        func f(_ v: Double) -> String {
            v.isNaN ? "nan" : v.isInfinite ? (v > 0 ? "inf" : "-inf") : String(v)
        }
        var out = "step,epoch,phase,loss,task_loss,penalty,lambda_times_penalty,lambda,accuracy,train_accuracy,val_accuracy\n"
        for s in m.steps {
            let e = epochsByStep[s.step]
            out += [String(s.step), String(s.epoch), s.phase.rawValue, f(s.loss), f(s.taskLoss), f(s.penalty),
                    f(penaltyInLoss(s)), f(s.lambda), f(s.accuracy), e.map { f($0.trainAccuracy) } ?? "",
                    e.map { f($0.validationAccuracy) } ?? ""].joined(separator: ",") + "\n"
        }
        return out
    }

    /// Two panels (loss: total, task, lambda x P; accuracy: step, train, val) on an opaque white background, with
    /// axes, tick labels, units and dashed vertical lines where lambda changed and where warm-up ended.
    public static func svg(_ state: DashboardState) -> String {
        let m = state.metrics
        let width = 900.0, panelHeight = 260.0, left = 70.0, right = 20.0, top = 40.0, gap = 70.0
        let plotWidth = width - left - right
        let height = top + 2 * panelHeight + gap + 50
        let lastStep = Double(max(2, m.lastStep?.step ?? 2))
        func x(_ step: Double) -> Double { left + (step - 1) / (lastStep - 1) * plotWidth }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#ffffff"/>

            """
        let title = m.start.map { "\($0.task) · \($0.mode) · \($0.base), \(state.lambdaChanges.count > 1 ? "lambda changed" : "lambda \(Format.number($0.lambda))")" } ?? "run"
        out += "<text x=\"\(left)\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(esc(title))</text>\n"
        let losses = lossSeries(m.steps)
        let panels: [(String, String, [(String, String, [(Double, Double)])])] = [
            ("loss", "loss (nats)", [
                ("total", "#d95f02", losses.total.map { ($0.x, $0.y) }),
                ("task", "#1b9e77", losses.task.map { ($0.x, $0.y) }),
                ("λ·P", "#7570b3", losses.penalty.map { ($0.x, $0.y) }),
            ]),
            ("accuracy", "accuracy (%)", [
                ("step", "#66a61e", accuracySeries(m.steps).map { ($0.x, $0.y * 100) }),
                ("train", "#1b9e77", m.epochs.map { (Double($0.step), $0.trainAccuracy * 100) }),
                ("val", "#e6ab02", m.epochs.map { (Double($0.step), $0.validationAccuracy * 100) }),
            ]),
        ]
        for (p, panel) in panels.enumerated() {
            let y0 = top + Double(p) * (panelHeight + gap)
            let ys = panel.2.flatMap { $0.2.map(\.1) }.filter(\.isFinite)
            let lo = min(0, ys.min() ?? 0)
            let hi = max(lo + 1e-9, p == 1 ? max(100, ys.max() ?? 100) : (ys.max() ?? 1))  // accuracy: 0...100%
            func y(_ v: Double) -> Double { y0 + panelHeight - (v - lo) / (hi - lo) * panelHeight }
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#444\"/>\n"
            for v in [lo] + LineChart.niceTicks(lo...hi, maxCount: 5) {
                out += "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(Format.fit(v, width: 7))</text>\n"
                out += "<line x1=\"\(left - 3)\" y1=\"\(y(v))\" x2=\"\(left)\" y2=\"\(y(v))\" stroke=\"#444\"/>\n"
            }
            for tick in [1.0] + LineChart.niceTicks(1...lastStep, maxCount: 8) + [lastStep] {
                out += "<text x=\"\(x(tick))\" y=\"\(y0 + panelHeight + 16)\" text-anchor=\"middle\">\(Int(tick))</text>\n"
            }
            out += "<text x=\"\(left + plotWidth / 2)\" y=\"\(y0 + panelHeight + 34)\" text-anchor=\"middle\">step</text>\n"
            out += "<text transform=\"translate(16 \(y0 + panelHeight / 2)) rotate(-90)\" text-anchor=\"middle\">\(esc(panel.1))</text>\n"
            for marker in state.chartMarkers {
                let mx = x(Double(marker.step))
                let label = marker.kind == .lambda ? "λ" : "warm-up end"
                out += "<line x1=\"\(mx)\" y1=\"\(y0)\" x2=\"\(mx)\" y2=\"\(y0 + panelHeight)\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
                out += "<text x=\"\(mx + 3)\" y=\"\(y0 + 12)\" fill=\"#666\">\(label)</text>\n"
            }
            for (k, line) in panel.2.enumerated() {
                // Non-finite points break the line.
                var d = "", pen = false
                for (sx, sy) in line.2 {
                    guard sy.isFinite else { pen = false; continue }
                    d += "\(pen ? "L" : "M")\(String(format: "%.1f", x(sx))) \(String(format: "%.1f", y(sy))) "
                    pen = true
                }
                out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(line.1)\" stroke-width=\"1.5\"/>\n"
                let lx = left + plotWidth - 200 + Double(k) * 65
                out += "<line x1=\"\(lx)\" y1=\"\(y0 - 8)\" x2=\"\(lx + 16)\" y2=\"\(y0 - 8)\" stroke=\"\(line.1)\" stroke-width=\"2\"/>\n"
                out += "<text x=\"\(lx + 20)\" y=\"\(y0 - 4)\">\(esc(line.0))</text>\n"
            }
            out += "<text x=\"\(left)\" y=\"\(y0 - 4)\" font-weight=\"bold\">\(panel.0)</text>\n"
        }
        out += "</svg>\n"
        return out
    }
}
