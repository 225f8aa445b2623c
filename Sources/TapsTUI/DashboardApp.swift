// TapsTUI: the UI loop — poll the metrics at a steady frame rate, render, draw, handle keys. Training runs elsewhere
// (a background queue or another process) and never waits for this loop.
import Foundation
import TapsTraining

/// Where the dashboard's data comes from.
public enum DashboardSource {
    /// A trainer in this process: its store, its control box, and whether its `run()` has returned.
    case live(store: MetricsStore, control: TrainingControl, isFinished: @Sendable () -> Bool,
              totalSteps: @Sendable () -> Int?)
    /// A metrics JSONL written by another process (read-only).
    case attached(MetricsFollower)
    /// Several runs in this process (a suite): one store per view, one control box for the run in training.
    case suite(SuiteSource)
}

/// A suite's runs as the dashboard sees them: one metrics store per view (`stage1` first in joint mode, then one per
/// task), the view in training, and one control box (lambda, pause, stop) for whichever run is in training.
public struct SuiteSource: Sendable {
    public var views: [(name: String, store: MetricsStore)]
    public var control: TrainingControl
    /// Index of the view in training (the last one started).
    public var currentView: @Sendable () -> Int
    /// Whether the whole suite is over.
    public var isFinished: @Sendable () -> Bool
    /// Step budget of a view's run, once known.
    public var totalSteps: @Sendable (Int) -> Int?

    public init(views: [(name: String, store: MetricsStore)], control: TrainingControl,
                currentView: @escaping @Sendable () -> Int, isFinished: @escaping @Sendable () -> Bool,
                totalSteps: @escaping @Sendable (Int) -> Int?) {
        self.views = views; self.control = control; self.currentView = currentView; self.isFinished = isFinished
        self.totalSteps = totalSteps
    }
}

/// Options of the UI loop.
public struct DashboardOptions {
    public var theme: Theme
    /// Shown on the event line at start (e.g. a malformed theme fell back to default).
    public var startupMessage: String?
    public var colorMode: ColorMode
    public var forceASCII: Bool
    public var framesPerSecond: Double
    /// Crash on purpose after the first frame (tests the terminal restore).
    public var crashTest: Bool

    public init(theme: Theme = .builtInDefault, startupMessage: String? = nil, colorMode: ColorMode = .auto,
                forceASCII: Bool = false, framesPerSecond: Double = 10, crashTest: Bool = false) {
        self.theme = theme; self.startupMessage = startupMessage; self.colorMode = colorMode
        self.forceASCII = forceASCII; self.framesPerSecond = framesPerSecond; self.crashTest = crashTest
    }
}

/// What happened to a dashboard session.
public enum DashboardOutcome: Equatable {
    /// No usable terminal (not a tty, TERM dumb/unknown, no terminfo): the caller should run headless.
    case terminalUnavailable
    /// The user quit (after the trainer stopped, when live). `framesPerSecond` is the measured mean frame rate.
    case quit(framesPerSecond: Double, stopSignal: Int32?)
}

/// The dashboard's main loop (main thread).
public final class DashboardApp {
    private let source: DashboardSource
    private let options: DashboardOptions
    private var state = DashboardState()
    private var glyphs: GlyphSet = .unicode
    private var quitRequested = false
    private var frameTimes: [Double] = []
    /// Notices seen when the UI message was last set; a newer notice clears the message.
    private var messageNoticeCount = 0
    /// Suite only: the view chosen with `t` (nil: follow the run in training), and the view last drawn.
    private var chosenView: Int?
    private var shownView: Int?

    public init(source: DashboardSource, options: DashboardOptions) {
        self.source = source
        self.options = options
        state.message = options.startupMessage
        if case .live(_, let control, _, _) = source {
            state.initialLambda = control.initialLambda
        } else if case .suite(let suite) = source {
            state.initialLambda = suite.control.initialLambda
        } else {
            state.readOnly = true
        }
    }

