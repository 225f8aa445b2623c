// TapsTUI: the UI loop — poll the metrics at a steady frame rate, render, draw, handle keys. Training runs elsewhere
// (a background queue or another process) and never waits for this loop.
import Foundation
import TapsTensor
import TapsTraining

/// Where the dashboard's data comes from.
public enum DashboardSource {
    /// A trainer in this process. `newRun`, when given, starts another run with the given lambda once this one has
    /// ended (the `r` key); the earlier runs stay on screen for comparison.
    case live(LiveRun, newRun: (@Sendable (NewRunRequest) throws -> LiveRun)?)
    /// Metrics JSONL files written by other processes; the first is the main run, the others are overlaid for
    /// comparison. A file that does not exist yet is waited for. While the main run has not ended, the steering keys
    /// write its folder's control file (``RemoteControl``); the other runs are read-only.
    case attached([MetricsFollower])
    /// A suite folder trained elsewhere (`taps suite --out DIR`, job-array processes): one tab per task (read-only).
    case attachedSuite(AttachedSuite)
    /// Several runs in this process (a suite): one store per view, one control box for the run in training.
    case suite(SuiteSource)
}

/// What `r` / `R` ask for: a new run with this lambda and these extra options (those of `taps train`, typed at
/// the `R` prompt; empty for `r`). Options typed override the first run's; `--lambda` overrides `lambda`.
public struct NewRunRequest: Sendable, Equatable {
    public var lambda: Double
    public var arguments: [String]

    public init(lambda: Double, arguments: [String] = []) { self.lambda = lambda; self.arguments = arguments }
}

/// One trainer in this process as the dashboard sees it: its store, its control box, whether its `run()` has
/// returned, and its step budget.
public struct LiveRun: Sendable {
    public var store: MetricsStore
    public var control: TrainingControl
    public var isFinished: @Sendable () -> Bool
    public var totalSteps: @Sendable () -> Int?

    public init(store: MetricsStore, control: TrainingControl, isFinished: @escaping @Sendable () -> Bool,
                totalSteps: @escaping @Sendable () -> Int?) {
        self.store = store; self.control = control; self.isFinished = isFinished; self.totalSteps = totalSteps
    }
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
    /// What the views are, for the tab line: `tasks` (a suite) or `settings` (a sweep).
    public var label: String = "tasks"
    /// Whether the lambda keys steer the run in training (off for a sweep, whose lambdas are its settings).
    public var lambdaKeys: Bool = true

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
    /// Frame rate once no key has been pressed for ``idleAfterSeconds`` (at most ``framesPerSecond``): the charts
    /// stay live while the UI thread takes less of the cores the trainer uses. Any key restores the full rate.
    public var idleFramesPerSecond: Double
    /// Seconds without a key after which the dashboard drops to ``idleFramesPerSecond``.
    public var idleAfterSeconds: Double
    /// Crash on purpose after the first frame (tests the terminal restore).
    public var crashTest: Bool

