// TapsTraining: task suites — several tasks on one base (docs/method.md "Several tasks", "Storage and accounting"): incremental, joint, fully joint.
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// How a suite adapts the base to its tasks (docs/method.md "Several tasks").
public enum SuiteMode: String, Codable, Sendable, CaseIterable {
    /// One task after another, each from the frozen base (earlier tasks cannot be disturbed).
    case incremental
    /// Stage 1 trains a shared base with one head per task on mixed batches; stage 2 runs TAPS per task on it.
    case joint
    /// Our extension: the base and every task's deltas, scores, biases and heads train together.
    case fullyJoint = "fully-joint"
}

/// Options of a suite: the tasks, the mode, and the shared training settings.
public struct SuiteConfig: Codable, Sendable, Equatable {
    public var tasks: [String]
    public var mode: SuiteMode
    /// Shared settings of every task's run (`task` and `outputDirectory` are set per task).
    public var training: TrainingConfig
    /// Suite folder: `suite.json`, `suite.md`, one run folder per task, and the trained base in the joint modes.
    public var outputDirectory: String
    /// Epochs of joint stage 1 (shared base + one head per task).
    public var stage1Epochs: Int

    public init(tasks: [String], mode: SuiteMode = .incremental, training: TrainingConfig = TrainingConfig(),
                outputDirectory: String = "runs/suite", stage1Epochs: Int = 2) {
        self.tasks = tasks; self.mode = mode; self.training = training
        self.outputDirectory = outputDirectory; self.stage1Epochs = stage1Epochs
    }

    /// - Throws: `ConfigError` for an empty or repeated task list and bad shared settings.
    public func validate() throws {
        guard !tasks.isEmpty else { throw ConfigError.invalid(option: "--tasks", expected: "a comma-separated list of tasks", got: "nothing") }
        guard Set(tasks).count == tasks.count else {
            throw ConfigError.invalid(option: "--tasks", expected: "each task once", got: tasks.joined(separator: ","))
        }
        guard stage1Epochs >= 1 else { throw ConfigError.invalid(option: "--stage1-epochs", expected: "an integer >= 1", got: "\(stage1Epochs)") }
        try training.validate()
        if training.dataDirectory == nil,
           let unknown = tasks.first(where: { !EmbeddedPack.taskNames.contains($0) && !FileManager.default.fileExists(atPath: $0) }) {
            throw ConfigError.unknownTask(unknown, known: EmbeddedPack.taskNames)
        }
    }
}

/// One task of a suite: its run's summary, its export on disk, and the checks made after the whole suite.
public struct SuiteTaskResult: Codable, Sendable, Equatable {
    public var task: String
    public var runDirectory: String
    public var summary: RunSummary
    /// Size of `task.safetensors` in bytes.
    public var exportBytes: Int
    /// FNV-1a 64 of the export file's bytes right after its run ended.
    public var exportFileHash: String
    /// FNV-1a 64 of the export file's bytes when the whole suite ended (equal: the export was not touched).
    public var exportFileHashAtEnd: String
    /// Test accuracy of base + export loaded from disk at the end of the suite (nil when there is no export).
    public var reproducedTestAccuracy: Double?
    /// Content hash of the frozen base weights (`w0`) the task's network held after training
    /// (incremental and joint stage 2: equal to the base's hash over the same tensors).
    public var frozenBaseHashAfterTraining: String?

    /// Whether the export is bit-identical and reproduces the run's test accuracy exactly.
    public var reproduces: Bool {
        exportFileHash == exportFileHashAtEnd && reproducedTestAccuracy != nil && reproducedTestAccuracy == summary.testAccuracy
    }
}

