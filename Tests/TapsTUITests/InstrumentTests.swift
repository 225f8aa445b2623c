// TapsTUITests: the dashboard as a researcher's instrument (issue 12): honest numbers (NaN/Inf, formatting that
// fits, wide names), markers, views (smoothing, log axis), the layer panel, exact lambda, comparing runs.
import Foundation
import Testing
import TapsTraining
import TapsTUI

/// Hand-made metrics for the cases a trainer rarely produces.
enum Odd {
    static func start(layers: [LayerInfo] = Fixture.layers, task: String = "fashion") -> RunStartEvent {
        RunStartEvent(task: task, mode: .taps, base: "digitcnn", lambda: 0.3, tau: 0.1, epochs: 3, warmupEpochs: 1,
                      stepsPerEpoch: 20, batchSize: 32, seed: 1, layers: layers, backboneParameters: 388_416,
                      runDirectory: "runs/odd", time: 0)
    }

    static func step(_ i: Int, loss: Double, accuracy: Double = 0.5, scores: [Double] = [0.2, 0.05, 0.15, 0.3],
                     phase: StepPhase? = nil, lambda: Double = 0.3, penalty: Double = 0.1) -> StepEvent {
        StepEvent(step: i, epoch: (i - 1) / 20 + 1, phase: phase ?? (i <= 20 ? .warmup : .sparsify), loss: loss,
                  taskLoss: loss.isFinite ? loss - 0.03 : loss, penalty: penalty, lambda: lambda, accuracy: accuracy,
                  learningRate: 0.01, scores: scores, active: scores.map { $0 >= 0.1 }, samplesPerSecond: 500,
                  elapsed: Double(i) * 0.05)
    }

    /// 60 steps; steps 30-32 have a NaN/Inf loss and a NaN score; the accuracy of one epoch is above 1 and of
    /// another infinite (a malformed file must not trap the chart's range).
    static func nanRun() -> MetricsSnapshot {
        var m = MetricsSnapshot()
        m.apply(.start(start()))
        for i in 1...60 {
            let loss: Double = i == 30 ? .nan : i == 31 ? .infinity : i == 32 ? -.infinity : 2.0 - Double(i) / 60
            var scores = [0.2, 0.05, 0.15, 0.3]
            if i == 31 { scores[1] = .nan }
            m.apply(.step(step(i, loss: loss, scores: scores)))
        }
        m.apply(.epoch(EpochEvent(epoch: 1, step: 20, trainLoss: 1, trainAccuracy: 1.5, validationAccuracy: .infinity,
                                  activeLayers: 3, seconds: 1)))
        m.apply(.epoch(EpochEvent(epoch: 2, step: 40, trainLoss: 1, trainAccuracy: 0.7, validationAccuracy: .nan,
                                  activeLayers: 3, seconds: 1)))
        return m
    }
}

@Suite struct HonestNumberTests {
    let unicode = Capabilities(glyphs: .unicode, colorDepth: .palette256)

    @Test(arguments: [
        (1_434_567.0, 4, "1.4M"), (7_010_000.0, 5, "7.01M"), (-4.8612, 4, "-4.9"), (-4.8612, 6, "-4.861"),
        (0.000123, 5, "1e-4"), (1.5e20, 5, "2e20"), (Double.nan, 6, "NaN"), (-Double.infinity, 6, "-inf"),
        (0.375, 6, "0.375"), (12.5, 6, "12.5"), (7.0e6, 5, "7.00M"),
    ])
    func fitsWithoutCutting(value: Double, width: Int, expected: String) {
        #expect(Format.fit(value, width: width) == expected)
    }

