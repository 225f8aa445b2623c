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
    /// Seeds to repeat every setting with (`--seeds 0,1,2`); nil or one seed: one run per setting with
    /// `training.seed`, in the folders of a single-seed sweep.
    public var seeds: [UInt64]?

    public init(task: String, lambdas: [Double], modes: [TrainingMode] = [.taps, .finetune, .probe],
                training: TrainingConfig = TrainingConfig(), outputDirectory: String, seeds: [UInt64]? = nil) {
        self.task = task; self.lambdas = lambdas; self.modes = modes; self.training = training
        self.outputDirectory = outputDirectory; self.seeds = seeds
    }

    /// Whether settings are repeated over several seeds (folders then end in `-seedS`).
    public var multiSeed: Bool { (seeds?.count ?? 0) > 1 }

    /// One setting of the sweep.
    public struct Setting: Sendable, Equatable {
        public var mode: TrainingMode
        public var lambda: Double
        /// Run folder name: `taps-lambda-0.3`, `finetune`, `probe`; with several seeds `taps-lambda-0.3-seed1`.
        public var folder: String
        /// The seed of this run (`training.seed` unless the sweep has several seeds).
        public var seed: UInt64 = 0
        /// The setting's name without the seed (`taps-lambda-0.3`): runs of the same name are averaged.
        public var name: String = ""
    }

    /// The settings in order: TAPS by increasing lambda, then fine-tune, then probe; each once per seed.
    public var settings: [Setting] {
        var names: [(TrainingMode, Double, String)] = []
        if modes.contains(.taps) {
            for l in lambdas.sorted() { names.append((.taps, l, "taps-lambda-" + String(format: "%g", l))) }
        }
        if modes.contains(.finetune) { names.append((.finetune, 0, "finetune")) }
        if modes.contains(.probe) { names.append((.probe, 0, "probe")) }
        let runSeeds = multiSeed ? seeds! : [seeds?.first ?? training.seed]
        return names.flatMap { mode, lambda, name in
            runSeeds.map { seed in
                Setting(mode: mode, lambda: lambda, folder: multiSeed ? "\(name)-seed\(seed)" : name, seed: seed, name: name)
            }
        }
    }

    /// - Throws: `ConfigError` for no settings, negative or repeated lambdas, and bad shared settings.
    public func validate() throws {
        guard !settings.isEmpty else { throw ConfigError.invalid(option: "--modes", expected: "at least one of taps, finetune, probe (with --lambdas for taps)", got: "nothing to train") }
        guard lambdas.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw ConfigError.invalid(option: "--lambdas", expected: "finite numbers >= 0", got: lambdas.map { "\($0)" }.joined(separator: ","))
        }
        if let seeds, seeds.isEmpty || Set(seeds).count != seeds.count {
            throw ConfigError.invalid(option: "--seeds", expected: "each seed once", got: seeds.map { "\($0)" }.joined(separator: ","))
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
    /// The run's seed.
    public var seed: UInt64 = 0
    /// The setting without the seed (`taps-lambda-0.3`); equal to `setting` in a single-seed sweep.
    public var name: String = ""
    /// The run's storage budget as a share of the backbone (`--budget`, or `--budget-bytes` over 4 bytes a
    /// parameter; ``RunSummary/budget``); nil without one (and for fine-tune and probe).
    public var budget: Double? = nil
    /// With a budget: the active deltas' parameters, the part of `taskSpecificParameters` the budget counts.
    public var activeDeltaParameters: Int? = nil

    /// A row with every field given (`budget` and `activeDeltaParameters` nil: a run without a budget).
    public init(setting: String, mode: String, lambda: Double?, testAccuracy: Double?, bestValidationAccuracy: Double?,
                activeLayers: Int, gatedLayers: Int, activeLayerNames: [String], taskSpecificParameters: Int,
                backboneParameters: Int, fractionOfBackbone: Double, exportBytes: Int, seconds: Double, reused: Bool,
                seed: UInt64 = 0, name: String = "", budget: Double? = nil, activeDeltaParameters: Int? = nil) {
        self.setting = setting; self.mode = mode; self.lambda = lambda; self.testAccuracy = testAccuracy
        self.bestValidationAccuracy = bestValidationAccuracy; self.activeLayers = activeLayers; self.gatedLayers = gatedLayers
        self.activeLayerNames = activeLayerNames; self.taskSpecificParameters = taskSpecificParameters
        self.backboneParameters = backboneParameters; self.fractionOfBackbone = fractionOfBackbone
        self.exportBytes = exportBytes; self.seconds = seconds; self.reused = reused; self.seed = seed; self.name = name
        self.budget = budget; self.activeDeltaParameters = activeDeltaParameters
    }

    /// The active deltas as a share of the backbone (nil without a budget).
    public var deltaFraction: Double? {
        activeDeltaParameters.map { Double($0) / Double(max(backboneParameters, 1)) }
    }

    /// Whether the active deltas fit the budget (nil without one).
    public var fitsBudget: Bool? {
        guard let budget, let delta = deltaFraction else { return nil }
        return delta <= budget
    }

    /// The budget cell of the tables: `5.61% fits` or `21.30% OVER` (the deltas' share of the backbone); `-` without.
    var budgetCell: String {
        guard let fits = fitsBudget, let delta = deltaFraction else { return "-" }
        return String(format: "%.2f%% ", 100 * delta) + (fits ? "fits" : "OVER")
    }
}

