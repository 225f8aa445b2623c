// TapsTUI: the two status lines at the top and the key-hint line at the bottom.
import Foundation

enum StatusBar {
    /// Line 1: run identity, progress, throughput, ETA and the RUNNING/PAUSED/DONE badge on the right.
    static func drawRunLine(_ buffer: inout ScreenBuffer, y: Int, width: Int, state: DashboardState, theme: Theme,
                            glyphs: Glyphs) {
        let bar = Style(fg: theme[.statusFg], bg: theme[.statusBg])
        buffer.fill(Rect(x: 0, y: y, width: width, height: 1), style: bar)
        let status = state.status
        let badgeKey: ThemeKey = switch status {
        case .running, .starting: .running
        case .paused, .stopping: .paused
        case .failed: .error
        case .done, .stopped: .done
        }
        let badge = " \(status.rawValue) "
        let badgeStyle = Style(fg: theme[badgeKey], bg: theme[.statusBg], attrs: [.bold, .reverse])

        var segments: [(String, Int)] = []  // text, priority (higher stays longer)
        if let s = state.metrics.start {
            let identity = "\(s.task)\(glyphs.dot)\(s.mode.rawValue)\(glyphs.dot)\(s.base)"
            segments.append((TextWidth.truncated(identity, toCells: max(8, width / 3), ellipsis: glyphs.ellipsis), 5))
        } else {
            segments.append(("loading the task and the base network\(glyphs.ellipsis)", 5))
        }
        if let last = state.metrics.lastStep {
            let epochs = state.plannedEpochs.map { "/\($0)" } ?? ""
            segments.append(("ep \(last.epoch)\(epochs)", 4))
            let planned = state.plannedSteps.map { "/\($0)" } ?? ""
            segments.append(("step \(last.step)\(planned)", 6))
            // Warm-up and the settle stay visible at 80 columns (the penalty is off, so lambda keys change nothing
            // yet or any more); the penalty phase is the first to go. Once the run has ended the badge says so and
            // the last step's phase would only mislead.
            let warmup = last.phase == .warmup
            let warmupEpochs = state.metrics.start.map { "/\($0.warmupEpochs)" } ?? ""
            if state.metrics.end == nil {
                segments.append((warmup ? "warm-up \(last.epoch)\(warmupEpochs)" : last.phase.rawValue,
                                 last.phase == .sparsify ? 1 : 5))
            }
            if let p = state.extras.progress, state.metrics.end == nil, p.step >= last.step {
                let total = p.total > 0 ? "/\(p.total)" : ""
                segments.append(("\(p.phase) \(p.done)\(total)", 7))
            }
            segments.append(("\(Int(last.samplesPerSecond.rounded())) img/s", 2))
            if let end = state.metrics.end {
                segments.append(("took \(Format.duration(end.seconds))", 3))
            } else if let eta = state.etaSeconds {
                segments.append(("ETA \(Format.duration(eta))", 3))
            }
        }
        if state.readOnly { segments.append(("attached (read-only)", 7)) }
        if let remote = state.remoteStatus { segments.append((remote, 7)) }
        let room = width - badge.count - 2
        var kept = segments
        while !kept.isEmpty && kept.map({ TextWidth.cells($0.0) + 2 }).reduce(0, +) > room {
            let lowest = kept.enumerated().min { $0.element.1 < $1.element.1 }!.offset
            kept.remove(at: lowest)
        }
        var x = 1
        for (i, seg) in kept.enumerated() {
            if i > 0 { x += buffer.put("  ", x: x, y: y, style: bar) }
            x += buffer.put(seg.0, x: x, y: y, style: i == 0 ? bar.with(.bold) : bar, maxWidth: max(0, room - x))
        }
        buffer.put(badge, x: max(0, width - badge.count - 1), y: y, style: badgeStyle)
    }