    /// Runs until the user quits (and, when live, the trainer has finished its step and written the run folder).
    /// `onReady` runs once the terminal is open, before the first frame (start the trainer there, so that when no
    /// terminal is available the caller can still start it headless).
    public func run(onReady: () -> Void = {}) -> DashboardOutcome {
        let env = ProcessInfo.processInfo.environment
        guard let terminal = CursesTerminal(colorMode: options.colorMode, forceASCII: options.forceASCII,
                                            environment: env) else {
            return .terminalUnavailable
        }
        defer { terminal.close() }
        onReady()
        glyphs = terminal.capabilities.glyphs
        let theme = terminal.capabilities.colorDepth == .none ? Theme.builtInMono : options.theme
        let frame = 1 / max(1, options.framesPerSecond)
        let started = now()
        var frames = 0
        var nextFrame = started
        var lastDrawn: (DashboardState, Size, GlyphSet)?
        var stopSignal: Int32?

        while true {
            // Input until the next frame is due (a key redraws at once).
            var dirty = false
            let waitMs = Int(max(0, (nextFrame - now()) * 1000).rounded(.up))
            if let key = terminal.readKey(timeoutMilliseconds: waitMs) {
                handle(key, terminal: terminal)
                while let more = terminal.readKey(timeoutMilliseconds: 0) { handle(more, terminal: terminal) }
                dirty = true
            }
            if let s = terminal.stopSignal, stopSignal == nil {
                stopSignal = s
                requestQuit()
            }
            let t = now()
            let frameDue = t >= nextFrame
            if frameDue {
                nextFrame = max(nextFrame + frame, t)
                frames += 1
                frameTimes.append(t)
                frameTimes.removeAll { $0 < t - 1 }
                state.framesPerSecond = Double(frameTimes.count)
            }
            guard frameDue || dirty else { continue }

            let finished = refresh()
            if quitRequested && finished { break }
            let size = terminal.size
            if let last = lastDrawn, last.0 == state, last.1 == size, last.2 == glyphs { continue }
            var caps = terminal.capabilities
            caps.glyphs = glyphs
            terminal.draw(render(state, size: size, theme: theme, caps: caps))
            lastDrawn = (state, size, glyphs)
            if options.crashTest { terminal.crashForTest() }
        }
        let seconds = max(1e-9, now() - started)
        return .quit(framesPerSecond: Double(frames) / seconds, stopSignal: stopSignal)
    }

    // MARK: - Data

    /// Pulls the newest metrics into `state`; returns whether the run is over (trainer returned / file ended).
    private func refresh() -> Bool {
        switch source {
        case let .live(store, control, isFinished, totalSteps):
            if store.version != state.metrics.version {
                state.metrics = store.snapshot()
                // The trainer's own notice (lambda applied, snapshot written, paused) replaces the UI's message.
                if state.metrics.notices.count > messageNoticeCount && !quitRequested { state.message = nil }
            }
            messageNoticeCount = state.metrics.notices.count
            state.lambda = control.lambda
            state.paused = control.isPaused
            state.totalSteps = totalSteps()
            return isFinished()
        case .suite(let suite):
            let current = suite.currentView()
            let view = chosenView ?? current
            let store = suite.views[view].store
            if view != shownView || store.version != state.metrics.version {
                state.metrics = store.snapshot()
                if view != shownView { messageNoticeCount = state.metrics.notices.count }
                if state.metrics.notices.count > messageNoticeCount && !quitRequested { state.message = nil }
                shownView = view
            }
            messageNoticeCount = state.metrics.notices.count
            let finished = suite.isFinished()
            state.suite = SuiteTabs(names: suite.views.map(\.name), viewing: view, training: finished ? nil : current,
                                    done: suite.views.map { $0.store.snapshot().end != nil }, following: chosenView == nil)
            // The lambda, pause state and step budget belong to the run in training; show them on its view only.
            state.lambda = view == current && !finished ? suite.control.lambda : nil
            state.paused = suite.control.isPaused
            state.totalSteps = suite.totalSteps(view)
            return finished
        case .attached(let follower):
            do {
                try follower.poll()
                if follower.snapshot.version != state.metrics.version { state.metrics = follower.snapshot }
                if let p = follower.problem { state.message = p }
            } catch {
                state.message = "cannot read \(follower.url.path): \(error.localizedDescription)"
            }
            return true
        }
    }

