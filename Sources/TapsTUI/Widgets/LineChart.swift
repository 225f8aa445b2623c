// TapsTUI: line charts drawn with braille dots (2x4 per cell) or, in ASCII mode, one marker per cell; NaN/Inf
// points get their own glyph and counter, markers show where lambda changed and warm-up ended.
import Foundation

/// How a line is stroked, so that lines can be told apart without colour (mono theme, NO_COLOR, compared runs).
enum LinePattern: Sendable {
    case solid, dashed, dotted

    /// Whether dot column `c` is drawn.
    func draws(column c: Int) -> Bool {
        switch self {
        case .solid: true
        case .dashed: (c / 3) % 2 == 0
        case .dotted: c % 3 == 0
        }
    }

    /// Legend sample.
    func legend(_ glyphs: Glyphs) -> String {
        guard glyphs.usesBraille else { return self == .solid ? "" : self == .dashed ? "--" : ".." }
        return self == .solid ? "━" : self == .dashed ? "╍" : "┄"
    }

    static let byIndex: [LinePattern] = [.solid, .dashed, .dotted]
}

/// One line of a chart.
struct ChartSeries {
    var label: String
    var points: [(x: Double, y: Double)]
    var color: ThemeKey
    var pattern: LinePattern = .solid
    /// Extra attributes (`.dim` for an earlier run drawn for comparison).
    var attributes: CellAttributes = []
}

/// A vertical line on a chart at a step (lambda changed, warm-up ended).
public struct ChartMarker: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case lambda, warmupOver }
    /// The first step the change applies to.
    public var step: Int
    public var kind: Kind

    public init(step: Int, kind: Kind) { self.step = step; self.kind = kind }
}

/// How to label the y axis.
enum AxisFormat {
    case number
    case percent
    /// The plotted values are log10 of the data; labels show the data (10^v).
    case log10
}

/// What a chart could not plot, for its caption.
struct ChartCounts: Equatable {
    /// Steps with a NaN or infinite value in any series (drawn as a glyph on the top row).
    var nonFinite = 0
    /// Points skipped on a log axis because they are <= 0.
    var nonPositive = 0
}

/// Line charts (public parts: the smoothing, ranges and ticks, for tests).
public enum LineChart {
    /// Width of the y-axis labels (numbers are formatted to fit it, never cut).
    static let labelWidth = 6