    @Test func everyFitIsWithinItsWidthAndStillTheNumber() {
        for exponent in -12...18 {
            for mantissa in [1.0, 1.4999, -4.86, 7.01, 9.999] {
                let v = mantissa * pow(10, Double(exponent))
                for width in 3...9 {
                    let s = Format.fit(v, width: width)
                    #expect(s.count <= width, "\(v) in \(width): \(s)")
                    guard !s.hasPrefix("#") else { continue }
                    // Parse back (SI suffixes expanded): within the precision that fits.
                    let scale: [Character: Double] = ["k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
                    var body = s, factor = 1.0
                    if let last = s.last, let f = scale[last] { body = String(s.dropLast()); factor = f }
                    guard let parsed = Double(body).map({ $0 * factor }) else {
                        Issue.record("\(v) in \(width): '\(s)' is not a number"); continue
                    }
                    #expect(abs(parsed - v) <= abs(v) * 0.51 + 1e-300, "\(v) in \(width): \(s)")
                    #expect(parsed.sign == v.sign || parsed == 0, "\(v) in \(width): \(s) lost its sign")
                }
            }
        }
    }

    @Test func fullWidthHexDigitsAreRejectedNotTrapped() {
        #expect(RGB(hex: "#１２３") == nil)
        #expect(RGB(hex: "#１２３４５６") == nil)
        #expect(RGB(hex: "#a1b") == RGB(0xAA, 0x11, 0xBB))
        #expect(throws: ThemeError.self) { try Theme.parse("theme[loss]=\"#１２３\"", name: "wide") }
    }

    @Test func nanAndInfinityGetAGlyphAndACounterAndNothingTraps() throws {
        var state = DashboardState(metrics: Odd.nanRun(), readOnly: true)
        state.smoothing = 0
        for size in [Size(width: 80, height: 24), Size(width: 200, height: 60), Size(width: 50, height: 16)] {
            let buffer = render(state, size: size, theme: .builtInDefault, caps: unicode)
            let text = buffer.text
            #expect(text.contains("NaN 3"), "loss chart counts the 3 non-finite steps at \(size)")
            #expect(text.contains("×"), "a NaN glyph at \(size)")
        }
        let buffer = render(state, size: Size(width: 80, height: 24), theme: .builtInDefault, caps: unicode)
        try assertSnapshot(buffer, named: "nan-80x24")
        try assertSnapshot(render(state, size: Size(width: 200, height: 60), theme: .builtInDefault, caps: unicode),
                           named: "nan-200x60")
        // Finite points on both sides of the NaN steps are still drawn: braille in the loss plot left and right of
        // the middle.
        let lossRows = buffer.lines[3..<12].map { Array($0.unicodeScalars.prefix(40)) }
        let braille = { (s: Unicode.Scalar) in (0x2801...0x28FF).contains(s.value) }
        #expect(lossRows.contains { row in row.prefix(20).contains(where: braille) })
        #expect(lossRows.contains { row in row.dropFirst(24).contains(where: braille) })
    }

    @Test func accuracyAboveOneOrInfiniteDoesNotTrapTheRange() {
        var m = MetricsSnapshot()
        m.apply(.start(Odd.start()))
        m.apply(.step(Odd.step(1, loss: 1, accuracy: 1.7)))
        m.apply(.step(Odd.step(2, loss: 1, accuracy: .infinity)))
        m.apply(.epoch(EpochEvent(epoch: 1, step: 2, trainLoss: 1, trainAccuracy: 3, validationAccuracy: -.infinity,
                                  activeLayers: 1, seconds: 1)))
        var state = DashboardState(metrics: m, readOnly: true)
        state.smoothing = 0
        let text = render(state, size: Size(width: 80, height: 24), theme: .builtInMono, caps: unicode).text
        #expect(text.contains("300%"), "the axis grows to the largest finite value")
    }

    @Test("the running score sums follow the steps (padded, cut, NaN counted, thinned, past the storage's growth) for the heatmap's means")
    func scoreSumsFollowTheSteps() {
        let counts = [3, 3, 2, 4, 3, 0, 3]   // the first step sets the width; fewer count 0, more are cut
        func scores(_ i: Int) -> [Double] {
            (0..<counts[i % counts.count]).map { (i == 39 || i % 9 == 4) && $0 == 1 ? Double.nan : Double(i * 10 + $0) }
        }
        // 40 steps thinned at 25; 700 steps grow the storage several times.
        for (total, capacity) in [(40, 25), (700, 20_000)] {
            var m = MetricsSnapshot()
            for i in 0..<total {
                m.apply(.step(StepEvent(step: i + 1, epoch: 1, phase: .sparsify, loss: 1, taskLoss: 1, penalty: 0, lambda: 1,
                                        accuracy: 0.5, learningRate: 0.01, scores: scores(i), active: scores(i).map { $0 >= 0.1 },
                                        samplesPerSecond: 1, elapsed: Double(i))), stepCapacity: capacity)
            }
            let sums = m.scoreSums
            #expect(total < capacity || m.steps.count < capacity, "thinned once past the capacity")
            #expect(sums.width == 3 && sums.rows == m.steps.count + 1)
            #expect(m.steps.contains { $0.scores.contains { $0.isNaN } }, "a NaN step survives the thinning")
            for (i, s) in m.steps.enumerated() {
                for l in 0..<3 {
                    let v = l < s.scores.count ? s.scores[l] : 0
                    let bad = sums.nonFiniteCount(row: i + 1, layer: l) - sums.nonFiniteCount(row: i, layer: l)
                    #expect(bad == (v.isFinite ? 0 : 1), "step \(s.step), layer \(l)")
                    #expect(sums.sum(row: i + 1, layer: l) - sums.sum(row: i, layer: l) == (v.isFinite ? v : 0), "step \(s.step)")
                }
            }
        }
        // A copy taken between appends (the dashboard's snapshot) keeps its rows; the original goes on.
        var m = MetricsSnapshot()
        for i in 0..<300 { m.apply(.step(Odd.step(i + 1, loss: 1, scores: [Double(i), 1, 2]))) }
        let copy = m
        m.apply(.step(Odd.step(301, loss: 1, scores: [5, 5, 5])))
        #expect(copy.scoreSums.rows == 301 && m.scoreSums.rows == 302)
        #expect(m.scoreSums.sum(row: 301, layer: 0) == copy.scoreSums.sum(row: 300, layer: 0) + 5)
        #expect(m.scoreSums.sum(row: 301, layer: 2) == 2 * 300 + 5)
    }

    @Test("a huge score does not spoil the later columns' means, and wide steps keep no running sums")
    func hugeScoresAndWideStepsFallBackToDirectSums() {
        var m = MetricsSnapshot()
        m.apply(.start(Odd.start()))
        for i in 1...400 {
            m.apply(.step(Odd.step(i, loss: 1, scores: i == 3 ? [1e20, 0.05, 0.15, 0.3] : [0.2, 0.05, 0.15, 0.3])))
        }
        let text = render(DashboardState(metrics: m, readOnly: true), size: Size(width: 120, height: 30),
                          theme: .builtInMono, caps: unicode).lines
        let row = text.first { $0.contains("conv_layers.0") } ?? ""
        #expect(row.contains("█") && !row.contains("·") && !row.contains("×"), "only the huge score's column differs: \(row)")
        var wide = MetricsSnapshot()
        wide.apply(.step(Odd.step(1, loss: 1, scores: Array(repeating: 0.2, count: MetricsSnapshot.maximumScoreWidth + 1))))
        #expect(wide.scoreSums.rows == 0)
    }

    @Test("while the gates are fixed (settle, a path's set) the model line says the penalty is off")
    func settleSaysThePenaltyIsOff() {
        var m = MetricsSnapshot()
        m.apply(.start(Odd.start()))
        for i in 1...40 { m.apply(.step(Odd.step(i, loss: 1))) }
        func line(_ m: MetricsSnapshot, width: Int) -> String {
            render(DashboardState(metrics: m, readOnly: true), size: Size(width: width, height: 30), theme: .builtInMono,
                   caps: unicode).lines.first { $0.contains("τ") } ?? ""
        }
        #expect(line(m, width: 160).contains("active") && !line(m, width: 160).contains("penalty off"), "penalty phase")
        for i in 41...50 { m.apply(.step(Odd.step(i, loss: 1, phase: .settle))) }
        #expect(line(m, width: 160).contains("penalty off, gates fixed"), "\(line(m, width: 160))")
        #expect(line(m, width: 80).contains("active"), "the active count stays at 80 columns: \(line(m, width: 80))")
        let runLine = render(DashboardState(metrics: m, readOnly: true), size: Size(width: 80, height: 24),
                             theme: .builtInMono, caps: unicode).lines.first ?? ""
        #expect(runLine.contains("settle"), "the run line names the phase at 80 columns: \(runLine)")
        m.apply(.end(RunEndEvent(status: .done, step: 50, testAccuracy: 0.8, bestValidationAccuracy: 0.8,
                                 activeLayers: [], taskSpecificParameters: 0, seconds: 1, message: nil)))
        #expect(line(m, width: 160).contains("active") && !line(m, width: 160).contains("penalty off"), "the run is over")
        let doneLine = render(DashboardState(metrics: m, readOnly: true), size: Size(width: 200, height: 30),
                              theme: .builtInMono, caps: unicode).lines.first ?? ""
        #expect(doneLine.contains("DONE") && !doneLine.contains("settle"), "an ended run's line names no phase: \(doneLine)")
    }

    @Test("after the run, the model line says which epoch's set the active count shows and whether the run ended on it")
    func modelLineNamesTheSelectedEpochAndTheFinalSet() {
        func line(final: [String]?, selected: Int?) -> String {
            var m = Fixture.metrics()
            m.apply(.end(RunEndEvent(status: .done, step: 300, testAccuracy: 0.8, bestValidationAccuracy: 0.8,
                                     activeLayers: ["conv_layers.0", "fc_layers.0"], taskSpecificParameters: 300_000,
                                     seconds: 1, message: nil, selectedEpoch: selected, finalActiveLayers: final)))
            return render(DashboardState(metrics: m, readOnly: true), size: Size(width: 160, height: 30),
                          theme: .builtInMono, caps: unicode).lines.first { $0.contains("τ") } ?? ""
        }
        let same = line(final: ["fc_layers.0", "conv_layers.0"], selected: 9)
        #expect(same.contains("active 2/4") && same.contains("(epoch 9 = final set)"), "\(same)")
        let differs = line(final: ["conv_layers.0"], selected: 5)
        #expect(differs.contains("(epoch 5; final set 1/4)"), "\(differs)")
        let none = line(final: nil, selected: nil)
        #expect(!none.contains("epoch"), "no model selection, nothing to say: \(none)")
    }

    @Test("a path run's step total follows the notice that announces it once its search is over")
    func plannedStepsFollowTheLatestAnnouncement() {
        var m = Fixture.metrics()
        var state = DashboardState(metrics: m, readOnly: true, totalSteps: 400)
        #expect(state.plannedSteps == 400, "the trainer's total until a notice says otherwise")
        m.apply(.notice(NoticeEvent(kind: .info, step: 300, message: "path search over", plannedSteps: 1_234)))
        state.metrics = m
        #expect(state.plannedSteps == 1_234)
        #expect(state.plannedEpochs == 13, "1,234 steps of 100 a epoch")
        let text = render(state, size: Size(width: 120, height: 30), theme: .builtInMono, caps: unicode).text
        #expect(text.contains("/1234") || text.contains("/1,234"), "the status bar's step total")
    }

    @Test func heatmapShowsANaNScoreWithItsOwnGlyph() {
        let state = DashboardState(metrics: Odd.nanRun(), readOnly: true)
        let lines = render(state, size: Size(width: 120, height: 30), theme: .builtInMono, caps: unicode).lines
        let row = lines.first { $0.contains("conv_layers.3") } ?? ""
        #expect(row.contains("×"), "the NaN score's column: \(row)")
    }

    @Test func penaltyCurveIsLambdaTimesPAndAddsUpToTheTotal() {
        let buffer = render(Fixture.state(), size: Size(width: 120, height: 30), theme: .builtInMono, caps: unicode)
        #expect(buffer.lines[2].contains("λ·P"), "the legend names the curve lambda x P")
        // What the curve plots (the CSV's lambda_times_penalty column) adds up: total = task + lambda x P.
        let rows = DashboardSnapshot.scalarCSV(Fixture.metrics()).split(separator: "\n").dropFirst()
        #expect(rows.count == 300)
        for row in rows {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let loss = Double(f[3])!, task = Double(f[4])!, shown = Double(f[6])!
            #expect(abs(task + shown - loss) < 1e-12, "step \(f[0])")
        }
    }

    @Test func taskSpecificCostIncludesTheHeadAndSaysSo() {
        var m = Fixture.metrics()
        m.apply(.end(RunEndEvent(status: .done, step: 300, testAccuracy: 0.9, bestValidationAccuracy: 0.9,
                                 activeLayers: Fixture.layers.map(\.name), taskSpecificParameters: 400_000, seconds: 9,
                                 message: nil)))
        let state = DashboardState(metrics: m, lambda: 0.375, initialLambda: 0.3)
        let line = render(state, size: Size(width: 160, height: 30), theme: .builtInMono, caps: unicode).lines[1]
        #expect(line.contains("103.0%") && line.contains("incl. head, not in the backbone"), "\(line)")
        let running = render(Fixture.state(), size: Size(width: 160, height: 30), theme: .builtInMono,
                             caps: unicode).lines[1]
        #expect(running.contains("+head"), "the estimate says the head is not counted yet: \(running)")
    }
}

@Suite struct WideTextTests {
    @Test func cellsOfWideAndCombiningCharacters() {
        #expect(TextWidth.cells("conv") == 4)
        #expect(TextWidth.cells("层") == 2)
        #expect(TextWidth.cells("🔥") == 2)
        #expect(TextWidth.cells("e\u{301}") == 1)
        #expect(TextWidth.cells("❤️") == 2)
        #expect(TextWidth.truncated("卷积层卷积层", toCells: 5) == "卷积…")
        #expect(TextWidth.truncatedKeepingEnd("卷积层.0.conv", toCells: 8) == "….0.conv")
        #expect(TextWidth.truncatedKeepingEnd("卷积层.0.conv", toCells: 9) == "….0.conv", "a wide character that does not fit is left out")
        #expect(TextWidth.truncatedKeepingEnd("卷积层.0.conv", toCells: 10) == "…层.0.conv")
    }

