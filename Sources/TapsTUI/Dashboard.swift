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
        let wantedHeat = max(layerCount, 1) + 3  // borders and the step-axis row
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
    GateHeatmap.drawAll(&buffer, layout.heatmap, state: state, theme: theme, glyphs: glyphs)
    EventLog.draw(&buffer, layout.events, state: state, theme: theme, glyphs: glyphs)
    StatusBar.drawHints(&buffer, y: layout.hints, width: size.width, state: state, theme: theme, glyphs: glyphs)
    if state.showLayerPanel {
        let top = layout.lossChart.y
        LayerPanel.draw(&buffer, Rect(x: 0, y: top, width: size.width, height: layout.heatmap.y - top),
                        state: state, theme: theme, glyphs: glyphs)
    }
    if state.showEventLog { EventLogOverlay.draw(&buffer, state: state, theme: theme, glyphs: glyphs) }
    if state.showHelp { HelpOverlay.draw(&buffer, state: state, theme: theme, glyphs: glyphs) }
    return finish(buffer, caps: caps)
}

/// In ASCII mode, replaces any non-ASCII character left in fixed texts (notices, hints) one for one.
private func finish(_ buffer: ScreenBuffer, caps: Capabilities) -> ScreenBuffer {
    guard caps.glyphs == .ascii else { return buffer }
    var out = buffer
    for y in 0..<out.height {
        for x in 0..<out.width {
            let c = out[x, y].character
            if c == Cell.continuationCharacter { out[x, y].character = " " }  // its wide lead became one ASCII cell
            else if !c.isASCII { out[x, y].character = Glyphs.asciiFallback(c) }
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

/// The steps the charts span: from 1 to the latest step of any run shown.
private func stepRange(_ state: DashboardState) -> ClosedRange<Double> {
    let lasts = [state.metrics.lastStep?.step ?? 1] + state.comparisons.map { $0.metrics.lastStep?.step ?? 1 }
    return 1...Double(max(2, lasts.max() ?? 1))
}

/// Style of compared run `k` (1, 2, ...): dashed, then dotted, dimmed, so runs differ without colour.
private func comparisonPattern(_ k: Int) -> LinePattern { k % 2 == 1 ? .dashed : .dotted }

private func drawLossChart(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                           glyphs: Glyphs) {
    let losses = lossSeries(state.metrics.steps)
    let mono = theme.isMonochrome
    var series = [
        ChartSeries(label: "total", points: smooth(losses.total, state), color: .loss, pattern: .solid),
        ChartSeries(label: "task", points: smooth(losses.task, state), color: .taskLoss, pattern: mono ? .dashed : .solid),
        ChartSeries(label: "\(glyphs.lambda)\(glyphs.usesBraille ? "·" : "*")P", points: losses.penalty, color: .penalty,
                    pattern: mono ? .dotted : .solid),
    ]
    if !state.comparisons.isEmpty { series = [series[0]]; series[0].pattern = .solid }  // comparing: each total
    for (k, run) in state.comparisons.enumerated() {
        series.append(ChartSeries(label: run.name,
                                  points: smooth(lossSeries(run.metrics.steps).total, state),
                                  color: .loss, pattern: comparisonPattern(k + 1), attributes: .dim))
    }
    let title = chartTitle(state.logY ? "loss (log)" : "loss", series, theme: theme, glyphs: glyphs,
                           runName: state.comparisons.isEmpty ? nil : state.runName)
    let inner = Box.draw(&buffer, rect, title: title, theme: theme, glyphs: glyphs)
    LineChart.draw(&buffer, inner, series: series, xRange: stepRange(state), axis: state.logY ? .log10 : .number,
                   xLabel: "step", markers: state.chartMarkers, theme: theme, glyphs: glyphs)
}

/// The penalty's share of the total loss at a step: lambda x P after warm-up, 0 during it (total = task + this).
func penaltyInLoss(_ s: StepEvent) -> Double { penaltyInLoss(phase: s.phase, lambda: s.lambda, penalty: s.penalty) }

/// ``penaltyInLoss(_:)`` from the fields (passing a whole StepEvent out of a buffer copies its arrays).
func penaltyInLoss(phase: StepPhase, lambda: Double, penalty: Double) -> Double { phase == .warmup ? 0 : lambda * penalty }

/// `(step, total loss)`, `(step, task loss)` and `(step, λ·P)` of every step, in one pass through the array's buffer:
/// a `map` per series copied each StepEvent with its arrays (a retain and release each), 60 000 copies per frame of a
/// 20 000-step run, the largest cost of a frame.
func lossSeries(_ steps: StepHistory) -> (total: [(x: Double, y: Double)], task: [(x: Double, y: Double)],
                                          penalty: [(x: Double, y: Double)]) {
    var total: [(x: Double, y: Double)] = [], task = total, penalty = total
    total.reserveCapacity(steps.count); task.reserveCapacity(steps.count); penalty.reserveCapacity(steps.count)
    steps.withUnsafeBufferPointer { b in
        for i in b.indices {
            let x = Double(b[i].step)
            total.append((x, b[i].loss))
            task.append((x, b[i].taskLoss))
            penalty.append((x, penaltyInLoss(phase: b[i].phase, lambda: b[i].lambda, penalty: b[i].penalty)))
        }
    }
    return (total, task, penalty)
}

/// `(step, accuracy)` of every step (one pass through the buffer, as ``lossSeries(_:)``).
func accuracySeries(_ steps: StepHistory) -> [(x: Double, y: Double)] {
    var out: [(x: Double, y: Double)] = []
    out.reserveCapacity(steps.count)
    steps.withUnsafeBufferPointer { b in for i in b.indices { out.append((Double(b[i].step), b[i].accuracy)) } }
    return out
}

private func drawAccuracyChart(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                               glyphs: Glyphs) {
    let steps = state.metrics.steps, epochs = state.metrics.epochs
    let mono = theme.isMonochrome
    var series = [
        ChartSeries(label: "val", points: epochs.map { (Double($0.step), $0.validationAccuracy) },
                    color: .validationAccuracy),
        ChartSeries(label: "train", points: epochs.map { (Double($0.step), $0.trainAccuracy) },
                    color: .trainAccuracy, pattern: mono ? .dashed : .solid),
        ChartSeries(label: "step", points: smooth(accuracySeries(steps), state),
                    color: .stepAccuracy, pattern: mono ? .dotted : .solid),
    ]
    if !state.comparisons.isEmpty { series = epochs.isEmpty ? [series[2]] : [series[0]]; series[0].pattern = .solid }
    for (k, run) in state.comparisons.enumerated() {
        let points = run.metrics.epochs.isEmpty
            ? smooth(accuracySeries(run.metrics.steps), state)
            : run.metrics.epochs.map { (Double($0.step), $0.validationAccuracy) }
        series.append(ChartSeries(label: run.name, points: points, color: .validationAccuracy,
                                  pattern: comparisonPattern(k + 1), attributes: .dim))
    }
    var title = chartTitle(state.comparisons.isEmpty ? "accuracy" : "val accuracy", series, theme: theme,
                           glyphs: glyphs, runName: state.comparisons.isEmpty ? nil : state.runName)
    if let best = epochs.map(\.validationAccuracy).filter(\.isFinite).max() {
        title.append(Span(text: "best val \(Format.percent(best))", style: theme.style(.validationAccuracy)))
    }
    let inner = Box.draw(&buffer, rect, title: title, theme: theme, glyphs: glyphs)
    LineChart.draw(&buffer, inner, series: series, xRange: stepRange(state),
                   yRange: accuracyRange(series), axis: .percent, xLabel: "step",
                   markers: state.chartMarkers, theme: theme, glyphs: glyphs)
}

/// The accuracy axis: from the finite minimum rounded down to 10% (not below 0 unless the data is) up to 100%, or
/// higher when a (malformed) value exceeds 1. Nil without finite data.
func accuracyRange(_ series: [ChartSeries]) -> ClosedRange<Double>? {
    var lo = Double.infinity, hi = -Double.infinity
    for s in series { for p in s.points where p.y.isFinite { lo = min(lo, p.y); hi = max(hi, p.y) } }
    guard lo <= hi else { return nil }
    let top = max(1, hi)
    var low = lo >= 0 ? max(0, (lo * 10).rounded(.down) / 10) : lo
    if !(low < top) { low = top - 1 }
    guard low.isFinite, top.isFinite, low < top else { return nil }
    return low...top
}

/// Per-batch values are noisy; charts show them smoothed with the weight chosen with `s`.
private func smooth(_ points: [(x: Double, y: Double)], _ state: DashboardState) -> [(x: Double, y: Double)] {
    LineChart.smoothed(points, weight: state.smoothing)
}

private func chartTitle(_ name: String, _ series: [ChartSeries], theme: Theme, glyphs: Glyphs,
                        runName: String?) -> [Span] {
    var spans = [Span(text: name, style: theme.style(.title, .bold))]
    for (i, s) in series.enumerated() {
        let mark = glyphs.usesBraille ? s.pattern.legend(glyphs)
            : String(glyphs.asciiMarkers[i % glyphs.asciiMarkers.count]) + s.pattern.legend(glyphs)
        let label = i == 0 && runName != nil ? runName! : s.label
        spans.append(Span(text: "\(mark)\(label)", style: theme.style(s.color, s.attributes)))
    }
    return spans
}
