// TapsTUI: line charts drawn with braille dots (2x4 per cell) or, in ASCII mode, one marker per cell.
import Foundation

/// One line of a chart.
struct ChartSeries {
    var label: String
    var points: [(x: Double, y: Double)]
    var color: ThemeKey
}

/// How to label the y axis.
enum AxisFormat {
    case number
    case percent
}

enum LineChart {
    /// Draws `series` into `rect` (y labels on the left, x labels on the bottom row). The first series draws on top.
    /// `yRange` fixes the y axis; otherwise it spans the data with a little headroom.
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, series: [ChartSeries], xRange: ClosedRange<Double>,
                     yRange: ClosedRange<Double>? = nil, axis: AxisFormat, xLabel: String,
                     theme: Theme, glyphs: Glyphs) {
        let labelWidth = 6
        guard rect.width > labelWidth + 2, rect.height >= 3 else { return }
        let plot = Rect(x: rect.x + labelWidth, y: rect.y, width: rect.width - labelWidth, height: rect.height - 1)
        let dim = theme.style(.dimFg)
        let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        guard let range = yRange ?? autoRange(ys) else {
            buffer.put("waiting for data", x: plot.x + max(0, (plot.width - 16) / 2), y: plot.y + plot.height / 2,
                       style: dim)
            return
        }

        // Axes labels.
        func label(_ v: Double) -> String {
            let s = axis == .percent ? String(format: "%.0f%%", v * 100) : Format.number(v)
            return String(s.prefix(labelWidth - 1))
        }
        let top = label(range.upperBound), bottom = label(range.lowerBound)
        buffer.put(String(repeating: " ", count: labelWidth - 1 - top.count) + top, x: rect.x, y: plot.y, style: dim)
        buffer.put(String(repeating: " ", count: labelWidth - 1 - bottom.count) + bottom, x: rect.x,
                   y: plot.maxY - 1, style: dim)
        if plot.height >= 5 {
            let mid = label((range.lowerBound + range.upperBound) / 2)
            buffer.put(String(repeating: " ", count: labelWidth - 1 - mid.count) + mid, x: rect.x,
                       y: plot.y + (plot.height - 1) / 2, style: dim)
        }
        for y in plot.y..<plot.maxY { buffer.set(plot.x - 1, y, glyphs.usesBraille ? "┤" : "|", dim) }
        let left = "\(Int(xRange.lowerBound))", right = "\(xLabel) \(Int(xRange.upperBound))"
        buffer.put(left, x: plot.x, y: rect.maxY - 1, style: dim)
        buffer.put(right, x: plot.maxX - right.count, y: rect.maxY - 1, style: dim)

        // Lines.
        var canvas = DotCanvas(plot: plot, braille: glyphs.usesBraille)
        for (i, s) in series.enumerated().reversed() {
            let marker = glyphs.asciiMarkers[i % glyphs.asciiMarkers.count]
            canvas.plot(s.points, xRange: xRange, yRange: range, marker: marker, style: theme.style(s.color))
        }
        canvas.render(into: &buffer)
    }

    /// Debiased exponential moving average (TensorBoard's smoothing): `m = w m + (1 - w) y`, divided by
    /// `1 - w^n` so the first points are not pulled towards 0. Non-finite values pass through unsmoothed.
    static func smoothed(_ points: [(x: Double, y: Double)], weight: Double) -> [(x: Double, y: Double)] {
        var m = 0.0, n = 0.0
        return points.map { p in
            guard p.y.isFinite else { return p }
            m = weight * m + (1 - weight) * p.y
            n += 1
            return (p.x, m / (1 - pow(weight, n)))
        }
    }

    /// Data range with 5% headroom; a flat series gets a unit-wide band. Nil without finite data.
    static func autoRange(_ ys: [Double]) -> ClosedRange<Double>? {
        guard let lo = ys.min(), let hi = ys.max() else { return nil }
        if hi - lo < 1e-12 { return (lo - 0.5)...(hi + 0.5) }
        let pad = (hi - lo) * 0.05
        return max(lo >= 0 ? 0 : -Double.infinity, lo - pad)...(hi + pad)
    }
}

/// A dot grid over a plot rectangle: braille (2x4 dots per cell) or ASCII (1 per cell).
struct DotCanvas {
    let plot: Rect
    let braille: Bool
    var columns: Int { plot.width * (braille ? 2 : 1) }
    var rows: Int { plot.height * (braille ? 4 : 1) }
    /// Per cell: braille dot bits (or 1 for an ASCII marker), the marker and the style of the last series drawn there.
    private var bits: [UInt8]
    private var markers: [Unicode.Scalar]
    private var styles: [Style?]

    init(plot: Rect, braille: Bool) {
        self.plot = plot; self.braille = braille
        let n = plot.width * plot.height
        bits = Array(repeating: 0, count: n); markers = Array(repeating: " ", count: n)
        styles = Array(repeating: nil, count: n)
    }

    /// Averages the points falling in each dot column and joins consecutive columns with straight lines.
    mutating func plot(_ points: [(x: Double, y: Double)], xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                       marker: Unicode.Scalar, style: Style) {
        guard columns > 0, rows > 0 else { return }
        var sums = Array(repeating: 0.0, count: columns), counts = Array(repeating: 0, count: columns)
        let xSpan = max(xRange.upperBound - xRange.lowerBound, 1e-12)
        for p in points where p.y.isFinite && p.x.isFinite {
            let c = Int(((p.x - xRange.lowerBound) / xSpan * Double(columns - 1)).rounded())
            guard c >= 0 && c < columns else { continue }
            sums[c] += p.y; counts[c] += 1
        }
        let ySpan = max(yRange.upperBound - yRange.lowerBound, 1e-12)
        var previous: (Int, Int)?
        for c in 0..<columns where counts[c] > 0 {
            let y = sums[c] / Double(counts[c])
            let clamped = min(max(y, yRange.lowerBound), yRange.upperBound)
            let r = Int(((yRange.upperBound - clamped) / ySpan * Double(rows - 1)).rounded())
            if let (pc, pr) = previous { line(from: (pc, pr), to: (c, r), marker: marker, style: style) }
            else { setDot(c, r, marker: marker, style: style) }
            previous = (c, r)
        }
    }

    private mutating func line(from a: (Int, Int), to b: (Int, Int), marker: Unicode.Scalar, style: Style) {
        var (x0, y0) = a
        let (x1, y1) = b
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            setDot(x0, y0, marker: marker, style: style)
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x0 += sx }
            if e2 <= dx { err += dx; y0 += sy }
        }
    }

    private mutating func setDot(_ c: Int, _ r: Int, marker: Unicode.Scalar, style: Style) {
        guard c >= 0, r >= 0, c < columns, r < rows else { return }
        let cell = braille ? (r / 4) * plot.width + c / 2 : r * plot.width + c
        if braille {
            let dx = c % 2, dy = r % 4
            let bit: UInt8 = dy == 3 ? (dx == 0 ? 0x40 : 0x80) : UInt8(1 << (dy + 3 * dx))
            bits[cell] |= bit
        } else {
            bits[cell] = 1
        }
        markers[cell] = marker
        styles[cell] = style
    }

    func render(into buffer: inout ScreenBuffer) {
        for i in 0..<bits.count where bits[i] != 0 {
            let x = plot.x + i % plot.width, y = plot.y + i / plot.width
            let ch: Unicode.Scalar = braille ? Unicode.Scalar(0x2800 + UInt32(bits[i]))! : markers[i]
            buffer.set(x, y, ch, styles[i] ?? Style())
        }
    }
}