    @Test func aWideCharacterNeverHalfOverwritesItsNeighbour() {
        var b = ScreenBuffer(width: 6, height: 1)
        #expect(b.put("a层b", x: 0, y: 0) == 4)
        #expect(b.lines[0] == "a层b")
        b.set(2, 0, "x", Style())  // overwrite the second half: the first half goes too
        #expect(b.lines[0] == "a xb")
        #expect(b.put("层层层", x: 0, y: 0, maxWidth: 5) == 4, "a wide character that does not fit whole is left out")
        var c = ScreenBuffer(width: 3, height: 1)
        c.put("\u{1b}[31m", x: 0, y: 0)
        #expect(c.lines[0] == "?[3", "control characters never reach the terminal")
    }

    static func wideState() -> DashboardState {
        let layers = [
            LayerInfo(index: 0, name: "卷积层.0.conv", shape: [8, 1, 3, 3], parameters: 72),
            LayerInfo(index: 1, name: "🔥block.1.conv", shape: [8, 8, 3, 3], parameters: 576),
            LayerInfo(index: 2, name: "a-very-long-layer-name-that-does-not-fit.weight", shape: [10, 8], parameters: 80),
        ]
        var m = MetricsSnapshot()
        m.apply(.start(Odd.start(layers: layers, task: "時尚🔥fashion")))
        for i in 1...30 { m.apply(.step(Odd.step(i, loss: 1, scores: [0.2, 0.05, 0.15]))) }
        return DashboardState(metrics: m, lambda: 0.3, initialLambda: 0.3)
    }

