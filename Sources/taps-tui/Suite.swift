// taps-tui, suite mode (taps-tui --tasks a,b,...): runs a suite as `taps suite` does; the task in training is
// shown, `t` switches between tasks.
import ArgumentParser
import Dispatch
import Foundation
import TapsCommandLine
import TapsTraining
import TapsTUI

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
            FileHandle.standardError.write(Data("taps-tui: error: \(plainDescription(of: error))\n".utf8))
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
                if box.failure != nil || box.summary?.status == .failed { throw ExitCode.failure }
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
        let control = runner.control
        let signals = SignalStop(control)
        start()
        while !box.finished { usleep(50_000) }
        signals.cancel()
        report(box)
        if box.failure != nil || box.summary?.status == .failed { throw ExitCode.failure }
        if let code = signals.exitCode { throw ExitCode(code) }
    }

    private func report(_ box: SuiteBox) {
        if let s = box.summary {
            print(s.table, terminator: "")
            print("suite folder: \(s.results.first.map { ($0.runDirectory as NSString).deletingLastPathComponent } ?? "")")
        }
        if let f = box.failure { FileHandle.standardError.write(Data("taps-tui: error: \(f)\n".utf8)) }
    }
}
