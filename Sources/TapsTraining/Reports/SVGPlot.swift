// TapsTraining: the two standalone SVG figures of sweeps and comparisons (no dependencies; well-formed XML).
import Foundation

/// Standalone SVG figures: the accuracy-versus-parameters trade-off and a layer × column activity grid.
/// Both have an opaque white background and fonts sized for slides (14-16 px at 100%).
public enum SVGPlot {
    /// One point of the trade-off plot: a single run, or the mean of several seeds with their spread.
    public struct Point: Sendable, Equatable {
        /// Task-specific parameters as a percentage of the backbone (x; the mean over seeds).
        public var percent: Double
        /// Test accuracy 0...1 (y; the mean over seeds).
        public var accuracy: Double
        public var label: String
        /// `taps` points are joined by a line in label order; `finetune` and `probe` are reference markers.
        public var kind: String
        /// The spread over seeds drawn as error bars: accuracy mean ± standard deviation, and the % of the backbone
        /// from its minimum to its maximum; nil for a single run.
        public var accuracyRange: ClosedRange<Double>?
        public var percentRange: ClosedRange<Double>?
        /// The single seeds' (percent, accuracy), drawn as small faint dots; empty for a single run.
        public var samples: [[Double]]

        public init(percent: Double, accuracy: Double, label: String, kind: String,
                    accuracyRange: ClosedRange<Double>? = nil, percentRange: ClosedRange<Double>? = nil,
                    samples: [[Double]] = []) {
            self.percent = percent; self.accuracy = accuracy; self.label = label; self.kind = kind
            self.accuracyRange = accuracyRange; self.percentRange = percentRange; self.samples = samples
        }
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private static let colors = ["taps": "#1c7ed6", "finetune": "#e8590c", "probe": "#2b8a3e"]