    @Test(arguments: [50, 80])
    func wideNamesAreTruncatedWithAnEllipsis(width: Int) throws {
        let buffer = render(Self.wideState(), size: Size(width: width, height: 24), theme: .builtInMono,
                            caps: Capabilities())
        let lines = buffer.lines
        // Every heatmap row still has its state column and its right border where it belongs.
        for name in ["lock.1.conv", "t.weight", ".0.conv"] {
            let row = lines.first { $0.contains(name) }
            #expect(row != nil, "\(name) at \(width)")
            if let row { #expect(row.contains(" on") || row.contains(" off"), "\(row)") }
        }
        #expect(lines.contains { $0.contains("…") })
        for y in 0..<buffer.height {
            var cells = 0
            for x in 0..<buffer.width where buffer[x, y].character != Cell.continuationCharacter {
                cells += TextWidth.cells(buffer[x, y].character)
            }
            #expect(cells == buffer.width, "row \(y) is \(cells) cells wide at \(width)")
        }
        try assertSnapshot(buffer, named: "wide-names-\(width)x24")
    }
}

@Suite struct ViewTests {
    let unicode = Capabilities(glyphs: .unicode, colorDepth: .palette256)

    @Test func smoothingKeepsAConstantSeriesConstant() {
        let points = (1...500).map { (x: Double($0), y: 0.3) }
        for w in DashboardState.smoothingSteps {
            #expect(LineChart.smoothed(points, weight: w).allSatisfy { $0.y == 0.3 }, "weight \(w)")
        }
        let step = LineChart.smoothed([(1, 0), (2, 1), (3, 1)], weight: 0.9)
        #expect(step[0].y == 0 && step[2].y > step[1].y && step[2].y < 1, "bias-corrected EMA of a step")
        // m3 = 0.9 (0.9 (0.1 2) + 0.1 2) + 0.1 4 = 0.742, divided by 1 - 0.9^3 = 0.271.
        let corrected = LineChart.smoothed([(1, 2), (2, 2), (3, 4)], weight: 0.9)
        #expect(abs(corrected[2].y - 0.742 / 0.271) < 1e-12, "bias correction: \(corrected[2].y)")
    }

