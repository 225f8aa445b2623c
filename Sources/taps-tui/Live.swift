// taps-tui, live mode: builds the Trainer before the screen opens, runs it on a background queue and the dashboard
// on the main thread; `r` after the run starts another one (OUT-2, OUT-3, ...) with the current lambda, `R` one
// with options typed at a prompt (NewRunOptions).
import ArgumentParser
import Dispatch
import Foundation
import TapsCommandLine
import TapsTraining
import TapsTUI

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

/// One trainer with its store, control box and run box.
struct PreparedRun {
    var trainer: Trainer
    var store: MetricsStore
    var control: TrainingControl
    var box: RunBox

    /// Builds the trainer for `config`, or continues the run in `resume` from its checkpoint.
    /// - Throws: the trainer's one-line error (bad option, unreadable file, folder holding a finished run).
    init(config: TrainingConfig, resume: String? = nil, folder: RunFolderPolicy = .refuseFinished) throws {
        store = MetricsStore()
        RunProvenance.record(on: store)
        control = TrainingControl(lambda: config.lambda)
        if let resume {
            trainer = try Trainer(resuming: URL(fileURLWithPath: resume), store: store, control: control)
        } else {
            trainer = try Trainer(config: config, store: store, control: control, folder: folder)
        }
        box = RunBox()
        box.setTotalSteps(trainer.totalSteps)
    }

    func start() {
        let box = self.box
        trainer.start { summary in
            box.finish(summary: summary, failure: summary.status == .failed ? summary.message : nil)
        }
    }

    var live: LiveRun {
        let box = self.box
        return LiveRun(store: store, control: control, isFinished: { box.finished }, totalSteps: { box.totalSteps })
    }
}

/// Epochs of the dashboard's default session when neither `--epochs` nor `--steps` is given: long enough to find
/// the lambda keys and watch gates move (the CLI's default finishes in seconds).
let dashboardDefaultEpochs = 30