/// One setting over all its seeds: means and spreads (`taps sweep --seeds 0,1,2`).
public struct SweepAggregate: Codable, Sendable, Equatable {
    /// `taps-lambda-0.3`, `finetune`, `probe`.
    public var setting: String
    public var mode: String
    public var lambda: Double?
    /// Seeds with a finished run.
    public var seeds: [UInt64]
    /// Mean, sample standard deviation (0 for one seed), minimum and maximum of the test accuracy (0...1).
    public var testAccuracyMean: Double
    public var testAccuracyStd: Double
    public var testAccuracyMin: Double
    public var testAccuracyMax: Double
    /// Task-specific parameters in % of the backbone: mean, minimum, maximum.
    public var percentOfBackboneMean: Double
    public var percentOfBackboneMin: Double
    public var percentOfBackboneMax: Double
    /// Active layers: mean, minimum, maximum.
    public var activeLayersMean: Double
    public var activeLayersMin: Int
    public var activeLayersMax: Int

    /// One aggregate per setting name, in the rows' order.
    public static func of(_ rows: [SweepRow]) -> [SweepAggregate] {
        var order: [String] = []
        var groups: [String: [SweepRow]] = [:]
        for r in rows {
            let key = r.name.isEmpty ? r.setting : r.name
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        return order.map { key in
            let g = groups[key]!
            let acc = g.map { $0.testAccuracy ?? 0 }, pct = g.map { 100 * $0.fractionOfBackbone }, act = g.map(\.activeLayers)
            let mean = acc.reduce(0, +) / Double(acc.count)
            let std = acc.count > 1 ? (acc.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(acc.count - 1)).squareRoot() : 0
            return SweepAggregate(
                setting: key, mode: g[0].mode, lambda: g[0].lambda, seeds: g.map(\.seed),
                testAccuracyMean: mean, testAccuracyStd: std, testAccuracyMin: acc.min()!, testAccuracyMax: acc.max()!,
                percentOfBackboneMean: pct.reduce(0, +) / Double(pct.count), percentOfBackboneMin: pct.min()!,
                percentOfBackboneMax: pct.max()!, activeLayersMean: Double(act.reduce(0, +)) / Double(act.count),
                activeLayersMin: act.min()!, activeLayersMax: act.max()!)
        }
    }
}

/// What a sweep produced.
public struct SweepResult: Sendable, Equatable {
    public var rows: [SweepRow]
    /// Settings trained by this call, and settings skipped because they were already complete.
    public var trained: [String]
    public var skipped: [String]
    /// Paths of the files written.
    public var files: [String]
    /// Whether TAPS's active-layer count never increases with lambda (for every seed).
    public var monotone: Bool
    /// Mean and spread per setting over the seeds (one seed: the runs themselves).
    public var aggregates: [SweepAggregate]
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
        c.seed = setting.seed
        c.outputDirectory = folder.appendingPathComponent(setting.folder).path
        // A budget steers TAPS runs only: the reference runs' config.json must repeat with `taps train --config`,
        // which refuses a budget outside --mode taps.
        if setting.mode != .taps { c.budget = nil; c.budgetBytes = nil }
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
                reused: reused, seed: setting.seed, name: setting.name, budget: s.budget,
                activeDeltaParameters: s.budget == nil ? nil : s.accounting.activeDeltaParameters))
        }
        let monotone = Set(rows.map(\.seed)).allSatisfy { seed in
            let counts = rows.filter { $0.mode == "taps" && $0.seed == seed }.map(\.activeLayers)
            return zip(counts, counts.dropFirst()).allSatisfy { $0 >= $1 }
        }
        let aggregates = SweepAggregate.of(rows)
        var files: [String] = []
        func write(_ name: String, _ text: String) throws {
            let url = folder.appendingPathComponent(name)
            try writeAtomically(Data(text.utf8), to: url)
            files.append(url.path)
        }
        try write("sweep.csv", Self.csv(rows))
        try write("sweep.md", Self.markdown(rows, task: config.task, monotone: monotone)
                  + (config.multiSeed ? Self.aggregateMarkdown(aggregates) : ""))
        let json = try makeJSONEncoder().encode(rows)
        try writeAtomically(json, to: folder.appendingPathComponent("sweep.json"))
        files.append(folder.appendingPathComponent("sweep.json").path)
        try write("tradeoff.svg", Self.tradeoffSVG(task: config.task, rows: rows, aggregates: aggregates, multiSeed: config.multiSeed))
        try write("layers.svg", try layersSVG(rows.filter { $0.mode == "taps" }))
        return SweepResult(rows: rows, trained: trained, skipped: skipped, files: files, monotone: monotone, aggregates: aggregates)
    }

    /// Test accuracy against % of the backbone (log x); with several seeds, the mean of each setting with error bars
    /// (accuracy ± sd, min..max of the %) and the single seeds as faint dots.
    public static func tradeoffSVG(task: String, rows: [SweepRow], aggregates: [SweepAggregate], multiSeed: Bool) -> String {
        func label(_ mode: String, _ lambda: Double?) -> String { mode == "taps" ? "λ=" + String(format: "%g", lambda ?? 0) : mode }
        let title = "\(task): test accuracy vs task-specific parameters"
        guard multiSeed else {
            return SVGPlot.tradeoff(title: title, points: rows.map { r in
                SVGPlot.Point(percent: 100 * r.fractionOfBackbone, accuracy: r.testAccuracy ?? 0, label: label(r.mode, r.lambda), kind: r.mode)
            }, caption: "one run per setting (seed \(rows.first?.seed ?? 0))")
        }
        let seedCount = Set(rows.map(\.seed)).count
        return SVGPlot.tradeoff(title: title, points: aggregates.map { a in
            SVGPlot.Point(percent: a.percentOfBackboneMean, accuracy: a.testAccuracyMean, label: label(a.mode, a.lambda), kind: a.mode,
                          accuracyRange: (a.testAccuracyMean - a.testAccuracyStd)...(a.testAccuracyMean + a.testAccuracyStd),
                          percentRange: a.percentOfBackboneMin...a.percentOfBackboneMax,
                          samples: rows.filter { ($0.name.isEmpty ? $0.setting : $0.name) == a.setting }
                              .map { [100 * $0.fractionOfBackbone, $0.testAccuracy ?? 0] })
        }, caption: "mean over \(seedCount) seeds; bars: accuracy ± 1 sd and the range of % of the backbone")
    }

    /// Rows = layers, columns = lambda; a cell's fill is the share of seeds in which the layer is active.
    private func layersSVG(_ rows: [SweepRow]) throws -> String {
        let maps = try rows.map { try ActiveMap.load(folder.appendingPathComponent($0.setting).path) }
        let layers = maps.first?.layers ?? []
        var columns: [String] = []
        var members: [[Int]] = []
        for (i, r) in rows.enumerated() {
            let name = r.name.isEmpty ? r.setting : r.name
            if let j = columns.firstIndex(of: name) { members[j].append(i) } else { columns.append(name); members.append([i]) }
        }
        let shares: [[Double?]] = layers.map { l in
            members.map { group in
                let states = group.compactMap { i in maps[i].layers.firstIndex(of: l).map { maps[i].active[$0] } }
                return states.isEmpty ? nil : Double(states.filter { $0 }.count) / Double(states.count)
            }
        }
        let lambdas = members.map { group in String(format: "%g", rows[group[0]].lambda ?? 0) }
        let seeds = Set(rows.map(\.seed)).count
        return SVGPlot.layerShareGrid(
            title: "\(config.task): active layers by λ", rows: layers, columns: lambdas, shares: shares, seeds: seeds,
            caption: "columns: λ" + (seeds > 1 ? "; fill strength and k/n: active in k of \(seeds) seeds" : ""))
    }

    /// Markdown table of the means over seeds (appended to `sweep.md` for a multi-seed sweep).
    public static func aggregateMarkdown(_ aggregates: [SweepAggregate]) -> String {
        var s = "\n## Mean over seeds\n\n| setting | seeds | test acc (mean ± sd) | min..max | active layers | % backbone |\n|---|---|---|---|---|---|\n"
        for a in aggregates {
            s += "| \(a.setting) | \(a.seeds.count) | " + String(format: "%.4f ± %.4f | %.4f..%.4f | %.1f (%d..%d) | %.2f%%",
                a.testAccuracyMean, a.testAccuracyStd, a.testAccuracyMin, a.testAccuracyMax, a.activeLayersMean,
                a.activeLayersMin, a.activeLayersMax, a.percentOfBackboneMean) + " |\n"
        }
        return s
    }

    /// `sweep.csv`: one row per setting. `budget_percent`, `delta_percent` (the active deltas, what the budget
    /// counts) and `fits_budget` are empty for a run without a budget.
    public static func csv(_ rows: [SweepRow]) -> String {
        var s = "setting,mode,lambda,test_accuracy,best_validation_accuracy,active_layers,gated_layers,active_layer_names,"
            + "task_specific_parameters,backbone_parameters,percent_of_backbone,export_bytes,seconds,seed,"
            + "budget_percent,delta_percent,fits_budget\n"
        for r in rows {
            s += [r.setting, r.mode, r.lambda.map { String(format: "%g", $0) } ?? "",
                  r.testAccuracy.map { String(format: "%.4f", $0) } ?? "",
                  r.bestValidationAccuracy.map { String(format: "%.4f", $0) } ?? "",
                  "\(r.activeLayers)", "\(r.gatedLayers)", r.activeLayerNames.joined(separator: " "),
                  "\(r.taskSpecificParameters)", "\(r.backboneParameters)", String(format: "%.2f", 100 * r.fractionOfBackbone),
                  "\(r.exportBytes)", String(format: "%.1f", r.seconds), "\(r.seed)",
                  r.budget.map { String(format: "%.2f", 100 * $0) } ?? "", r.deltaFraction.map { String(format: "%.2f", 100 * $0) } ?? "",
                  r.fitsBudget.map { $0 ? "yes" : "no" } ?? ""].joined(separator: ",") + "\n"
        }
        return s
    }

    /// The budget of the rows' runs (docs/method.md "Storage budget"): the budget, how many TAPS runs fit it, and
    /// that lambda is then each run's starting value, in two parts joined by "; ". Nil when no run has a budget.
    public static func budgetNote(_ rows: [SweepRow]) -> String? {
        let budgeted = rows.filter { $0.budget != nil }
        guard !budgeted.isEmpty else { return nil }
        let shares = Set(budgeted.compactMap(\.budget)).sorted().map(ProgressFormatter.percent)
        let fitting = budgeted.filter { $0.fitsBudget == true }.count
        return "budget \(shares.joined(separator: "/")) of the backbone for the active deltas: within it \(fitting) of "
            + "\(budgeted.count) TAPS run\(budgeted.count == 1 ? "" : "s"); lambda is each run's starting value (the "
            + "controller raises it until the set fits), so active layers need not fall as lambda rises"
    }

    /// `sweep.md`: the table (with a budget, a column of the active deltas against it), plus whether the
    /// active-layer count is monotone in lambda; with a budget the budget note instead (lambda is then only the
    /// controller's starting value).
    public static func markdown(_ rows: [SweepRow], task: String, monotone: Bool) -> String {
        let note = budgetNote(rows)
        var s = "# Sweep: \(task)\n\n" + (note.map { $0.prefix(1).uppercased() + $0.dropFirst() + ".\n\n" } ?? "")
        s += "| setting | test acc | active layers | task-specific params | % backbone | export bytes |"
            + (note == nil ? "" : " deltas vs budget |") + "\n|---|---|---|---|---|---|" + (note == nil ? "" : "---|") + "\n"
        for r in rows {
            let name = r.mode == "taps" ? "TAPS λ=" + String(format: "%g", r.lambda ?? 0) : r.mode
            s += "| \(name) | \(r.testAccuracy.map { String(format: "%.4f", $0) } ?? "-") | \(r.activeLayers)/\(r.gatedLayers)"
                + (r.activeLayerNames.isEmpty ? "" : " (\(r.activeLayerNames.joined(separator: ", ")))")
                + " | \(ProgressFormatter.grouped(r.taskSpecificParameters)) | " + String(format: "%.2f%%", 100 * r.fractionOfBackbone)
                + " | \(ProgressFormatter.grouped(r.exportBytes)) |" + (note == nil ? "" : " \(r.budgetCell) |") + "\n"
        }
        if note == nil {
            s += "\nActive layers " + (monotone ? "never increase with lambda." : "do NOT decrease monotonically with lambda (see the rows above).") + "\n"
        }
        return s
    }

    /// The table as printed by `taps sweep`; with a budget, led by the budget note and with a column of the active
    /// deltas against it.
    public static func table(_ rows: [SweepRow]) -> String {
        func r(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        let note = budgetNote(rows)
        var s = note.map { $0.components(separatedBy: "; ").map { "  \($0)\n" }.joined() } ?? ""
        s += "  setting                      test acc  active  task-specific  % backbone  export bytes  seconds"
            + (note == nil ? "" : "  deltas vs budget") + "\n"
        for row in rows {
            var name = row.mode == "taps" ? "taps λ=" + String(format: "%g", row.lambda ?? 0) : row.mode
            if !row.name.isEmpty && row.name != row.setting { name += " seed \(row.seed)" }
            s += "  " + (name + (row.reused ? " (reused)" : "")).padding(toLength: 28, withPad: " ", startingAt: 0)
                + r(row.testAccuracy.map { String(format: "%.4f", $0) } ?? "-", 9)
                + r("\(row.activeLayers)/\(row.gatedLayers)", 8)
                + r(ProgressFormatter.grouped(row.taskSpecificParameters), 15)
                + r(String(format: "%.2f%%", 100 * row.fractionOfBackbone), 12)
                + r(ProgressFormatter.grouped(row.exportBytes), 14)
                + r(String(format: "%.1f", row.seconds), 9) + (note == nil ? "" : r(row.budgetCell, 18)) + "\n"
        }
        return s
    }
}