    @Test func sKeyCyclesTheSmoothing() {
        var s = Fixture.state()
        let size = Size(width: 80, height: 24)
        var seen: [Double] = []
        for _ in 0..<4 { s.applyViewAction(.cycleSmoothing, size: size); seen.append(s.smoothing) }
        #expect(seen == [0.9, 0.99, 0, 0.6])
    }

    @Test func logAxisSkipsAndCountsNonPositivePoints() throws {
        var s = Fixture.state()
        s.logY = true
        let buffer = render(s, size: Size(width: 80, height: 24), theme: .builtInDefault, caps: unicode)
        // The penalty curve is 0 for the 100 warm-up steps.
        #expect(buffer.text.contains("<=0 100 skipped"))
        #expect(buffer.text.contains("loss (log)"))
        try assertSnapshot(buffer, named: "log-80x24")
        try assertSnapshot(render(s, size: Size(width: 200, height: 60), theme: .builtInDefault, caps: unicode),
                           named: "log-200x60")
    }

    @Test func markersSitAtTheStepOfTheChange() {
        let buffer = render(Fixture.state(), size: Size(width: 120, height: 40), theme: .builtInMono, caps: unicode)
        // Loss chart: border at x 0, labels 6 cells, plot from x 7 to 58 (width 52).
        let plotX = 7, plotWidth = 120 / 2 - 2 - 6
        let column = Int((Double(151 - 1) / Double(300 - 1) * Double(plotWidth - 1)).rounded())
        let rows = (3..<20).map { buffer[plotX + column, $0].character }
        #expect(rows.contains("┊"), "a lambda marker at step 151's column: \(rows)")
        let warm = Int((Double(101 - 1) / Double(300 - 1) * Double(plotWidth - 1)).rounded())
        #expect((3..<20).contains { buffer[plotX + warm, $0].character == "╎" }, "a warm-up marker at step 101")
        #expect(buffer.text.contains("▲"), "the heatmap's step axis marks the lambda change")
    }

    @Test func monoLinesDifferWithoutColour() {
        let text = render(Fixture.state(), size: Size(width: 120, height: 30), theme: .builtInMono,
                          caps: unicode).lines[2]
        #expect(text.contains("━total") && text.contains("╍task") && text.contains("┄λ·P"), "\(text)")
    }

    @Test func eventLogListsEveryNoticeAndTheLambdaHistory() throws {
        var s = Fixture.state()
        s.applyViewAction(.toggleEventLog, size: Size(width: 80, height: 24))
        let buffer = render(s, size: Size(width: 80, height: 24), theme: .builtInDefault, caps: unicode)
        #expect(buffer.text.contains("event log"))
        #expect(buffer.text.contains("warm-up over") && buffer.text.contains("lambda 0.3 -> 0.375"))
        #expect(buffer.text.contains("λ history: 0.3 (step 1) → 0.375 (step 151)"))
        try assertSnapshot(buffer, named: "event-log-80x24")
        try assertSnapshot(render(s, size: Size(width: 200, height: 60), theme: .builtInDefault, caps: unicode),
                           named: "event-log-200x60")
    }
}

@Suite struct LayerPanelTests {
    let unicode = Capabilities(glyphs: .unicode, colorDepth: .palette256)

