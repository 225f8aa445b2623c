// TapsTraining: the lambda trade-off — one run per setting, then a table and two figures (docs/method.md "Several tasks", "Storage and accounting").
import Foundation
import TAPS
import TapsData

/// Options of a sweep: one task, the lambdas for TAPS, and which modes to train.
public struct SweepConfig: Codable, Sendable, Equatable {
    public var task: String
    public var lambdas: [Double]
    /// `taps` trains one run per lambda; `finetune` and `probe` one run each (the reference points).
    public var modes: [TrainingMode]
    /// Shared settings (`task`, `mode`, `lambda` and `outputDirectory` are set per setting).
    public var training: TrainingConfig
    /// Sweep folder: one run folder per setting, `sweep.csv`, `sweep.md`, `sweep.json`, `tradeoff.svg`, `layers.svg`.
    public var outputDirectory: String

    public init(task: String, lambdas: [Double], modes: [TrainingMode] = [.taps, .finetune, .probe],
                training: TrainingConfig = TrainingConfig(), outputDirectory: String) {
        self.task = task; self.lambdas = lambdas; self.modes = modes; self.training = training
        self.outputDirectory = outputDirectory
    }

    /// One setting of the sweep.
    public struct Setting: Sendable, Equatable {
        public var mode: TrainingMode
        public var lambda: Double
        /// Run folder name: `taps-lambda-0.3`, `finetune`, `probe`.
        public var folder: String
    }

    /// The settings in order: TAPS by increasing lambda, then fine-tune, then probe.
    public var settings: [Setting] {
        var out: [Setting] = []
        if modes.contains(.taps) {
            for l in lambdas.sorted() { out.append(Setting(mode: .taps, lambda: l, folder: "taps-lambda-" + String(format: "%g", l))) }
        }
        if modes.contains(.finetune) { out.append(Setting(mode: .finetune, lambda: 0, folder: "finetune")) }
        if modes.contains(.probe) { out.append(Setting(mode: .probe, lambda: 0, folder: "probe")) }
        return out
    }

    /// - Throws: `ConfigError` for no settings, negative or repeated lambdas, and bad shared settings.
    public func validate() throws {
        guard !settings.isEmpty else { throw ConfigError.invalid(option: "--modes", expected: "at least one of taps, finetune, probe (with --lambdas for taps)", got: "nothing to train") }
        guard lambdas.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw ConfigError.invalid(option: "--lambdas", expected: "finite numbers >= 0", got: lambdas.map { "\($0)" }.joined(separator: ","))
        }
        guard Set(lambdas).count == lambdas.count else {
            throw ConfigError.invalid(option: "--lambdas", expected: "each lambda once", got: lambdas.map { "\($0)" }.joined(separator: ","))
        }
        try training.validate()
        if training.dataDirectory == nil && training.dataPath == nil && !EmbeddedPack.taskNames.contains(task) {
            throw ConfigError.unknownTask(task, known: EmbeddedPack.taskNames)
        }
    }
}

/// One row of the sweep table.
public struct SweepRow: Codable, Sendable, Equatable {
    public var setting: String
    public var mode: String
    /// Lambda (TAPS only).
    public var lambda: Double?
    public var testAccuracy: Double?
    public var bestValidationAccuracy: Double?
    public var activeLayers: Int
    public var gatedLayers: Int
    public var activeLayerNames: [String]
    public var taskSpecificParameters: Int
    public var backboneParameters: Int
    public var fractionOfBackbone: Double
    public var exportBytes: Int
    public var seconds: Double
    /// Whether this run was reused from an earlier sweep (its folder already held a complete `summary.json`).
    public var reused: Bool
}

/// What a sweep produced.
public struct SweepResult: Sendable, Equatable {
    public var rows: [SweepRow]
    /// Settings trained by this call, and settings skipped because they were already complete.
    public var trained: [String]
    public var skipped: [String]
    /// Paths of the files written.
    public var files: [String]
    /// Whether TAPS's active-layer count never increases with lambda.
    public var monotone: Bool
}