    /// Line 2: lambda (and its history; "penalty off" while the gates are fixed), tau, active k/N, task-specific
    /// parameters and % of the backbone.
    static func drawModelLine(_ buffer: inout ScreenBuffer, y: Int, width: Int, state: DashboardState, theme: Theme,
                              glyphs: Glyphs) {
        let dim = theme.style(.dimFg), value = theme.style(.highlight, .bold)
        var spans: [Span] = []
        if let lambda = state.currentLambda {
            spans.append(Span(text: glyphs.lambda, style: dim))
            spans.append(Span(text: Format.number(lambda), style: theme.style(.lambda, .bold)))
            let history = state.lambdaHistory
            if history.count > 1 {
                let tail = history.suffix(4).map(Format.number).joined(separator: glyphs.arrow)
                let text = "(" + (history.count > 4 ? glyphs.ellipsis : "") + tail + ")"
                spans.append(Span(text: text, style: theme.style(.lambda)))
            }
        }
        if let start = state.metrics.start {
            spans.append(Span(text: " \(glyphs.tau)", style: dim))
            spans.append(Span(text: Format.number(start.tau), style: value))
            let k = state.activeFlags.filter { $0 }.count
            spans.append(Span(text: " active", style: dim))
            spans.append(Span(text: "\(k)/\(start.layers.count)", style: theme.style(.active, .bold)))
            if let (count, exact, withHead) = state.taskSpecificParameters {
                spans.append(Span(text: " task-specific", style: dim))
                spans.append(Span(text: (exact ? "" : "~") + Format.count(count) + (withHead ? "" : "+head"),
                                  style: value))
                if start.backboneParameters > 0 {
                    let fraction = Double(count) / Double(start.backboneParameters)
                    spans.append(Span(text: "= \(Format.percent(fraction))\(withHead ? "" : "+")", style: value))
                    spans.append(Span(text: "of backbone", style: dim))
                    // The export stores the head too, which the backbone does not contain.
                    spans.append(Span(text: fraction > 1 ? "(incl. head, not in the backbone)" : "(incl. head)",
                                      style: dim))
                }
            }
        }
        // After the run: which epoch's set the count shows. After the storage, which matters more at 80 columns.
        if let note = selectionNote(state) { spans.append(Span(text: note, style: dim)) }
        // The settle (and a path's set in training) fixes the gates: lambda is kept, not applied. Last, so that a
        // narrow terminal drops it before the active count (the run line's phase says "settle" too).
        if state.currentLambda != nil && state.metrics.lastStep?.phase == .settle && state.metrics.end == nil {
            spans.append(Span(text: "\(glyphs.dot) penalty off, gates fixed", style: dim))
        }
        Box.writeSpans(&buffer, spans, x: 1, y: y, maxX: width - 1)
    }

    /// After a run with model selection: which epoch's set the active count shows (the export's), and whether the
    /// run ended on that set: `(epoch 9 = final set)` or `(epoch 5; final set 2/4)`. Nil before the end.
    static func selectionNote(_ state: DashboardState) -> String? {
        guard let end = state.metrics.end, end.status != .failed, let epoch = end.selectedEpoch,
              let layers = state.metrics.start?.layers.count else { return nil }
        guard let final = end.finalActiveLayers else { return "(epoch \(epoch))" }
        return Set(final) == Set(end.activeLayers) ? "(epoch \(epoch) = final set)"
            : "(epoch \(epoch); final set \(final.count)/\(layers))"
    }

    /// The bottom line: key hints from the keymap (key in reverse video, then what it does), and the measured
    /// frame rate on the right when there is room. `? help` and `q quit` are always shown.
    static func drawHints(_ buffer: inout ScreenBuffer, y: Int, width: Int, state: DashboardState, theme: Theme,
                          glyphs: Glyphs) {
        if let typed = state.optionsPrompt {
            let x = 1 + buffer.put("new run options: ", x: 1, y: y, style: theme.style(.highlight, .bold))
            let used = buffer.put(typed + "_", x: x, y: y, style: theme.style(.highlight, [.bold, .underline]),
                                  maxWidth: max(0, width - x - 1))
            buffer.put("  (as for taps train; Enter starts, Esc cancels)", x: x + used, y: y,
                       style: theme.style(.dimFg), maxWidth: max(0, width - x - used - 1))
            return
        }
        if let typed = state.lambdaPrompt {
            // The exact-lambda prompt replaces the hints while it is open.
            let x = 1 + buffer.put("\(glyphs.lambda) = ", x: 1, y: y, style: theme.style(.lambda, .bold))
            let used = buffer.put(typed + "_", x: x, y: y, style: theme.style(.highlight, [.bold, .underline]),
                                  maxWidth: max(0, width - x - 1))
            let range = "0 ... \(Format.number(state.lambdaCeiling))"
            buffer.put("  (\(range); Enter sets, Esc cancels)", x: x + used, y: y, style: theme.style(.dimFg),
                       maxWidth: max(0, width - x - used - 1))
            return
        }
        let hints = Keymap.bindings.compactMap { b -> (key: String, text: String, reserved: Bool)? in
            guard let hint = b.hint, !(state.readOnly && b.steersTraining), !(b.suiteOnly && state.suite == nil) else {
                return nil
            }
            let parts = hint.split(separator: " ", maxSplits: 1).map(String.init)
            let reserved = b.action == .quit || b.action == .toggleHelp
            return (parts[0], parts.count > 1 ? parts[1] : "", reserved)
        }
        func cost(_ h: (key: String, text: String, reserved: Bool)) -> Int { h.key.count + 1 + h.text.count + 1 }
        let reservedWidth = hints.filter(\.reserved).map(cost).reduce(0, +)
        var budget = width - 2 - reservedWidth
        var shown: [(key: String, text: String, reserved: Bool)] = []
        for h in hints {
            if h.reserved { shown.append(h); continue }
            if cost(h) <= budget { shown.append(h); budget -= cost(h) } else { budget = 0 }
        }
        var x = 1
        for h in shown {
            x += buffer.put(h.key, x: x, y: y, style: theme.style(.highlight, [.bold, .reverse]))
            x += buffer.put(" " + h.text + " ", x: x, y: y, style: theme.style(.dimFg))
        }
        if let fps = state.framesPerSecond.map({ String(format: "%.1f fps", $0) }), x + fps.count + 1 < width {
            buffer.put(fps, x: width - fps.count - 1, y: y, style: theme.style(.dimFg))
        }
    }
}