/// What a suite writes to `suite.json` (and renders as a table and Markdown).
public struct SuiteSummary: Codable, Sendable, Equatable {
    public var mode: SuiteMode
    public var tasks: [String]
    /// How the suite ended.
    public var status: RunStatus
    /// The base every export was made for (the original base, or the suite's trained base in the joint modes).
    public var base: String
    public var baseHash: String
    /// The file of that base and its size in bytes.
    public var baseFile: String
    public var baseBytes: Int
    /// The original base the suite started from, and its content hash at the start and at the end.
    public var sourceBase: String
    public var sourceBaseHash: String
    public var sourceBaseHashAtEnd: String
    public var backboneParameters: Int
    public var results: [SuiteTaskResult]
    public var stage1: JointStage1Summary?
    /// Sum of the tasks' task-specific parameters.
    public var totalTaskSpecificParameters: Int
    /// `(backbone + sum task-specific) / backbone` (docs/method.md "Storage and accounting").
    public var backboneMultiple: Double
    /// The same in bytes on disk: `(base file + sum of export files) / base file`.
    public var backboneMultipleBytes: Double
    /// T (the tasks in `results`): the multiple for full fine-tuning (one whole network per task), in parameters and bytes alike.
    public var fullFineTuneMultiple: Double
    public var totalExportBytes: Int
    public var seconds: Double

    /// Whether every export reproduced its accuracy bit-for-bit and the source base is unchanged.
    public var allChecksPass: Bool {
        sourceBaseHash == sourceBaseHashAtEnd && results.allSatisfy(\.reproduces)
            && results.allSatisfy { $0.frozenBaseHashAfterTraining == nil || $0.frozenBaseHashAfterTraining == frozenHashReference }
    }

    /// Hash every task's frozen `w0` must have (set by the runner; incremental and joint only).
    public var frozenHashReference: String?

    /// The table printed at the end of `taps suite` (plain text, fixed-width columns).
    public var table: String { render(markdown: false) }
    /// The same table in Markdown (`suite.md`).
    public var markdown: String { render(markdown: true) }

    /// With a budget (`--budget`, `--budget-bytes`): what it is, how many tasks fit it, and that lambda is each
    /// task's starting value (two parts joined by "; "); nil without one (docs/method.md "Storage budget").
    public var budgetNote: String? {
        let budgeted = results.filter { $0.summary.budget != nil }
        guard !budgeted.isEmpty else { return nil }
        let shares = Set(budgeted.compactMap(\.summary.budget)).sorted().map(ProgressFormatter.percent)
        let fitting = budgeted.filter { Self.budgetFit($0.summary)?.fits == true }.count
        return "budget \(shares.joined(separator: "/")) of the backbone for each task's active deltas (head, norms and "
            + "biases not counted): within it \(fitting) of \(budgeted.count) task\(budgeted.count == 1 ? "" : "s"); "
            + "lambda is each task's starting value (raised until the set fits)"
    }

    /// A run's active deltas as a share of its backbone and whether they fit its budget; nil without a budget.
    static func budgetFit(_ s: RunSummary) -> (delta: Double, fits: Bool)? {
        guard let budget = s.budget else { return nil }
        let delta = Double(s.accounting.activeDeltaParameters) / Double(max(s.backboneParameters, 1))
        return (delta, delta <= budget)
    }

