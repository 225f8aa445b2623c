// TapsTUI: one gated layer in detail (Enter on the heatmap's cursor row): shape and cost, score history with tau,
// ||delta|| / ||w0||, the score's gradient split into its task and penalty parts, and its flips.
import Foundation
import TapsTraining

/// How often a layer's gate flipped (active <-> shared) in the step history, and when it last did.
public struct GateFlips: Equatable, Sendable {
    public var count: Int
    /// The step of the last flip (nil: never flipped).
    public var lastStep: Int?

    public init(count: Int, lastStep: Int?) { self.count = count; self.lastStep = lastStep }

    /// Counts flips of layer `layer`'s active flag over `steps` (steps without a flag for it are skipped).
    public static func of<C: Collection<StepEvent>>(layer: Int, in steps: C) -> GateFlips {
        var count = 0, last: Int?, previous: Bool?
        for s in steps where s.active.indices.contains(layer) {
            let a = s.active[layer]
            if let p = previous, p != a { count += 1; last = s.step }
            previous = a
        }
        return GateFlips(count: count, lastStep: last)
    }
}

enum LayerPanel {
    static let sparkLevels: [Unicode.Scalar] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    static let asciiSparkLevels: [Unicode.Scalar] = ["_", ".", "-", "=", "+", "*", "#", "@"]

    /// The panel's text lines for the layer under the cursor (also used by tests), without the sparkline.
    static func lines(_ state: DashboardState, glyphs: Glyphs) -> [String] {
        guard let i = state.cursorLayer, let start = state.metrics.start else { return ["no layer yet"] }
        let layer = start.layers[i]
        let steps = state.metrics.steps
        var out: [String] = []
        let shape = "[" + layer.shape.map(String.init).joined(separator: ", ") + "]"
        out.append("shape \(shape)  parameters \(Format.count(layer.parameters))  "
                   + "costs \(Format.bytes(GateHeatmap.bytes(parameters: layer.parameters))) when active (float32 delta)")
        let score = steps.last.flatMap { $0.scores.indices.contains(i) ? $0.scores[i] : nil }
        let active = state.activeFlags.indices.contains(i) ? state.activeFlags[i] : true
        let flips = GateFlips.of(layer: i, in: steps)
        var status = (active ? "active" : "shared") + "  score " + (score.map { Format.fit($0, width: 9) } ?? "-")
            + " vs \(glyphs.tau) \(Format.fit(start.tau, width: 7))"
        status += "  flips \(flips.count)"
        if let last = flips.lastStep, let now = steps.last?.step {
            status += ", last at step \(last) (\(now - last) steps ago)"
        } else {
            status += " (never flipped)"
        }
        out.append(status)
        let extras = state.extras.recentSteps
        if let ratio = extras.last(where: { $0.deltaRatios?.indices.contains(i) == true })?.deltaRatios?[i] {
            out.append("||delta|| / ||w0|| = \(Format.fit(ratio, width: 9))")
        } else {
            out.append("||delta|| / ||w0||: not in this metrics stream")
        }
        // dL/ds_i = task part <G_i, dw_i> + penalty part lambda * w_i * sign(s_i) (after warm-up).
        let n = start.layers.count
        let w = state.extras.penaltyWeight(layer: i, layerCount: n)
        let lambda = steps.last?.lambda ?? start.lambda
        let warmup = steps.last?.phase == .warmup
        let sign: Double = (score ?? 0) > 0 ? 1 : (score ?? 0) < 0 ? -1 : 0
        let penaltyPart = warmup ? 0 : lambda * w * sign
        let kind = state.extras.penaltyKind ?? "mean"
        var gradient = "dL/ds: penalty part \(glyphs.lambda)*w*sign(s) = \(Format.fit(penaltyPart, width: 9))"
            + " (w = \(Format.fit(w, width: 7)), \(kind) penalty\(warmup ? ", off in warm-up" : ""))"
        let tasks = extras.compactMap { e -> Double? in
            guard let g = e.scoreTaskGradients, g.indices.contains(i) else { return nil }
            return g[i]
        }
        if let latest = tasks.last {
            let finite = tasks.filter(\.isFinite)
            let mean = finite.isEmpty ? Double.nan : finite.reduce(0, +) / Double(finite.count)
            gradient = "dL/ds: task part \(Format.fit(latest, width: 9)) (mean of last \(tasks.count): "
                + "\(Format.fit(mean, width: 9)))  " + gradient.dropFirst("dL/ds: ".count)
        } else {
            gradient += "; task part: not in this metrics stream"
        }
        out.append(gradient)
        return out
    }