enum SuiteTabsLine {
    /// The suite's tasks: the one shown in reverse video, the one in training in the running colour (with a mark),
    /// finished ones in the done colour, pending ones dim; then how `t` works.
    static func draw(_ buffer: inout ScreenBuffer, y: Int, width: Int, tabs: SuiteTabs, theme: Theme, glyphs: Glyphs) {
        var spans = [Span(text: tabs.label, style: theme.style(.dimFg))]
        for (i, name) in tabs.names.enumerated() {
            var key: ThemeKey = .dimFg
            var text = name
            let training = tabs.training == i || (tabs.running.indices.contains(i) && tabs.running[i])
            if training { key = .running; text += glyphs.usesBraille ? " ▶" : " >" }
            else if tabs.done.indices.contains(i) && tabs.done[i] { key = .done }
            // Not started yet: `…` in Unicode; in ASCII `..` would read as a cut name, so a word.
            else if tabs.waiting.indices.contains(i) && tabs.waiting[i] { text += glyphs.usesBraille ? "…" : " (wait)" }
            var attrs: CellAttributes = training ? .bold : []
            if tabs.viewing == i { attrs.insert(.reverse) }
            spans.append(Span(text: " \(text) ", style: theme.style(key, attrs)))
        }
        let noun = tabs.label == "tasks" ? "task" : "setting"
        let note = tabs.following ? "t: next \(noun) (follows training)" : "t: next \(noun) (pinned)"
        spans.append(Span(text: note, style: theme.style(.dimFg)))
        Box.writeSpans(&buffer, spans, x: 1, y: y, maxX: width - 1)
    }
}

enum EventLog {
    /// The newest notices (and the UI's own message), oldest at the top, in `rect`; a line too long ends in the
    /// ellipsis.
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, state: DashboardState, theme: Theme,
                     glyphs: Glyphs) {
        guard rect.height > 0 else { return }
        let shown = entries(state, last: rect.height).suffix(rect.height)
        let top = rect.y + rect.height - shown.count  // newest on the bottom line
        for (i, entry) in shown.enumerated() {
            let line = TextWidth.truncated("\(glyphs.shades[0]) " + entry.0, toCells: rect.width, ellipsis: glyphs.ellipsis)
            buffer.put(line, x: rect.x, y: top + i, style: theme.style(entry.1), maxWidth: rect.width)
        }
    }

    /// The event lines: the run's notices (the newest `last`, or all), the end of the run, the UI's message.
    static func entries(_ state: DashboardState, last: Int? = nil) -> [(String, ThemeKey)] {
        let notices = last.map { Array(state.metrics.notices.suffix($0)) } ?? state.metrics.notices
        var entries: [(String, ThemeKey)] = notices.map { n in
            let key: ThemeKey = n.kind == .error ? .error : n.kind == .lambda ? .lambda : .event
            var text = n.message
            if n.kind == .snapshot, let first = n.paths?.first, !text.contains(first) {
                let folder = (first as NSString).deletingLastPathComponent
                text += text.contains((first as NSString).lastPathComponent) ? " in \(folder)/" : " " + first
            }
            return ("step \(n.step)  \(text)", key)
        }
        if let end = state.metrics.end {
            var text = "run \(end.status.rawValue) at step \(end.step)"
            if let acc = end.testAccuracy { text += ", test accuracy \(Format.percent(acc))" }
            if let m = end.message { text += ": \(m)" }
            entries.append((text, end.status == .failed ? .error : .done))
        }
        if let message = state.message { entries.append((message, .error)) }
        if entries.isEmpty { entries = [("no events yet", .dimFg)] }
        return entries
    }
}

