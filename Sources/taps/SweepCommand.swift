// taps sweep: the lambda trade-off for one task, with fine-tune and probe as reference points.
import ArgumentParser
import Foundation
import TapsCommandLine
import TapsData
import TapsTraining

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one task at several lambdas (and fine-tune / probe) and write the trade-off table and plots.",
        discussion: """
            Writes OUT/<setting>/ per setting (taps-lambda-L, finetune, probe), OUT/sweep.csv, sweep.md, sweep.json, \
            tradeoff.svg (accuracy vs % of the backbone) and layers.svg (rows = layers, columns = lambda). \
            Resumable: settings whose folder already holds a finished summary.json are not trained again. \
            The other settings are those of `taps train` (--seed, --epochs, --train-limit, ...).
            """)

    @Option(help: "Comma-separated lambdas for TAPS.")
    var lambdas: String = "0,0.1,0.3,1,3,10"

    @Option(help: "Comma-separated modes: taps (one run per lambda), finetune, probe.")
    var modes: String = "taps,finetune,probe"

    @Option(help: "Task of the embedded pack (see `taps tasks`; default fashion, or with --data the dataset's name).")
    var task: String?

    @Option(help: "Sweep folder (default: runs/sweep-TASK).")
    var out: String?

    @OptionGroup var options: SharedTrainingOptions

    func run() throws {
        let config = try reportingErrors { () throws -> SweepConfig in
            var training = options.config()
            training.task = task ?? training.dataPath.map(Dataset.displayName(for:)) ?? "fashion"
            let ls = try lambdas.split(separator: ",").map { text -> Double in
                guard let v = Double(text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--lambdas: expected numbers, got '\(text)'")
                }
                return v
            }
            let ms = try modes.split(separator: ",").map { text -> TrainingMode in
                guard let m = TrainingMode(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--modes: expected taps, finetune or probe, got '\(text)'")
                }
                return m
            }
            let c = SweepConfig(task: training.task, lambdas: ls, modes: ms, training: training,
                                outputDirectory: out ?? "runs/sweep-\(training.task)")
            try c.validate()
            return c
        }
        let control = TrainingControl(lambda: 0)
        let runner = try reportingErrors { try SweepRunner(config: config, control: control) }
        runner.onSettingSkipped = { name in print("== \(name): already complete, skipped") }
        runner.onSettingStart = { name, store in
            print("== \(name)")
            store.onEvent { event in
                if case .step = event { return }
                if let line = ProgressFormatter.line(for: event) { print(line); fflush(nil) }
            }
        }
        let signals = SignalStop(control)
        let result = try reportingErrors { try runOnBackgroundQueue { try runner.run() } }
        signals.cancel()
        print("")
        print("sweep \(config.task): \(result.trained.count) trained, \(result.skipped.count) reused")
        print(SweepRunner.table(result.rows), terminator: "")
        if let code = signals.exitCode {
            printError("taps: sweep interrupted: \(result.rows.count) settings finished; run the same command again to resume")
            throw ExitCode(code)
        }
        print("  active layers " + (result.monotone ? "never increase with lambda" : "are NOT monotone in lambda"))
        print("  files: " + result.files.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ") + " in \(config.outputDirectory)")
    }
}