    /// `text` broken at spaces into lines of at most `width` cells (continuation lines indented by two), so that
    /// no number is cut at the panel's edge; a single word longer than a line is cut with an ellipsis.
    static func wrapped(_ text: String, width: Int, ellipsis: String = "…") -> [String] {
        guard width > 4, TextWidth.cells(text) > width else { return [text] }
        var lines: [String] = [], current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let candidate = current.isEmpty ? word : current + " " + word
            if TextWidth.cells(candidate) <= width || current.trimmingCharacters(in: .whitespaces).isEmpty {
                current = candidate
            } else {
                lines.append(current)
                current = "  " + word
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines.map { TextWidth.truncated($0, toCells: width, ellipsis: ellipsis) }
    }

    /// Draws the panel into `rect` (a box over the charts).
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme, glyphs: Glyphs) {
        guard rect.width >= 20, rect.height >= 4 else { return }
        buffer.fill(rect, style: Style(fg: theme[.mainFg], bg: theme[.mainBg]))
        var title = [Span(text: "layer", style: theme.style(.title, .bold))]
        if let i = state.cursorLayer, let layers = state.metrics.start?.layers {
            title.append(Span(text: "\(i + 1)/\(layers.count)", style: theme.style(.dimFg)))
            title.append(Span(text: TextWidth.truncatedKeepingEnd(layers[i].name, toCells: max(5, rect.width / 2),
                                                                  ellipsis: glyphs.ellipsis),
                              style: theme.style(.highlight, .bold)))
        }
        let inner = Box.draw(&buffer, rect, title: title,
                             footer: [Span(text: "j/k other layer  Enter or Esc closes", style: theme.style(.dimFg))],
                             theme: theme, glyphs: glyphs)
        var y = inner.y
        for line in lines(state, glyphs: glyphs).flatMap({ wrapped($0, width: inner.width, ellipsis: glyphs.ellipsis) }) where y < inner.maxY {
            buffer.put(line, x: inner.x, y: y, style: theme.style(.mainFg), maxWidth: inner.width)
            y += 1
        }
        guard y < inner.maxY, let i = state.cursorLayer, let tau = state.metrics.start?.tau else { return }
        // Score history sparkline: the layer's score over the whole history, cells at or above tau bright.
        let label = "score "
        buffer.put(label, x: inner.x, y: y, style: theme.style(.dimFg))
        let width = inner.width - label.count
        let scores = state.metrics.steps.map { $0.scores.indices.contains(i) ? $0.scores[i] : .nan }
        guard width > 0, !scores.isEmpty else { return }
        let used = min(width, scores.count)
        let samples: [Double] = (0..<used).map { c in
            let lo = c * scores.count / used, hi = max(lo + 1, (c + 1) * scores.count / used)
            let slice = scores[lo..<hi]
            return slice.contains { !$0.isFinite } ? .nan : slice.reduce(0, +) / Double(slice.count)
        }
        let finite = samples.filter(\.isFinite)
        let lo = min(0, finite.min() ?? 0), hi = max(tau, finite.max() ?? tau)
        let levels = glyphs.usesBraille ? sparkLevels : asciiSparkLevels
        for (c, v) in samples.enumerated() {
            guard v.isFinite else {
                buffer.set(inner.x + label.count + c, y, glyphs.nanShade, theme.style(.error, .bold))
                continue
            }
            let f = hi > lo ? (v - lo) / (hi - lo) : 0
            let idx = min(levels.count - 1, max(0, Int((f * Double(levels.count - 1)).rounded())))
            buffer.set(inner.x + label.count + c, y, levels[idx],
                       theme.style(v >= tau ? .active : .inactive, v >= tau ? .bold : []))
        }
        if y + 1 < inner.maxY {
            let tauLine = "bright: score >= \(glyphs.tau) (\(Format.fit(tau, width: 7))); range "
                + "\(Format.fit(lo, width: 7)) ... \(Format.fit(hi, width: 7))"
            buffer.put(tauLine, x: inner.x + label.count, y: y + 1, style: theme.style(.dimFg),
                       maxWidth: inner.width - label.count)
        }
    }
}