    private func render(markdown md: Bool) -> String {
        let note = budgetNote
        var header = ["task", "test acc", "reproduced", "active", "task-specific params", "% backbone", "export bytes", "% base file"]
        if note != nil { header.append("deltas vs budget") }
        var rows: [[String]] = []
        for r in results {
            let s = r.summary
            rows.append([
                r.task, s.testAccuracy.map { String(format: "%.4f", $0) } ?? "-",
                r.reproduces ? "yes" : "NO",
                "\(s.activeLayers.count)/\(s.gatedLayers)", ProgressFormatter.grouped(s.taskSpecificParameters),
                String(format: "%.2f%%", 100 * s.fractionOfBackbone), ProgressFormatter.grouped(r.exportBytes),
                String(format: "%.2f%%", 100 * Double(r.exportBytes) / Double(max(baseBytes, 1))),
            ] + (note == nil ? [] : [Self.budgetFit(s).map { String(format: "%.2f%% ", 100 * $0.delta) + ($0.fits ? "fits" : "OVER") } ?? "-"]))
        }
        rows.append([
            "total (\(results.count) tasks)", "", "", "", ProgressFormatter.grouped(totalTaskSpecificParameters),
            String(format: "%.2f%%", 100 * Double(totalTaskSpecificParameters) / Double(max(backboneParameters, 1))),
            ProgressFormatter.grouped(totalExportBytes),
            String(format: "%.2f%%", 100 * Double(totalExportBytes) / Double(max(baseBytes, 1))),
        ] + (note == nil ? [] : [""]))
        var out = ""
        if md {
            out += "# Suite: \(tasks.joined(separator: ", ")) (\(mode.rawValue))\n\n"
            out += "Base `\(base)` (`\(baseHash)`, \(ProgressFormatter.grouped(baseBytes)) bytes, backbone "
                + "\(ProgressFormatter.grouped(backboneParameters)) parameters).\n\n"
            if let note { out += note.prefix(1).uppercased() + note.dropFirst() + ".\n\n" }
            out += "| " + header.joined(separator: " | ") + " |\n|" + header.map { _ in "---" }.joined(separator: "|") + "|\n"
            for row in rows { out += "| " + row.joined(separator: " | ") + " |\n" }
            out += "\n"
        } else {
            out += "suite \(mode.rawValue) (\(status.rawValue)): base \(base) \(baseHash), \(ProgressFormatter.grouped(baseBytes)) bytes, backbone \(ProgressFormatter.grouped(backboneParameters)) parameters\n"
            if let note { out += note.components(separatedBy: "; ").map { "  \($0)\n" }.joined() }
            let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, c in
                    i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                           : String(repeating: " ", count: widths[i] - c.count) + c
                }.joined(separator: "  ")
            }
            out += "  " + line(header) + "\n"
            for row in rows { out += "  " + line(row) + "\n" }
        }
        let t = results.count
        out += (md ? "**" : "  ") + String(format: "multiple of one backbone for all %d tasks: %.3fx in parameters, %.3fx in bytes on disk",
                                            t, backboneMultiple, backboneMultipleBytes)
            + String(format: " (full fine-tuning: %.0fx)", fullFineTuneMultiple) + (md ? "**\n" : "\n")
        if let s = stage1 {
            out += (md ? "\n" : "  ") + "joint stage 1: \(s.epochs) epochs, \(s.steps) mixed batches of "
                + s.imagesPerTask.map(String.init).joined(separator: "+") + " images (every batch drew from \(s.minimumTasksPerBatch) of \(s.tasks.count) tasks)\n"
        }
        out += (md ? "\n" : "  ") + "checks: source base \(sourceBaseHash == sourceBaseHashAtEnd ? "unchanged" : "CHANGED"), "
            + "exports \(results.allSatisfy(\.reproduces) ? "bit-identical and reproduce their test accuracy" : "DO NOT all reproduce")"
        if frozenHashReference != nil {
            out += ", frozen w0 " + (results.allSatisfy { $0.frozenBaseHashAfterTraining == frozenHashReference } ? "bit-identical after every task" : "CHANGED")
        }
        out += "\n"
        return out
    }
}

/// The ``ContentHash`` of a file's bytes (`fnv1a64:...`); detects any change of content.
public func fileContentHash(_ url: URL) throws -> String { try ContentHash.ofFile(url) }

/// Size of a file in bytes (0 when missing).
func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

/// Which tasks of a suite one process handles (job arrays: docs/cluster.md).
public enum SuiteScope: Sendable, Equatable {
    /// Every task, then `suite.json` and `suite.md` (`taps suite`).
    case all
    /// Only the task at this index of the task list (`taps suite --array-index I`, one job of a job array; incremental
    /// mode): its run folder, `suite-config.json` for the collector, and no `suite.json`.
    case task(Int)
    /// No training: every task's run folder must hold a finished run made with the suite's settings; builds
    /// `suite.json` and `suite.md` from them (`taps suite collect OUT`).
    case collect
}