    public init(theme: Theme = .builtInDefault, startupMessage: String? = nil, colorMode: ColorMode = .auto,
                forceASCII: Bool = false, framesPerSecond: Double = 10, idleFramesPerSecond: Double = 4,
                idleAfterSeconds: Double = 3, crashTest: Bool = false) {
        self.theme = theme; self.startupMessage = startupMessage; self.colorMode = colorMode
        self.forceASCII = forceASCII; self.framesPerSecond = framesPerSecond; self.crashTest = crashTest
        self.idleFramesPerSecond = idleFramesPerSecond; self.idleAfterSeconds = idleAfterSeconds
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
    /// A refused input's message stays until then even if the trainer writes a notice (a checkpoint or best-epoch
    /// notice arriving in the same instant would otherwise wipe the only feedback the user gets).
    private var messageHeldUntil = Date.distantPast
    /// Whether a new notice may replace the UI's message now.
    private var noticeMayClearMessage: Bool { !quitRequested && Date() >= messageHeldUntil }
    /// Suite only: the view chosen with `t` (nil: follow the run in training), and the view last drawn.
    private var chosenView: Int?
    private var shownView: Int?
    /// Live only: the run shown now (replaced by `r`), and a reader of its metrics.jsonl for the fields the typed
    /// events do not carry (evaluation progress, per-layer gradients).
    private var live: LiveRun?
    /// The metrics version ``followExtras()`` last built `state.extras` from.
    private var extrasVersion = -1
    /// The last frame drawn (for the plain-text copy of the screen in a snapshot).
    private var lastFrame: ScreenBuffer?
    /// Attached: the main run's control file, while the run can be steered (nil once it has ended).
    private var remote: RemoteControl?

    public init(source: DashboardSource, options: DashboardOptions) {
        self.source = source
        self.options = options
        state.message = options.startupMessage
        switch source {
        case .live(let run, _):
            live = run
            state.initialLambda = run.control.initialLambda
        case .suite(let suite):
            state.initialLambda = suite.control.initialLambda
        case .attached(let followers):
            state.readOnly = true
            if followers.count > 1 { state.runName = Self.runName(followers[0].url) }
            if let first = followers.first {
                let folder = first.url.deletingLastPathComponent()
                if Self.hasEnded(folder) {
                    state.message = "the run has ended (summary.json): attached read-only"
                } else {
                    remote = RemoteControl(directory: folder)
                    state.readOnly = false
                }
            }
        case .attachedSuite:
            state.readOnly = true
        }
    }

    /// Whether two states draw the same frame, without comparing every step: metrics are compared by their
    /// version, step count and run folder (the store bumps the version on every event), the rest field by field.
    static func sameFrame(_ a: DashboardState, _ b: DashboardState) -> Bool {
        func key(_ m: MetricsSnapshot) -> [Int] { [m.version, m.steps.count, m.notices.count, m.epochs.count] }
        guard key(a.metrics) == key(b.metrics), a.metrics.start == b.metrics.start, a.metrics.end == b.metrics.end,
              a.comparisons.map({ key($0.metrics) + [$0.waiting ? 1 : 0] })
                == b.comparisons.map({ key($0.metrics) + [$0.waiting ? 1 : 0] }),
              a.comparisons.map(\.name) == b.comparisons.map(\.name) else { return false }
        var x = a, y = b
        x.metrics = MetricsSnapshot(); y.metrics = MetricsSnapshot()
        x.comparisons = []; y.comparisons = []
        return x == y
    }

    /// Lowers the UI thread's scheduling priority (nice +10, this thread only): on a machine whose cores the
    /// trainer keeps busy, a frame then waits for a core instead of pre-empting a worker in the middle of a
    /// parallel region, which stalls the whole region (measured: the dashboard cost 5% of training throughput at
    /// nice 0 with 0.7% of the CPU). Called after the trainer has started, so its threads keep their priority.
    /// Linux only; a failure (e.g. a seccomp filter) changes nothing.
    static func yieldCoresToTraining() {
        #if os(Linux)
        Parallel.startWorkers()   // before the renice: the pool's threads would inherit it
        // The kernel thread id from /proc/thread-self ("PID/task/TID"); Glibc's gettid is not imported into Swift.
        var link = [CChar](repeating: 0, count: 64)
        let length = readlink("/proc/thread-self", &link, link.count - 1)
        guard length > 0, let tid = String(decoding: link.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: "/").last.flatMap({ id_t($0) }) else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, 10)
        #endif
    }