enum EventLogOverlay {
    /// A box over the dashboard listing every notice of the run (newest at the bottom), scrolled up by
    /// `state.eventLogOffset` entries, under the history of lambda values; a line too long ends in the ellipsis.
    static func draw(_ buffer: inout ScreenBuffer, state: DashboardState, theme: Theme, glyphs: Glyphs) {
        let w = max(0, buffer.width - 4), h = max(0, buffer.height - 4)
        let rect = Rect(x: 2, y: 2, width: w, height: h)
        guard rect.width >= 20, rect.height >= 5 else { return }
        buffer.fill(rect, style: Style(fg: theme[.mainFg], bg: theme[.statusBg]))
        let all = EventLog.entries(state)
        let inner = Box.draw(&buffer, rect, title: [Span(text: "event log", style: theme.style(.title, .bold)),
                                                    Span(text: "\(all.count) entries", style: theme.style(.dimFg))],
                             footer: [Span(text: "j/k scroll  l or Esc closes", style: theme.style(.dimFg))],
                             theme: theme, glyphs: glyphs)
        let panel = { (key: ThemeKey, attrs: CellAttributes) in Style(fg: theme[key], bg: theme[.statusBg], attrs: attrs) }
        // Lambda history, one line (wrapped to the newest values when long).
        let history = state.lambdaChanges.map { "\(Format.number($0.value)) (step \($0.step))" }
        var line = "\(glyphs.lambda) history: " + history.joined(separator: " \(glyphs.arrow) ")
        if TextWidth.cells(line) > inner.width {
            line = TextWidth.truncatedKeepingEnd(line, toCells: inner.width, ellipsis: glyphs.ellipsis)
        }
        buffer.put(line, x: inner.x, y: inner.y, style: panel(.lambda, .bold), maxWidth: inner.width)
        let rows = inner.height - 1
        guard rows > 0 else { return }
        let offset = min(max(0, state.eventLogOffset), max(0, all.count - rows))
        let end = all.count - offset
        let shown = all[max(0, end - rows)..<end]
        for (i, entry) in shown.enumerated() {
            let line = TextWidth.truncated(entry.0, toCells: inner.width, ellipsis: glyphs.ellipsis)
            buffer.put(line, x: inner.x, y: inner.y + 1 + i, style: panel(entry.1, []), maxWidth: inner.width)
        }
    }
}

enum HelpOverlay {
    /// A centred box listing the key table (the single source of truth for keys). When the table is taller than the
    /// screen it is laid out in two columns (each help text cut with an ellipsis), so every key, `q` included, stays
    /// visible; `taps-tui --help` has the full texts.
    static func draw(_ buffer: inout ScreenBuffer, state: DashboardState, theme: Theme, glyphs: Glyphs) {
        let lines = Keymap.helpLines(readOnly: state.readOnly)
        let footer = "? or Esc closes this help"
        let keyWidth = Keymap.bindings.map(\.keyLabel.count).max() ?? 0
        let contentWidth = max(lines.map(\.count).max() ?? 0, footer.count)
        let columns = lines.count + 4 > buffer.height && buffer.width >= 60 ? 2 : 1
        let rows = (lines.count + columns - 1) / columns
        let w = columns == 1 ? min(buffer.width, contentWidth + 4) : buffer.width
        let h = min(buffer.height, rows + 4)
        let rect = Rect(x: (buffer.width - w) / 2, y: (buffer.height - h) / 2, width: w, height: h)
        buffer.fill(rect, style: Style(fg: theme[.mainFg], bg: theme[.statusBg]))
        let inner = Box.draw(&buffer, rect, title: [Span(text: "keys", style: theme.style(.title, .bold))],
                             theme: theme, glyphs: glyphs)
        let panel = Style(fg: theme[.mainFg], bg: theme[.statusBg])
        let columnWidth = (inner.width - 1) / columns
        for (i, line) in lines.enumerated() {
            let (column, row) = (i / rows, i % rows)
            guard row < inner.height - 1 else { continue }
            let x = inner.x + 1 + column * columnWidth
            let width = columnWidth - (columns > 1 ? 1 : 0)
            let keys = String(line.prefix(keyWidth))
            var rest = String(line.dropFirst(keyWidth))
            rest = TextWidth.truncated(rest, toCells: max(0, width - keys.count), ellipsis: glyphs.ellipsis)
            let used = buffer.put(keys, x: x, y: inner.y + row,
                                  style: Style(fg: theme[.highlight], bg: theme[.statusBg], attrs: .bold), maxWidth: width)
            buffer.put(rest, x: x + used, y: inner.y + row, style: panel, maxWidth: width - used)
        }
        if inner.height >= 2 {
            buffer.put(footer, x: inner.x + 1, y: inner.maxY - 1,
                       style: Style(fg: theme[.dimFg], bg: theme[.statusBg]), maxWidth: inner.width - 1)
        }
    }
}