/// What a suite records beside a task's run folder (`<task>/suite-task.json`) when the task finishes, so a suite
/// assembled later (`taps suite collect`, a rerun that keeps the folder) reports the same checks.
public struct SuiteTaskRecord: Codable, Sendable, Equatable {
    /// The export file's ``ContentHash`` right after its run ended.
    public var exportFileHash: String
    /// Content hash of the frozen `w0` the task's network held after training.
    public var frozenBaseHashAfterTraining: String?
    /// File name inside the run folder.
    public static let fileName = "suite-task.json"
}

/// A suite that cannot be assembled or split as asked.
public enum SuiteError: Error, CustomStringConvertible, Equatable {
    /// A task of `taps suite collect` has no finished run made with the suite's settings.
    case unfinished(task: String, index: Int, folder: String)
    /// `suite-config.json` is missing or unreadable.
    case noSuiteConfig(path: String, reason: String)

    public var description: String {
        switch self {
        case .unfinished(let task, let index, let folder):
            return "task \(task) (array index \(index)) has no finished run with the suite's settings in \(folder); "
                + "train it with `taps suite ... --array-index \(index)` and collect again"
        case .noSuiteConfig(let path, let reason):
            return "\(path): \(reason); it is written by `taps suite --tasks ... --array-index I --out FOLDER`"
        }
    }
}

/// Runs a suite: trains every task in the chosen mode, checks that every export reproduces its accuracy from disk
/// and that the source base is untouched, and writes `suite.json` and `suite.md`.
///
/// Folder layout (`config.outputDirectory`): `<task>/` (a run folder as `taps train` writes it) per task;
/// `joint-base.safetensors` and `stage1/` (joint mode) or `fully-joint-base.safetensors` (fully joint);
/// `suite.json`, `suite.md`.
///
/// One ``TrainingControl`` steers every run (pause, stop, lambda keys); its lambda is reset to the suite's
/// lambda before each task, so every task starts from the same setting. A stop request ends the suite after the
/// run in progress.
public final class SuiteRunner: @unchecked Sendable {
    public let config: SuiteConfig
    public let control: TrainingControl
    /// One metrics store per view, in order: `stage1` first in joint mode, then one per task.
    public let views: [(name: String, store: MetricsStore)]
    /// Which tasks this process trains (all; one of a job array; none, only collecting).
    public let scope: SuiteScope
    private let lock = NSLock()
    private var _current = 0
    private var _totalSteps: [Int: Int] = [:]

    /// - Parameter scope: all tasks (default), one task of a job array, or collecting finished runs.
    /// - Throws: `ConfigError` for bad settings, an array index outside the task list, or a job array in a joint mode
    ///   (whose tasks share a stage-1 base and cannot train apart).
    public init(config: SuiteConfig, control: TrainingControl, scope: SuiteScope = .all) throws {
        try config.validate()
        if scope != .all && config.mode != .incremental {
            throw ConfigError.invalid(option: "--array-index", expected: "the incremental mode (joint modes train their tasks together)",
                                      got: config.mode.rawValue)
        }
        if case .task(let i) = scope, !config.tasks.indices.contains(i) {
            throw ConfigError.invalid(option: "--array-index", expected: "an index in 0...\(config.tasks.count - 1) of --tasks",
                                      got: "\(i)")
        }
        self.config = config
        self.control = control
        self.scope = scope
        var v = config.tasks.map { (name: $0, store: MetricsStore()) }
        if config.mode == .joint { v.insert((name: "stage1", store: MetricsStore()), at: 0) }
        views = v
    }

    /// Index in ``views`` of the run in progress (the last one started).
    public var currentView: Int { lock.lock(); defer { lock.unlock() }; return _current }
    private func setCurrent(_ i: Int) { lock.lock(); _current = i; lock.unlock() }

    /// Step budget of a view's run, once its trainer exists.
    public func totalSteps(view: Int) -> Int? { lock.lock(); defer { lock.unlock() }; return _totalSteps[view] }
    private func setTotalSteps(_ n: Int, view: Int) { lock.lock(); _totalSteps[view] = n; lock.unlock() }

