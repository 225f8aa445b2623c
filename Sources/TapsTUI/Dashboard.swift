// TapsTUI: layout and the pure render function, state -> cell buffer.
import TapsTraining

/// Where each panel goes for a terminal size.
public struct DashboardLayout: Equatable, Sendable {
    public var runLine: Int
    public var modelLine: Int
    public var lossChart: Rect
    public var accuracyChart: Rect
    public var heatmap: Rect
    public var events: Rect
    public var hints: Int
    /// The suite's task line (nil for a single run).
    public var suiteLine: Int?

    /// The smallest terminal the dashboard draws into; below it a "terminal too small" message is shown.
    public static let minimumSize = Size(width: 50, height: 16)

    /// Lays out the panels: two status lines, loss and accuracy charts side by side, the gate heatmap (one row per
    /// layer, growing with the layer count), the event log (more lines on tall terminals) and the key hints.
    /// With `suite`, a line under the status lines lists the suite's tasks.
    public init(size: Size, layerCount: Int, suite: Bool = false) {
        let w = size.width, h = size.height
        runLine = 0
        modelLine = 1
        suiteLine = suite ? 2 : nil
        hints = h - 1
        let eventLines = h >= 40 ? 4 : h >= 30 ? 2 : 1
        events = Rect(x: 1, y: h - 1 - eventLines, width: w - 2, height: eventLines)
        let middleTop = suite ? 3 : 2, middleHeight = events.y - middleTop
        let minChart = 7
        let wantedHeat = max(layerCount, 1) + 2
        let heatHeight = max(4, min(wantedHeat, middleHeight - minChart))
        let chartHeight = middleHeight - heatHeight
        let leftWidth = w / 2
        lossChart = Rect(x: 0, y: middleTop, width: leftWidth, height: chartHeight)
        accuracyChart = Rect(x: leftWidth, y: middleTop, width: w - leftWidth, height: chartHeight)
        heatmap = Rect(x: 0, y: middleTop + chartHeight, width: w, height: heatHeight)
    }
}

/// Renders the whole dashboard for `state` into a new buffer of `size`. Pure: same inputs, same cells.
public func render(_ state: DashboardState, size: Size, theme: Theme, caps: Capabilities) -> ScreenBuffer {
    let glyphs = Glyphs.of(caps.glyphs)
    var buffer = ScreenBuffer(size: size, fill: Cell(" ", fg: theme[.mainFg], bg: theme[.mainBg]))
    guard size.width >= DashboardLayout.minimumSize.width, size.height >= DashboardLayout.minimumSize.height else {
        drawTooSmall(&buffer, theme: theme)
        return finish(buffer, caps: caps)
    }
    let layout = DashboardLayout(size: size, layerCount: state.metrics.start?.layers.count ?? 0, suite: state.suite != nil)
    StatusBar.drawRunLine(&buffer, y: layout.runLine, width: size.width, state: state, theme: theme, glyphs: glyphs)
    StatusBar.drawModelLine(&buffer, y: layout.modelLine, width: size.width, state: state, theme: theme,
                            glyphs: glyphs)
    if let y = layout.suiteLine, let tabs = state.suite {
        SuiteTabsLine.draw(&buffer, y: y, width: size.width, tabs: tabs, theme: theme, glyphs: glyphs)
    }
    drawLossChart(&buffer, layout.lossChart, state: state, theme: theme, glyphs: glyphs)
    drawAccuracyChart(&buffer, layout.accuracyChart, state: state, theme: theme, glyphs: glyphs)
    GateHeatmap.draw(&buffer, layout.heatmap, state: state, theme: theme, glyphs: glyphs)
    EventLog.draw(&buffer, layout.events, state: state, theme: theme, glyphs: glyphs)
    StatusBar.drawHints(&buffer, y: layout.hints, width: size.width, state: state, theme: theme)
    if state.showHelp { HelpOverlay.draw(&buffer, state: state, theme: theme, glyphs: glyphs) }
    return finish(buffer, caps: caps)
}

