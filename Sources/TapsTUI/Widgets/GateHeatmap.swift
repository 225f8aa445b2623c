// TapsTUI: the gate heatmap — one row per gated layer, time to the right, shaded by score relative to tau; a step
// axis with the lambda and warm-up markers under it; several runs side by side when comparing.
import Foundation
import TapsTraining

enum GateHeatmap {
    /// Shade level of a score: 0 (s <= 0), 1 (< tau/2), 2 (< tau), 3 (< 2 tau), 4 (>= 2 tau); nil for NaN/Inf
    /// (drawn with its own glyph). A score within 1e-9 (relative) of an edge counts as on it: the shaded scores are
    /// means over many steps (``columns(_:layers:columns:)``), whose last bits depend on how they were summed (about
    /// 1e-13 relative), and a score held at exactly tau (a gate fixed on by a settle) must shade alike in every
    /// column. Float32 scores one step apart (about 1e-7 relative) still shade apart.
    static func level(score: Double, tau: Double) -> Int? {
        guard score.isFinite else { return nil }
        if score <= 0 { return 0 }
        if tau <= 0 { return score >= tau ? 3 : 1 }
        func below(_ edge: Double) -> Bool { score < edge * (1 - 1e-9) }
        if below(tau / 2) { return 1 }
        if below(tau) { return 2 }
        return below(2 * tau) ? 3 : 4
    }

    static let levelKeys: [ThemeKey] = [.gateOff, .gateLow, .gateNear, .gateOn, .gateHigh]

    /// Bytes a layer's delta costs in an export (float32).
    static func bytes(parameters: Int) -> Int { max(0, parameters).multipliedReportingOverflow(by: 4).partialValue }

    /// Layer rows that fit in a panel of `innerHeight` lines (one line is the step axis): all of them, or all but
    /// one more line, which then says which rows are shown and how to scroll.
    static func visibleRows(innerHeight: Int, layerCount: Int) -> Int {
        let rows = max(1, innerHeight - 1)
        return layerCount <= rows ? layerCount : max(1, rows - 1)
    }

    /// `offset` clamped so that the shown rows stay within the layers.
    static func clampedOffset(_ offset: Int, innerHeight: Int, layerCount: Int) -> Int {
        max(0, min(offset, layerCount - visibleRows(innerHeight: innerHeight, layerCount: layerCount)))
    }

    /// Mean score of each layer over `columns` equal slices of the step history (fewer columns when there are fewer
    /// steps, so the map fills from the left); a slice holding a NaN/Inf score of a layer is NaN for that layer.
    /// Result: [column][layer].
    static func columns(steps: StepHistory, layers: Int, columns: Int) -> [[Double]] {
        guard columns > 0, !steps.isEmpty, layers > 0 else { return [] }
        let n = steps.count
        let used = min(n, columns)
        return (0..<used).map { c in
            let lo = c * n / used, hi = max(lo + 1, (c + 1) * n / used)
            var sums = Array(repeating: 0.0, count: layers)
            // Through buffers: element access of an Array in the inner loop (bounds and uniqueness checks) cost
            // about a millisecond per frame of a 20 000-step, 49-layer run.
            sums.withUnsafeMutableBufferPointer { sum in
                steps.withUnsafeBufferPointer { b in
                    for i in lo..<hi {
                        b[i].scores.withUnsafeBufferPointer { scores in
                            for l in 0..<min(layers, scores.count) { sum[l] += scores[l] }
                        }
                    }
                }
            }
            return sums.map { $0.isFinite ? $0 / Double(hi - lo) : .nan }
        }
    }