    @Test func cursorAndPanel() throws {
        var s = Fixture.state()
        let size = Size(width: 80, height: 24)
        s.applyViewAction(.scrollLayers(1), size: size)
        s.applyViewAction(.scrollLayers(1), size: size)
        s.applyViewAction(.toggleLayerPanel, size: size)
        #expect(s.showLayerPanel && s.cursorLayer == 2)
        var extras = RunExtras()
        extras.recentSteps = [LayerStepExtras(step: 300, scoreTaskGradients: [0, 0, -0.0125, 0],
                                              deltaRatios: [0, 0, 0.031, 0])]
        s.extras = extras
        let buffer = render(s, size: size, theme: .builtInDefault, caps: unicode)
        let text = buffer.text
        #expect(text.contains("conv_layers.6"))
        #expect(text.contains("shape [128, 64, 3, 3]"))
        #expect(text.contains("||delta|| / ||w0|| = 0.031"))
        #expect(text.contains("task part -0.0125"))
        #expect(text.contains("flips 1"))
        try assertSnapshot(buffer, named: "layer-panel-80x24")
        try assertSnapshot(render(s, size: Size(width: 200, height: 60), theme: .builtInDefault, caps: unicode),
                           named: "layer-panel-200x60")
    }

    @Test func flipsAreCounted() {
        let steps = [true, true, false, false, true].enumerated().map { i, a in
            StepEvent(step: i + 1, epoch: 1, phase: .sparsify, loss: 1, taskLoss: 1, penalty: 0, lambda: 1, accuracy: 1,
                      learningRate: 0.1, scores: [a ? 1 : 0], active: [a], samplesPerSecond: 1, elapsed: 1)
        }
        #expect(GateFlips.of(layer: 0, in: steps) == GateFlips(count: 2, lastStep: 5))
        #expect(GateFlips.of(layer: 3, in: steps) == GateFlips(count: 0, lastStep: nil))
    }

    @Test func cursorScrollsTheHeatmap() {
        let layers = (0..<49).map { LayerInfo(index: $0, name: "_blocks.\($0).conv", shape: [8], parameters: 8) }
        var m = MetricsSnapshot()
        m.apply(.start(Odd.start(layers: layers)))
        var s = DashboardState(metrics: m)
        let size = Size(width: 80, height: 24)
        for _ in 0..<30 { s.applyViewAction(.scrollLayers(1), size: size) }
        #expect(s.cursorLayer == 30)
        let lines = render(s, size: size, theme: .builtInMono, caps: Capabilities()).lines
        #expect(lines.contains { $0.contains("_blocks.30.conv") }, "the cursor row is visible")
    }
}

@Suite struct ExactLambdaTests {
    @Test func parsesZeroAndRejectsOutOfRange() throws {
        #expect(try DashboardApp.parseLambda("0", ceiling: 1e4).get() == 0)
        #expect(try DashboardApp.parseLambda("2.5e-3", ceiling: 1e4).get() == 0.0025)
        #expect(try DashboardApp.parseLambda("10000", ceiling: 1e4).get() == 10_000)
        for bad in ["", "-1", "1e5", "abc", "nan", "inf", "1..2"] {
            #expect((try? DashboardApp.parseLambda(bad, ceiling: 1e4).get()) == nil, "'\(bad)' is refused")
        }
    }

    @Test func promptShowsTheRange() throws {
        var s = Fixture.state()
        s.lambdaPrompt = "0.05"
        let buffer = render(s, size: Size(width: 80, height: 24), theme: .builtInDefault, caps: Capabilities())
        #expect(buffer.lines.last?.contains("λ = 0.05_  (0 ... 10000; Enter sets, Esc cancels)") == true,
                "\(buffer.lines.last ?? "")")
        try assertSnapshot(buffer, named: "lambda-prompt-80x24")
        try assertSnapshot(render(s, size: Size(width: 200, height: 60), theme: .builtInDefault, caps: Capabilities()),
                           named: "lambda-prompt-200x60")
        s.lambdaPrompt = nil
        s.optionsPrompt = "--seed 2 --epochs 10"
        let options = render(s, size: Size(width: 80, height: 24), theme: .builtInDefault, caps: Capabilities())
        #expect(options.lines.last?.contains("new run options: --seed 2 --epochs 10_") == true)
        try assertSnapshot(options, named: "options-prompt-80x24")
    }

    @Test func markersAndTicksSnapshots() throws {
        let state = Fixture.state(paused: false)
        try assertSnapshot(render(state, size: Size(width: 200, height: 60), theme: .builtInDefault,
                                  caps: Capabilities()), named: "markers-200x60")
        try assertSnapshot(render(state, size: Size(width: 80, height: 24), theme: .builtInDefault,
                                  caps: Capabilities()), named: "markers-80x24")
    }
}

@Suite struct CompareRunsTests {
    static func comparison() -> DashboardState {
        var s = Fixture.state(paused: false)
        s.runName = "lambda-0.3"
        var other = Fixture.metrics(steps: 200)
        other.start?.runDirectory = "runs/lambda-3"
        s.comparisons = [ComparedRun(name: "lambda-3", metrics: other)]
        return s
    }

