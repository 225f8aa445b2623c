// taps-tui, sweep mode (`taps-tui sweep --lambdas 0,0.3,1 --modes taps,finetune`): runs a lambda sweep as
// `taps sweep` does, with one tab per setting (`t` switches); settings already complete are shown from their files.
import ArgumentParser
import Dispatch
import Foundation
import TapsCommandLine
import TapsTraining
import TapsTUI

/// The options of `taps-tui sweep` (the training options stay those of `taps train`).
struct SweepDashboardOptions: ParsableArguments {
    @Option(help: "sweep: comma-separated lambdas for TAPS.")
    var lambdas: String = "0,0.1,0.3,1,3,10"

    @Option(help: "sweep: comma-separated modes: taps (one run per lambda), finetune, probe.")
    var modes: String = "taps,finetune,probe"

    /// The sweep as `taps sweep` would run it. - Throws: `ValidationError` naming the bad option.
    func config(training: TrainingConfig, out: String?) throws -> SweepConfig {
        let ls = try commaSeparated(lambdas, option: "--lambdas", expected: "numbers") { Double($0) }
        let ms = try commaSeparated(modes, option: "--modes", expected: "taps, finetune or probe") { TrainingMode(rawValue: $0) }
        let c = SweepConfig(task: training.task, lambdas: ls, modes: ms, training: training,
                            outputDirectory: out ?? "runs/sweep-\(training.task)")
        try c.validate()
        return c
    }
}

/// The setting in training, and whether the sweep's run() returned (with its result or error).
final class SweepBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _current = 0
    private var _finished = false
    private var _result: SweepResult?
    private var _failure: String?
    var current: Int { lock.lock(); defer { lock.unlock() }; return _current }
    var finished: Bool { lock.lock(); defer { lock.unlock() }; return _finished }
    var result: SweepResult? { lock.lock(); defer { lock.unlock() }; return _result }
    var failure: String? { lock.lock(); defer { lock.unlock() }; return _failure }
    func setCurrent(_ i: Int) { lock.lock(); _current = i; lock.unlock() }
    func finish(_ result: SweepResult?, _ failure: String?) {
        lock.lock(); _result = result; _failure = failure; _finished = true; lock.unlock()
    }
}

extension TapsTUICommand {
    func runSweep(options: DashboardOptions) throws {
        let runner: SweepRunner
        let config: SweepConfig
        do {
            config = try sweep.config(training: try training.config(), out: training.out)
            runner = try SweepRunner(config: config, control: TrainingControl(lambda: 0))
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("taps-tui: error: \(plainDescription(of: error))\n".utf8))
            throw ExitCode.failure
        }
        // One store per setting, fed by the setting's trainer (or from its files when the setting is reused).
        let names = config.settings.map(\.folder)
        let stores = names.map { _ in MetricsStore() }
        let box = SweepBox()
        let folder = URL(fileURLWithPath: config.outputDirectory)
        runner.onSettingStart = { name, store in
            guard let i = names.firstIndex(of: name) else { return }
            box.setCurrent(i)
            let view = stores[i]
            store.onEvent { view.append($0) }
        }
        runner.onSettingSkipped = { name in
            guard let i = names.firstIndex(of: name) else { return }
            let file = folder.appendingPathComponent(name).appendingPathComponent("metrics.jsonl")
            for event in (try? MetricsStore.readJSONL(file)) ?? [] { stores[i].append(event) }
            stores[i].append(.notice(NoticeEvent(kind: .info, step: 0, message: "already complete: reused, not retrained")))
        }
        let start = {
            DispatchQueue(label: "taps.sweep", qos: .userInitiated).async {
                do { box.finish(try runner.run(), nil) } catch { box.finish(nil, "\(error)") }
            }
        }
        if !headless {
            var source = SuiteSource(views: Array(zip(names, stores)).map { (name: $0.0, store: $0.1) },
                                     control: runner.control, currentView: { box.current },
                                     isFinished: { box.finished }, totalSteps: { _ in nil })
            source.label = "settings"
            source.lambdaKeys = false
            let app = DashboardApp(source: .suite(source), options: options)
            switch app.run(onReady: start) {
            case let .quit(framesPerSecond, stopSignal):
                while !box.finished { usleep(50_000) }
                reportSweep(box, config: config)
                print(String(format: "dashboard: %.1f frames/s", framesPerSecond))
                if let s = stopSignal { throw ExitCode(128 + s) }
                if box.failure != nil { throw ExitCode.failure }
                return
            case .terminalUnavailable:
                break
            }
        }
        for (name, store) in zip(names, stores) {
            store.onEvent { event in
                if case .start = event { print("== \(name)") }
                if case .step = event { return }
                if let line = ProgressFormatter.line(for: event) { print(line); fflush(nil) }
            }
        }
        let control = runner.control
        let signals = SignalStop(control)
        start()
        while !box.finished { usleep(50_000) }
        signals.cancel()
        reportSweep(box, config: config)
        if box.failure != nil { throw ExitCode.failure }
        if let code = signals.exitCode { throw ExitCode(code) }
    }

    private func reportSweep(_ box: SweepBox, config: SweepConfig) {
        if let r = box.result {
            print("sweep \(config.task): \(r.trained.count) trained, \(r.skipped.count) reused")
            print(SweepRunner.table(r.rows), terminator: "")
            print("sweep folder: \(config.outputDirectory)")
        }
        if let f = box.failure { FileHandle.standardError.write(Data("taps-tui: error: \(f)\n".utf8)) }
    }
}
