// taps: the headless command line of the TAPS engine (train, eval, tasks, inspect, bench).
import ArgumentParser
import Foundation
import TAPS
import TapsCommandLine
import TapsData
import TapsDistributed
import TapsNN
import TapsReports
import TapsTensor
import TapsTraining
import TapsVersion

@main
struct Taps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taps",
        abstract: "Task Adaptive Parameter Sharing: adapt one pretrained network to many tasks (headless).",
        discussion: "The live dashboard is taps-tui; it takes the same training options as `taps train`. "
            + "--json output of every command is described in docs/cli-json.md.",
        version: "taps \(TapsVersion.description)",
        subcommands: [Train.self, Eval.self, Predict.self, Tasks.self, Inspect.self, Bench.self, Suite.self, Sweep.self, Path.self, Compare.self,
                      Export.self, DataCommand.self, Merge.self])

    /// Errors as one line with the README's exit codes (`CommandLineExit`), not ArgumentParser's four lines.
    static func main() { CommandLineExit.main(Taps.self, program: "taps") }
}

/// Prints to standard error (errors and warnings never mix with the progress lines on stdout).
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Runs `body`, turning any error into a one-line message in plain words (see `plainDescription(of:)`) and exit
/// code 1 instead of a crash; 64 for a usage error (``CommandLineExit/isUsageError(_:)``: a `ValidationError`, a
/// `--config` file that cannot be used, an option out of range or contradicting another).
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExitCode { throw e } catch {
        printError("taps: error: \(plainDescription(of: error))")
        throw CommandLineExit.isUsageError(error) ? ExitCode.validationFailure : ExitCode.failure
    }
}

/// Runs `body`, which reads the command's options (`TrainingOptions.config()`): any error is a usage error, one
/// line and exit 64 (an option out of range, options that contradict each other, a bad `--config` file).
func reportingUsageErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ExitCode { throw e } catch {
        printError("taps: error: \(plainDescription(of: error))")
        throw ExitCode.validationFailure
    }
}

/// Prints `value` as one pretty-printed JSON document on stdout (snake_case keys, sorted; docs/cli-json.md).
func printJSON<T: Encodable>(_ value: T) throws {
    FileHandle.standardOutput.write(try makeJSONEncoder().encode(value) + Data([0x0A]))
}

/// `--json` for commands that print results.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the result as one JSON document on stdout (fields: docs/cli-json.md); progress goes to stderr.")
    var json = false
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Adapt the base to one task and write metrics.jsonl, summary.json and task.safetensors.",
        discussion: "Every run folder also gets run.json: the taps version and git commit, the exact command line and "
            + "the machine (cores, BLAS threads). `taps train --config RUN/config.json --out NEW` repeats a run exactly. "
            + "Under `mpirun -np R` the R processes train the task together (data-parallel: each takes its share of "
            + "every --batch-size batch, gradients are all-reduced; rank 0 writes the run folder; docs/scaling.md).")

    @OptionGroup var options: TrainingOptions

    @Flag(name: .customLong("jsonl"), help: "Print every metrics event as JSONL on stdout instead of progress lines.")
    var jsonl = false

    @Option(help: ArgumentHelp("Also write TensorBoard event files into this folder while training (losses, accuracies, "
                               + "lambda, active layers, per-layer scores, notices).", valueName: "dir"))
    var tensorboard: String?

    @OptionGroup var progress: ProgressOptions

    func run() throws {
        // The options first: a value out of range or a bad --config file is a usage error (exit 64).
        let planned: TrainingConfig? = options.resume == nil ? try reportingUsageErrors { try options.config() } : nil
        let store = MetricsStore()
        let control = TrainingControl(lambda: 0)
        // Under mpirun with several processes: the MPI world (nil for a plain run, which never initialises MPI).
        let world = try reportingErrors { try Communicator.world() }
        let writer = world?.isWriter ?? true
        if let tensorboard, writer { try reportingErrors { try FileError.checkWritableDirectory(tensorboard) } }
        let trainer = try reportingErrors { () throws -> Trainer in
            if let planned, writer { try FileError.checkWritableDirectory(planned.outputDirectory) }
            return try options.makeTrainer(store: store, control: control, group: world)
        }
        let config = trainer.config
        if options.resume == nil { control.lambda = config.lambda }
        guard writer else {
            // Ranks > 0 train silently; rank 0 prints, writes the run folder and relays stop and lambda. A signal
            // (scancel sends SIGTERM to every rank) must not kill them mid-collective: rank 0's stop ends all ranks.
            let signals = SignalStop(control)
            let summary = trainer.runOnBackgroundQueue()
            signals.cancel()
            Communicator.finalize()
            if summary.status == .failed { throw ExitCode.failure }
            return
        }
        RunProvenance.record(on: store)
        let board = try reportingErrors { try tensorboard.map { try TensorBoardWriter(directory: $0) } }
        board?.follow(store)
        let printer = ProgressPrinter(quiet: progress.quiet || jsonl)
        if jsonl {
            let encoder = makeJSONEncoder(pretty: false)
            store.onEvent { event in
                if let d = try? encoder.encode(event) { FileHandle.standardOutput.write(d + Data([0x0A])) }
            }
        } else {
            printer.follow(store, maxSteps: config.maxSteps)
        }
        let signals = SignalStop(control)
        let summary = trainer.runOnBackgroundQueue()
        Communicator.finalize()
        signals.cancel()
        printer.finish()
        board?.close()
        if !jsonl {
            if summary.pathPoints != nil { try printPathEnd(summary, folder: config.outputDirectory) }
            else { print(SummaryText.render(summary, runDirectory: config.outputDirectory)) }
        }
        if let board, !jsonl { print("  tensorboard        \(board.url.path)") }
        if summary.status == .failed {
            printError("taps: error: \(summary.message ?? "training failed")")
            throw ExitCode.failure
        }
        if let code = signals.exitCode { throw ExitCode(code) }
    }
}