    private var folder: URL { URL(fileURLWithPath: config.outputDirectory) }

    /// `task` when it names a dataset on disk (`--data` / a path in `--tasks`) rather than an embedded task.
    private func datasetPath(_ task: String) -> String? {
        config.training.dataDirectory == nil && !EmbeddedPack.taskNames.contains(task) && FileManager.default.fileExists(atPath: task)
            ? task : nil
    }

    private func taskConfig(_ task: String, base: String) -> TrainingConfig {
        var c = config.training
        c.task = task
        c.base = base
        if let path = datasetPath(task) { c.dataPath = path; c.task = Dataset.displayName(for: path) }  // a --data task
        c.outputDirectory = folder.appendingPathComponent(c.task).path
        return c
    }

    /// The folder name of `task`'s run inside the suite folder: the task's name, or the dataset's display name for
    /// a task given as a path (as ``taskConfig(_:base:)`` names it).
    public static func runFolderName(task: String, config: SuiteConfig) -> String {
        config.training.dataDirectory == nil && !EmbeddedPack.taskNames.contains(task) && FileManager.default.fileExists(atPath: task)
            ? Dataset.displayName(for: task) : task
    }

    /// The view names of a suite folder's runs in order (`stage1` first in joint mode), i.e. its subfolders.
    public static func viewFolderNames(config: SuiteConfig) -> [String] {
        (config.mode == .joint ? ["stage1"] : []) + config.tasks.map { runFolderName(task: $0, config: config) }
    }

    /// Name of the suite's settings file in the suite folder, written by job-array tasks for the collector.
    public static let configFileName = "suite-config.json"

    /// The settings a job array's tasks recorded in `folder` (``configFileName``), with the folder set to `folder`.
    /// - Throws: ``SuiteError/noSuiteConfig(path:reason:)``.
    public static func recordedConfig(in folder: URL) throws -> SuiteConfig {
        let url = folder.appendingPathComponent(configFileName)
        guard let data = try? Data(contentsOf: url) else { throw SuiteError.noSuiteConfig(path: url.path, reason: "cannot be read") }
        do {
            var c = try makeJSONDecoder().decode(SuiteConfig.self, from: data)
            c.outputDirectory = folder.path
            c.training.outputDirectory = folder.path
            return c
        } catch {
            throw SuiteError.noSuiteConfig(path: url.path, reason: "not a suite configuration (\(plainReason(error)))")
        }
    }