/// Runs a sweep: trains every setting that is not complete yet (seeded, so a rerun reproduces it), then writes
/// `sweep.csv`, `sweep.md`, `sweep.json`, `tradeoff.svg` and `layers.svg`, all atomically.
///
/// Resumable: a setting whose folder holds a finished run made with the same settings (its `config.json`) is not
/// trained again (its row is read back and marked `reused`); a changed setting (epochs, penalty, ...) retrains.
public final class SweepRunner: @unchecked Sendable {
    public let config: SweepConfig
    public let control: TrainingControl
    /// Called before each setting is trained, with its folder name and the store its trainer reports to.
    public var onSettingStart: (@Sendable (String, MetricsStore) -> Void)?
    /// Called for each setting skipped because it is already complete.
    public var onSettingSkipped: (@Sendable (String) -> Void)?

    public init(config: SweepConfig, control: TrainingControl = TrainingControl(lambda: 0)) throws {
        try config.validate()
        self.config = config
        self.control = control
    }

    private var folder: URL { URL(fileURLWithPath: config.outputDirectory) }

    /// The run configuration of `setting`.
    func runConfig(_ setting: SweepConfig.Setting) -> TrainingConfig {
        var c = config.training
        c.task = config.task; c.mode = setting.mode; c.lambda = setting.lambda
        c.outputDirectory = folder.appendingPathComponent(setting.folder).path
        return c
    }

    /// The summary of a finished run in `folder` for `setting`, if there is a complete one made with the same
    /// settings (``RunReuse/finished(in:config:)``).
    func completed(_ setting: SweepConfig.Setting) -> RunSummary? {
        RunReuse.finished(in: folder.appendingPathComponent(setting.folder), config: runConfig(setting))
    }

    /// Trains what is missing and writes the table and figures. Throws for bad options, data and I/O errors;
    /// a stop request ends the sweep after the run in progress (the files then cover the finished settings).
    public func run() throws -> SweepResult {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rows: [SweepRow] = []
        var trained: [String] = [], skipped: [String] = []
        for setting in config.settings {
            var summary = completed(setting)
            let reused = summary != nil
            if reused {
                skipped.append(setting.folder)
                onSettingSkipped?(setting.folder)
            } else {
                if control.isStopRequested { break }
                let c = runConfig(setting)
                let store = MetricsStore()
                control.lambda = setting.lambda
                let trainer = try RunReuse.trainer(in: folder.appendingPathComponent(setting.folder), config: c,
                                                   store: store, control: control)
                onSettingStart?(setting.folder, store)
                let s = trainer.run()
                trained.append(setting.folder)
                guard s.status == .done else { break }
                summary = s
            }
            guard let s = summary else { continue }
            rows.append(SweepRow(
                setting: setting.folder, mode: s.mode.rawValue, lambda: setting.mode == .taps ? setting.lambda : nil,
                testAccuracy: s.testAccuracy, bestValidationAccuracy: s.bestValidationAccuracy,
                activeLayers: s.activeLayers.count, gatedLayers: s.gatedLayers, activeLayerNames: s.activeLayers,
                taskSpecificParameters: s.taskSpecificParameters, backboneParameters: s.backboneParameters,
                fractionOfBackbone: s.fractionOfBackbone, exportBytes: s.export.map(fileSize) ?? 0, seconds: s.seconds,
                reused: reused))
        }
        let tapsCounts = rows.filter { $0.mode == "taps" }.map(\.activeLayers)
        let monotone = zip(tapsCounts, tapsCounts.dropFirst()).allSatisfy { $0 >= $1 }
        var files: [String] = []
        func write(_ name: String, _ text: String) throws {
            let url = folder.appendingPathComponent(name)
            try writeAtomically(Data(text.utf8), to: url)
            files.append(url.path)
        }
        try write("sweep.csv", Self.csv(rows))
        try write("sweep.md", Self.markdown(rows, task: config.task, monotone: monotone))
        let json = try makeJSONEncoder().encode(rows)
        try writeAtomically(json, to: folder.appendingPathComponent("sweep.json"))
        files.append(folder.appendingPathComponent("sweep.json").path)
        try write("tradeoff.svg", SVGPlot.tradeoff(
            title: "\(config.task): test accuracy vs task-specific parameters",
            points: rows.map { r in
                SVGPlot.Point(percent: 100 * r.fractionOfBackbone, accuracy: r.testAccuracy ?? 0,
                              label: r.mode == "taps" ? "λ=" + String(format: "%g", r.lambda ?? 0) : r.mode, kind: r.mode)
            }))
        try write("layers.svg", try layersSVG(rows.filter { $0.mode == "taps" }))
        return SweepResult(rows: rows, trained: trained, skipped: skipped, files: files, monotone: monotone)
    }

