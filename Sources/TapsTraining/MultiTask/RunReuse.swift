// TapsTraining: how multi-run commands (sweeps, suites) reuse the run folders of an earlier invocation: a finished
// run made with the same settings is kept, an interrupted one continues from its checkpoint, anything else retrains.
import Foundation

/// Reuse of run folders across invocations of `taps sweep` and `taps suite` (docs/method.md "Checkpoints").
enum RunReuse {
    /// `config.json` of `directory`, if readable.
    static func storedConfig(in directory: URL) -> TrainingConfig? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("config.json")) else { return nil }
        return try? makeJSONDecoder().decode(TrainingConfig.self, from: data)
    }

    /// Whether the run in `directory` was made with `wanted` (its folder path and thread count aside).
    static func matches(_ directory: URL, _ wanted: TrainingConfig) -> Bool {
        guard var stored = storedConfig(in: directory) else { return false }
        stored.outputDirectory = wanted.outputDirectory
        stored.threads = wanted.threads
        // A run whose lambda means what it meant then matches whatever the version of the definition.
        if stored.hasCurrentLambdaDefinition && stored.lambdaDefinition == nil { stored.lambdaDefinition = wanted.lambdaDefinition }
        return stored == wanted
    }

    /// The summary of a finished run in `directory` made with `wanted`: `summary.json` says `done`, only the
    /// `--budget` controller changed lambda during the run (no dashboard key, no control-file request: those make a
    /// run that its settings do not repeat), and its export exists.
    static func finished(in directory: URL, config wanted: TrainingConfig) -> RunSummary? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("summary.json")),
              let s = try? makeJSONDecoder().decode(RunSummary.self, from: data),
              s.status == .done, !s.lambdaHistory.isEmpty, s.lambdaHistory.dropFirst().allSatisfy({ $0.source == .budget }),
              let export = s.export, FileManager.default.fileExists(atPath: export),
              matches(directory, wanted) else { return nil }
        return s
    }

    /// The trainer for `wanted` in `directory`: the interrupted run continued from its checkpoint when the folder
    /// holds one made with the same settings, otherwise a fresh run (whatever the folder held is replaced).
    /// - Throws: the errors of ``Trainer/init(config:store:control:folder:)``.
    static func trainer(in directory: URL, config wanted: TrainingConfig, store: MetricsStore,
                        control: TrainingControl) throws -> Trainer {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent(Checkpoint.fileName).path),
           matches(directory, wanted), let resumed = try? Trainer(resuming: directory, store: store, control: control) {
            return resumed
        }
        return try Trainer(config: wanted, store: store, control: control, folder: .overwrite)
    }
}