    /// Runs the whole suite (blocking), or this process's part of it (``scope``). Throws for bad options,
    /// unreadable data and I/O errors, and ``SuiteError/unfinished(task:index:folder:)`` when collecting a task that
    /// has not finished; a failed or stopped run ends the suite early with that status.
    public func run() throws -> SuiteSummary {
        let started = Date()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if case .task = scope {
            try writeAtomically(try makeJSONEncoder().encode(config), to: folder.appendingPathComponent(Self.configFileName))
        }
        let source = try BaseModel.load(for: config.training)
        let sourceFile: String = switch config.training.base {
        case "digitcnn": EmbeddedPack.baseWeightsURL.path
        case "efficientnet-lite0": ImageNetBase.efficientNetLite0WeightsURL.path
        default: config.training.base
        }
        func loadTrained(_ path: String) throws -> BaseModel {
            try BaseModel.load(path, architecture: source.architecture, imageSize: config.training.imageSize)
        }
        var base = source, baseFile = sourceFile
        var stage1: JointStage1Summary?
        var summaries: [(RunSummary, String?)] = []
        var status = RunStatus.done
        var exportHashes: [String] = []

        switch config.mode {
        case .incremental, .joint:
            var firstTaskView = 0
            if config.mode == .joint {
                let url = folder.appendingPathComponent("joint-base.safetensors")
                control.lambda = control.initialLambda
                let s1 = try JointBaseTrainer(config: config.training, tasks: config.tasks, epochs: config.stage1Epochs,
                                              baseFile: url, runDirectory: folder.appendingPathComponent("stage1"),
                                              store: views[0].store, control: control)
                setCurrent(0)
                let summary = try s1.run()
                stage1 = summary
                firstTaskView = 1
                guard summary.status == .done else {
                    status = summary.status
                    return try finish(status: status, source: source, base: base, baseFile: baseFile, stage1: stage1,
                                      summaries: [], exportHashes: [], started: started)
                }
                base = try loadTrained(url.path)
                baseFile = url.path
            }
            for (i, task) in config.tasks.enumerated() {
                if case .task(let only) = scope, only != i { continue }
                if control.isStopRequested { status = .stopped; break }
                control.lambda = control.initialLambda
                let view = firstTaskView + i
                // Incremental: the base as the user named it (`digitcnn`); joint stage 2: the stage-1 base file.
                let c = taskConfig(task, base: config.mode == .joint ? baseFile : config.training.base)
                let dir = URL(fileURLWithPath: c.outputDirectory)
                if let done = RunReuse.finished(in: dir, config: c) {
                    // Finished earlier with the same settings (a rerun, a resumed suite, a job array's task): kept.
                    views[view].store.append(.notice(NoticeEvent(kind: .info, step: 0,
                        message: "\(task): finished earlier with the same settings in \(dir.path); kept")))
                    let record = try? makeJSONDecoder().decode(SuiteTaskRecord.self, from: Data(contentsOf: dir.appendingPathComponent(SuiteTaskRecord.fileName)))
                    summaries.append((done, record?.frozenBaseHashAfterTraining))
                    exportHashes.append(record?.exportFileHash
                                        ?? done.export.flatMap { try? fileContentHash(URL(fileURLWithPath: $0)) } ?? "")
                    continue
                }
                if scope == .collect { throw SuiteError.unfinished(task: task, index: i, folder: dir.path) }
                let trainer = try RunReuse.trainer(in: dir, config: c, store: views[view].store, control: control)
                setTotalSteps(trainer.totalSteps, view: view)
                setCurrent(view)
                let summary = trainer.run()
                let frozen = BaseModel.hash(trainer.task.baseWeights.map { ($0.key, $0.value) })
                summaries.append((summary, frozen))
                let exportHash = summary.export.flatMap { try? fileContentHash(URL(fileURLWithPath: $0)) } ?? ""
                exportHashes.append(exportHash)
                if summary.status == .done {
                    try writeAtomically(try makeJSONEncoder().encode(SuiteTaskRecord(exportFileHash: exportHash, frozenBaseHashAfterTraining: frozen)),
                                        to: dir.appendingPathComponent(SuiteTaskRecord.fileName))
                }
                if summary.status != .done { status = summary.status; break }
            }
        case .fullyJoint:
            control.lambda = control.initialLambda
            let url = folder.appendingPathComponent("fully-joint-base.safetensors")
            let trainer = try FullyJointTrainer(config: config.training, tasks: config.tasks, outputDirectory: folder,
                                                baseFile: url, stores: views.map(\.store), control: control)
            setCurrent(0)
            let results = try trainer.run()
            for r in results {
                summaries.append((r, nil))
                exportHashes.append(r.export.flatMap { try? fileContentHash(URL(fileURLWithPath: $0)) } ?? "")
            }
            status = results.first?.status ?? .failed
            if status == .done {
                base = try loadTrained(url.path)
                baseFile = url.path
            }
        }
        return try finish(status: status, source: source, base: base, baseFile: baseFile, stage1: stage1,
                          summaries: summaries, exportHashes: exportHashes, started: started)
    }

