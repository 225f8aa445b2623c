// taps sweep: the lambda trade-off for one task, with fine-tune and probe as reference points.
import ArgumentParser
import Foundation
import TapsCommandLine
import TapsData
import TapsReports
import TapsTraining

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one task at several lambdas (and fine-tune / probe) and write the trade-off table and plots.",
        discussion: """
            Writes OUT/<setting>/ per setting (taps-lambda-L, finetune, probe; with --seeds: taps-lambda-L-seedS, ...), \
            OUT/sweep.csv, sweep.md, sweep.json, tradeoff.svg (accuracy vs % of the backbone, log scale; with several \
            seeds the mean and spread) and layers.svg (rows = layers, columns = lambda), each figure also as PNG. \
            Resumable: settings whose folder already holds a finished summary.json are not trained again. \
            The other settings are those of `taps train` (--seed, --epochs, --train-limit, ...).
            """)

    @Option(help: "Comma-separated lambdas for TAPS.")
    var lambdas: String = "0,0.1,0.3,1,3,10"

    @Option(help: "Comma-separated modes: taps (one run per lambda), finetune, probe.")
    var modes: String = "taps,finetune,probe"

    @Option(help: "Task of the embedded pack (see `taps tasks`; default fashion, or with --data the dataset's name).")
    var task: String?

    @Option(help: "Comma-separated seeds: repeat every setting with each, and plot the mean and spread (e.g. 0,1,2).")
    var seeds: String?

    @Option(help: "Sweep folder (default: runs/sweep-TASK).")
    var out: String?

    @OptionGroup var options: SharedTrainingOptions

    @OptionGroup var output: JSONOption

    @OptionGroup var progress: ProgressOptions

    /// `taps sweep --json` (docs/cli-json.md).
    struct Result: Codable {
        var schema = "taps.sweep/1"
        var task: String
        var outputDirectory: String
        var trained: [String]
        var reused: [String]
        /// Whether active layers never increase with lambda (no meaning with a budget: see `budget`).
        var monotone: Bool
        /// The TAPS runs' budget as a share of the backbone (nil without one); lambda is then each run's starting value.
        var budget: Double?
        var rows: [SweepRow]
        var aggregates: [SweepAggregate]
        var files: [String]
    }

    func run() throws {
        let config = try reportingErrors { () throws -> SweepConfig in
            var training = try reportingUsageErrors { try options.config() }
            training.lambdaDefinition = TrainingConfig.currentLambdaDefinition   // --lambdas replace a --config file's lambda
            training.task = task ?? training.dataPath.map(Dataset.displayName(for:)) ?? "fashion"
            let ls = try commaSeparated(lambdas, option: "--lambdas", expected: "numbers") { Double($0) }
            let ms = try commaSeparated(modes, option: "--modes", expected: "taps, finetune or probe") { TrainingMode(rawValue: $0) }
            let ss = try seeds.map { try commaSeparated($0, option: "--seeds", expected: "whole numbers >= 0") { UInt64($0) } }
            let c = SweepConfig(task: training.task, lambdas: ls, modes: ms, training: training,
                                outputDirectory: out ?? "runs/sweep-\(training.task)", seeds: ss)
            try reportingUsageErrors { try options.validate(c.training) }
            try c.validate()
            try FileError.checkWritableDirectory(c.outputDirectory)
            return c
        }
        let control = TrainingControl(lambda: 0)
        let runner = try reportingErrors { try SweepRunner(config: config, control: control) }
        // With --json the document owns stdout: progress goes to stderr.
        let printer = ProgressPrinter(quiet: progress.quiet, output: output.json ? .standardError : .standardOutput)
        let total = config.settings.count
        let counter = Counter()
        runner.onSettingSkipped = { name in
            let k = counter.next()
            printer.message("== [\(k)/\(total)] \(name): already complete, skipped")
        }
        runner.onSettingStart = { name, store in
            let k = counter.next()
            RunProvenance.record(on: store)
            printer.follow(store, maxSteps: config.training.maxSteps, label: "[\(k)/\(total) \(name)]", header: "== [\(k)/\(total)] \(name)")
        }
        let signals = SignalStop(control)
        let result = try reportingErrors { try runOnBackgroundQueue { try runner.run() } }
        signals.cancel()
        printer.finish()
        // PNG copies of the figures, rendered by librsvg.
        var files = result.files
        try reportingErrors {
            for name in ["tradeoff", "layers"] {
                let svg = (config.outputDirectory as NSString).appendingPathComponent(name + ".svg")
                let png = (config.outputDirectory as NSString).appendingPathComponent(name + ".png")
                try PNGRenderer.render(svgFile: svg, to: png)
                files.append(png)
            }
        }
        if output.json {
            try printJSON(Result(task: config.task, outputDirectory: config.outputDirectory, trained: result.trained,
                                 reused: result.skipped, monotone: result.monotone,
                                 budget: result.rows.compactMap(\.budget).first, rows: result.rows,
                                 aggregates: result.aggregates, files: files))
            if let code = signals.exitCode { throw ExitCode(code) }
            return
        }
        print("")
        print("sweep \(config.task): \(result.trained.count) trained, \(result.skipped.count) reused")
        print(SweepRunner.table(result.rows), terminator: "")
        if let code = signals.exitCode {
            printError("taps: sweep interrupted: \(result.rows.count) settings finished; run the same command again to resume")
            throw ExitCode(code)
        }
        if config.multiSeed { print(SweepRunner.aggregateMarkdown(result.aggregates), terminator: "") }
        // With a budget lambda is only the controller's starting value: the table's budget line says so instead.
        if SweepRunner.budgetNote(result.rows) == nil {
            print("  active layers " + (result.monotone ? "never increase with lambda" : "are NOT monotone in lambda"))
        }
        print("  files: " + files.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ") + " in \(config.outputDirectory)")
    }
}

/// A thread-safe counter (settings are announced from the sweep's queue).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// The next value, starting at 1.
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}
