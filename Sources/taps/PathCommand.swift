// taps path: the accuracy/storage trade-off in one run, compared with a sweep when one is given.
import ArgumentParser
import Foundation
import TapsCommandLine
import TapsReports
import TapsTraining

struct Path: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The trade-off curve in one run: a lambda search finds the active sets, then each trains and is exported.",
        discussion: "The same as `taps train --path` (docs/method.md \"The trade-off in one run\"). Search: after "
            + "--warmup-epochs, lambda starts at --lambda (default here 0.01) and is multiplied by --path-growth every "
            + "--path-raise-every steps; each active set that holds for a sixteenth of an epoch is kept, until every gate "
            + "is off (or --epochs end). Training: each set in turn starts again from the state at the end of warm-up "
            + "(a sweep run's state there too, but for its learning rate schedule), trains for --path-settle-steps steps (default 6 epochs) with its "
            + "gates fixed and no penalty, is evaluated on validation and test and saved as "
            + "OUT/points/point-NN.safetensors. The run writes path.csv, path.md, path.json and tradeoff.svg (and .png), the formats "
            + "of `taps sweep`. --compare SWEEP sets each TAPS setting of a finished sweep against the path point nearest "
            + "in storage and writes path-vs-sweep.md.")

    @OptionGroup var options: PathOptions

    @Option(help: ArgumentHelp("A finished `taps sweep` folder (its sweep.json) to compare the path with.", valueName: "sweep"))
    var compare: String?

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        let sweepRows: [SweepRow]? = try compare.map { dir in
            let url = URL(fileURLWithPath: dir).appendingPathComponent("sweep.json")
            return try reportingErrors {
                do {
                    return try makeJSONDecoder().decode([SweepRow].self, from: Data(contentsOf: url))
                } catch {
                    throw ConfigError.invalid(option: "--compare", expected: "a finished taps sweep folder with sweep.json",
                                              got: "\(url.path): \(error.localizedDescription)")
                }
            }
        }
        let store = MetricsStore()
        let control = TrainingControl(lambda: 0)
        let trainer = try reportingErrors { () throws -> Trainer in
            // The path's own defaults (lambda 0.01, 12 epochs, runs/TASK-path) are PathOptions.config()'s.
            let c = try options.config()
            try FileError.checkWritableDirectory(c.outputDirectory)
            return try Trainer(config: c, store: store, control: control, folder: options.folderPolicy)
        }
        let config = trainer.config
        control.lambda = config.lambda
        RunProvenance.record(on: store)
        let printer = ProgressPrinter(quiet: progress.quiet)
        printer.follow(store, maxSteps: config.maxSteps)
        let signals = SignalStop(control)
        let summary = trainer.runOnBackgroundQueue()
        signals.cancel()
        printer.finish()
        let points = summary.pathPoints ?? []
        let folder = URL(fileURLWithPath: config.outputDirectory)
        try printPathEnd(summary, folder: config.outputDirectory)
        if let sweepRows, !points.isEmpty {
            let comparison = PathReport.compare(points, sweep: sweepRows)
            let sweepSeconds = sweepRows.filter { $0.mode == "taps" }.reduce(0) { $0 + $1.seconds }
            let text = PathReport.comparisonMarkdown(comparison, pathSeconds: summary.seconds, sweepSeconds: sweepSeconds)
            try reportingErrors {
                try writeAtomically(Data(("# Path against sweep \(compare ?? "")\n\n" + text).utf8),
                                    to: folder.appendingPathComponent("path-vs-sweep.md"))
            }
            print("\n" + text)
        }
        if summary.status == .failed {
            printError("taps: error: \(summary.message ?? "training failed")")
            throw ExitCode.failure
        }
        if let code = signals.exitCode { throw ExitCode(code) }
    }
}

/// The end of a path run (`taps path`, `taps train --path`): renders the path's figure as PNG too, as `taps sweep`
/// renders its figures (librsvg), and prints the points, their exports and the files written
/// (``PathReport/endText(_:task:status:seconds:folder:files:)``).
/// - Throws: `ExitCode.failure` after the points and a one-line message when the PNG cannot be written.
func printPathEnd(_ summary: RunSummary, folder path: String) throws {
    let folder = URL(fileURLWithPath: path)
    let svg = folder.appendingPathComponent("tradeoff.svg").path
    // The PNG first (so the file list is true), but a failed render must not hide the points.
    var pngError: (any Error)?
    if FileManager.default.fileExists(atPath: svg) {
        do { try PNGRenderer.render(svgFile: svg, to: folder.appendingPathComponent("tradeoff.png").path) } catch { pngError = error }
    }
    let files = ["path.md", "path.csv", "path.json", "tradeoff.svg", "tradeoff.png"]
        .filter { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    print(PathReport.endText(summary.pathPoints ?? [], task: summary.task, status: summary.status.rawValue,
                             seconds: summary.seconds, folder: path, files: files), terminator: "")
    if let pngError { _ = try reportingErrors { throw pngError } }
}