    /// ``columns(steps:layers:columns:)`` of `metrics`' steps from its running sums (``MetricsSnapshot/scoreSums``)
    /// when they hold every layer: two reads per column and layer instead of a pass over the history (about a
    /// millisecond of a 200x60 frame of a 20 000-step, 49-layer run). A mean differs from the direct sum's in the last
    /// bits (``level(score:tau:)`` allows for that); where the running sums dwarf the slice's own sum (after a huge
    /// score: their difference would have lost its digits) or are not finite, that column and layer is summed
    /// directly from the steps.
    static func columns(_ metrics: MetricsSnapshot, layers: Int, columns: Int) -> [[Double]] {
        let steps = metrics.steps, sums = metrics.scoreSums
        guard sums.width >= layers, sums.rows == steps.count + 1, sums.nonFinite.count == sums.sums.count
        else { return self.columns(steps: steps, layers: layers, columns: columns) }
        guard columns > 0, !steps.isEmpty, layers > 0 else { return [] }
        let n = steps.count
        let used = min(n, columns)
        let width = sums.width
        return sums.sums.withUnsafeBufferPointer { sum in
            sums.nonFinite.withUnsafeBufferPointer { bad in
                (0..<used).map { c in
                    let lo = c * n / used, hi = max(lo + 1, (c + 1) * n / used)
                    return (0..<layers).map { l in
                        guard bad[hi * width + l] == bad[lo * width + l] else { return .nan }
                        let a = sum[hi * width + l], b = sum[lo * width + l], s = a - b
                        if a.isFinite && b.isFinite && max(abs(a), abs(b)) <= 1e4 * abs(s) {
                            return s / Double(hi - lo)
                        }
                        var direct = 0.0   // as columns(steps:layers:columns:) sums it
                        for i in lo..<hi where l < steps[i].scores.count { direct += steps[i].scores[l] }
                        return direct.isFinite ? direct / Double(hi - lo) : .nan
                    }
                }
            }
        }
    }

    /// The heat column of each of `markerSteps` when the history's steps are shown in `used` columns: the column of
    /// the first step at or after it (nil: none). One pass over the history, read through its buffer: the first index
    /// at or after a step never decreases as the step grows (also in a resumed run's history, which can repeat step
    /// numbers and is not assumed sorted), so the markers, taken in step order, resume the scan where the last one
    /// stopped (20 markers each scanning a 20 000-step history had cost about a millisecond of a 200x60 frame).
    static func columns(ofSteps markerSteps: [Int], steps: StepHistory, used: Int) -> [Int?] {
        guard used > 0, !steps.isEmpty else { return markerSteps.map { _ in nil } }
        var result = [Int?](repeating: nil, count: markerSteps.count)
        steps.withUnsafeBufferPointer { b in
            var i = 0
            for k in markerSteps.indices.sorted(by: { markerSteps[$0] < markerSteps[$1] }) {
                while i < b.count && b[i].step < markerSteps[k] { i += 1 }
                if i < b.count { result[k] = min(used - 1, i * used / b.count) }
            }
        }
        return result
    }

    /// Bytes of float32 deltas a `--budget` run may keep (its share of the backbone's parameters), if it has one.
    static func budgetBytes(_ start: RunStartEvent?) -> Int? {
        guard let start, let share = start.budget, share.isFinite, share >= 0 else { return nil }
        let parameters = Double(max(0, start.backboneParameters)) * min(share, 1)
        return bytes(parameters: Int(parameters.rounded(.down)))
    }

    /// The title's cost bar: 8 cells of the gated layers' bytes, filled by the active ones, then `used/total`.
    /// With a storage budget, the cell where the budget ends shows `|` (the budget line; at the right end when the
    /// budget exceeds every gated layer) and the text adds `budget 20.0%=N` (`share`, the budget as a share of the
    /// backbone, as the user gave it) and, over budget, `OVER` in the error style (a word, for terminals without
    /// colour).
    static func costBar(used: Int, total: Int, budget: Int?, share: Double? = nil, theme: Theme, glyphs: Glyphs) -> Span {
        let cells = 8
        let filled = min(cells, Int((Double(used) / Double(total) * Double(cells)).rounded()))
        var bar = Array(repeating: glyphs.usesBraille ? "█" : "#", count: filled)
            + Array(repeating: glyphs.usesBraille ? "░" : ".", count: cells - filled)
        var text = ""
        if let budget {
            let at = min(cells - 1, Int((Double(budget) / Double(total) * Double(cells)).rounded(.down)))
            bar[max(0, at)] = glyphs.usesBraille ? "┃" : "|"
            // A --budget-bytes above the backbone reads `>100.0%=` (the bytes are the backbone's).
            text = " budget " + (share.map { ($0 > 1 ? ">" : "") + Format.percent(min($0, 1)) + "=" } ?? "") + Format.bytes(budget)
        }
        let over = budget.map { used > $0 } ?? false
        if over { text += " OVER" }
        return Span(text: bar.joined() + " \(Format.bytes(used))/\(Format.bytes(total))" + text,
                    style: theme.style(over ? .error : .active, over ? .bold : []))
    }

