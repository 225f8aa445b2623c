// TapsTraining: the two standalone SVG figures of sweeps and comparisons (no dependencies; well-formed XML).
import Foundation

/// Standalone SVG figures: the accuracy-versus-parameters trade-off and a layer × column activity grid.
public enum SVGPlot {
    /// One point of the trade-off plot.
    public struct Point: Sendable, Equatable {
        /// Task-specific parameters as a percentage of the backbone (x).
        public var percent: Double
        /// Test accuracy 0...1 (y).
        public var accuracy: Double
        public var label: String
        /// `taps` points are joined by a line in label order; `finetune` and `probe` are reference markers.
        public var kind: String
        public init(percent: Double, accuracy: Double, label: String, kind: String) {
            self.percent = percent; self.accuracy = accuracy; self.label = label; self.kind = kind
        }
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Accuracy (y) against task-specific parameters as % of the backbone (x). TAPS points are joined in the given
    /// order (increasing lambda) and labelled; fine-tune is a square, probe a triangle, each labelled.
    public static func tradeoff(title: String, points: [Point]) -> String {
        let w = 680.0, h = 420.0, left = 64.0, right = 80.0, top = 40.0, bottom = 56.0
        let pw = w - left - right, ph = h - top - bottom
        let maxX = max(100, (points.map(\.percent).max() ?? 100) * 1.05)
        let accs = points.map(\.accuracy)
        let lowY = max(0, ((accs.min() ?? 0) * 10).rounded(.down) / 10 - 0.05)
        let highY = min(1, ((accs.max() ?? 1) * 10).rounded(.up) / 10)
        let spanY = max(highY - lowY, 0.05)
        func x(_ v: Double) -> Double { left + pw * v / maxX }
        func y(_ v: Double) -> Double { top + ph * (1 - (v - lowY) / spanY) }
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif" font-size="12">
        <title>\(xmlEscape(title))</title>
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="white"/>
        <text x="\(f(left))" y="22" font-size="14">\(xmlEscape(title))</text>
        <line x1="\(f(left))" y1="\(f(top + ph))" x2="\(f(left + pw))" y2="\(f(top + ph))" stroke="black"/>
        <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(top + ph))" stroke="black"/>