    // MARK: - Keys

    private func handle(_ key: Key, terminal: CursesTerminal) {
        if key == .resize {
            terminal.invalidate()
            return
        }
        guard let binding = Keymap.binding(for: key) else { return }
        let live: (MetricsStore, TrainingControl)?
        switch source {
        case let .live(store, control, _, _): live = (store, control)
        case let .suite(suite): live = (suite.views[suite.currentView()].store, suite.control)
        case .attached: live = nil
        }
        if binding.steersTraining {
            guard let (_, control) = live else {
                state.message = "read-only: attached to a run started elsewhere"
                return
            }
            if case .suite(let suite) = source {
                guard !suite.isFinished(), !quitRequested else {
                    state.message = "the suite is over; q quits"
                    return
                }
            } else {
                guard state.metrics.end == nil, !quitRequested else {
                    state.message = "the run is over; q quits"
                    return
                }
            }
            steer(binding.action, control: control)
            return
        }
        switch binding.action {
        case .toggleHelp: state.showHelp.toggle()
        case .closeOverlay: state.showHelp = false
        case .toggleGlyphs:
            glyphs = glyphs == .unicode ? .ascii : .unicode
            terminal.setGlyphs(glyphs)
            glyphs = terminal.capabilities.glyphs
        case .scrollLayers(let delta): scrollLayers(delta, size: terminal.size)
        case .quit: requestQuit()
        case .nextTask: nextTask()
        default: break
        }
    }

    /// `t`: shows the next view of a suite; coming back to the run in training follows it again.
    /// Moves the heatmap's first shown layer by `delta` rows (`Int.max`/`Int.min`: one page), clamped.
    private func scrollLayers(_ delta: Int, size: Size) {
        let layerCount = state.metrics.start?.layers.count ?? 0
        let layout = DashboardLayout(size: size, layerCount: layerCount, suite: state.suite != nil)
        let inner = max(1, layout.heatmap.height - 2)
        let page = max(1, GateHeatmap.visibleRows(innerHeight: inner, layerCount: layerCount) - 1)
        let step: Int = delta == Int.max ? page : (delta == Int.min ? -page : delta)
        state.heatmapOffset = GateHeatmap.clampedOffset(state.heatmapOffset + step, innerHeight: inner, layerCount: layerCount)
    }

    private func nextTask() {
        guard case .suite(let suite) = source, !suite.views.isEmpty else {
            state.message = "t switches between the tasks of a suite (taps-tui --tasks a,b,...)"
            return
        }
        let current = suite.currentView()
        let next = ((chosenView ?? current) + 1) % suite.views.count
        chosenView = next == current ? nil : next
        state.message = "viewing \(suite.views[next].name)" + (chosenView == nil ? " (the task in training)" : "")
            + (next > current && !suite.isFinished() ? ": not started yet" : "")
    }

    private func steer(_ action: Action, control: TrainingControl) {
        let before = control.lambda
        switch action {
        case .lambdaMultiply(let f): control.scaleLambda(by: f)
        case .lambdaDivide(let f): control.scaleLambda(by: 1 / f)
        case .lambdaReset: control.lambda = control.initialLambda
        case .togglePause:
            let paused = control.togglePause()
            state.message = paused ? "paused at the next step boundary; space resumes" : nil
            return
        case .exportSnapshot:
            control.requestSnapshot()
            state.message = "snapshot requested (written at the next step boundary)"
            return
        default: return
        }
        let after = control.lambda
        state.message = after == before ? nil
            : "lambda \(Format.number(before)) -> \(Format.number(after)) from the next step"
    }

    private func requestQuit() {
        guard !quitRequested else { return }
        quitRequested = true
        state.stopping = true
        state.showHelp = false
        if case .live(_, let control, let isFinished, _) = source, !isFinished() {
            control.requestStop()
            state.message = "stopping: finishing the step and writing the run folder"
        }
        if case .suite(let suite) = source, !suite.isFinished() {
            suite.control.requestStop()
            state.message = "stopping: finishing the step, writing the run folder and the suite summary"
        }
    }

    private func now() -> Double { ProcessInfo.processInfo.systemUptime }
}