    private func finish(status: RunStatus, source: BaseModel, base: BaseModel, baseFile: String, stage1: JointStage1Summary?,
                        summaries: [(RunSummary, String?)], exportHashes: [String], started: Date) throws -> SuiteSummary {
        // After the whole suite: every export, reloaded from disk onto a freshly loaded base, must reproduce its run.
        let sourceAtEnd = try BaseModel.load(for: config.training)
        let reloadedBase = base.contentHash == source.contentHash ? try BaseModel.load(for: config.training)
            : try BaseModel.load(baseFile, architecture: source.architecture, imageSize: config.training.imageSize)
        var results: [SuiteTaskResult] = []
        for ((summary, frozen), hash) in zip(summaries, exportHashes) {
            var reproduced: Double?
            var hashAtEnd = ""
            if let path = summary.export {
                let url = URL(fileURLWithPath: path)
                hashAtEnd = (try? fileContentHash(url)) ?? ""
                let path = config.tasks.compactMap(datasetPath).first { Dataset.displayName(for: $0) == summary.task }
                reproduced = try? reproduceAccuracy(export: url, base: reloadedBase, dataDirectory: config.training.dataDirectory,
                                                    dataPath: path)
            }
            results.append(SuiteTaskResult(
                task: summary.task, runDirectory: folder.appendingPathComponent(summary.task).path, summary: summary,
                exportBytes: summary.export.map(fileSize) ?? 0, exportFileHash: hash, exportFileHashAtEnd: hashAtEnd,
                reproducedTestAccuracy: reproduced, frozenBaseHashAfterTraining: frozen))
        }
        let backbone = results.first?.summary.backboneParameters ?? 0
        let total = results.reduce(0) { $0 + $1.summary.taskSpecificParameters }
        let baseBytes = fileSize(baseFile)
        let exportBytes = results.reduce(0) { $0 + $1.exportBytes }
        // The reference for "w0 untouched": the hash of the same tensors in the base every task was built on.
        let gatedNames = Set(results.isEmpty ? [] : (try? gatedWeightNames(base: base)) ?? [])
        let reference = BaseModel.hash(base.weights.filter { gatedNames.contains($0.key) }.map { ($0.key, $0.value) })
        let summary = SuiteSummary(
            mode: config.mode, tasks: config.tasks, status: status, base: base.name, baseHash: base.contentHash,
            baseFile: baseFile, baseBytes: baseBytes, sourceBase: source.name, sourceBaseHash: source.contentHash,
            sourceBaseHashAtEnd: sourceAtEnd.contentHash, backboneParameters: backbone, results: results, stage1: stage1,
            totalTaskSpecificParameters: total,
            backboneMultiple: backbone > 0 ? Double(backbone + total) / Double(backbone) : 0,
            backboneMultipleBytes: baseBytes > 0 ? Double(baseBytes + exportBytes) / Double(baseBytes) : 0,
            fullFineTuneMultiple: Double(results.count), totalExportBytes: exportBytes,
            seconds: Date().timeIntervalSince(started),
            frozenHashReference: config.mode == .fullyJoint ? nil : reference)
        // One task of a job array reports on itself only; `taps suite collect` writes the suite's files.
        if case .task = scope { return summary }
        try writeAtomically(try makeJSONEncoder().encode(summary), to: folder.appendingPathComponent("suite.json"))
        try writeAtomically(Data(summary.markdown.utf8), to: folder.appendingPathComponent("suite.md"))
        return summary
    }

    private func gatedWeightNames(base: BaseModel) throws -> [String] {
        var rng = SeededRNG(seed: 0)
        let net = try base.taskNetwork(classes: 2, mode: .taps, tau: 0.1, initialScore: 0.15, rng: &rng)
        return Array(net.baseWeights.keys)
    }
}

/// Loads `export` onto `base` (after checking it was made for that base) and returns its test accuracy, evaluated
/// exactly as training evaluated it, on the task the export names.
/// - Throws: `TaskExportError.wrongBase` when the export names another base's content hash, or any load error.
public func reproduceAccuracy(export: URL, base: BaseModel, dataDirectory: String? = nil, dataPath: String? = nil) throws -> Double {
    let (network, metadata) = try TaskExport.load(export, onto: base)
    var config = TrainingConfig()
    config.task = metadata.task; config.dataDirectory = dataDirectory; config.dataPath = dataPath ?? metadata.data
    config.dataFormat = metadata.dataFormat
    let data = try loadTask(config: config, base: base, recordSplit: false)
    return evaluate(network, on: data.test, normalization: base.normalization).accuracy
}