    /// Accuracy (y) against task-specific parameters as % of the backbone (x, **logarithmic**, decades labelled).
    /// TAPS points are joined in the given order (increasing lambda) and labelled; fine-tune is a square, probe a
    /// triangle. Markers that would cover each other (lambda 0, small lambdas and fine-tune all near 100%) are moved
    /// apart sideways, and labels are stacked with leader lines. Points with a spread get error bars. The legend
    /// lists only the kinds drawn; `tapsLegend` names the TAPS markers.
    public static func tradeoff(title: String, points: [Point], caption: String? = nil, tapsLegend: String = "TAPS (λ)") -> String {
        let w = 780.0, h = 520.0, left = 78.0, right = 110.0, top = 74.0, bottom = 100.0
        let pw = w - left - right, ph = h - top - bottom
        // x: decades covering every point (and its spread), at least 0.1% .. 100%.
        var xs: [Double] = [], ys: [Double] = []
        for p in points {
            xs.append(p.percent); ys.append(p.accuracy)
            if let r = p.percentRange { xs.append(r.lowerBound); xs.append(r.upperBound) }
            if let r = p.accuracyRange { ys.append(r.lowerBound); ys.append(r.upperBound) }
            for sample in p.samples where sample.count == 2 { xs.append(sample[0]); ys.append(sample[1]) }
        }
        xs = xs.filter { $0 > 0 }
        let lowDecade = min(-1, (log10(xs.min() ?? 1)).rounded(.down))
        // 100.7% (a delta per layer plus its score and the head) stays in the 100% decade.
        let highDecade = max(2, (log10(xs.max() ?? 100) - 0.1).rounded(.up))
        // A quarter decade of room right of the last one, for the points at ~100% and their labels.
        let axisEnd = highDecade + 0.25
        func x(_ v: Double) -> Double {
            let lv = log10(max(v, pow(10, lowDecade)))
            return left + pw * (lv - lowDecade) / (axisEnd - lowDecade)
        }
        let lowY = max(0, ((ys.min() ?? 0) * 10).rounded(.down) / 10 - 0.05)
        let highY = min(1, ((ys.max() ?? 1) * 10).rounded(.up) / 10)
        let spanY = max(highY - lowY, 0.05)
        func y(_ v: Double) -> Double { top + ph * (1 - (v - lowY) / spanY) }

        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="14">
        <title>\(xmlEscape(title))</title>
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="white"/>
        <text x="\(f(left))" y="28" font-size="17" font-weight="bold">\(xmlEscape(title))</text>

        """
        // Axes: decades labelled, 2..9 as minor ticks; accuracy every 0.05 or 0.1 with grid lines.
        for decade in Int(lowDecade)...Int(highDecade) {
            let v = pow(10, Double(decade))
            s += "<line x1=\"\(f(x(v)))\" y1=\"\(f(top))\" x2=\"\(f(x(v)))\" y2=\"\(f(top + ph + 6))\" stroke=\"#dee2e6\"/>"
            let label = decade >= 0 ? "\(Int(v))%" : String(format: "%.\(-decade)f%%", v)
            s += "<text x=\"\(f(x(v)))\" y=\"\(f(top + ph + 22))\" text-anchor=\"middle\">\(label)</text>\n"
            if decade < Int(highDecade) {
                for m in 2...9 {
                    let mx = x(Double(m) * v)
                    s += "<line x1=\"\(f(mx))\" y1=\"\(f(top + ph))\" x2=\"\(f(mx))\" y2=\"\(f(top + ph + 4))\" stroke=\"black\"/>"
                }
                s += "\n"
            }
        }
        let step = spanY > 0.3 ? 0.1 : 0.05
        var yt = (lowY / step).rounded(.up) * step
        while yt <= highY + 1e-9 {
            s += "<line x1=\"\(f(left - 5))\" y1=\"\(f(y(yt)))\" x2=\"\(f(left + pw))\" y2=\"\(f(y(yt)))\" stroke=\"#dee2e6\"/>"
            s += "<text x=\"\(f(left - 9))\" y=\"\(f(y(yt) + 5))\" text-anchor=\"end\">\(String(format: "%.2f", yt))</text>\n"
            yt += step
        }
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + ph))\" x2=\"\(f(left + pw))\" y2=\"\(f(top + ph))\" stroke=\"black\"/>"
        s += "<line x1=\"\(f(left + pw))\" y1=\"\(f(top))\" x2=\"\(f(left + pw))\" y2=\"\(f(top + ph))\" stroke=\"#dee2e6\"/>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + ph))\" stroke=\"black\"/>\n"
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(top + ph + 48))\" text-anchor=\"middle\" font-size=\"15\">task-specific parameters (% of the backbone, log scale)</text>\n"
        s += "<text x=\"20\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" font-size=\"15\" transform=\"rotate(-90 20 \(f(top + ph / 2)))\">test accuracy</text>\n"
        // Marker positions, moved apart sideways where they would overlap (groups centred on their true position).
        var px = points.map { x($0.percent) }
        let py = points.map { y($0.accuracy) }
        var grouped = Set<Int>()
        var groups: [[Int]] = []
        for i in points.indices where !grouped.contains(i) {
            var group = [i]
            for j in points.indices where j > i && !grouped.contains(j) {
                if group.contains(where: { abs(px[$0] - px[j]) < 11 && abs(py[$0] - py[j]) < 11 }) { group.append(j) }
            }
            guard group.count > 1 else { continue }
            grouped.formUnion(group)
            groups.append(group)
            let centre = group.map { px[$0] }.reduce(0, +) / Double(group.count)
            for (k, j) in group.enumerated() { px[j] = centre + (Double(k) - Double(group.count - 1) / 2) * 12 }
        }
        // A spread-out group keeps a dashed stem at its true position.
        var labelX = px.map { $0 + 9 }
        for group in groups {
            let trueX = group.map { x(points[$0].percent) }.reduce(0, +) / Double(group.count)
            let ys = group.map { py[$0] }
            s += "<line x1=\"\(f(trueX))\" y1=\"\(f(ys.min()! - 12))\" x2=\"\(f(trueX))\" y2=\"\(f(ys.max()! + 12))\" stroke=\"#868e96\" stroke-dasharray=\"3 3\"/>\n"
            let right = group.map { px[$0] }.max()! + 10
            for j in group { labelX[j] = right }
        }
        var note = caption ?? ""
        if !groups.isEmpty {
            note += (note.isEmpty ? "" : "; ") + "markers at one position are spread sideways (dashed: their true x)"
        }
        // The note, wrapped at "; " into lines that fit the width.
        var lines: [String] = [], line = ""
        for part in note.components(separatedBy: "; ") where !part.isEmpty {
            let candidate = line.isEmpty ? part : line + "; " + part
            if Double(candidate.count) * 6.6 > w - left - 10 && !line.isEmpty { lines.append(line + ";"); line = part } else { line = candidate }
        }
        if !line.isEmpty { lines.append(line) }
        for (k, text) in lines.enumerated() {
            s += "<text x=\"\(f(left))\" y=\"\(f(h - 12 - 16 * Double(lines.count - 1 - k)))\" font-size=\"12\" fill=\"#495057\">\(xmlEscape(text))</text>\n"
        }
        // Single seeds (faint), then spreads, then the line and the markers.
        for (i, p) in points.enumerated() {
            let color = colors[p.kind] ?? "#495057"
            for sample in p.samples where sample.count == 2 {
                s += "<circle cx=\"\(f(x(sample[0]) + px[i] - x(p.percent)))\" cy=\"\(f(y(sample[1])))\" r=\"2.5\" fill=\"\(color)\" fill-opacity=\"0.35\"/>\n"
            }
            if let r = p.accuracyRange {
                s += "<line x1=\"\(f(px[i]))\" y1=\"\(f(y(r.lowerBound)))\" x2=\"\(f(px[i]))\" y2=\"\(f(y(r.upperBound)))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
                for v in [r.lowerBound, r.upperBound] {
                    s += "<line x1=\"\(f(px[i] - 4))\" y1=\"\(f(y(v)))\" x2=\"\(f(px[i] + 4))\" y2=\"\(f(y(v)))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
                }
                s += "\n"
            }
            if let r = p.percentRange, r.upperBound > r.lowerBound {
                let dx = px[i] - x(p.percent)
                s += "<line x1=\"\(f(x(r.lowerBound) + dx))\" y1=\"\(f(py[i]))\" x2=\"\(f(x(r.upperBound) + dx))\" y2=\"\(f(py[i]))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
            }
        }
        let tapsIndices = points.indices.filter { points[$0].kind == "taps" }
        if tapsIndices.count > 1 {
            s += "<polyline fill=\"none\" stroke=\"#1c7ed6\" stroke-width=\"1.5\" points=\""
                + tapsIndices.map { "\(f(px[$0])),\(f(py[$0]))" }.joined(separator: " ") + "\"/>\n"
        }
        var placed: [(x: Double, y: Double, width: Double)] = []
        for (i, p) in points.enumerated() {
            let (cx, cy) = (px[i], py[i])
            switch p.kind {
            case "finetune":
                s += "<rect x=\"\(f(cx - 5.5))\" y=\"\(f(cy - 5.5))\" width=\"11\" height=\"11\" fill=\"#e8590c\" stroke=\"white\"/>\n"
            case "probe":
                s += "<polygon points=\"\(f(cx)),\(f(cy - 7)) \(f(cx - 7)),\(f(cy + 6)) \(f(cx + 7)),\(f(cy + 6))\" fill=\"#2b8a3e\" stroke=\"white\"/>\n"
            default:
                s += "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"5\" fill=\"#1c7ed6\" stroke=\"white\"/>\n"
            }
            // Labels right of their point, moved down past any label already placed there (clustered points).
            let width = Double(p.label.count) * 7.5
            let lx = labelX[i]
            var ly = cy + 5
            while placed.contains(where: { abs($0.y - ly) < 15 && lx < $0.x + $0.width && $0.x < lx + width }) { ly += 15 }
            placed.append((lx, ly, width))
            if abs(ly - (cy + 5)) > 1 || lx > cx + 10 {
                s += "<line x1=\"\(f(cx + 4))\" y1=\"\(f(cy + 2))\" x2=\"\(f(lx - 1))\" y2=\"\(f(ly - 5))\" stroke=\"#adb5bd\"/>\n"
            }
            s += "<text x=\"\(f(lx))\" y=\"\(f(ly))\" font-size=\"13\">\(xmlEscape(p.label))</text>\n"
        }
        // Legend: one row between the title and the plot.
        let ly = top - 22
        var lx = left
        let kinds = Set(points.map(\.kind))
        if kinds.isEmpty || kinds.contains(where: { $0 != "finetune" && $0 != "probe" }) {   // circles: TAPS (and any other kind)
            s += "<circle cx=\"\(f(lx + 5))\" cy=\"\(f(ly))\" r=\"5\" fill=\"#1c7ed6\"/><text x=\"\(f(lx + 15))\" y=\"\(f(ly + 5))\">\(xmlEscape(tapsLegend))</text>\n"
            lx += max(100, Double(tapsLegend.count) * 8 + 30)
        }
        if kinds.contains("finetune") {
            s += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 5.5))\" width=\"11\" height=\"11\" fill=\"#e8590c\"/><text x=\"\(f(lx + 17))\" y=\"\(f(ly + 5))\">fine-tune</text>\n"
            lx += 100
        }
        if kinds.contains("probe") {
            s += "<polygon points=\"\(f(lx + 6)),\(f(ly - 7)) \(f(lx - 1)),\(f(ly + 6)) \(f(lx + 13)),\(f(ly + 6))\" fill=\"#2b8a3e\"/><text x=\"\(f(lx + 19))\" y=\"\(f(ly + 5))\">probe</text>\n"
            lx += 80
        }
        if points.contains(where: { $0.accuracyRange != nil }) {
            s += "<line x1=\"\(f(lx + 5))\" y1=\"\(f(ly - 9))\" x2=\"\(f(lx + 5))\" y2=\"\(f(ly + 9))\" stroke=\"#495057\" stroke-width=\"1.5\"/>"
            s += "<text x=\"\(f(lx + 15))\" y=\"\(f(ly + 5))\">mean ± sd</text>\n"
            lx += 105
            s += "<circle cx=\"\(f(lx + 5))\" cy=\"\(f(ly))\" r=\"2.5\" fill=\"#495057\" fill-opacity=\"0.35\"/>"
            s += "<text x=\"\(f(lx + 15))\" y=\"\(f(ly + 5))\">single seeds</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// A grid with one row per layer and one column per run/setting: filled cells are active (task-specific) layers,
    /// outlined cells shared ones, and missing cells (a layer the run does not have) are left blank.
    public static func layerGrid(title: String, rows: [String], columns: [String], active: [[Bool?]],
                                 caption: String? = nil) -> String {
        layerShareGrid(title: title, rows: rows, columns: columns,
                       shares: active.map { $0.map { $0.map { $0 ? 1 : 0 } } }, seeds: 1, caption: caption)
    }

    /// The grid of ``layerGrid(title:rows:columns:active:caption:)`` where each cell is the share of `seeds` runs in
    /// which the layer is active (0...1): the fill's strength shows the share and, for several seeds, the cell says
    /// `k/n`. Sized for slides: 36 px cells, 15 px text, a legend.
    public static func layerShareGrid(title: String, rows: [String], columns: [String], shares: [[Double?]], seeds: Int,
                                      caption: String? = nil) -> String {
        let cell = 36.0, charWidth = 9.0
        let left = max(150.0, Double(rows.map(\.count).max() ?? 10) * charWidth + 24)
        let top = 48.0
        let longest = Double(columns.map(\.count).max() ?? 4)
        let rotate = longest * charWidth > cell
        let colLabelHeight = rotate ? max(40.0, longest * charWidth * 0.87 + 14) : 28
        let legendHeight = 34.0
        let w = max(left + cell * Double(columns.count) + 40, Double((caption?.count ?? 0)) * 7.2 + 24,
                    Double(title.count) * 10 + 24, 420)
        let gridTop = top + colLabelHeight
        let h = gridTop + cell * Double(rows.count) + legendHeight + (caption == nil ? 16 : 36)
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="15">
        <title>\(xmlEscape(title))</title>
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="white"/>
        <text x="12" y="28" font-size="17" font-weight="bold" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\(xmlEscape(title))</text>

        """
        for (j, c) in columns.enumerated() {
            let cx = left + cell * (Double(j) + 0.5)
            if rotate {
                s += "<text x=\"\(f(cx))\" y=\"\(f(gridTop - 8))\" transform=\"rotate(-60 \(f(cx)) \(f(gridTop - 8)))\">\(xmlEscape(c))</text>\n"
            } else {
                s += "<text x=\"\(f(cx))\" y=\"\(f(gridTop - 10))\" text-anchor=\"middle\">\(xmlEscape(c))</text>\n"
            }
        }
        for (i, r) in rows.enumerated() {
            let y = gridTop + cell * Double(i)
            if i % 2 == 1 {
                s += "<rect x=\"6\" y=\"\(f(y))\" width=\"\(f(left + cell * Double(columns.count) - 2))\" height=\"\(f(cell))\" fill=\"#f1f3f5\"/>\n"
            }
            s += "<text x=\"12\" y=\"\(f(y + cell / 2 + 5))\">\(xmlEscape(r))</text>\n"
            for j in columns.indices {
                let x = left + cell * Double(j)
                guard let share = (i < shares.count && j < shares[i].count) ? shares[i][j] : nil else { continue }
                let what = share >= 1 ? "active" : share <= 0 ? "shared" : "active in \(Int((share * Double(seeds)).rounded()))/\(seeds) seeds"
                let tip = "<title>\(xmlEscape(r)) \(what) in \(xmlEscape(columns[j]))</title>"
                s += "<rect x=\"\(f(x + 3))\" y=\"\(f(y + 3))\" width=\"\(f(cell - 6))\" height=\"\(f(cell - 6))\" rx=\"3\" "
                if share <= 0 {
                    s += "fill=\"white\" stroke=\"#868e96\" stroke-width=\"1.5\">\(tip)</rect>\n"
                } else {
                    s += "fill=\"#2b8a3e\" fill-opacity=\"\(String(format: "%.2f", 0.25 + 0.75 * share))\" stroke=\"#2b8a3e\" stroke-width=\"1.5\">\(tip)</rect>\n"
                }
                if seeds > 1 && share > 0 && share < 1 {
                    s += "<text x=\"\(f(x + cell / 2))\" y=\"\(f(y + cell / 2 + 4))\" text-anchor=\"middle\" font-size=\"11\">\(Int((share * Double(seeds)).rounded()))/\(seeds)</text>\n"
                }
            }
        }
        // Legend.
        let ly = gridTop + cell * Double(rows.count) + 12
        s += "<rect x=\"12\" y=\"\(f(ly))\" width=\"18\" height=\"18\" rx=\"3\" fill=\"#2b8a3e\"/>"
        s += "<text x=\"36\" y=\"\(f(ly + 14))\" font-size=\"13\" font-family=\"DejaVu Sans, sans-serif\">active (task-specific)</text>"
        s += "<rect x=\"210\" y=\"\(f(ly))\" width=\"18\" height=\"18\" rx=\"3\" fill=\"white\" stroke=\"#868e96\" stroke-width=\"1.5\"/>"
        s += "<text x=\"234\" y=\"\(f(ly + 14))\" font-size=\"13\" font-family=\"DejaVu Sans, sans-serif\">shared with the base</text>\n"
        if let caption {
            s += "<text x=\"12\" y=\"\(f(h - 12))\" font-size=\"12\" fill=\"#495057\" font-family=\"DejaVu Sans, sans-serif\">\(xmlEscape(caption))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