/// The summary block `taps train` prints at the end.
enum SummaryText {
    static func render(_ s: RunSummary, runDirectory: String) -> String {
        var lines: [String] = []
        lines.append("")
        lines.append("summary (\(s.status.rawValue)): task \(s.task), mode \(s.mode.rawValue), lambda \(ProgressFormatter.fmt(s.lambda)), tau \(ProgressFormatter.fmt(s.tau))")
        if let t = s.testAccuracy {
            let val = s.bestValidationAccuracy.map { String(format: ", validation %.4f (epoch %d)", $0, s.selectedEpoch ?? 0) } ?? ""
            lines.append(String(format: "  test accuracy      %.4f", t) + val)
        }
        lines.append("  active layers      \(s.activeLayers.count)/\(s.gatedLayers): \(s.activeLayers.isEmpty ? "(none)" : s.activeLayers.joined(separator: ", "))")
        lines.append("  task-specific      \(ProgressFormatter.grouped(s.taskSpecificParameters)) parameters = "
                     + String(format: "%.2f%%", 100 * s.fractionOfBackbone)
                     + " of the backbone (\(ProgressFormatter.grouped(s.backboneParameters)))")
        if let budget = s.budget {
            // The budget counts the active deltas only: without this line a `--budget 25%` run that reports 25.3%
            // task-specific parameters looks over budget.
            let backbone = Double(max(s.backboneParameters, 1))
            let deltas = Double(s.accounting.activeDeltaParameters) / backbone
            let rest = Double(s.accounting.normalisationParameters + s.accounting.headParameters) / backbone
            // A --budget-bytes larger than the backbone is not "the 692129% budget".
            let limit = budget > 1 ? "budget (more than the whole backbone)"
                : ProgressFormatter.percent(budget) + " budget"
            lines.append("  budget             deltas " + String(format: "%.2f%%", 100 * deltas)
                         + (deltas <= budget ? ", within the " : ", OVER the ") + limit + " (head, norms, biases "
                         + String(format: "+%.2f%%", 100 * rest) + ", not counted)")
        }
        lines.append(String(format: "  time               %.1f s (%.2f s/epoch, %.0f img/s)", s.seconds, s.secondsPerEpoch, s.samplesPerSecond))
        lines.append("  run folder         \(runDirectory) (metrics.jsonl, summary.json\(s.export != nil ? ", task.safetensors" : ""))")
        return lines.joined(separator: "\n")
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the base plus a task export and report test accuracy.")

    @Option(help: "Task whose test split to evaluate (default: the export's task).")
    var task: String?

    @Option(help: "Task export written by `taps train` (task.safetensors).")
    var export: String

    @Option(help: "Base network: digitcnn (embedded) or a .safetensors path.")
    var base: String = "digitcnn"

    @Option(name: .customLong("data-dir"), help: "Folder with the task's own IDX files (as for `taps train --data-dir`).")
    var dataDirectory: String?

    @OptionGroup var data: DataOptions
    @OptionGroup var output: JSONOption

    /// `taps eval --json` (docs/cli-json.md).
    struct Result: Codable {
        var schema = "taps.eval/1"
        var task: String
        var export: String
        var base: String
        var testAccuracy: Double
        var correct: Int
        var testImages: Int
        var gatedLayers: Int
        var activeLayers: [String]
        var recordedTestAccuracy: Double?
        var matchesRecorded: Bool?
    }

    func run() throws {
        try reportingErrors {
            let file = try TaskExportFile(contentsOf: URL(fileURLWithPath: export))
            let meta = file.metadata
            let baseModel = try BaseModel.load(base, architecture: meta.architecture, imageSize: meta.imageSize)
            let network = try file.load(onto: baseModel)
            let taskName = task ?? meta.task
            var config = TrainingConfig()
            config.task = taskName; config.dataDirectory = dataDirectory
            config.dataPath = meta.data; config.dataFormat = meta.dataFormat   // where the task was trained, unless --data says otherwise
            self.data.apply(to: &config)
            let data = try loadTask(config: config, base: baseModel, recordSplit: false)
            guard data.classes == meta.classes else {
                throw ConfigError.invalid(option: "--task", expected: "a task with the export's \(meta.classes) classes",
                                          got: "\(taskName) with \(data.classes) classes")
            }
            guard data.test.count > 0 else {
                throw ConfigError.invalid(option: "--task", expected: "a task with a non-empty test split", got: "\(taskName) with 0 test images")
            }
            let r = evaluate(network, on: data.test, normalization: baseModel.normalization)
            let active = network.activeIndices.map { network.gatedLayers[$0].name }
            let correct = Int((r.accuracy * Double(data.test.count)).rounded())
            let recorded = meta.testAccuracy
            if output.json {
                try printJSON(Result(task: taskName, export: export, base: baseModel.name, testAccuracy: r.accuracy,
                                     correct: correct, testImages: data.test.count, gatedLayers: network.gatedLayers.count,
                                     activeLayers: active, recordedTestAccuracy: recorded,
                                     matchesRecorded: recorded.map { $0 == r.accuracy }))
                return
            }
            print(String(format: "test accuracy %.4f (%d/%d) on %@", r.accuracy, correct, data.test.count, taskName))
            print("active layers \(active.count)/\(network.gatedLayers.count): \(active.joined(separator: ", "))")
            if let recorded {
                print(recorded == r.accuracy ? "matches the training summary" : String(format: "training recorded %.4f", recorded))
            }
        }
    }
}

struct Tasks: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the embedded tasks.")

