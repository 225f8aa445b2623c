// TapsTUI: the keys that change only what is shown (cursor, panels, smoothing, log axis), as a pure function of the
// state, so tests can drive them without a terminal.

extension DashboardState {
    /// Applies a key's action that changes only the view (not training): the layer cursor and its scrolling, the
    /// layer panel, the event log and its scrolling, smoothing, the log axis, the help. Other actions are ignored.
    /// `size` is the terminal's (it decides how many heatmap rows fit).
    public mutating func applyViewAction(_ action: Action, size: Size) {
        switch action {
        case .scrollLayers(let delta):
            if showEventLog {
                let page = max(1, size.height - 8)
                let step = delta == Int.max ? -page : delta == Int.min ? page : -delta
                let total = EventLog.entries(self).count
                eventLogOffset = max(0, min(eventLogOffset + step, max(0, total - 1)))
                return
            }
            moveLayerCursor(delta, size: size)
        case .toggleLayerPanel:
            showLayerPanel = cursorLayer != nil && !showLayerPanel
            if cursorLayer == nil { message = "no layers yet (waiting for the first step)" }
        case .toggleEventLog:
            showEventLog.toggle()
            eventLogOffset = 0
        case .cycleSmoothing:
            let steps = Self.smoothingSteps
            let i = steps.firstIndex(of: smoothing) ?? 0
            smoothing = steps[(i + 1) % steps.count]
            message = smoothing == 0 ? "smoothing off (raw per-step values)"
                : "smoothing: EMA weight \(Format.number(smoothing)) (bias-corrected)"
        case .toggleLogY:
            logY.toggle()
            message = logY ? "loss chart: log scale (points <= 0 are skipped and counted)" : "loss chart: linear scale"
        case .toggleHelp: showHelp.toggle()
        case .closeOverlay:
            if optionsPrompt != nil { optionsPrompt = nil }
            else if showHelp { showHelp = false } else if showEventLog { showEventLog = false }
            else if showLayerPanel { showLayerPanel = false }
        default: break
        }
    }

    /// Moves the layer cursor by `delta` rows (`Int.max` / `Int.min`: a page), scrolling the heatmap so the cursor
    /// stays visible.
    mutating func moveLayerCursor(_ delta: Int, size: Size) {
        let layerCount = metrics.start?.layers.count ?? 0
        guard layerCount > 0 else { return }
        let layout = DashboardLayout(size: size, layerCount: layerCount, suite: suite != nil)
        let inner = max(1, layout.heatmap.height - 2)
        let rows = GateHeatmap.visibleRows(innerHeight: inner, layerCount: layerCount)
        let page = max(1, rows - 1)
        let step: Int = delta == Int.max ? page : (delta == Int.min ? -page : delta)
        layerCursor = min(max(0, (cursorLayer ?? 0) + step), layerCount - 1)
        var offset = GateHeatmap.clampedOffset(heatmapOffset, innerHeight: inner, layerCount: layerCount)
        if delta == Int.max || delta == Int.min {  // a page scrolls the view with the cursor
            offset = GateHeatmap.clampedOffset(offset + step, innerHeight: inner, layerCount: layerCount)
        }
        if layerCursor < offset { offset = layerCursor }
        if layerCursor >= offset + rows { offset = layerCursor - rows + 1 }
        heatmapOffset = GateHeatmap.clampedOffset(offset, innerHeight: inner, layerCount: layerCount)
    }

    /// The gated layer whose heatmap row (of this run's panel) is at terminal cell (x, y), if any.
    public func layer(atX x: Int, y: Int, size: Size) -> Int? {
        let layerCount = metrics.start?.layers.count ?? 0
        guard layerCount > 0 else { return nil }
        let layout = DashboardLayout(size: size, layerCount: layerCount, suite: suite != nil)
        var panel = layout.heatmap
        if !comparisons.isEmpty, panel.width / (1 + comparisons.count) >= 30 {
            panel.width /= 1 + comparisons.count
        }
        let inner = panel.inset(1)
        guard x >= inner.x, x < inner.maxX, y >= inner.y, y < inner.maxY else { return nil }
        let rows = GateHeatmap.visibleRows(innerHeight: inner.height, layerCount: layerCount)
        let first = GateHeatmap.clampedOffset(heatmapOffset, innerHeight: inner.height, layerCount: layerCount)
        let row = y - inner.y
        return row < rows && first + row < layerCount ? first + row : nil
    }

    /// A click: on a heatmap row it moves the layer cursor there; a double click (or a click on the row already
    /// under the cursor) opens or closes its layer panel. Clicks elsewhere are ignored.
    public mutating func click(x: Int, y: Int, double: Bool, size: Size) {
        guard !showHelp, !showEventLog, lambdaPrompt == nil, optionsPrompt == nil else { return }
        guard let layer = layer(atX: x, y: y, size: size) else {
            if showLayerPanel { showLayerPanel = false }  // a click outside closes the panel
            return
        }
        if double || (layer == cursorLayer && !showLayerPanel) { showLayerPanel = true }
        else if layer == cursorLayer && showLayerPanel { showLayerPanel = false }
        layerCursor = layer
    }
}