    /// Whether a run folder holds a finished run (`summary.json`).
    static func hasEnded(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent("summary.json").path)
    }

    /// A run's short name: its folder's name (or the file's, for a bare JSONL).
    static func runName(_ metricsFile: URL) -> String {
        metricsFile.lastPathComponent == "metrics.jsonl" ? metricsFile.deletingLastPathComponent().lastPathComponent
            : metricsFile.deletingPathExtension().lastPathComponent
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
        Self.yieldCoresToTraining()
        glyphs = terminal.capabilities.glyphs
        let theme = terminal.capabilities.colorDepth == .none ? Theme.builtInMono : options.theme
        let frame = 1 / max(1, options.framesPerSecond)
        let idleFrame = 1 / max(1, min(options.framesPerSecond, options.idleFramesPerSecond))
        let started = now()
        var lastKey = started
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
                lastKey = now()
                nextFrame = min(nextFrame, lastKey + frame)
            }
            if let s = terminal.stopSignal, stopSignal == nil {
                stopSignal = s
                requestQuit()
            }
            let t = now()
            let frameDue = t >= nextFrame
            if frameDue {
                nextFrame = max(nextFrame + (t - lastKey < options.idleAfterSeconds ? frame : idleFrame), t)
                frames += 1
                frameTimes.append(t)
                frameTimes.removeAll { $0 < t - 1 }
                state.framesPerSecond = Double(frameTimes.count)
            }
            guard frameDue || dirty else { continue }

            let finished = refresh()
            if quitRequested && finished { break }
            let size = terminal.size
            if let last = lastDrawn, last.1 == size, last.2 == glyphs, Self.sameFrame(last.0, state) { continue }
            var caps = terminal.capabilities
            caps.glyphs = glyphs
            let frameBuffer = render(state, size: size, theme: theme, caps: caps)
            terminal.draw(frameBuffer)
            lastFrame = frameBuffer
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
        case .live:
            guard let run = live else { return true }
            let store = run.store
            if store.version != state.metrics.version {
                state.metrics = store.snapshot()
                // The trainer's own notice (lambda applied, snapshot written, paused) replaces the UI's message.
                if state.metrics.notices.count > messageNoticeCount && noticeMayClearMessage { state.message = nil }
            }
            messageNoticeCount = state.metrics.notices.count
            followExtras()
            if !state.comparisons.isEmpty, state.runName == nil, let dir = state.metrics.start?.runDirectory {
                state.runName = URL(fileURLWithPath: dir).lastPathComponent
            }
            state.lambda = run.control.lambda
            state.paused = run.control.isPaused
            state.totalSteps = run.totalSteps()
            return run.isFinished()
        case .suite(let suite):
            let current = suite.currentView()
            let view = chosenView ?? current
            let store = suite.views[view].store
            if view != shownView || store.version != state.metrics.version {
                state.metrics = store.snapshot()
                if view != shownView { messageNoticeCount = state.metrics.notices.count; extrasVersion = -1 }
                if state.metrics.notices.count > messageNoticeCount && noticeMayClearMessage { state.message = nil }
                shownView = view
            }
            messageNoticeCount = state.metrics.notices.count
            followExtras()
            let finished = suite.isFinished()
            state.suite = SuiteTabs(names: suite.views.map(\.name), viewing: view, training: finished ? nil : current,
                                    done: suite.views.map { $0.store.hasEnded }, following: chosenView == nil,
                                    label: suite.label)
            // The lambda, pause state and step budget belong to the run in training; show them on its view only.
            state.lambda = view == current && !finished ? suite.control.lambda : nil
            state.paused = suite.control.isPaused
            state.totalSteps = suite.totalSteps(view)
            return finished
        case .attached(let followers):
            var comparisons: [ComparedRun] = []
            for (k, follower) in followers.enumerated() {
                do {
                    try follower.poll()
                    if let p = follower.problem { state.message = p }
                } catch {
                    state.message = "cannot read \(follower.url.path): \(error.localizedDescription)"
                }
                if k == 0 {
                    if follower.snapshot.version != state.metrics.version { state.metrics = follower.snapshot }
                    state.extras = follower.extras
                    if !follower.fileExists {
                        state.message = "waiting for \(follower.url.path) (the run has not started yet; q quits)"
                    } else if state.message?.hasPrefix("waiting for ") == true {
                        state.message = nil
                    }
                } else {
                    comparisons.append(ComparedRun(name: Self.runName(follower.url), metrics: follower.snapshot,
                                                   extras: follower.extras, waiting: !follower.fileExists))
                }
            }
            if !comparisons.elementsEqual(state.comparisons, by: {
                $0.name == $1.name && $0.waiting == $1.waiting && $0.metrics.version == $1.metrics.version
                    && $0.extras == $1.extras
            }) {
                state.comparisons = comparisons
            }
            refreshRemote()
            return true
        case .attachedSuite(let suite):
            let (view, problem) = suite.update(chosen: chosenView)
            guard suite.followers.indices.contains(view) else { return true }
            let follower = suite.followers[view]
            if view != shownView || follower.snapshot.version != state.metrics.version {
                state.metrics = follower.snapshot
                shownView = view
            }
            if follower.extras != state.extras { state.extras = follower.extras }
            if let problem { state.message = problem }
            let waitingNote = " (not started yet; t: next task, q quits)"
            if !follower.fileExists {
                state.message = "\(suite.names[view]): waiting for \(follower.url.path)" + waitingNote
            } else if state.message?.hasSuffix(waitingNote) == true {
                state.message = nil
            }
            let tabs = suite.tabs(viewing: view, following: chosenView == nil)
            if tabs != state.suite { state.suite = tabs }
            return true
        }
    }

    /// Attached: the main run's lambda and pause state from its metrics, and whether the run has picked up the
    /// dashboard's requests; once the run has ended the dashboard becomes read-only.
    private func refreshRemote() {
        guard let remote else { return }
        if state.metrics.end != nil {
            self.remote = nil
            state.readOnly = true
            state.remoteStatus = nil
            state.lambda = nil
            state.message = "the run has ended: attached read-only"
            return
        }
        remote.refreshAcknowledgement()
        let status = remote.status
        if status != state.remoteStatus { state.remoteStatus = status }
        state.lambda = RemoteControl.runLambda(state.metrics)
        state.initialLambda = state.metrics.start?.lambda
        state.paused = RemoteControl.runPaused(state.metrics)
        if let ceiling = state.extras.lambdaCeiling, ceiling.isFinite, ceiling > 0, ceiling != state.lambdaCeiling {
            state.lambdaCeiling = ceiling
        }
    }

    /// The live run's extras (evaluation progress, per-layer gradients, penalty weights) from the store's typed
    /// events, rebuilt only when the metrics changed: no file is read and nothing is decoded on the UI thread.
    private func followExtras() {
        guard state.metrics.version != extrasVersion else { return }
        extrasVersion = state.metrics.version
        let extras = RunExtras(snapshot: state.metrics)
        if extras != state.extras { state.extras = extras }
        // The trainer's own ceiling when its start event states one (TrainingControl.maximumLambda).
        let ceiling = state.extras.lambdaCeiling.flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
            ?? DashboardState.defaultLambdaCeiling
        if ceiling != state.lambdaCeiling { state.lambdaCeiling = ceiling }
    }

    // MARK: - Keys

    private func handle(_ key: Key, terminal: CursesTerminal) {
        if key == .resize {
            terminal.invalidate()
            return
        }
        if state.lambdaPrompt != nil {
            handlePrompt(key)
            return
        }
        if state.optionsPrompt != nil {
            handleOptionsPrompt(key)
            return
        }
        if case let .mouse(x, y, double) = key {
            state.click(x: x, y: y, double: double, size: terminal.size)
            return
        }
        guard let binding = Keymap.binding(for: key) else { return }
        // Overlays take the scrolling keys while open.
        if state.showEventLog, case .scrollLayers = binding.action {
            state.applyViewAction(binding.action, size: terminal.size)
            return
        }
        let control: TrainingControl?
        switch source {
        case .live: control = live?.control
        case let .suite(suite): control = suite.control
        case .attached, .attachedSuite: control = nil
        }
        switch binding.action {
        case .newRun:
            startNewRun(arguments: [])
            return
        case .newRunWithOptions:
            if canStartNewRun() { state.optionsPrompt = ""; state.message = nil }
            return
        case .exportSnapshot:
            exportSnapshot(control: control)
            return
        default: break
        }
        if binding.steersTraining {
            if case .attached = source {
                steerRemote(binding.action)
                return
            }
            guard let control else {
                state.message = "read-only: attached to a run started elsewhere"
                return
            }
            if case .suite(let suite) = source {
                guard !suite.isFinished(), !quitRequested else {
                    state.message = "the suite is over; q quits"
                    return
                }
                switch binding.action {
                case .lambdaMultiply, .lambdaDivide, .lambdaReset, .lambdaPrompt:
                    guard suite.lambdaKeys else {
                        state.message = "a sweep's lambdas are its settings (--lambdas); lambda keys are off"
                        return
                    }
                default: break
                }
            } else {
                guard state.metrics.end == nil, !quitRequested else {
                    state.message = "the run is over; r starts a new run with the current lambda, q quits"
                    return
                }
            }
            steer(binding.action, control: control)
            return
        }
        switch binding.action {
        case .toggleGlyphs:
            glyphs = glyphs == .unicode ? .ascii : .unicode
            terminal.setGlyphs(glyphs)
            glyphs = terminal.capabilities.glyphs
        case .quit: requestQuit()
        case .nextTask: nextTask()
        default: state.applyViewAction(binding.action, size: terminal.size)
        }
    }

    /// Keys while the exact-lambda prompt is open: digits, `.`, `e`, `-`, Backspace, Enter, Esc.
    private func handlePrompt(_ key: Key) {
        guard var typed = state.lambdaPrompt else { return }
        switch key {
        case .escape:
            state.lambdaPrompt = nil
            state.message = "lambda unchanged"
        case .backspace:
            if !typed.isEmpty { typed.removeLast() }
            state.lambdaPrompt = typed
        case .enter:
            state.lambdaPrompt = nil
            switch Self.parseLambda(typed, ceiling: state.lambdaCeiling) {
            case .success(let value):
                messageHeldUntil = .distantPast   // a refused input's hold does not carry over to this answer
                if case .attached = source {
                    sendRemote(lambda: value)
                    return
                }
                guard let control = liveControl, state.metrics.end == nil || isSuite else {
                    state.message = "the run is over; lambda unchanged"
                    return
                }
                let before = control.lambda
                control.lambda = value
                state.message = "lambda \(Format.number(before)) -> \(Format.number(control.lambda)) from the next step"
            case .failure(let problem):
                state.message = problem.message
                messageHeldUntil = Date().addingTimeInterval(3)
            }
        case .character(let c) where typed.count < 24 && (c.isASCII && (c.isNumber || ".eE-+".contains(c))):
            state.lambdaPrompt = typed + String(c)
        case .control("c"):
            state.lambdaPrompt = nil
            requestQuit()
        default:
            break
        }
    }

    /// Keys while the new-run options prompt is open: printable ASCII, Backspace, Enter (starts), Esc.
    private func handleOptionsPrompt(_ key: Key) {
        guard var typed = state.optionsPrompt else { return }
        switch key {
        case .escape:
            state.optionsPrompt = nil
            state.message = "no new run"
        case .backspace:
            if !typed.isEmpty { typed.removeLast() }
            state.optionsPrompt = typed
        case .enter:
            state.optionsPrompt = nil
            startNewRun(arguments: typed.split(separator: " ").map(String.init))
        case .character(let c) where typed.count < 200 && c.isASCII && !c.isNewline:
            state.optionsPrompt = typed + String(c)
        case .control("c"):
            state.optionsPrompt = nil
            requestQuit()
        default:
            break
        }
    }

    private var isSuite: Bool { if case .suite = source { return true } else { return false } }

    private var liveControl: TrainingControl? {
        switch source {
        case .live: return live?.control
        case .suite(let suite): return suite.isFinished() ? nil : suite.control
        case .attached, .attachedSuite: return nil
        }
    }

    /// A problem with the text typed at the lambda prompt.
    public struct LambdaInputError: Error, Equatable {
        public var message: String
    }

    /// Parses the exact-lambda prompt: a finite decimal number in 0...ceiling (0 allowed: no penalty).
    public static func parseLambda(_ text: String, ceiling: Double) -> Result<Double, LambdaInputError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let v = Double(trimmed), v.isFinite else {
            return .failure(LambdaInputError(message: "lambda: '\(trimmed)' is not a number; lambda unchanged"))
        }
        guard v >= 0, v <= ceiling else {
            return .failure(LambdaInputError(
                message: "lambda: \(trimmed) is outside 0 ... \(Format.number(ceiling)); lambda unchanged"))
        }
        return .success(v)
    }

    /// `t`: shows the next view of a suite; coming back to the run in training follows it again.
    private func nextTask() {
        if case .attachedSuite(let suite) = source, !suite.names.isEmpty {
            let next = ((chosenView ?? suite.defaultView) + 1) % suite.names.count
            chosenView = next == suite.defaultView ? nil : next
            let note = suite.waiting[next] ? ": not started yet" : suite.done[next] ? ": done" : ""
            state.message = "viewing \(suite.names[next])\(note)"
            return
        }
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

    // MARK: - Steering an attached run (its control file)

    /// A steering key while attached: the request goes into the main run's `control.json`; the run picks it up at
    /// its next step boundary (the status line says so until it has).
    private func steerRemote(_ action: Action) {
        guard let remote else {
            state.message = "read-only: attached to a run that has ended"
            return
        }
        guard state.metrics.start != nil else {
            state.message = "the run has not started yet; the steering keys work once it has"
            return
        }
        let ceiling = state.lambdaCeiling
        let before = remote.pendingLambda ?? RemoteControl.runLambda(state.metrics) ?? 0
        switch action {
        case .lambdaMultiply(let f): sendRemote(lambda: min(ceiling, max(0, before * f)))
        case .lambdaDivide(let f): sendRemote(lambda: min(ceiling, max(0, before / f)))
        case .lambdaReset: sendRemote(lambda: min(ceiling, max(0, state.metrics.start?.lambda ?? before)))
        case .lambdaPrompt:
            state.lambdaPrompt = ""
            state.message = nil
        case .togglePause:
            let paused = !(remote.pendingPause ?? RemoteControl.runPaused(state.metrics))
            send(remote.request.requestingPause(paused),
                 paused ? "pause requested (at the run's next step boundary); space resumes" : "resume requested")
        case .checkpoint:
            send(remote.request.requestingCheckpoint(), "checkpoint requested (at the run's next step boundary)")
        default:
            state.message = "not available while attached"
        }
    }

    /// Asks the attached run for `lambda` (unless it already has it).
    private func sendRemote(lambda: Double) {
        guard let remote else { return }
        let before = remote.pendingLambda ?? RemoteControl.runLambda(state.metrics) ?? 0
        guard lambda != before else {
            state.message = before >= state.lambdaCeiling ? "lambda is at its ceiling \(Format.number(before))" : nil
            return
        }
        send(remote.request.requestingLambda(lambda),
             "lambda \(Format.number(before)) -> \(Format.number(lambda)) requested (from the run's next step)")
    }

    private func send(_ request: ControlRequest, _ message: String) {
        guard let remote else { return }
        do {
            try remote.send(request)
            state.message = message
            state.remoteStatus = remote.status
        } catch {
            state.message = "cannot steer the run: \(error)"
        }
    }

    private func steer(_ action: Action, control: TrainingControl) {
        let before = control.lambda
        let ceiling = state.lambdaCeiling
        switch action {
        case .lambdaMultiply(let f): control.lambda = min(ceiling, max(0, before * f))
        case .lambdaDivide(let f): control.lambda = min(ceiling, max(0, before / f))
        case .lambdaReset: control.lambda = min(ceiling, max(0, control.initialLambda))
        case .lambdaPrompt:
            state.lambdaPrompt = ""
            state.message = nil
            return
        case .togglePause:
            let paused = control.togglePause()
            state.message = paused ? "paused at the next step boundary; space resumes" : nil
            return
        case .checkpoint:
            control.requestCheckpoint()
            state.message = "checkpoint at the next step boundary"
            return
        default: return
        }
        let after = control.lambda
        if after == before {
            state.message = before >= ceiling && (action == .lambdaMultiply(TrainingControl.lambdaStep) || action == .lambdaMultiply(10))
                ? "lambda is at its ceiling \(Format.number(ceiling))" : nil
        } else {
            state.message = "lambda \(Format.number(before)) -> \(Format.number(after)) from the next step"
        }
    }

    /// `e`: while a live run trains, the trainer writes its snapshot at the next step boundary; after the run, and
    /// when attached, the dashboard writes its own (scalars CSV, screen text, SVG chart) into the run folder.
    private func exportSnapshot(control: TrainingControl?) {
        if case .attached = source, let remote, state.metrics.start != nil, state.metrics.end == nil {
            send(remote.request.requestingSnapshot(), "snapshot requested (the run writes it at its next step boundary)")
            return
        }
        if let control, state.metrics.end == nil, !quitRequested, liveControl != nil {
            control.requestSnapshot()
            state.message = "snapshot requested (written at the next step boundary)"
            return
        }
        let folder: URL
        if case .attached(let followers) = source, let first = followers.first {
            folder = first.url.deletingLastPathComponent()
        } else if let dir = state.metrics.start?.runDirectory, !dir.isEmpty {
            folder = URL(fileURLWithPath: dir)
        } else {
            state.message = "nothing to export yet"
            return
        }
        do {
            let files = try DashboardSnapshot.write(state: state, screen: lastFrame, folder: folder)
            state.message = "snapshot written: " + files.map(\.lastPathComponent).joined(separator: ", ")
                + " in \(folder.path)/"
        } catch {
            state.message = "snapshot failed: \(error.localizedDescription)"
        }
    }

    /// Whether `r`/`R` may start a new run now (else says why on the event line).
    private func canStartNewRun() -> Bool {
        guard case .live(_, let newRun) = source, newRun != nil, let run = live else {
            state.message = "r / R start a new run only for a single live run"
            return false
        }
        guard run.isFinished(), !quitRequested else {
            state.message = "r / R start a new run once this one has ended (q stops it)"
            return false
        }
        return true
    }

    /// `r` / `R`: once the run has ended, a new run with the current lambda (and the options typed at the `R`
    /// prompt); the ended run stays on screen, drawn faintly.
    private func startNewRun(arguments: [String]) {
        guard canStartNewRun(), case .live(_, let newRun?) = source, let run = live else { return }
        let lambda = run.control.lambda
        do {
            let next = try newRun(NewRunRequest(lambda: lambda, arguments: arguments))
            let name = state.runName ?? state.metrics.start.map { URL(fileURLWithPath: $0.runDirectory).lastPathComponent }
                ?? "run 1"
            state.comparisons.insert(ComparedRun(name: name, metrics: state.metrics, extras: state.extras), at: 0)
            if state.comparisons.count > 3 { state.comparisons.removeLast(state.comparisons.count - 3) }
            live = next
            state.metrics = MetricsSnapshot()
            state.extras = RunExtras()
            state.runName = nil
            extrasVersion = -1
            messageNoticeCount = 0
            state.initialLambda = next.control.initialLambda
            state.message = "new run with lambda \(Format.number(next.control.initialLambda))"
                + (arguments.isEmpty ? "" : " and \(arguments.joined(separator: " "))")
                + "; the earlier run is drawn faintly"
        } catch {
            state.message = "cannot start a new run: \(error)"
        }
    }

    private func requestQuit() {
        guard !quitRequested else { return }
        quitRequested = true
        state.stopping = true
        state.showHelp = false
        if case .live = source, let run = live, !run.isFinished() {
            run.control.requestStop()
            state.message = "stopping: finishing the step and writing the run folder"
        }
        if case .suite(let suite) = source, !suite.isFinished() {
            suite.control.requestStop()
            state.message = "stopping: finishing the step, writing the run folder and the suite summary"
        }
    }

    private func now() -> Double { ProcessInfo.processInfo.systemUptime }
}