extension TapsTUICommand {
    func runLive(options: DashboardOptions) throws {
        // Build the trainer before the screen opens: bad options and unreadable or malformed files end here
        // with a one-line error on a normal terminal, never inside the dashboard.
        var config = try training.config()
        let args = CommandLine.arguments
        let explicitLength = args.contains { $0 == "--epochs" || $0.hasPrefix("--epochs=") || $0 == "--steps"
            || $0.hasPrefix("--steps=") }
        if !explicitLength && !headless && training.resume == nil { config.epochs = max(config.epochs, dashboardDefaultEpochs) }
        // Without --out, a default folder that holds an earlier run is not reused: the dashboard takes the next free
        // one (runs/fashion-2, ...), so `make run` works every time and never overwrites a finished run.
        if training.out == nil && training.resume == nil && !training.force
            && FileManager.default.fileExists(atPath: (config.outputDirectory as NSString).appendingPathComponent("summary.json")) {
            config.outputDirectory = RunFolders(base: config.outputDirectory).candidate()
        }
        let first: PreparedRun
        do {
            first = try PreparedRun(config: config, resume: training.resume, folder: training.folderPolicy)
            config = first.trainer.config
        } catch {
            FileHandle.standardError.write(Data("taps-tui: error: \(plainDescription(of: error))\n".utf8))
            throw ExitCode.failure
        }

        if !headless {
            let folders = RunFolders(base: config.outputDirectory)
            let runs = RunsBox(first)
            let baseConfig = config
            let commandLine = Array(CommandLine.arguments.dropFirst())
            let newRun: @Sendable (NewRunRequest) throws -> LiveRun = { request in
                var next = baseConfig
                next.lambda = request.lambda
                // The folder number is used up only by a run that starts (a refused `R` leaves no gap).
                let folder = folders.candidate()
                next.outputDirectory = folder
                if !request.arguments.isEmpty {
                    // The first run's command line with the typed options after it (the later value wins; a typed
                    // budget replaces the first run's, `--budget off` removes it).
                    let typed = request.arguments
                    let merged = NewRunOptions.merge(commandLine: commandLine, typed: typed)
                    let parsed = try TapsTUICommand.parseAsRoot(merged.arguments)
                    guard let command = parsed as? TapsTUICommand else {
                        throw ValidationError("not options of a run: \(typed.joined(separator: " "))")
                    }
                    var config = try command.training.config()
                    if merged.dropsBudget { config.budget = nil; config.budgetBytes = nil }
                    if !typed.contains(where: { $0 == "--lambda" || $0.hasPrefix("--lambda=") }) {
                        config.lambda = request.lambda
                    }
                    if !typed.contains(where: { $0 == "--out" || $0.hasPrefix("--out=") }) {
                        config.outputDirectory = next.outputDirectory
                    }
                    if !typed.contains(where: { $0.hasPrefix("--epochs") || $0.hasPrefix("--steps") })
                        && !commandLine.contains(where: { $0.hasPrefix("--epochs") || $0.hasPrefix("--steps") }) {
                        config.epochs = max(config.epochs, dashboardDefaultEpochs)
                    }
                    next = config
                }
                let existed = FileManager.default.fileExists(atPath: next.outputDirectory)
                let run: PreparedRun
                do {
                    run = try PreparedRun(config: next)
                } catch {
                    // A refused run leaves no empty folder behind (only one it created itself).
                    if !existed, (try? FileManager.default.contentsOfDirectory(atPath: next.outputDirectory))?.isEmpty == true {
                        try? FileManager.default.removeItem(atPath: next.outputDirectory)
                    }
                    throw error
                }
                if next.outputDirectory == folder { folders.taken(folder) }
                runs.append(run)
                run.start()
                return run.live
            }
            let app = DashboardApp(source: .live(first.live, newRun: newRun), options: options)
            switch app.run(onReady: first.start) {
            case let .quit(framesPerSecond, stopSignal):
                let last = runs.last
                finishReport(store: last.store, box: last.box, framesPerSecond: framesPerSecond)
                if let s = stopSignal { throw ExitCode(128 + s) }
                if last.box.failure != nil { throw ExitCode.failure }
                return
            case .terminalUnavailable:
                break  // fall through to headless
            }
        }
        try runHeadless(first)
    }

    /// Prints `taps train`'s progress lines until the run ends; SIGINT/SIGTERM stop it at a step boundary.
    private func runHeadless(_ run: PreparedRun) throws {
        run.store.onEvent { event in
            if let line = ProgressFormatter.line(for: event) { print(line); fflush(nil) }
        }
        let signals = SignalStop(run.control) { _ in
            FileHandle.standardError.write(Data("taps-tui: stopping at the next step boundary\n".utf8))
        }
        run.start()
        while !run.box.finished { usleep(50_000) }
        signals.cancel()
        run.store.flush()
        if let failure = run.box.failure {
            FileHandle.standardError.write(Data("taps-tui: \(failure)\n".utf8))
            throw ExitCode.failure
        }
        if let code = signals.exitCode { throw ExitCode(code) }
    }

    private func finishReport(store: MetricsStore, box: RunBox, framesPerSecond: Double) {
        store.flush()
        let snapshot = store.snapshot()
        if let end = snapshot.end, let line = ProgressFormatter.line(for: .end(end)) { print(line) }
        if let dir = snapshot.start?.runDirectory { print("run folder: \(dir)") }
        print(String(format: "dashboard: %.1f frames/s", framesPerSecond))
        if let failure = box.failure { FileHandle.standardError.write(Data("taps-tui: \(failure)\n".utf8)) }
    }
}

/// Every run of the session (the first, then one per `r`); the last is the one on screen.
final class RunsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var runs: [PreparedRun]
    init(_ first: PreparedRun) { runs = [first] }
    func append(_ run: PreparedRun) { lock.lock(); runs.append(run); lock.unlock() }
    var last: PreparedRun { lock.lock(); defer { lock.unlock() }; return runs[runs.count - 1] }
}
