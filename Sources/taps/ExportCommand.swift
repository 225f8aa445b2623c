// taps export: a run's metrics in other tools' formats (TensorBoard event files).
import ArgumentParser
import Foundation
import TapsReports
import TapsTraining

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write run folders' metrics in other tools' formats.",
        subcommands: [ExportTensorBoard.self])
}

struct ExportTensorBoard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensorboard",
        abstract: "Write TensorBoard event files from run folders' metrics.jsonl (`tensorboard --logdir DIR` shows them).",
        discussion: """
            Scalars per step: loss/total, loss/task, loss/penalty, lambda, learning_rate, accuracy/batch, active_layers, \
            images_per_second and score/<layer> for every gated layer; per epoch: loss/train_epoch, accuracy/train_epoch, \
            accuracy/validation; at the end: accuracy/test. Text: notices (lambda changes, warm-up over, best epoch, ...) \
            and run (settings and outcome). W&B reads the same files (`wandb sync --sync-tensorboard DIR`).
            """)

    @Argument(help: "Run folders (each with metrics.jsonl), or metrics.jsonl files.")
    var runs: [String]

    @Option(help: ArgumentHelp("Folder for the event files: one subfolder per run, named like the run folder "
                               + "(default: RUN/tensorboard inside each run folder).", valueName: "dir"))
    var out: String?

    func run() throws {
        try reportingErrors {
            guard !runs.isEmpty else { throw ValidationError("give at least one run folder") }
            var usedNames: Set<String> = []
            for run in runs {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: run, isDirectory: &isDirectory) else {
                    throw FileError(action: "read", path: run, reason: "no such run folder")
                }
                let folder = isDirectory.boolValue ? run : (run as NSString).deletingLastPathComponent
                let metrics = isDirectory.boolValue ? (run as NSString).appendingPathComponent("metrics.jsonl") : run
                let events = try TensorBoardExport.readMetrics(URL(fileURLWithPath: metrics))
                guard !events.isEmpty else { throw FileError(action: "export", path: metrics, reason: "it holds no metrics events") }
                var target: String
                if let out {
                    var name = URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent
                    if usedNames.contains(name) { name = folder.replacingOccurrences(of: "/", with: "_") }
                    usedNames.insert(name)
                    target = (out as NSString).appendingPathComponent(name)
                } else {
                    target = (folder as NSString).appendingPathComponent("tensorboard")
                }
                let file = try TensorBoardExport.write(events: events, to: target)
                print("\(metrics): \(events.count) events -> \(file.path)")
            }
        }
    }
}
