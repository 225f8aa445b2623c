// taps-tui: the live dashboard. Parses the options of `taps train`, starts the Trainer on a background queue and
// runs the UI loop on the main thread; without a usable terminal it runs headless with the same progress lines.
import ArgumentParser
import Dispatch
import Foundation
import TapsCommandLine
import TapsTraining
import TapsTUI
import TapsVersion

/// Shared between the trainer's queue and the UI: whether `run()` returned, and the step budget.
final class RunBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _finished = false
    private var _totalSteps: Int?
    private var _summary: RunSummary?
    private var _failure: String?
    var finished: Bool { lock.lock(); defer { lock.unlock() }; return _finished }
    var totalSteps: Int? { lock.lock(); defer { lock.unlock() }; return _totalSteps }
    var summary: RunSummary? { lock.lock(); defer { lock.unlock() }; return _summary }
    var failure: String? { lock.lock(); defer { lock.unlock() }; return _failure }
    func setTotalSteps(_ n: Int) { lock.lock(); _totalSteps = n; lock.unlock() }
    func finish(summary: RunSummary?, failure: String?) {
        lock.lock(); _summary = summary; _failure = failure; _finished = true; lock.unlock()
    }
}

@main
struct TapsTUICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taps-tui",
        abstract: "Live dashboard: train a TAPS task and steer its sparsity weight lambda while you watch.",
        discussion: "Keys:\n" + Keymap.helpLines().map { "  " + $0 }.joined(separator: "\n")
            + "\n\nWithout a terminal (stdout redirected, TERM=dumb or unknown) or with --headless it prints the"
            + " progress lines of `taps train` instead.",
        version: "taps-tui \(TapsVersion.description)")

    @OptionGroup var training: TrainingOptions

    @OptionGroup var suite: SuiteOptions

    @Flag(help: "Print progress lines instead of the dashboard (automatic when stdout is not a terminal).")
    var headless = false

    @Flag(help: "ASCII glyphs only (automatic when the locale is not UTF-8).")
    var ascii = false

    @Option(help: "Colour: auto (honours NO_COLOR / FORCE_COLOR), always or never.")
    var color: String = "auto"

    @Option(help: "Theme name (themes/NAME.theme, or built in: default, high-contrast, mono) or a .theme file.")
    var theme: String = "default"

    @Option(help: "View a run started elsewhere by following its metrics.jsonl (keys that steer training are off).")
    var attach: String?

    @Option(help: "Frames per second of the dashboard (1-30).")
    var fps: Double = 10

    @Flag(name: .customLong("crash-test"), help: .hidden)
    var crashTest = false

    func validate() throws {
        guard ColorMode(rawValue: color) != nil else {
            throw ValidationError("--color: expected auto, always or never, got '\(color)'")
        }
        guard fps >= 1, fps <= 30 else { throw ValidationError("--fps: expected 1...30, got \(fps)") }
    }

    func run() throws {
        let resolution = Theme.resolve(theme, directories: Theme.searchDirectories())
        let options = DashboardOptions(theme: resolution.theme, startupMessage: resolution.warning,
                                       colorMode: ColorMode(rawValue: color) ?? .auto, forceASCII: ascii,
                                       framesPerSecond: fps, crashTest: crashTest)
        if let attach { return try runAttached(URL(fileURLWithPath: attach), options: options) }
        if suite.tasks != nil { return try runSuite(options: options) }

        // Build the trainer before the screen opens: bad options and unreadable or malformed files end here
        // with a one-line error on a normal terminal, never inside the dashboard.
        let config = try training.config()
        let store = MetricsStore()
        RunProvenance.record(on: store)
        let control = TrainingControl(lambda: config.lambda)
        let trainer: Trainer
        do {
            trainer = try Trainer(config: config, store: store, control: control)
        } catch {
            FileHandle.standardError.write(Data("taps-tui: error: \(plainDescription(of: error))\n".utf8))
            throw ExitCode.failure
        }
        let box = RunBox()
        box.setTotalSteps(trainer.totalSteps)
        let startTrainer = {
            trainer.start { summary in
                box.finish(summary: summary, failure: summary.status == "failed" ? summary.message : nil)
            }
        }

        if !headless {
            if let w = resolution.warning { FileHandle.standardError.write(Data("taps-tui: \(w)\n".utf8)) }
            let app = DashboardApp(source: .live(store: store, control: control, isFinished: { box.finished },
                                                 totalSteps: { box.totalSteps }),
                                   options: options)
            switch app.run(onReady: startTrainer) {
            case let .quit(framesPerSecond, stopSignal):
                finishReport(store: store, box: box, framesPerSecond: framesPerSecond)
                if let s = stopSignal { throw ExitCode(128 + s) }
                if box.failure != nil { throw ExitCode.failure }
                return
            case .terminalUnavailable:
                break  // fall through to headless
            }
        }
        try runHeadless(store: store, control: control, box: box, start: startTrainer)
    }

    // MARK: - Headless

    /// Prints `taps train`'s progress lines until the run ends; SIGINT/SIGTERM stop it at a step boundary.
    private func runHeadless(store: MetricsStore, control: TrainingControl, box: RunBox,
                             start: () -> Void) throws {
        store.onEvent { event in
            if let line = ProgressFormatter.line(for: event) { print(line); fflush(nil) }
        }
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("taps-tui: stopping at the next step boundary\n".utf8))
                control.requestStop()
            }
            source.resume()
            sources.append(source)
        }
        start()
        while !box.finished { usleep(50_000) }
        sources.forEach { $0.cancel() }
        store.flush()
        if let failure = box.failure {
            FileHandle.standardError.write(Data("taps-tui: \(failure)\n".utf8))
            throw ExitCode.failure
        }
    }

    // MARK: - Attach

    private func runAttached(_ url: URL, options: DashboardOptions) throws {
        let follower = MetricsFollower(url: url)
        do { try follower.poll() } catch {
            throw ValidationError("--attach: cannot read \(url.path): \(error.localizedDescription)")
        }
        if !headless {
            let app = DashboardApp(source: .attached(follower), options: options)
            if case .quit = app.run() { return }
        }
        // No terminal: print the file's progress so far.
        for event in try MetricsStore.readJSONL(url) {
            if let line = ProgressFormatter.line(for: event) { print(line) }
        }
    }

    // MARK: - After the dashboard closes

    private func finishReport(store: MetricsStore, box: RunBox, framesPerSecond: Double) {
        store.flush()
        let snapshot = store.snapshot()
        if let end = snapshot.end, let line = ProgressFormatter.line(for: .end(end)) { print(line) }
        if let dir = snapshot.start?.runDirectory { print("run folder: \(dir)") }
        print(String(format: "dashboard: %.1f frames/s", framesPerSecond))
        if let failure = box.failure { FileHandle.standardError.write(Data("taps-tui: \(failure)\n".utf8)) }
    }
}

