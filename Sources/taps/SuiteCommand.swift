// taps suite: adapt one base to several tasks (incremental, joint or fully joint) and report what they cost.
import ArgumentParser
import Foundation
import TapsCommandLine
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
            """)

    @Option(help: "Comma-separated tasks, e.g. fashion,ucidigits,lfwfaces,mnist-rot90; a dataset path is a task too (or give --data P1,P2).")
    var tasks: String = "fashion,ucidigits,lfwfaces,mnist-rot90"

    @Option(help: "incremental, joint or fully-joint.")
    var mode: SuiteMode = .incremental

    @Option(name: .customLong("stage1-epochs"), help: "Epochs of joint stage 1 (shared base + one head per task).")
    var stage1Epochs: Int = 2

    @Option(help: "Suite folder.")
    var out: String = "runs/suite"

    @OptionGroup var options: SharedTrainingOptions

    @OptionGroup var output: JSONOption

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let config = try reportingErrors { () throws -> SuiteConfig in
            var training = try options.config()
            training.outputDirectory = out
            // --data P1,P2: the suite's tasks are those datasets (each a task of its own).
            let list = training.dataPath ?? tasks
            training.dataPath = nil
            let c = SuiteConfig(tasks: list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                mode: mode, training: training, outputDirectory: training.outputDirectory,
                                stage1Epochs: stage1Epochs)
            try options.validate(c.training)
            try c.validate()
            try FileError.checkWritableDirectory(c.outputDirectory)
            return c
        }
        let control = TrainingControl(lambda: config.training.lambda)
        let runner = try reportingErrors { try SuiteRunner(config: config, control: control) }
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
            print("  suite folder \(config.outputDirectory) (suite.json, suite.md, one run folder per task)")
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