    @Test(arguments: [(80, 24), (200, 60)])
    func twoRunsOverlaidAndSideBySide(width: Int, height: Int) throws {
        let buffer = render(Self.comparison(), size: Size(width: width, height: height), theme: .builtInDefault,
                            caps: Capabilities())
        let text = buffer.text
        #expect(text.contains("lambda-0.3") && text.contains("lambda-3"))
        #expect(buffer.lines.filter { $0.contains("conv_layers.0") }.allSatisfy {
            $0.components(separatedBy: "conv_layers.0").count == 3 }, "both heatmaps list the layer")
        try assertSnapshot(buffer, named: "compare-\(width)x\(height)")
    }

    @Test func followerSkipsUnknownEventsAndReadsProgressAndExtras() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-extras-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let follower = MetricsFollower(url: dir)  // a run folder: follows dir/metrics.jsonl
        #expect(follower.url.lastPathComponent == "metrics.jsonl")
        let file = follower.url
        try FileManager.default.removeItem(at: dir)
        #expect(try follower.poll() == false, "a missing file is waited for, not an error")
        #expect(!follower.fileExists)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lines = [
            #"{"event":"start","task":"fashion","mode":"taps","base":"digitcnn","lambda":0.3,"tau":0.1,"epochs":1,"warmup_epochs":0,"steps_per_epoch":2,"batch_size":2,"seed":1,"layers":[],"backbone_parameters":10,"run_directory":"x","time":0,"penalty_kind":"weighted","penalty_weights":[0.5],"head_parameters":42}"#,
            #"{"event":"step","step":1,"epoch":1,"phase":"sparsify","loss":"nan","task_loss":1,"penalty":0,"lambda":0.3,"accuracy":0.5,"learning_rate":0.1,"scores":[],"active":[],"samples_per_second":1,"elapsed":1,"score_task_gradients":[0.25],"delta_ratios":[0.01]}"#,
            #"{"event":"progress","step":1,"phase":"validating","done":120,"total":400}"#,
            #"{"event":"telemetry","anything":true}"#,
        ]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        #expect(try follower.poll())
        #expect(follower.problem == nil, "\(follower.problem ?? "")")
        #expect(follower.fileExists)
        #expect(follower.snapshot.steps.count == 1 && follower.snapshot.steps[0].loss.isNaN)
        #expect(follower.extras.progress == EvaluationProgress(step: 1, phase: "validating", done: 120, total: 400))
        #expect(follower.extras.penaltyWeights == [0.5] && follower.extras.headParameters == 42)
        #expect(follower.extras.recentSteps.last?.scoreTaskGradients == [0.25])
        #expect(follower.extras.unknownEvents == 1)
        let state = DashboardState(metrics: follower.snapshot, readOnly: true, extras: follower.extras)
        let text = render(state, size: Size(width: 80, height: 24), theme: .builtInMono, caps: Capabilities()).text
        #expect(text.contains("validating 120/400"))
        // The live dashboard builds the same extras from the store's typed events, without reading the file.
        var fromStore = RunExtras(snapshot: follower.snapshot)
        fromStore.unknownEvents = follower.extras.unknownEvents
        #expect(fromStore == follower.extras)
        var more = follower.snapshot
        for k in 2...100 {
            more.apply(.step(StepEvent(step: k, epoch: 1, phase: .sparsify, loss: 1, taskLoss: 1, penalty: 0, lambda: 0.3,
                                       accuracy: 0.5, learningRate: 0.1, scores: [], active: [], samplesPerSecond: 1,
                                       elapsed: 1, scoreTaskGradients: [Double(k)], deltaRatios: nil)))
        }
        let live = RunExtras(snapshot: more)
        #expect(live.progress == nil, "a step ends the evaluation in progress")
        #expect(live.recentSteps.count == RunExtras.historyLength && live.recentSteps.last?.scoreTaskGradients == [100])
    }
}

@Suite struct RenderCostTests {
    /// A large state: EfficientNet-Lite0's 49 layers, 20 000 steps (the store's cap), lambda changed 10 times.
    static func bigState() -> DashboardState {
        let layers = (0..<49).map { LayerInfo(index: $0, name: "_blocks.\($0)._project_conv", shape: [64, 64, 1, 1],
                                              parameters: 4096) }
        var m = MetricsSnapshot()
        m.apply(.start(Odd.start(layers: layers)))
        for i in 1...20_000 {
            let t = Double(i)
            let scores = (0..<49).map { 0.2 * cos(t / 500 + Double($0)) }
            m.apply(.step(StepEvent(step: i, epoch: i / 1000 + 1, phase: i < 1000 ? .warmup : .sparsify,
                                    loss: 2 * exp(-t / 3000) + 0.1 * sin(t), taskLoss: 2 * exp(-t / 3000),
                                    penalty: 0.1, lambda: 0.3, accuracy: 0.5 + 0.4 * (1 - exp(-t / 2000)),
                                    learningRate: 0.01, scores: scores, active: scores.map { $0 >= 0.1 },
                                    samplesPerSecond: 300, elapsed: t / 10)))
            if i % 1000 == 0 {
                m.apply(.epoch(EpochEvent(epoch: i / 1000, step: i, trainLoss: 1, trainAccuracy: 0.8,
                                          validationAccuracy: 0.75, activeLayers: 20, seconds: 3)))
                m.apply(.notice(NoticeEvent(kind: .lambda, step: i + 1, message: "lambda", from: 0.3, to: 0.3)))
            }
        }
        return DashboardState(metrics: m, lambda: 0.3, initialLambda: 0.3)
    }