/// In ASCII mode, replaces any non-ASCII character left in fixed texts (notices, hints) one for one.
private func finish(_ buffer: ScreenBuffer, caps: Capabilities) -> ScreenBuffer {
    guard caps.glyphs == .ascii else { return buffer }
    var out = buffer
    for y in 0..<out.height {
        for x in 0..<out.width where !out[x, y].character.isASCII {
            out[x, y].character = Glyphs.asciiFallback(out[x, y].character)
        }
    }
    return out
}

private func drawTooSmall(_ buffer: inout ScreenBuffer, theme: Theme) {
    let min = DashboardLayout.minimumSize
    let lines = ["terminal too small", "\(buffer.width)x\(buffer.height) < \(min.width)x\(min.height)",
                 "enlarge or press q"]
    let top = max(0, (buffer.height - lines.count) / 2)
    for (i, line) in lines.enumerated() {
        let text = String(line.prefix(buffer.width))
        buffer.put(text, x: max(0, (buffer.width - text.count) / 2), y: top + i,
                   style: theme.style(i == 0 ? .error : .mainFg, i == 0 ? .bold : []))
    }
}

// MARK: - Chart panels

private func stepRange(_ state: DashboardState) -> ClosedRange<Double> {
    let last = Double(state.metrics.lastStep?.step ?? 1)
    return 1...max(2, last)
}

private func drawLossChart(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                           glyphs: Glyphs) {
    let steps = state.metrics.steps
    let series = [
        ChartSeries(label: "total", points: smooth(steps.map { (Double($0.step), $0.loss) }), color: .loss),
        ChartSeries(label: "task", points: smooth(steps.map { (Double($0.step), $0.taskLoss) }), color: .taskLoss),
        ChartSeries(label: "penalty", points: steps.map { (Double($0.step), $0.penalty) }, color: .penalty),
    ]
    let inner = Box.draw(&buffer, rect, title: chartTitle("loss", series, theme: theme, glyphs: glyphs),
                         theme: theme, glyphs: glyphs)
    LineChart.draw(&buffer, inner, series: series, xRange: stepRange(state), axis: .number, xLabel: "step",
                   theme: theme, glyphs: glyphs)
}

private func drawAccuracyChart(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                               glyphs: Glyphs) {
    let steps = state.metrics.steps, epochs = state.metrics.epochs
    let series = [
        ChartSeries(label: "val", points: epochs.map { (Double($0.step), $0.validationAccuracy) },
                    color: .validationAccuracy),
        ChartSeries(label: "train", points: epochs.map { (Double($0.step), $0.trainAccuracy) },
                    color: .trainAccuracy),
        ChartSeries(label: "step", points: smooth(steps.map { (Double($0.step), $0.accuracy) }),
                    color: .stepAccuracy),
    ]
    var title = chartTitle("accuracy", series, theme: theme, glyphs: glyphs)
    if let best = epochs.map(\.validationAccuracy).max() {
        title.append(Span(text: "best val \(Format.percent(best))", style: theme.style(.validationAccuracy)))
    }
    let inner = Box.draw(&buffer, rect, title: title, theme: theme, glyphs: glyphs)
    let ys = series.flatMap { $0.points.map(\.y) }
    let low = ys.min().map { max(0, (($0 * 10).rounded(.down)) / 10) } ?? 0
    LineChart.draw(&buffer, inner, series: series, xRange: stepRange(state),
                   yRange: ys.isEmpty ? nil : low...1, axis: .percent, xLabel: "step", theme: theme, glyphs: glyphs)
}

/// Per-batch values are noisy; charts show them smoothed (weight 0.8, about the last 5 steps).
private func smooth(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
    LineChart.smoothed(points, weight: 0.8)
}

private func chartTitle(_ name: String, _ series: [ChartSeries], theme: Theme, glyphs: Glyphs) -> [Span] {
    var spans = [Span(text: name, style: theme.style(.title, .bold))]
    for (i, s) in series.enumerated() {
        let mark = glyphs.usesBraille ? glyphs.seriesMark : glyphs.asciiMarkers[i % glyphs.asciiMarkers.count]
        spans.append(Span(text: "\(mark)\(s.label)", style: theme.style(s.color)))
    }
    return spans
}