// MARK: - Suites (taps-tui --tasks a,b,...): the task in training is shown, `t` switches between tasks.
extension SuiteMode: ExpressibleByArgument {}

/// The options that turn the dashboard into a suite run (the training options stay those of `taps train`).
struct SuiteOptions: ParsableArguments {
    @Option(help: "Run a suite of these comma-separated tasks instead of --task (as `taps suite`); `t` switches the view.")
    var tasks: String?

    @Option(name: .customLong("suite-mode"), help: "Suite mode: incremental, joint or fully-joint (with --tasks).")
    var suiteMode: SuiteMode = .incremental

    @Option(name: .customLong("stage1-epochs"), help: "Epochs of joint stage 1 (with --tasks and --suite-mode joint).")
    var stage1Epochs: Int = 2
}

/// Whether the suite's run() returned, and its summary or error.
final class SuiteBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _finished = false
    private var _summary: SuiteSummary?
    private var _failure: String?
    var finished: Bool { lock.lock(); defer { lock.unlock() }; return _finished }
    var summary: SuiteSummary? { lock.lock(); defer { lock.unlock() }; return _summary }
    var failure: String? { lock.lock(); defer { lock.unlock() }; return _failure }
    func finish(_ summary: SuiteSummary?, _ failure: String?) {
        lock.lock(); _summary = summary; _failure = failure; _finished = true; lock.unlock()
    }
}

extension TapsTUICommand {
    func runSuite(options: DashboardOptions) throws {
        let runner: SuiteRunner
        do {
            var t = try training.config()
            t.mode = .taps
            let out = training.out ?? "runs/suite"
            t.outputDirectory = out
            let names = (suite.tasks ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            runner = try SuiteRunner(config: SuiteConfig(tasks: names, mode: suite.suiteMode, training: t,
                                                         outputDirectory: out, stage1Epochs: suite.stage1Epochs),
                                     control: TrainingControl(lambda: t.lambda))
            for (_, store) in runner.views { RunProvenance.record(on: store) }
        } catch {
            FileHandle.standardError.write(Data("taps-tui: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let box = SuiteBox()
        let start = {
            DispatchQueue(label: "taps.suite", qos: .userInitiated).async {
                do { box.finish(try runner.run(), nil) } catch { box.finish(nil, "\(error)") }
            }
        }
        if !headless {
            let source = SuiteSource(views: runner.views, control: runner.control,
                                     currentView: { runner.currentView }, isFinished: { box.finished },
                                     totalSteps: { runner.totalSteps(view: $0) })
            let app = DashboardApp(source: .suite(source), options: options)
            switch app.run(onReady: start) {
            case let .quit(framesPerSecond, stopSignal):
                while !box.finished { usleep(50_000) }
                report(box)
                print(String(format: "dashboard: %.1f frames/s", framesPerSecond))
                if let s = stopSignal { throw ExitCode(128 + s) }
                if box.failure != nil || box.summary?.status == "failed" { throw ExitCode.failure }
                return
            case .terminalUnavailable:
                break
            }
        }
        // Headless: the progress lines of every run, then the suite table.
        for (name, store) in runner.views {
            store.onEvent { event in
                if case .start = event { print("== \(name)") }
                if let line = ProgressFormatter.line(for: event) { print(line); fflush(nil) }
            }
        }
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { runner.control.requestStop() }
            s.resume()
            sources.append(s)
        }
        start()
        while !box.finished { usleep(50_000) }
        sources.forEach { $0.cancel() }
        report(box)
        if box.failure != nil || box.summary?.status == "failed" { throw ExitCode.failure }
    }

    private func report(_ box: SuiteBox) {
        if let s = box.summary {
            print(s.table, terminator: "")
            print("suite folder: \(s.results.first.map { ($0.runDirectory as NSString).deletingLastPathComponent } ?? "")")
        }
        if let f = box.failure { FileHandle.standardError.write(Data("taps-tui: error: \(f)\n".utf8)) }
    }
}