    @OptionGroup var output: JSONOption

    /// One task of `taps tasks --json`.
    struct Entry: Codable { var name: String; var classes: Int; var trainImages: Int; var testImages: Int; var description: String }
    struct Result: Codable { var schema = "taps.tasks/1"; var tasks: [Entry] }

    func run() throws {
        try reportingErrors {
            let entries = try EmbeddedPack.taskNames.map { name -> Entry in
                let d = try EmbeddedPack.load(name)
                return Entry(name: name, classes: d.classes, trainImages: d.train.count, testImages: d.test.count, description: d.description)
            }
            if output.json { return try printJSON(Result(tasks: entries)) }
            print("task            classes  train   test  description")
            for e in entries {
                print(e.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + String(format: "%7d %6d %6d  ", e.classes, e.trainImages, e.testImages) + e.description)
            }
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a .safetensors file's tensors and metadata, or (--model/--base) a network's gated layers.")
    @Argument(help: "A .safetensors file (a base, or a task export).")
    var file: String?

    @Option(help: "List the gated layers of an architecture: digitcnn, resnet18/34/50/101, densenet121, densenet-small, vit-b16, vit-tiny, efficientnet-lite0.")
    var model: String?

    @Option(help: "List the gated layers of a base: digitcnn, efficientnet-lite0 or a .safetensors file.")
    var base: String?

    @Option(help: "Architecture of a --base file (default: from its metadata or names).")
    var arch: String?

    @Option(name: .customLong("image-size"), help: "Input size in pixels for --model/--base (matters for ViTs).")
    var imageSize: Int = 224

    @Option(help: "Classes of the head for --model/--base.")
    var classes: Int = 10

    @OptionGroup var output: JSONOption

    /// One tensor of `taps inspect FILE --json`.
    struct Tensor: Codable { var name: String; var shape: [Int]; var values: Int }
    struct FileResult: Codable {
        var schema = "taps.inspect-file/1"
        var file: String
        var tensors: [Tensor]
        var totalValues: Int
        var metadata: [String: String]
    }

    func validate() throws {
        if file == nil && model == nil && base == nil {
            throw ValidationError("give a .safetensors FILE, --model NAME or --base NAME")
        }
    }

    func run() throws {
        try reportingErrors {
            if model != nil || base != nil {
                let listing = try GatedLayerListing.make(model: model, base: base, arch: arch, imageSize: imageSize, classes: classes)
                if output.json { try printJSON(listing) } else { listing.print() }
                return
            }
            guard let file else { return }
            let f = try SafeTensors.read(URL(fileURLWithPath: file))
            if output.json {
                return try printJSON(FileResult(file: file, tensors: f.tensors.map { Tensor(name: $0.0, shape: $0.1.shape, values: $0.1.count) },
                                                totalValues: f.tensors.reduce(0) { $0 + $1.1.count }, metadata: f.metadata))
            }
            var total = 0
            for (name, t) in f.tensors {
                total += t.count
                print(name.padding(toLength: 40, withPad: " ", startingAt: 0) + " \(t.shape)".padding(toLength: 20, withPad: " ", startingAt: 0)
                      + String(format: "%10d", t.count))
            }
            print("\(f.tensors.count) tensors, \(ProgressFormatter.grouped(total)) values")
            for key in f.metadata.keys.sorted() { print("metadata \(key): \(f.metadata[key]!)") }
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput (images/s) in each mode and GEMM GFLOP/s on this machine.")
    @Option(help: "Task whose batches to use.") var task: String = "fashion"
    @Option(help: "Timed optimizer steps per mode (default 40; 8 with --arch).") var steps: Int?
    @Option(help: "Worker threads, or a comma-separated list to measure the scaling, e.g. 1,2 (default: all cores).")
    var threads: String?
    @Option(name: .customLong("arch"), help: "Time an architecture instead (random weights and images; see taps inspect): \(ModelZoo.architectures.joined(separator: ", ")).")
    var architecture: String?
    @Option(name: .customLong("modes"), help: "Modes to time with --arch, comma-separated (taps, finetune, probe).")
    var modes: String = "taps,finetune,probe"
    @Option(name: .customLong("image-size"), help: "Square image size for --arch.") var imageSize: Int = 64
    @Option(name: .customLong("batch-size"), help: "Batch size for --arch.") var batchSize: Int = 32
    @OptionGroup var dataBench: DataBenchOptions

    @OptionGroup var output: JSONOption

    /// `taps bench --json` (docs/cli-json.md).
    struct Result: Codable {
        struct Gemm: Codable { var m: Int; var n: Int; var k: Int; var gflops: Double }
        struct Training: Codable { var mode: String; var batchSize: Int; var imagesPerSecond: Double; var threads: Int? }
        struct Architecture: Codable {
            var architecture: String; var imageSize: Int; var batchSize: Int; var imagesPerSecond: Double
            var forwardSeconds: Double; var backwardSeconds: Double
            var mode: String?; var threads: Int?; var cpuSecondsPerStep: Double?
            var gemmGFLOPS: Double?; var stepGFLOPS: Double?; var gemmShare: Double?; var workspaceAllocations: Int?
        }
        var schema = "taps.bench/1"
        var cores: Int
        var blasThreads: Int
        var gemm: [Gemm] = []
        var training: [Training] = []
        var inferenceImagesPerSecond: Double?
        /// The TAPS-mode measurement (at the last thread count).
        var architecture: Architecture?
        /// Every mode at every thread count.
        var architectureRuns: [Architecture]?
    }

    func validate() throws {
        if threadCounts == nil { throw ValidationError("--threads: give a count or a list like 1,2") }
        for m in modes.split(separator: ",") where TrainingMode(rawValue: String(m)) == nil {
            throw ValidationError("--modes: unknown mode \(m) (taps, finetune, probe)")
        }
    }

    /// The thread counts to measure (empty: the default).
    private var threadCounts: [Int]? {
        guard let threads else { return [] }
        let counts = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        return counts.map { $0! }
    }

    func run() throws {
        try reportingErrors {
            let counts = threadCounts ?? []
            if let first = counts.first { BLASThreads.set(first) }
            var result = Result(cores: ProcessInfo.processInfo.activeProcessorCount, blasThreads: BLASThreads.current)
            let json = output.json
            func say(_ line: String) { if !json { print(line) } }
            say("taps bench: \(result.cores) cores, worker threads \(counts.isEmpty ? "\(BLASThreads.current)" : counts.map(String.init).joined(separator: ",")) (OpenBLAS single-threaded, \(Parallel.blasCore) kernels; elementwise kernels \(VectorMath.variant))")
            if dataBench.data != nil {
                try dataBench.run(steps: steps, batchSize: batchSize)
                return
            }
            let threadList = counts.isEmpty ? [BLASThreads.current] : counts
            if let architecture {
                let modeList = modes.split(separator: ",").compactMap { TrainingMode(rawValue: String($0)) }
                var runs: [Result.Architecture] = []
                for t in threadList {
                    BLASThreads.set(t)
                    for mode in modeList {
                        let r = try Benchmark.architectureThroughput(architecture, imageSize: imageSize, batchSize: batchSize,
                                                                     steps: steps ?? 8, mode: mode)
                        runs.append(.init(architecture: architecture, imageSize: imageSize, batchSize: batchSize,
                                          imagesPerSecond: r.imagesPerSecond, forwardSeconds: r.forwardSeconds,
                                          backwardSeconds: r.backwardSeconds, mode: mode.rawValue, threads: t,
                                          cpuSecondsPerStep: r.cpuSecondsPerStep, gemmGFLOPS: r.gemmGFLOPS,
                                          stepGFLOPS: r.stepGFLOPS, gemmShare: r.gemmShare,
                                          workspaceAllocations: r.workspaceAllocations))
                        if mode == .taps { result.architecture = runs.last }
                        say(String(format: "train %@ %@ %dpx batch %d  %8.1f img/s  (forward %.3f s, backward %.3f s per step)"
                                   + "  threads %d  cpu %.3f s/step  GEMM %.1f GFLOP/s, %.0f%% of step, %.1f GFLOP/s overall"
                                   + "  workspace allocations %d",
                                   mode.rawValue, architecture, imageSize, batchSize, r.imagesPerSecond, r.forwardSeconds,
                                   r.backwardSeconds, t, r.cpuSecondsPerStep, r.gemmGFLOPS, 100 * r.gemmShare,
                                   r.stepGFLOPS, r.workspaceAllocations))
                    }
                }
                if threadList.count > 1 {
                    for mode in modeList {
                        let byThreads = runs.filter { $0.mode == mode.rawValue }
                        guard let base = byThreads.first, base.imagesPerSecond > 0 else { continue }
                        say("scaling \(mode.rawValue) \(architecture): " + byThreads.map {
                            String(format: "%d threads %.2fx", $0.threads ?? 0, $0.imagesPerSecond / base.imagesPerSecond)
                        }.joined(separator: ", "))
                    }
                }
                if let taps = runs.last(where: { $0.mode == "taps" }), let fine = runs.last(where: { $0.mode == "finetune" }) {
                    say(String(format: "taps step / finetune step (threads %d): %.2f", taps.threads ?? 0,
                               fine.imagesPerSecond / max(taps.imagesPerSecond, 1e-9)))
                }
                result.architectureRuns = runs
                if json { try printJSON(result) }
                return
            }
            for t in threadList {
                BLASThreads.set(t)
                if threadList.count > 1 { say("threads \(t)") }
                for (m, n, k) in [(256, 256, 256), (512, 512, 512), (64, 6272, 288), (128, 1568, 576)] {
                    let g = Benchmark.gemmGFLOPS(m: m, n: n, k: k)
                    result.gemm.append(.init(m: m, n: n, k: k, gflops: g))
                    say(String(format: "gemm %4d x %4d x %4d   %7.1f GFLOP/s", m, n, k, g))
                }
                let base = try BaseModel.load("digitcnn")
                for mode in TrainingMode.allCases {
                    let r = try Benchmark.trainingThroughput(base: base, task: task, mode: mode, steps: steps ?? 40)
                    result.training.append(.init(mode: mode.rawValue, batchSize: 32, imagesPerSecond: r, threads: t))
                    say("train \(mode.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) batch 32  " + String(format: "%8.0f img/s", r))
                }
                let inference = try Benchmark.inferenceThroughput(base: base, task: task)
                result.inferenceImagesPerSecond = inference
                say(String(format: "inference batch 256    %8.0f img/s", inference))
            }
            if json { try printJSON(result) }
        }
    }
}