    /// Draws `series` into `rect` (y labels on the left, step ticks on the bottom row). The first series draws on
    /// top. `yRange` fixes the y axis; otherwise it spans the finite data with a little headroom. With `axis ==
    /// .log10` points are plotted as log10(y); points <= 0 are skipped and counted. Non-finite points are never
    /// joined to their neighbours: the line breaks there, a `×` marks their column on the top row, and a `NaN n`
    /// counter is written in the plot's top-right corner. Returns what could not be plotted.
    @discardableResult
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, series: [ChartSeries], xRange: ClosedRange<Double>,
                     yRange: ClosedRange<Double>? = nil, axis: AxisFormat, xLabel: String,
                     markers: [ChartMarker] = [], theme: Theme, glyphs: Glyphs) -> ChartCounts {
        var counts = ChartCounts()
        guard rect.width > labelWidth + 2, rect.height >= 3 else { return counts }
        let plot = Rect(x: rect.x + labelWidth, y: rect.y, width: rect.width - labelWidth, height: rect.height - 1)
        let dim = theme.style(.dimFg)

        // Values as plotted, one pass per series: each point goes to its dot column (the mean of a column is what
        // gets drawn, so long histories cost one pass, not one line segment per point); log10 on a log axis;
        // non-finite points mark their column (the line breaks there) and are counted by step.
        var plotted: [ChartSeries] = []
        var badColumns = Set<Int>()
        var badSteps = Set<Double>()
        let columnsPerCell = glyphs.usesBraille ? 2 : 1
        let dotColumns = plot.width * columnsPerCell
        let xSpan = xRange.upperBound - xRange.lowerBound
        let scale = xSpan > 0 && xSpan.isFinite ? Double(dotColumns - 1) / xSpan : 0
        for s in series {
            var sums = [Double](repeating: 0, count: dotColumns), n = [Int](repeating: 0, count: dotColumns)
            var broken = [Bool](repeating: false, count: dotColumns)
            for p in s.points {
                let f = (p.x - xRange.lowerBound) * scale
                guard f.isFinite, f >= -0.5, f < Double(dotColumns) - 0.5 else { continue }
                let c = Int(f.rounded())
                guard p.y.isFinite else {
                    badSteps.insert(p.x); broken[c] = true; badColumns.insert(c / columnsPerCell)
                    continue
                }
                if axis == .log10 {
                    guard p.y > 0 else { counts.nonPositive += 1; continue }
                    sums[c] += Foundation.log10(p.y)
                } else {
                    sums[c] += p.y
                }
                n[c] += 1
            }
            var t = s
            t.points = []
            for c in 0..<dotColumns where n[c] > 0 || broken[c] {
                let x = scale > 0 ? xRange.lowerBound + Double(c) / scale : xRange.lowerBound
                if n[c] > 0 { t.points.append((x, sums[c] / Double(n[c]))) }
                if broken[c] { t.points.append((x, .nan)) }  // breaks the line after this column's mean
            }
            plotted.append(t)
        }
        counts.nonFinite = badSteps.count
        let ys = plotted.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        guard let range = (yRange.flatMap { $0.lowerBound.isFinite && $0.upperBound.isFinite ? $0 : nil })
                ?? autoRange(ys, log: axis == .log10) else {
            let text = counts.nonFinite > 0 ? "no finite data (NaN \(counts.nonFinite))"
                : counts.nonPositive > 0 ? "no data > 0 for the log axis" : "waiting for data"
            buffer.put(text, x: plot.x + max(0, (plot.width - text.count) / 2), y: plot.y + plot.height / 2,
                       style: counts.nonFinite > 0 ? theme.style(.error, .bold) : dim, maxWidth: plot.width)
            return counts
        }

        // Y labels.
        func label(_ v: Double) -> String {
            let w = labelWidth - 1
            switch axis {
            case .percent:
                let pct = v * 100
                return pct.isFinite && abs(pct) < 1e4 ? Format.fit((pct).rounded(), width: w - 1) + "%"
                    : Format.fit(v, width: w)
            case .number: return Format.fit(v, width: w)
            case .log10: return Format.fit(pow(10, v), width: w)
            }
        }
        func putLabel(_ v: Double, y: Int) {
            buffer.put(TextWidth.rightAligned(label(v), toCells: labelWidth - 1, ellipsis: glyphs.ellipsis), x: rect.x, y: y, style: dim)
        }
        putLabel(range.upperBound, y: plot.y)
        putLabel(range.lowerBound, y: plot.maxY - 1)
        if plot.height >= 5 { putLabel((range.lowerBound + range.upperBound) / 2, y: plot.y + (plot.height - 1) / 2) }
        for y in plot.y..<plot.maxY { buffer.set(plot.x - 1, y, glyphs.usesBraille ? "┤" : "|", dim) }
        drawStepTicks(&buffer, plot: plot, y: rect.maxY - 1, xRange: xRange, xLabel: xLabel, style: dim)

        // Markers behind the lines.
        for m in markers {
            guard let c = column(of: Double(m.step), xRange: xRange, columns: plot.width) else { continue }
            let glyph: Unicode.Scalar = m.kind == .lambda ? (glyphs.usesBraille ? "┊" : ":")
                                                          : (glyphs.usesBraille ? "╎" : "'")
            let style = theme.style(m.kind == .lambda ? .lambda : .dimFg)
            for y in plot.y..<plot.maxY { buffer.set(plot.x + c, y, glyph, style) }
        }

        // Lines.
        var canvas = DotCanvas(plot: plot, braille: glyphs.usesBraille)
        for (i, s) in plotted.enumerated().reversed() {
            let marker = glyphs.asciiMarkers[i % glyphs.asciiMarkers.count]
            canvas.plot(s.points, xRange: xRange, yRange: range, marker: marker,
                        style: theme.style(s.color, s.attributes), pattern: s.pattern)
        }
        canvas.render(into: &buffer)

        // What could not be drawn.
        let bad = theme.style(.error, .bold)
        for c in badColumns where c >= 0 && c < plot.width { buffer.set(plot.x + c, plot.y, glyphs.usesBraille ? "×" : "x", bad) }
        var notes: [String] = []
        if counts.nonFinite > 0 { notes.append("NaN \(counts.nonFinite)") }
        if counts.nonPositive > 0 { notes.append("<=0 \(counts.nonPositive) skipped") }
        if !notes.isEmpty {
            let text = notes.joined(separator: " ")
            let w = min(plot.width, TextWidth.cells(text))
            buffer.put(text, x: plot.maxX - w, y: plot.y, style: bad, maxWidth: w)
        }
        return counts
    }

    /// The bottom row: the first step on the left, `xLabel LAST` on the right, and round step numbers between
    /// them where they fit (each at its column, at least two cells apart).
    static func drawStepTicks(_ buffer: inout ScreenBuffer, plot: Rect, y: Int, xRange: ClosedRange<Double>,
                              xLabel: String, style: Style) {
        let left = Format.fit(xRange.lowerBound.rounded(), width: 8)
        let right = "\(xLabel) \(Format.fit(xRange.upperBound.rounded(), width: 8))"
        buffer.put(left, x: plot.x, y: y, style: style)
        let rightX = plot.maxX - right.count
        buffer.put(right, x: rightX, y: y, style: style, maxWidth: plot.width)
        var used = plot.x + left.count + 2
        for tick in niceTicks(xRange, maxCount: max(1, plot.width / 8)) {
            guard let c = column(of: tick, xRange: xRange, columns: plot.width) else { continue }
            let text = Format.fit(tick, width: 6)
            let x = plot.x + c - text.count / 2
            guard x >= used, x + text.count + 2 <= rightX else { continue }
            buffer.put(text, x: x, y: y, style: style)
            used = x + text.count + 2
        }
    }

    /// Round values (1, 2 or 5 times a power of ten apart) strictly inside `range`.
    public static func niceTicks(_ range: ClosedRange<Double>, maxCount: Int) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span.isFinite, span > 0, maxCount > 0 else { return [] }
        let raw = span / Double(maxCount)
        let power = pow(10, (Foundation.log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        guard step > 0, step.isFinite else { return [] }
        var out: [Double] = []
        var v = (range.lowerBound / step).rounded(.down) * step + step
        while v < range.upperBound && out.count < 100 {
            if v > range.lowerBound { out.append(v) }
            v += step
        }
        return out
    }

    /// The column (0..<columns) of `x`, nil when outside the range or not finite.
    static func column(of x: Double, xRange: ClosedRange<Double>, columns: Int) -> Int? {
        guard columns > 0, x.isFinite else { return nil }
        let span = xRange.upperBound - xRange.lowerBound
        guard span.isFinite else { return nil }
        let f = span <= 0 ? 0 : (x - xRange.lowerBound) / span * Double(columns - 1)
        guard f.isFinite, f >= -0.5, f < Double(columns) - 0.5 else { return nil }
        return Int(f.rounded())
    }

    /// Debiased exponential moving average (TensorBoard's smoothing): `m = w m + (1 - w) y`, divided by
    /// `1 - w^n` so the first points are not pulled towards 0; a constant series stays constant. Non-finite values
    /// pass through unsmoothed (and leave the average alone). `weight` 0 returns the points unchanged.
    public static func smoothed(_ points: [(x: Double, y: Double)], weight: Double) -> [(x: Double, y: Double)] {
        guard weight > 0, weight < 1 else { return points }
        var m = 0.0, decay = 1.0  // decay = weight^n, kept as a running product (pow would underflow slowly)
        var first: Double?, constant = true
        return points.map { p in
            guard p.y.isFinite else { return p }
            m = weight * m + (1 - weight) * p.y
            decay = decay < 1e-300 ? 0 : decay * weight
            // Rounding can move a constant by an ulp; while every value so far is equal, return it exactly.
            if first == nil { first = p.y }
            constant = constant && p.y == first
            if constant { return p }
            let debiased = m / (1 - decay)
            return (p.x, debiased.isFinite ? debiased : p.y)
        }
    }

    /// Data range with 5% headroom; a flat series gets a unit-wide band (one decade on a log axis). Nil without
    /// finite data. A linear range of non-negative data does not go below 0.
    public static func autoRange(_ ys: [Double], log: Bool = false) -> ClosedRange<Double>? {
        let finite = ys.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return nil }
        let span = hi - lo
        if !span.isFinite { return lo...hi }
        if span < 1e-12 { return log ? (lo - 0.5)...(hi + 0.5) : (lo - 0.5)...(hi + 0.5) }
        let pad = span * 0.05
        let low = log || lo < 0 ? lo - pad : max(0, lo - pad)
        return low...(hi + pad)
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

    /// Averages the finite points falling in each dot column and joins consecutive columns with straight lines;
    /// a column holding a non-finite point breaks the line (its finite neighbours are still drawn).
    mutating func plot(_ points: [(x: Double, y: Double)], xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                       marker: Unicode.Scalar, style: Style, pattern: LinePattern = .solid) {
        guard columns > 0, rows > 0 else { return }
        var sums = Array(repeating: 0.0, count: columns), counts = Array(repeating: 0, count: columns)
        var broken = Array(repeating: false, count: columns)
        for p in points {
            guard let c = LineChart.column(of: p.x, xRange: xRange, columns: columns) else { continue }
            if p.y.isFinite { sums[c] += p.y; counts[c] += 1 } else { broken[c] = true }
        }
        let ySpan = yRange.upperBound - yRange.lowerBound
        var previous: (Int, Int)?
        for c in 0..<columns {
            if broken[c] && counts[c] == 0 { previous = nil; continue }
            guard counts[c] > 0 else { continue }
            let y = sums[c] / Double(counts[c])
            let clamped = min(max(y, yRange.lowerBound), yRange.upperBound)
            let f = ySpan > 0 && ySpan.isFinite ? (yRange.upperBound - clamped) / ySpan * Double(rows - 1) : 0
            guard f.isFinite else { previous = nil; continue }
            let r = Int(f.rounded())
            if let (pc, pr) = previous { line(from: (pc, pr), to: (c, r), marker: marker, style: style, pattern: pattern) }
            else if pattern.draws(column: c) { setDot(c, r, marker: marker, style: style) }
            previous = broken[c] ? nil : (c, r)
        }
    }

    private mutating func line(from a: (Int, Int), to b: (Int, Int), marker: Unicode.Scalar, style: Style,
                               pattern: LinePattern) {
        var (x0, y0) = a
        let (x1, y1) = b
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            if pattern.draws(column: x0) { setDot(x0, y0, marker: marker, style: style) }
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
            let ch: Unicode.Scalar = braille ? (Unicode.Scalar(0x2800 + UInt32(bits[i])) ?? "*") : markers[i]
            buffer.set(x, y, ch, styles[i] ?? Style())
        }
    }
}
