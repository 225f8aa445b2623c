// taps suite: adapt one base to several tasks (incremental, joint or fully joint) and report what they cost.
import ArgumentParser
import Foundation
import TapsCommandLine
import TapsDistributed
import TapsTraining

extension SuiteMode: ExpressibleByArgument {}

struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Adapt the base to several tasks and report per task and in total what they cost to store.",
        discussion: """
            Modes: incremental (one task after another from the frozen base), joint (stage 1: a shared base with one \
            head per task on mixed batches, saved as joint-base.safetensors; stage 2: TAPS per task on it) and \
            fully-joint (the base and every task's deltas, scores, biases and heads together; our extension).
            Writes OUT/<task>/ per task (a run folder as `taps train` writes it), OUT/suite.json and OUT/suite.md.
            The shared settings are those of `taps train`; every task trains in TAPS mode.
            Job arrays (incremental mode): `--array-index I` (or SLURM_ARRAY_TASK_ID) trains only task I into OUT;             `taps suite collect OUT` then writes suite.json and suite.md from the finished task folders             (docs/cluster.md).
            """,
        subcommands: [SuiteCollect.self])

    @Option(help: "Comma-separated tasks, e.g. fashion,ucidigits,lfwfaces,mnist-rot90; a dataset path is a task too (or give --data P1,P2).")
    var tasks: String = "fashion,ucidigits,lfwfaces,mnist-rot90"

    @Option(help: "incremental, joint or fully-joint.")
    var mode: SuiteMode = .incremental

    @Option(name: .customLong("stage1-epochs"), help: "Epochs of joint stage 1 (shared base + one head per task).")
    var stage1Epochs: Int = 2

    @Option(help: "Suite folder.")
    var out: String = "runs/suite"

    @Option(name: .customLong("array-index"),
            help: "Train only the task at this 0-based index of --tasks (one job of a job array; default: SLURM_ARRAY_TASK_ID when set).")
    var arrayIndex: Int?

    @OptionGroup var options: SharedTrainingOptions

    @OptionGroup var output: JSONOption

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        if Communicator.launchedAsOneOfSeveral() {
            printError("taps: error: taps suite runs as one process per task: spread its tasks with --array-index (docs/cluster.md) and use mpirun with taps train")
            throw ExitCode.failure
        }
        let config = try reportingErrors { () throws -> SuiteConfig in
            var training = try reportingUsageErrors { try options.config() }
            training.outputDirectory = out
            // --data P1,P2: the suite's tasks are those datasets (each a task of its own).
            let list = training.dataPath ?? tasks
            training.dataPath = nil
            let c = SuiteConfig(tasks: list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                mode: mode, training: training, outputDirectory: training.outputDirectory,
                                stage1Epochs: stage1Epochs)
            try reportingUsageErrors { try options.validate(c.training) }
            try c.validate()
            try FileError.checkWritableDirectory(c.outputDirectory)
            return c
        }
        let control = TrainingControl(lambda: config.training.lambda)
        let index = try reportingErrors { try arrayIndex ?? Self.slurmArrayIndex() }
        let runner = try reportingErrors {
            try SuiteRunner(config: config, control: control, scope: index.map { .task($0) } ?? .all)
        }
        // With --json the document (suite.json's content) owns stdout: progress goes to stderr.
        let printer = ProgressPrinter(quiet: progress.quiet, output: output.json ? .standardError : .standardOutput)
        for (k, (name, store)) in runner.views.enumerated() {
            RunProvenance.record(on: store)
            printer.follow(store, maxSteps: config.training.maxSteps, label: "[\(k + 1)/\(runner.views.count) \(name)]",
                           header: "== \(name)")
        }
        let signals = SignalStop(control)
        let summary = try reportingErrors { try runOnBackgroundQueue { try runner.run() } }
        signals.cancel()
        printer.finish()
        if output.json {
            try printJSON(summary)
        } else {
            print("")
            print(summary.table, terminator: "")
            if let index {
                print("  task \(index) of the job array done in \(config.outputDirectory); when every task is: taps suite collect \(shellQuoted(config.outputDirectory))")
            } else {
                print("  suite folder \(config.outputDirectory) (suite.json, suite.md, one run folder per task)")
            }
        }
        if summary.status == .failed {
            printError("taps: error: a run of the suite failed (see its metrics.jsonl)")
            throw ExitCode.failure
        }
        if let code = signals.exitCode { throw ExitCode(code) }
        if !summary.allChecksPass {
            printError("taps: error: an export does not reproduce its accuracy or a base changed (see suite.json)")
            throw ExitCode.failure
        }
    }
}

extension Suite {
    /// `SLURM_ARRAY_TASK_ID` as an array index, nil when unset.
    /// - Throws: `ConfigError` when it is set but not a non-negative integer.
    static func slurmArrayIndex(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        guard let raw = environment["SLURM_ARRAY_TASK_ID"] else { return nil }
        guard let i = Int(raw.trimmingCharacters(in: .whitespaces)), i >= 0 else {
            throw ConfigError.invalid(option: "SLURM_ARRAY_TASK_ID", expected: "a non-negative integer", got: raw)
        }
        return i
    }
}

/// `taps suite collect OUT`: the suite table of a job array's finished tasks.
struct SuiteCollect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Write suite.json and suite.md from the task folders a job array (taps suite --array-index) finished.",
        discussion: "Reads OUT/suite-config.json (written by every array task), requires each task's run folder to hold a "
            + "finished run made with those settings, reloads every export onto the base (checking the export's base "
            + "hash) and reports as `taps suite` in one process would. Nothing is trained.")

    @Argument(help: "Suite folder the array tasks wrote into (their --out).")
    var out: String

    @OptionGroup var output: JSONOption

    func run() throws {
        let summary = try reportingErrors { () throws -> SuiteSummary in
            let config = try SuiteRunner.recordedConfig(in: URL(fileURLWithPath: out))
            return try SuiteRunner(config: config, control: TrainingControl(lambda: config.training.lambda), scope: .collect).run()
        }
        if output.json {
            try printJSON(summary)
        } else {
            print(summary.table, terminator: "")
            print("  suite folder \(out) (suite.json, suite.md, one run folder per task)")
        }
        if !summary.allChecksPass {
            printError("taps: error: an export does not reproduce its accuracy or a base changed (see suite.json)")
            throw ExitCode.failure
        }
    }
}