    /// Rows = layers, columns = lambda; filled = active.
    private func layersSVG(_ rows: [SweepRow]) throws -> String {
        let maps = try rows.map { try ActiveMap.load(folder.appendingPathComponent($0.setting).path) }
        let layers = maps.first?.layers ?? []
        let cells: [[Bool?]] = layers.map { l in maps.map { m in m.layers.firstIndex(of: l).map { m.active[$0] } } }
        return SVGPlot.layerGrid(title: "\(config.task): active layers by lambda", rows: layers,
                                 columns: rows.map { "λ=" + String(format: "%g", $0.lambda ?? 0) }, active: cells,
                                 caption: "filled: active (task-specific delta); outlined: shared with the base")
    }

    /// `sweep.csv`: one row per setting.
    public static func csv(_ rows: [SweepRow]) -> String {
        var s = "setting,mode,lambda,test_accuracy,best_validation_accuracy,active_layers,gated_layers,active_layer_names,"
            + "task_specific_parameters,backbone_parameters,percent_of_backbone,export_bytes,seconds\n"
        for r in rows {
            s += [r.setting, r.mode, r.lambda.map { String(format: "%g", $0) } ?? "",
                  r.testAccuracy.map { String(format: "%.4f", $0) } ?? "",
                  r.bestValidationAccuracy.map { String(format: "%.4f", $0) } ?? "",
                  "\(r.activeLayers)", "\(r.gatedLayers)", r.activeLayerNames.joined(separator: " "),
                  "\(r.taskSpecificParameters)", "\(r.backboneParameters)", String(format: "%.2f", 100 * r.fractionOfBackbone),
                  "\(r.exportBytes)", String(format: "%.1f", r.seconds)].joined(separator: ",") + "\n"
        }
        return s
    }

    /// `sweep.md`: the table, plus whether the active-layer count is monotone in lambda.
    public static func markdown(_ rows: [SweepRow], task: String, monotone: Bool) -> String {
        var s = "# Sweep: \(task)\n\n| setting | test acc | active layers | task-specific params | % backbone | export bytes |\n|---|---|---|---|---|---|\n"
        for r in rows {
            let name = r.mode == "taps" ? "TAPS λ=" + String(format: "%g", r.lambda ?? 0) : r.mode
            s += "| \(name) | \(r.testAccuracy.map { String(format: "%.4f", $0) } ?? "-") | \(r.activeLayers)/\(r.gatedLayers)"
                + (r.activeLayerNames.isEmpty ? "" : " (\(r.activeLayerNames.joined(separator: ", ")))")
                + " | \(ProgressFormatter.grouped(r.taskSpecificParameters)) | " + String(format: "%.2f%%", 100 * r.fractionOfBackbone)
                + " | \(ProgressFormatter.grouped(r.exportBytes)) |\n"
        }
        s += "\nActive layers " + (monotone ? "never increase with lambda." : "do NOT decrease monotonically with lambda (see the rows above).") + "\n"
        return s
    }

    /// The table as printed by `taps sweep`.
    public static func table(_ rows: [SweepRow]) -> String {
        func r(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var s = "  setting                test acc  active  task-specific  % backbone  export bytes  seconds\n"
        for row in rows {
            let name = row.mode == "taps" ? "taps λ=" + String(format: "%g", row.lambda ?? 0) : row.mode
            s += "  " + (name + (row.reused ? " (reused)" : "")).padding(toLength: 22, withPad: " ", startingAt: 0)
                + r(row.testAccuracy.map { String(format: "%.4f", $0) } ?? "-", 9)
                + r("\(row.activeLayers)/\(row.gatedLayers)", 8)
                + r(ProgressFormatter.grouped(row.taskSpecificParameters), 15)
                + r(String(format: "%.2f%%", 100 * row.fractionOfBackbone), 12)
                + r(ProgressFormatter.grouped(row.exportBytes), 14)
                + r(String(format: "%.1f", row.seconds), 9) + "\n"
        }
        return s
    }
}
