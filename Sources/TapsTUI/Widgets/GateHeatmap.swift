// TapsTUI: the gate heatmap — one row per gated layer, time to the right, shaded by score relative to tau.
import Foundation
import TapsTraining

enum GateHeatmap {
    /// Shade level of a score: 0 (s <= 0), 1 (< tau/2), 2 (< tau), 3 (< 2 tau), 4 (>= 2 tau).
    static func level(score: Double, tau: Double) -> Int {
        guard score.isFinite else { return 0 }
        if score <= 0 { return 0 }
        if tau <= 0 { return score >= tau ? 3 : 1 }
        if score < tau / 2 { return 1 }
        if score < tau { return 2 }
        return score < 2 * tau ? 3 : 4
    }

    static let levelKeys: [ThemeKey] = [.gateOff, .gateLow, .gateNear, .gateOn, .gateHigh]

    /// Layer rows that fit in a panel of `innerHeight` lines: all of them, or all but one line, which then says
    /// which rows are shown and how to scroll.
    static func visibleRows(innerHeight: Int, layerCount: Int) -> Int {
        layerCount <= innerHeight ? layerCount : max(1, innerHeight - 1)
    }

    /// `offset` clamped so that the shown rows stay within the layers.
    static func clampedOffset(_ offset: Int, innerHeight: Int, layerCount: Int) -> Int {
        max(0, min(offset, layerCount - visibleRows(innerHeight: innerHeight, layerCount: layerCount)))
    }

    /// Mean score of each layer over `columns` equal slices of the step history (fewer columns when there are fewer
    /// steps, so the map fills from the left). Result: [column][layer].
    static func columns(steps: [StepEvent], layers: Int, columns: Int) -> [[Double]] {
        guard columns > 0, !steps.isEmpty, layers > 0 else { return [] }
        let n = steps.count
        let used = min(n, columns)
        return (0..<used).map { c in
            let lo = c * n / used, hi = max(lo + 1, (c + 1) * n / used)
            var sums = Array(repeating: 0.0, count: layers)
            for s in steps[lo..<hi] {
                for l in 0..<min(layers, s.scores.count) { sums[l] += s.scores[l] }
            }
            return sums.map { $0 / Double(hi - lo) }
        }
    }

    /// Draws the panel into `rect` (border included).
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                     glyphs: Glyphs) {
        let layers = state.metrics.start?.layers ?? []
        let tau = state.metrics.start?.tau ?? 0
        let active = state.activeFlags
        let k = active.filter { $0 }.count
        var title: [Span] = [Span(text: "gates", style: theme.style(.title, .bold))]
        if !layers.isEmpty {
            title.append(Span(text: "\(k)/\(layers.count) active", style: theme.style(.active, .bold)))
            title.append(Span(text: "score vs \(glyphs.tau)=\(Format.number(tau))", style: theme.style(.dimFg)))
        }
        var legend: [Span] = []
        let legendText = ["<=0", "<\(glyphs.tau)/2", "<\(glyphs.tau)", ">=\(glyphs.tau)", ">=2\(glyphs.tau)"]
        for (i, text) in legendText.enumerated() {
            legend.append(Span(text: "\(glyphs.shades[i]) \(text)", style: theme.style(levelKeys[i])))
        }
        let inner = Box.draw(&buffer, rect, title: title, footer: legend, theme: theme, glyphs: glyphs)
        guard inner.height >= 1, inner.width >= 20 else { return }
        guard !layers.isEmpty else {
            buffer.put("waiting for the first step", x: inner.x + 1, y: inner.y, style: theme.style(.dimFg))
            return
        }

        // Columns: name | heat | score, state, parameters.
        let nameWidth = min(max(layers.map(\.name.count).max() ?? 5, 5), max(8, inner.width / 4))
        let showParams = inner.width >= 60
        let rightWidth = 1 + 6 + 1 + 5 + (showParams ? 8 : 0)
        let heatX = inner.x + nameWidth + 1
        let heatWidth = max(1, inner.maxX - heatX - rightWidth)
        let cols = columns(steps: state.metrics.steps, layers: layers.count, columns: heatWidth)
        let shown = min(layers.count, visibleRows(innerHeight: inner.height, layerCount: layers.count))
        let first = clampedOffset(state.heatmapOffset, innerHeight: inner.height, layerCount: layers.count)
        let lastScores = state.metrics.lastStep?.scores ?? []

        for row in first..<(first + shown) {
            let layer = layers[row]
            let y = inner.y + row - first
            let isActive = row < active.count ? active[row] : true
            let nameStyle = theme.style(isActive ? .mainFg : .dimFg, isActive ? .bold : [])
            var name = layer.name
            if name.count > nameWidth { name = glyphs.ellipsis + String(name.suffix(nameWidth - 1)) }
            buffer.put(name, x: inner.x, y: y, style: nameStyle, maxWidth: nameWidth)
            for (c, column) in cols.enumerated() where row < column.count {
                let lv = level(score: column[row], tau: tau)
                buffer.set(heatX + c, y, glyphs.shades[lv], theme.style(levelKeys[lv]))
            }
            var x = heatX + heatWidth + 1
            let score = row < lastScores.count ? Format.number(lastScores[row]) : "-"
            buffer.put(String(repeating: " ", count: max(0, 6 - score.count)) + score, x: x, y: y,
                       style: theme.style(.mainFg), maxWidth: 6)
            x += 7
            buffer.put(isActive ? glyphs.activeMark : glyphs.inactiveMark, x: x, y: y,
                       style: theme.style(isActive ? .active : .inactive, isActive ? .bold : []))
            x += 5
            if showParams {
                let p = Format.count(layer.parameters)
                buffer.put(String(repeating: " ", count: max(0, 8 - p.count)) + p, x: x, y: y,
                           style: theme.style(.dimFg), maxWidth: 8)
            }
        }
        if shown < layers.count {
            let above = active.prefix(first).filter { $0 }.count
            let below = active.dropFirst(first + shown).filter { $0 }.count
            buffer.put("layers \(first + 1)-\(first + shown) of \(layers.count) (active: \(above) above, \(below) below)"
                       + "  j/k scroll, J/K page", x: inner.x, y: inner.y + shown, style: theme.style(.dimFg),
                       maxWidth: inner.width)
        }
    }
}