    /// CPU time of the calling thread, in milliseconds (unaffected by other threads and processes waiting for
    /// the same cores, unlike wall-clock time; tests run in parallel and the machine may be busy).
    static func threadMilliseconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1e3 + Double(t.tv_nsec) / 1e6
    }

    /// Every frame renders in under 5 ms at 200x60 (release build): the fastest of 20 frames of a large state (49 layers,
    /// 20 000 steps) is compared, the cost of the code itself (other tests running in parallel and other tenants of the
    /// machine only add to a frame's thread CPU time: on a 2-core Zen 3 the median went from 3.0 ms alone to 5.5 ms
    /// beside the golden tests, the best from 2.8 to 3.3); best, median and worst are printed.
    @Test func aFrameAt200x60RendersInUnder5Milliseconds() {
        let state = Self.bigState()
        let size = Size(width: 200, height: 60)
        var times: [Double] = []
        for _ in 0..<20 {
            let t0 = Self.threadMilliseconds()
            let b = render(state, size: size, theme: .builtInDefault, caps: Capabilities())
            let t1 = Self.threadMilliseconds()
            #expect(b.width == 200)
            times.append(t1 - t0)
        }
        times.sort()
        print(String(format: "render 200x60, 49 layers, 20000 steps, thread CPU time: best %.2f ms, median %.2f ms, "
                     + "worst %.2f ms", times[0], times[times.count / 2], times[times.count - 1]))
        #expect(times[0] < 5, "fastest frame \(times[0]) ms (median \(times[times.count / 2]) ms)")
    }
}

@Suite struct MouseAndWarmupTests {
    @Test func clickingAHeatmapRowSelectsTheLayerAndADoubleClickOpensItsPanel() {
        var s = Fixture.state()
        let size = Size(width: 80, height: 24)
        let lines = render(s, size: size, theme: .builtInMono, caps: Capabilities()).lines
        guard let y = lines.firstIndex(where: { $0.contains("conv_layers.6") }) else {
            Issue.record("no conv_layers.6 row"); return
        }
        #expect(s.layer(atX: 5, y: y, size: size) == 2)
        #expect(s.layer(atX: 5, y: 0, size: size) == nil, "the status line is not a layer")
        s.click(x: 5, y: y, double: false, size: size)
        #expect(s.cursorLayer == 2 && !s.showLayerPanel)
        s.click(x: 5, y: y, double: true, size: size)
        #expect(s.showLayerPanel)
        s.click(x: 5, y: 0, double: false, size: size)
        #expect(!s.showLayerPanel, "a click elsewhere closes the panel")
    }

    @Test func warmupIsVisibleAt80Columns() {
        let m = Fixture.metrics(steps: 50)  // step 50 of 100 warm-up steps
        let state = DashboardState(metrics: m, lambda: 0.3, initialLambda: 0.3)
        let line = render(state, size: Size(width: 80, height: 24), theme: .builtInMono, caps: Capabilities()).lines[0]
        #expect(line.contains("warm-up 1/1"), "\(line)")
    }
}

@Suite struct BudgetLineTests {
    /// The title's cost bar of a `--budget` run marks where the budget ends and names it; a run without one has
    /// neither (issue 14: "the dashboard shows the budget line").
    @Test func theCostBarShowsTheBudgetLine() {
        func titleLine(budget: Double?) -> String? {
            var s = Fixture.state()
            s.metrics.start?.budget = budget
            let lines = render(s, size: Size(width: 200, height: 60), theme: .builtInMono, caps: Capabilities()).lines
            return lines.first { $0.contains("active") && $0.contains("/1.549MB") }
        }
        guard let plain = titleLine(budget: nil), let tight = titleLine(budget: 0.2), let loose = titleLine(budget: 0.9)
        else { Issue.record("no gates title with the cost bar"); return }
        #expect(!plain.contains("budget"))
        // 20% of 388,416 backbone parameters = 310,732 bytes, a fifth of the gated layers' 1.549 MB: the line sits in
        // the bar's second cell; 90% (1.398 MB) sits in the last.
        #expect(tight.contains("budget 20.0%=310.7kB OVER"), "the active 1.181MB is over the budget: \(tight)")
        #expect(loose.contains("budget 90.0%=1.398MB") && !loose.contains("OVER"), "\(loose)")
        let huge = titleLine(budget: 6921.29) ?? ""
        #expect(huge.contains("budget >100.0%=1.554MB") && !huge.contains("OVER"), "\(huge)")
        func bar(_ line: String) -> String? {
            guard let r = line.range(of: " 1.181MB/1.549MB") else { return nil }
            return String(line[line.index(r.lowerBound, offsetBy: -8)..<r.lowerBound])
        }
        #expect(bar(plain).map { !$0.contains("┃") && !$0.contains("|") } == true, "\(plain)")
        #expect(bar(tight).map { Array($0)[1] == "┃" || Array($0)[1] == "|" } == true, "\(tight)")
        #expect(bar(loose).map { Array($0)[7] == "┃" || Array($0)[7] == "|" } == true, "\(loose)")
    }
}