        """
        // Axes: ticks every 20% of the backbone and every 0.05 (or 0.1) of accuracy.
        var tick = 0.0
        while tick <= maxX + 1e-9 {
            s += "<line x1=\"\(f(x(tick)))\" y1=\"\(f(top + ph))\" x2=\"\(f(x(tick)))\" y2=\"\(f(top + ph + 5))\" stroke=\"black\"/>"
            s += "<text x=\"\(f(x(tick)))\" y=\"\(f(top + ph + 18))\" text-anchor=\"middle\">\(Int(tick))%</text>\n"
            tick += 20
        }
        let step = spanY > 0.3 ? 0.1 : 0.05
        var yt = (lowY / step).rounded(.up) * step
        while yt <= highY + 1e-9 {
            s += "<line x1=\"\(f(left - 5))\" y1=\"\(f(y(yt)))\" x2=\"\(f(left + pw))\" y2=\"\(f(y(yt)))\" stroke=\"#dee2e6\"/>"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(y(yt) + 4))\" text-anchor=\"end\">\(String(format: "%.2f", yt))</text>\n"
            yt += step
        }
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(h - 12))\" text-anchor=\"middle\">task-specific parameters (% of the backbone)</text>\n"
        s += "<text x=\"16\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + ph / 2)))\">test accuracy</text>\n"
        let taps = points.filter { $0.kind == "taps" }
        if taps.count > 1 {
            s += "<polyline fill=\"none\" stroke=\"#1c7ed6\" stroke-width=\"1.5\" points=\""
                + taps.map { "\(f(x($0.percent))),\(f(y($0.accuracy)))" }.joined(separator: " ") + "\"/>\n"
        }
        var placed: [(x: Double, y: Double, width: Double)] = []
        for p in points {
            let px = x(p.percent), py = y(p.accuracy)
            switch p.kind {
            case "finetune":
                s += "<rect x=\"\(f(px - 5))\" y=\"\(f(py - 5))\" width=\"10\" height=\"10\" fill=\"#e8590c\"/>\n"
            case "probe":
                s += "<polygon points=\"\(f(px)),\(f(py - 6)) \(f(px - 6)),\(f(py + 5)) \(f(px + 6)),\(f(py + 5))\" fill=\"#2b8a3e\"/>\n"
            default:
                s += "<circle cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"4\" fill=\"#1c7ed6\"/>\n"
            }
            // Labels right of their point, moved down past any label already placed there (clustered points).
            let width = Double(p.label.count) * 6.5
            var ly = py + 4
            while placed.contains(where: { abs($0.y - ly) < 12 && px + 7 < $0.x + $0.width && $0.x < px + 7 + width }) { ly += 12 }
            placed.append((px + 7, ly, width))
            if abs(ly - (py + 4)) > 1 {
                s += "<line x1=\"\(f(px + 3))\" y1=\"\(f(py))\" x2=\"\(f(px + 7))\" y2=\"\(f(ly - 4))\" stroke=\"#adb5bd\"/>\n"
            }
            s += "<text x=\"\(f(px + 7))\" y=\"\(f(ly))\" font-size=\"11\">\(xmlEscape(p.label))</text>\n"
        }
        let legendY = top + 6
        s += "<circle cx=\"\(f(left + pw - 150))\" cy=\"\(f(legendY))\" r=\"4\" fill=\"#1c7ed6\"/><text x=\"\(f(left + pw - 140))\" y=\"\(f(legendY + 4))\">TAPS (lambda)</text>\n"
        s += "<rect x=\"\(f(left + pw - 155))\" y=\"\(f(legendY + 11))\" width=\"10\" height=\"10\" fill=\"#e8590c\"/><text x=\"\(f(left + pw - 140))\" y=\"\(f(legendY + 20))\">fine-tune</text>\n"
        s += "<polygon points=\"\(f(left + pw - 150)),\(f(legendY + 26)) \(f(left + pw - 156)),\(f(legendY + 37)) \(f(left + pw - 144)),\(f(legendY + 37))\" fill=\"#2b8a3e\"/><text x=\"\(f(left + pw - 140))\" y=\"\(f(legendY + 36))\">probe</text>\n"
        s += "</svg>\n"
        return s
    }

    /// A grid with one row per layer and one column per run/setting: filled cells are active (task-specific) layers,
    /// outlined cells shared ones, and missing cells (a layer the run does not have) are left blank.
    public static func layerGrid(title: String, rows: [String], columns: [String], active: [[Bool?]],
                                 caption: String? = nil) -> String {
        let cell = 28.0, left = max(140.0, Double((rows.map(\.count).max() ?? 10) * 8 + 20)), top = 48.0
        let colLabelHeight = max(40.0, Double((columns.map(\.count).max() ?? 4) * 7 + 10))
        let w = max(left + cell * Double(columns.count) + 24, Double((caption?.count ?? 0) * 7 + 20), Double(title.count * 9 + 20))
        let h = top + colLabelHeight + cell * Double(rows.count) + (caption == nil ? 16 : 36)
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="monospace" font-size="12">
        <title>\(xmlEscape(title))</title>
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="white"/>
        <text x="10" y="22" font-size="14">\(xmlEscape(title))</text>

        """
        let gridTop = top + colLabelHeight
        for (j, c) in columns.enumerated() {
            let cx = left + cell * (Double(j) + 0.5)
            s += "<text x=\"\(f(cx))\" y=\"\(f(gridTop - 6))\" transform=\"rotate(-60 \(f(cx)) \(f(gridTop - 6)))\">\(xmlEscape(c))</text>\n"
        }
        for (i, r) in rows.enumerated() {
            let y = gridTop + cell * Double(i)
            s += "<text x=\"10\" y=\"\(f(y + cell / 2 + 4))\">\(xmlEscape(r))</text>\n"
            for j in columns.indices {
                let x = left + cell * Double(j)
                guard let on = (i < active.count && j < active[i].count) ? active[i][j] : nil else { continue }
                s += "<rect x=\"\(f(x + 2))\" y=\"\(f(y + 2))\" width=\"\(f(cell - 4))\" height=\"\(f(cell - 4))\" "
                s += on ? "fill=\"#2b8a3e\"><title>\(xmlEscape(r)) active in \(xmlEscape(columns[j]))</title></rect>\n"
                        : "fill=\"white\" stroke=\"#868e96\"><title>\(xmlEscape(r)) shared in \(xmlEscape(columns[j]))</title></rect>\n"
            }
        }
        if let caption {
            s += "<text x=\"10\" y=\"\(f(h - 12))\" font-size=\"11\">\(xmlEscape(caption))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