    /// Draws the main run's heatmap, and when runs are compared, each compared run's beside it (equal widths).
    static func drawAll(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                        glyphs: Glyphs) {
        let runs = 1 + state.comparisons.count
        let width = rect.width / runs
        guard runs > 1, width >= 30 else {
            draw(&buffer, rect, state: state, theme: theme, glyphs: glyphs)
            return
        }
        draw(&buffer, Rect(x: rect.x, y: rect.y, width: width, height: rect.height), state: state, theme: theme,
             glyphs: glyphs)
        for (k, run) in state.comparisons.enumerated() {
            var other = DashboardState(metrics: run.metrics, readOnly: true)
            other.extras = run.extras
            other.runName = run.name + (run.waiting ? " (waiting)" : "")
            other.heatmapOffset = state.heatmapOffset
            other.layerCursor = -1
            let x = rect.x + width * (k + 1)
            let w = k == state.comparisons.count - 1 ? rect.maxX - x : width
            draw(&buffer, Rect(x: x, y: rect.y, width: w, height: rect.height), state: other, theme: theme,
                 glyphs: glyphs)
        }
    }

    /// Draws one run's panel into `rect` (border included).
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                     glyphs: Glyphs) {
        let layers = state.metrics.start?.layers ?? []
        let tau = state.metrics.start?.tau ?? 0
        let active = state.activeFlags
        let k = active.filter { $0 }.count
        var title: [Span] = [Span(text: state.runName.map { TextWidth.truncated($0, toCells: 24, ellipsis: glyphs.ellipsis) } ?? "gates",
                                  style: theme.style(.title, .bold))]
        if !layers.isEmpty {
            title.append(Span(text: "\(k)/\(layers.count) active", style: theme.style(.active, .bold)))
            // What the active set costs: a bar of the gated layers' bytes, filled by the active ones.
            let total = layers.reduce(0) { $0 &+ bytes(parameters: $1.parameters) }
            let used = zip(layers, active).reduce(0) { $0 &+ ($1.1 ? bytes(parameters: $1.0.parameters) : 0) }
            if total > 0 {
                title.append(costBar(used: used, total: total, budget: budgetBytes(state.metrics.start),
                                     share: state.metrics.start?.budget, theme: theme, glyphs: glyphs))
            }
            title.append(Span(text: "score vs \(glyphs.tau)=\(Format.fit(tau, width: 7))", style: theme.style(.dimFg)))
        }
        var legend: [Span] = []
        let legendText = ["<=0", "<\(glyphs.tau)/2", "<\(glyphs.tau)", ">=\(glyphs.tau)", ">=2\(glyphs.tau)"]
        for (i, text) in legendText.enumerated() {
            legend.append(Span(text: "\(glyphs.shades[i]) \(text)", style: theme.style(levelKeys[i])))
        }
        legend.append(Span(text: "\(glyphs.nanShade) NaN", style: theme.style(.error, .bold)))
        legend.append(Span(text: glyphs.usesBraille ? "▲λ △warm-up" : "^lambda 'warm-up", style: theme.style(.lambda)))
        let inner = Box.draw(&buffer, rect, title: title, footer: legend, theme: theme, glyphs: glyphs)
        guard inner.height >= 1, inner.width >= 20 else { return }
        guard !layers.isEmpty else {
            let text = state.comparisons.isEmpty && state.runName?.hasSuffix("(waiting)") == true
                ? "waiting for the file" : "waiting for the first step"
            buffer.put(text, x: inner.x + 1, y: inner.y, style: theme.style(.dimFg), maxWidth: inner.width - 1)
            return
        }

        // Columns: name | heat | score, state, cost.
        let widest = layers.map { TextWidth.cells($0.name) }.max() ?? 5
        let nameWidth = min(max(widest, 5), max(14, inner.width / 4))
        let showCost = inner.width >= 60
        let rightWidth = 1 + 6 + 1 + 5 + (showCost ? 8 : 0)
        let heatX = inner.x + nameWidth + 1
        let heatWidth = max(1, inner.maxX - heatX - rightWidth)
        let steps = state.metrics.steps
        let cols = columns(state.metrics, layers: layers.count, columns: heatWidth)
        let shown = min(layers.count, visibleRows(innerHeight: inner.height, layerCount: layers.count))
        let first = clampedOffset(state.heatmapOffset, innerHeight: inner.height, layerCount: layers.count)
        let lastScores = state.metrics.lastStep?.scores ?? []
        let cursor = state.layerCursor >= 0 ? state.cursorLayer : nil
        let levelStyles = levelKeys.map { theme.style($0) }, nanStyle = theme.style(.error, .bold)

        for row in first..<(first + shown) {
            let layer = layers[row]
            let y = inner.y + row - first
            let isActive = row < active.count ? active[row] : true
            var nameAttrs: CellAttributes = isActive ? .bold : []
            if row == cursor { nameAttrs.insert(.reverse) }
            let nameStyle = theme.style(isActive ? .mainFg : .dimFg, nameAttrs)
            let name = TextWidth.truncatedKeepingEnd(layer.name, toCells: nameWidth, ellipsis: glyphs.ellipsis)
            buffer.put(name, x: inner.x, y: y, style: nameStyle, maxWidth: nameWidth)
            for (c, column) in cols.enumerated() where row < column.count {
                if let lv = level(score: column[row], tau: tau) {
                    buffer.set(heatX + c, y, glyphs.shades[lv], levelStyles[lv])
                } else {
                    buffer.set(heatX + c, y, glyphs.nanShade, nanStyle)
                }
            }
            var x = heatX + heatWidth + 1
            let scoreValue = row < lastScores.count ? lastScores[row] : nil
            let score = scoreValue.map { Format.fit($0, width: 6) } ?? "-"
            let scoreBad = scoreValue.map { !$0.isFinite } ?? false
            buffer.put(TextWidth.rightAligned(score, toCells: 6, ellipsis: glyphs.ellipsis), x: x, y: y,
                       style: scoreBad ? theme.style(.error, .bold) : theme.style(.mainFg), maxWidth: 6)
            x += 7
            buffer.put(isActive ? glyphs.activeMark : glyphs.inactiveMark, x: x, y: y,
                       style: theme.style(isActive ? .active : .inactive, isActive ? .bold : []))
            x += 5
            if showCost {
                let cost = Format.bytes(bytes(parameters: layer.parameters))
                buffer.put(TextWidth.rightAligned(cost, toCells: 8, ellipsis: glyphs.ellipsis), x: x, y: y,
                           style: theme.style(isActive ? .mainFg : .dimFg), maxWidth: 8)
            }
        }
        var axisY = inner.y + shown
        if shown < layers.count {
            let above = active.prefix(first).filter { $0 }.count
            let below = active.dropFirst(first + shown).filter { $0 }.count
            buffer.put("layers \(first + 1)-\(first + shown) of \(layers.count) (active: \(above) above, \(below) below)"
                       + "  j/k scroll, J/K page", x: inner.x, y: axisY, style: theme.style(.dimFg),
                       maxWidth: inner.width)
            axisY += 1
        }
        guard axisY < inner.maxY else { return }
        // The step axis under the heat: first and last step of the history, and the markers at their columns.
        let dim = theme.style(.dimFg)
        if let firstStep = steps.first?.step, let lastStep = steps.last?.step {
            // Markers first; a step label is written only where it does not cover one.
            var marked = Set<Int>()
            let markers = state.chartMarkers
            for (m, column) in zip(markers, columns(ofSteps: markers.map(\.step), steps: steps, used: cols.count)) {
                guard let c = column else { continue }
                let glyph: Unicode.Scalar = m.kind == .lambda ? (glyphs.usesBraille ? "▲" : "^")
                                                              : (glyphs.usesBraille ? "△" : "'")
                buffer.set(heatX + c, axisY, glyph, theme.style(m.kind == .lambda ? .lambda : .dimFg, .bold))
                marked.insert(c)
            }
            func label(_ text: String, at c: Int) {
                guard c >= 0, c + text.count <= cols.count, !(c..<(c + text.count)).contains(where: marked.contains)
                else { return }
                buffer.put(text, x: heatX + c, y: axisY, style: dim)
            }
            let left = "step \(firstStep)", right = "\(lastStep)"
            label(left, at: 0)
            if cols.count > left.count + right.count + 1 { label(right, at: cols.count - right.count) }
        }
        if showCost { buffer.put(TextWidth.rightAligned("cost", toCells: 8), x: heatX + heatWidth + 13, y: axisY, style: dim) }
    }
}
