// TapsCommandLine: the training options shared by `taps train` and `taps-tui`.
import ArgumentParser
import TapsData
import TapsTraining
import TAPS
import Foundation

extension TrainingMode: ExpressibleByArgument {}
extension PenaltyKind: ExpressibleByArgument {}
extension SparsityPenalty.Update: ExpressibleByArgument {}
extension Augmentation: ExpressibleByArgument {}

/// What is wrong with one value, for the caller to prefix with the option or key:
/// `expected a percentage like 20% (or a fraction like 0.2), got 'abc'`.
public struct ValueError: Error, CustomStringConvertible, Equatable {
    /// What the value should have been.
    public var expected: String
    /// The value as given, with any hint (`20 (did you mean 20%?)`).
    public var got: String
    public var description: String { "expected \(expected), got \(got)" }
}

/// A share of the backbone given as a percentage (`20%`) or a fraction (`0.2`), from 0% to 100%.
public struct Share: Sendable, Equatable {
    public var value: Double

    /// Parses `text`; `quote` encloses a value that is not a number in the message (`'` on the command line, `"`
    /// for a string in a config file).
    /// - Throws: `ValueError` for text that is not a percentage or fraction, or one outside 0%...100% (echoed as
    ///   given: `got 150%`; `got 20 (did you mean 20%?)` for a bare number between 1 and 100).
    public init(_ text: String, quote: String = "'") throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        let percent = t.hasSuffix("%")
        guard let n = Double(percent ? String(t.dropLast()) : t), n.isFinite else {
            throw ValueError(expected: "a percentage like 20% (or a fraction like 0.2)", got: quote + text + quote)
        }
        let share = percent ? n / 100 : n
        guard share >= 0, share <= 1 else { throw Self.outOfRange(t, share: share, percent: percent) }
        value = share
    }

    /// Expected in `--budget`'s range messages.
    static let range = TrainingConfig.budgetRange

    /// The error for a share outside 0...1; a bare number from 1 to 100 was probably meant as a percentage.
    static func outOfRange(_ text: String, share: Double, percent: Bool) -> ValueError {
        if share < 0 { return ValueError(expected: range.replacingOccurrences(of: "a share", with: "a share >= 0"), got: text) }
        let hint = !percent && share <= 100 ? " (did you mean \(text)%?)" : ""
        return ValueError(expected: range, got: text + hint)
    }
}

/// A size in bytes: `123456`, `500kB`, `2MB`, `1GB` (decimal units: powers of 1000, as the dashboard shows sizes)
/// or `512KiB`, `2MiB`, `1GiB` (binary units: powers of 1024). Units ignore case; `B` is optional.
public struct ByteSize: Sendable, Equatable {
    public var bytes: Int

    /// The units, longest suffix first.
    static let units: [(suffix: String, scale: Double)] = [
        ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("B", 1),
    ]

    /// Parses `text`; `quote` encloses a value that is not a size in the message.
    /// - Throws: `ValueError` for text that is not a size, a negative size (echoed as given) or one of 1000 TB or more.
    public init(_ text: String, quote: String = "'") throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        let upper = t.uppercased()
        let unit = Self.units.first { upper.hasSuffix($0.suffix) } ?? ("", 1)
        let number = t.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)
        guard let n = Double(number), n.isFinite else {
            throw ValueError(expected: "a size like 2MB, 500kB, 1.5GiB or 123456 (bytes)", got: quote + text + quote)
        }
        guard n >= 0 else { throw ValueError(expected: "a size >= 0 (e.g. 2MB)", got: t) }
        guard n * unit.scale < 1e15 else { throw ValueError(expected: "a size below 1000TB", got: t) }
        bytes = Int(n * unit.scale)
    }
}

/// A switch given as `on` or `off` on the command line.
public enum OnOff: String, ExpressibleByArgument, Sendable {
    case on, off
}

/// Options that define a training run; `taps train` and `taps-tui` take exactly these.
///
/// Every option is optional in the parser: a value given on the command line overrides the same setting of
/// `--config FILE`, which overrides `TrainingConfig`'s default.
public struct TrainingOptions: ParsableArguments {
    @Option(help: "Task of the embedded pack (see `taps tasks`): fashion, ucidigits, lfwfaces, mnist-rot90, ... (default fashion; with --data, the run's name, default the dataset's folder or file name).")
    public var task: String?

    @Option(help: "Adaptation mode: taps (gated deltas + sparsity penalty), finetune (every layer task-specific), probe (the head and normalisation layers; the gated layers' biases too with --train-biases on). (default taps)")
    public var mode: TrainingMode?

    @OptionGroup public var shared: SharedTrainingOptions

    @Option(help: "Run folder for metrics.jsonl, summary.json, task.safetensors and snapshots (default: runs/TASK, or the --config file's output_directory).")
    public var out: String?

    @Option(help: "Continue the interrupted run in this folder from its last checkpoint (its config.json decides every setting).")
    public var resume: String?

    @Flag(help: "Start afresh in --out even if it holds a finished run (its summary, export and checkpoint are removed).")
    public var force = false

    @Flag(help: "The trade-off in one run: after warm-up a search raises lambda (from --lambda) step by step and keeps each active set it meets; then each set trains from the end of warm-up with its gates fixed, is evaluated and kept as a point with its own export (points/), and the run writes path.csv, path.md, path.json and tradeoff.svg/.png like taps sweep.")
    public var path = false

    @Option(name: .customLong("path-growth"), help: "--path: factor lambda is multiplied by at each raise (default 2).")
    public var pathGrowth: Double?

    @Option(name: .customLong("path-raise-every"), help: "--path: steps between raises (default: a quarter of an epoch).")
    public var pathRaiseEvery: Int?

    @Option(name: .customLong("path-settle-steps"), help: "--path: steps each set found by the search trains from the end of warm-up with its gates fixed, the learning rate decaying to 0, before it is evaluated (default: 6 epochs).")
    public var pathSettleSteps: Int?

    public init() {}

    /// What to do with a run folder that already holds a finished run.
    public var folderPolicy: RunFolderPolicy { force ? .overwrite : .refuseFinished }

    /// Sets the run's task and folder: `--task` (else a `--data` path's name unless the `--config` file names the
    /// task), `--out` (else `runs/TASK` unless the file names the folder).
    static func name(_ c: inout TrainingConfig, task: String?, out: String?, fileKeys: Set<String>) {
        if let task { c.task = task } else if let path = c.dataPath, !fileKeys.contains("task") { c.task = Dataset.displayName(for: path) }
        if let out {
            c.outputDirectory = out
        } else if !fileKeys.contains("output_directory") {
            c.outputDirectory = "runs/\(c.task)"
        }
    }

    /// The trainer these options ask for: a fresh run of ``config()``, or the run in `--resume` continued.
    /// - Throws: the errors of `Trainer.init(config:store:control:folder:)` / `Trainer.init(resuming:store:control:)`.
    /// - Parameter group: the ranks of a data-parallel run (`mpirun`), nil for a plain run.
    public func makeTrainer(store: MetricsStore, control: TrainingControl, group: (any ProcessGroup)? = nil) throws -> Trainer {
        if let resume { return try Trainer(resuming: URL(fileURLWithPath: resume), store: store, control: control, group: group) }
        return try Trainer(config: try config(), store: store, control: control, folder: folderPolicy, group: group)
    }

    /// The run configuration these options describe: defaults, then `--config`, then the flags given.
    /// - Throws: `ConfigFileError` for an unreadable or malformed config file, `ConfigError` for out-of-range values.
    public func config() throws -> TrainingConfig {
        let (loaded, fileKeys) = try shared.loadConfigFile()
        var c = loaded
        shared.overlay(&c)
        if let mode { c.mode = mode }
        if path || pathGrowth != nil || pathRaiseEvery != nil || pathSettleSteps != nil {
            let d = c.path ?? PathSettings()
            c.path = PathSettings(growth: pathGrowth ?? d.growth, raiseEvery: pathRaiseEvery ?? d.raiseEvery,
                                  settleSteps: pathSettleSteps ?? d.settleSteps)
        }
        Self.name(&c, task: task, out: out, fileKeys: fileKeys)
        try shared.validate(c)
        if c.hasBudget && c.mode != .taps {
            // Fine-tuning keeps every delta and a probe none: the budget would be ignored. (`taps sweep` passes one
            // configuration to several modes: its finetune and probe reference runs ignore it.)
            throw ConfigError.invalid(option: c.budget != nil ? "--budget" : "--budget-bytes",
                                      expected: "--mode taps (finetune stores every layer; probe none)",
                                      got: "--mode \(c.mode.rawValue)")
        }
        return c
    }
}

/// The settings of a run other than its task, mode and folder: shared by `taps train` / `taps-tui` and by the
/// multi-run commands (`taps suite`, `taps sweep`), which choose tasks, modes and folders themselves.
///
/// To add a training option: declare it in ``RunSettingsOptions`` (or here, if `taps path` does not take it) as an
/// optional and set it in that type's `overlay(_:)` (its default lives in `TrainingConfig`, and `--config` files and
/// `config.json` pick it up from there).
public struct SharedTrainingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Sparsity weight lambda (>= 0). Larger means fewer active layers. (default \(d.lambda))",
            transform: number("--lambda", Double.init))
    public var lambda: Double?

    @Option(parsing: .unconditional, help: "Total training epochs, warm-up included (with --path: of the warm-up and the search; each set found trains --path-settle-steps on top). (default \(d.epochs))",
            transform: number("--epochs", Int.init))
    public var epochs: Int?

    @OptionGroup public var settings: RunSettingsOptions

    @Option(parsing: .unconditional,
            help: "Storage budget (taps mode): the active deltas may take at most this share of the backbone (e.g. 20% or 0.2); lambda rises until the active set fits (the penalty becomes weighted), then the settle keeps the best set that fits and adds left-out layers, highest score first, while they fit. Needs a penalty epoch and a settle epoch after warm-up (--epochs at least --warmup-epochs + 2).",
            transform: { text in try parsed("--budget") { try Share(text) } })
    public var budget: Share?

    @Option(name: .customLong("budget-bytes"), parsing: .unconditional,
            help: "Storage budget in bytes of float32 deltas instead of --budget: 123456, 500kB, 2MB, 1GB (powers of 1000, as the dashboard shows sizes) or 512KiB, 2MiB, 1GiB (powers of 1024).",
            transform: { text in try parsed("--budget-bytes") { try ByteSize(text) } })
    public var budgetBytes: ByteSize?

    @Option(name: .customLong("settle-epochs"), parsing: .unconditional,
            help: "Final epochs with the active set fixed (only kept deltas, norms and head train; taps mode). Default: the last 20% of the epochs (at least 1, leaving a penalty epoch; none with fewer than two epochs after warm-up). With --budget: 1 to --epochs minus --warmup-epochs minus 1.",
            transform: number("--settle-epochs", Int.init))
    public var settleEpochs: Int?

    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional,
            help: "Also write a checkpoint every this many steps (always: after every epoch and every 5 minutes).",
            transform: number("--checkpoint-every", Int.init))
    public var checkpointEvery: Int?

    public init() {}

    /// Writes every setting given on the command line into `c` (the others keep the file's or default value).
    public func overlay(_ c: inout TrainingConfig) {
        settings.overlay(&c, lambda: lambda, epochs: epochs)
        if let checkpointEvery { c.checkpointEvery = checkpointEvery }
        if let settleEpochs { c.settleEpochs = settleEpochs }
        if let budget { c.budget = budget.value; c.budgetBytes = nil }
        if let budgetBytes { c.budgetBytes = budgetBytes.bytes; c.budget = nil }
        if (budget != nil || budgetBytes != nil) && settings.penalty == nil { c.penalty = .weighted }
    }

    /// The `--config` file's configuration and the keys it set (defaults and no keys without `--config`).
    /// - Throws: `ConfigFileError` naming the file and what was wrong.
    public func loadConfigFile() throws -> (config: TrainingConfig, keys: Set<String>) { try settings.loadConfigFile() }

    /// A configuration with these settings over the `--config` file's (task, mode and folder from the file or the
    /// defaults; not validated).
    /// - Throws: `ConfigFileError` for an unreadable or malformed config file.
    public func config() throws -> TrainingConfig {
        var c = try loadConfigFile().config
        overlay(&c)
        return c
    }

    /// `c.validate()`, naming the `--config` file when one was given (a bad value may come from it).
    /// - Throws: `ConfigError` for out-of-range values; `ConfigFileError` for a `--config` file that is an older
    ///   taps's `config.json` of a TAPS run with the proximal update (its lambda meant `1 - momentum` times today's)
    ///   when `--lambda` does not replace its lambda.
    public func validate(_ c: TrainingConfig) throws {
        // Each replaces the other from a --config file, but both on one command line contradict each other.
        if budget != nil && budgetBytes != nil {
            throw ConfigError.invalid(option: "--budget-bytes", expected: "either --budget or --budget-bytes", got: "both")
        }
        try settings.validate(c)
    }
}

/// The settings `taps path` takes besides `--lambda` and `--epochs` (whose defaults differ there), shared with
/// ``SharedTrainingOptions``: data, base, penalty, warm-up, batch, learning rate, seed and limits.
public struct RunSettingsOptions: ParsableArguments {
    @OptionGroup public var data: DataOptions

    @Option(name: .customLong("config"), help: ArgumentHelp("Settings from a file: a run's config.json (repeats that run) or TOML with the same keys "
                               + "(lambda = 0.3, epochs = 10, budget = \"20%\", ...). Options given on the command line override it.",
                               valueName: "file"))
    public var configFile: String?

    @Option(name: .customLong("data-dir"),
            help: "Folder with your own IDX files TASK-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz] (28x28 grey); default: the embedded pack.")
    public var dataDirectory: String?

    @Option(help: "Pretrained base: digitcnn (embedded MNIST CNN, 28x28), efficientnet-lite0 (embedded ImageNet EfficientNet-Lite0), or a .safetensors file with torchvision names. (default digitcnn)")
    public var base: String?

    @Option(help: "Architecture of a --base file: resnet18/34/50/101, densenet121, densenet-small, vit-b16, vit-tiny, efficientnet-lite0, digitcnn (default: from the file's metadata or names).")
    public var arch: String?

    @Option(name: .customLong("image-size"), parsing: .unconditional,
            help: "Input size in pixels for image-network bases; task images are resized and grey is replicated to RGB (default 64).",
            transform: number("--image-size", Int.init))
    public var imageSize: Int?

    @Option(parsing: .unconditional, help: "Gate threshold tau: a layer is active when its score >= tau. (default \(d.tau))",
            transform: number("--tau", Double.init))
    public var tau: Double?

    @Option(help: "Sparsity penalty: weighted (each layer priced by its delta's share of the gated layers' parameters, so one lambda transfers across architectures) or mean ((1/N) sum |s|, the paper's). (default \(d.penalty.rawValue))")
    public var penalty: PenaltyKind?

    @Option(name: .customLong("penalty-update"),
            help: "How the penalty moves the scores: proximal (soft-threshold after each step; unused scores settle at 0) or subgradient (through SGD momentum, as the paper's code). (default \(d.penaltyUpdate.rawValue))")
    public var penaltyUpdate: SparsityPenalty.Update?

    @Option(name: .customLong("warmup-epochs"), parsing: .unconditional,
            help: "Epochs at the start without the sparsity penalty. (default \(d.warmupEpochs))",
            transform: number("--warmup-epochs", Int.init))
    public var warmupEpochs: Int?

    @Option(name: .customLong("train-biases"),
            help: "Train the gated layers' biases: on or off (default: off for taps and probe, as the paper's code; on for finetune).")
    public var trainBiases: OnOff?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Images per optimizer step. (default \(d.batchSize))",
            transform: number("--batch-size", Int.init))
    public var batchSize: Int?

    @Option(name: .customLong("lr"), parsing: .unconditional,
            help: "Peak learning rate (SGD, momentum 0.9, cosine decay to 0). (default \(d.learningRate))",
            transform: number("--lr", Double.init))
    public var learningRate: Double?

    @Option(name: .customLong("val-fraction"), parsing: .unconditional,
            help: "Fraction of the training split held out for validation (model selection). (default \(d.validationFraction))",
            transform: number("--val-fraction", Double.init))
    public var validationFraction: Double?

    @Option(parsing: .unconditional, help: "Random seed (initialisation, split, shuffling), an integer >= 0. (default \(d.seed))",
            transform: number("--seed", UInt64.init))
    public var seed: UInt64?

    @Option(parsing: .unconditional, help: "Stop after this many optimizer steps (default: run every epoch).",
            transform: number("--steps", Int.init))
    public var steps: Int?

    @Option(name: .customLong("train-limit"), parsing: .unconditional, help: "Use at most this many training images: a stratified, seeded subset that keeps every class (quick runs).",
            transform: number("--train-limit", Int.init))
    public var trainLimit: Int?

    @Option(parsing: .unconditional, help: "OpenBLAS threads (default: all cores).", transform: number("--threads", Int.init))
    public var threads: Int?

    public init() {}

    /// Writes every setting given on the command line into `c`, with the `--lambda` and `--epochs` of the command's
    /// own options (the others keep the file's or default value).
    public func overlay(_ c: inout TrainingConfig, lambda: Double?, epochs: Int?) {
        if let dataDirectory { c.dataDirectory = dataDirectory }
        if let base { c.base = base }
        if let arch { c.architecture = arch }
        if let imageSize { c.imageSize = imageSize }
        if let lambda {   // today's lambda, whatever definition a --config file's lambda had
            c.lambda = lambda
            c.lambdaDefinition = TrainingConfig.currentLambdaDefinition
        }
        if let tau { c.tau = tau }
        if let penalty { c.penalty = penalty }
        if let penaltyUpdate { c.penaltyUpdate = penaltyUpdate }
        if let epochs { c.epochs = epochs }
        if let warmupEpochs { c.warmupEpochs = warmupEpochs }
        if let batchSize { c.batchSize = batchSize }
        if let learningRate { c.learningRate = learningRate }
        if let validationFraction { c.validationFraction = validationFraction }
        if let seed { c.seed = seed }
        if let steps { c.maxSteps = steps }
        if let trainLimit { c.trainLimit = trainLimit }
        if let threads { c.threads = threads }
        if let trainBiases { c.trainBiases = trainBiases == .on }
        data.apply(to: &c)
    }

    /// The `--config` file's configuration and the keys it set (defaults and no keys without `--config`).
    /// - Throws: `ConfigFileError` naming the file and what was wrong.
    public func loadConfigFile() throws -> (config: TrainingConfig, keys: Set<String>) {
        guard let configFile else { return (TrainingConfig(), []) }
        var (c, keys) = try ConfigFile.load(configFile)
        // As on the command line: a budget makes the penalty weighted unless the file names one.
        if (keys.contains("budget") || keys.contains("budget_bytes")) && !keys.contains("penalty") { c.penalty = .weighted }
        return (c, keys)
    }

    /// `c.validate()`, naming the `--config` file when one was given (a bad value may come from it).
    /// - Throws: `ConfigError` for out-of-range values; `ConfigFileError` for an older taps's `config.json` whose
    ///   lambda `--lambda` does not replace (see ``SharedTrainingOptions/validate(_:)``).
    public func validate(_ c: TrainingConfig) throws {
        guard let configFile else { return try c.validate() }
        if !c.hasCurrentLambdaDefinition {
            throw ConfigFileError(file: configFile, message: "lambda_definition: missing: a run's config.json from an older "
                + "taps, \(c.olderLambdaDefinitionClause); --config \(configFile) --lambda \(c.lambdaInCurrentDefinition) "
                + "repeats that run (docs/method.md \"Conversion\")")
        }
        do { try c.validate() } catch let ConfigError.invalid(option, expected, got) {
            throw ConfigError.invalid(option: option, expected: expected, got: got + " (from the command line or \(configFile))")
        }
    }
}

/// The options of `taps path`: those of `taps train` that a path run uses, with its own defaults (`--lambda 0.01`,
/// `--epochs 12`, folder `runs/TASK-path`). No `--mode` (always taps), `--budget` (the path visits every budget),
/// `--settle-epochs` (each set trains `--path-settle-steps`), `--resume` or `--checkpoint-every` (a path run writes
/// no checkpoints).
public struct PathOptions: ParsableArguments {
    @Option(help: "Task of the embedded pack (see `taps tasks`): fashion, ucidigits, lfwfaces, mnist-rot90, ... (default fashion; with --data, the run's name, default the dataset's folder or file name).")
    public var task: String?

    @OptionGroup public var shared: PathSettingsOptions

    @Option(help: "Run folder for metrics.jsonl, summary.json, path.csv/md/json, tradeoff.svg/.png and points/ (default: runs/TASK-path).")
    public var out: String?

    @Flag(help: "Start afresh in --out even if it holds a finished run.")
    public var force = false

    @Option(name: .customLong("path-growth"), help: "Factor lambda is multiplied by at each raise of the search (default 2).")
    public var pathGrowth: Double?

    @Option(name: .customLong("path-raise-every"), help: "Steps between raises (default: a quarter of an epoch).")
    public var pathRaiseEvery: Int?

    @Option(name: .customLong("path-settle-steps"), help: "Steps each set found by the search trains from the end of warm-up with its gates fixed, the learning rate decaying to 0, before it is evaluated (default: 6 epochs).")
    public var pathSettleSteps: Int?

    public init() {}

    /// What to do with a run folder that already holds a finished run.
    public var folderPolicy: RunFolderPolicy { force ? .overwrite : .refuseFinished }

    /// `--lambda` of a path run unless the command line or the `--config` file gives one: the search's start.
    public static let defaultLambda = 0.01
    /// `--epochs` of a path run unless the command line or the `--config` file gives them: room for warm-up and
    /// the search (which ends when one layer is left); the sets' training comes on top.
    public static let defaultEpochs = 12

    /// The run configuration: defaults (the path's own ``defaultLambda``, ``defaultEpochs`` and `runs/TASK-path`),
    /// then `--config`, then the flags given, with `path` set.
    /// - Throws: `ValidationError` (a usage error: exit 64) naming the option or the `--config` file and what was
    ///   wrong.
    public func config() throws -> TrainingConfig {
        do {
            let (loaded, fileKeys) = try shared.loadConfigFile()
            var c = loaded
            if !fileKeys.contains("lambda") { c.lambda = Self.defaultLambda }
            if !fileKeys.contains("epochs") { c.epochs = Self.defaultEpochs }
            shared.settings.overlay(&c, lambda: shared.lambda, epochs: shared.epochs)
            let d = c.path ?? PathSettings()
            c.path = PathSettings(growth: pathGrowth ?? d.growth, raiseEvery: pathRaiseEvery ?? d.raiseEvery,
                                  settleSteps: pathSettleSteps ?? d.settleSteps)
            TrainingOptions.name(&c, task: task, out: out, fileKeys: fileKeys)
            if out == nil && !fileKeys.contains("output_directory") { c.outputDirectory = "runs/\(c.task)-path" }
            try shared.settings.validate(c)
            return c
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        } catch let error as ConfigFileError {
            throw ValidationError(error.description)
        }
    }
}

/// `taps path`'s training settings: ``RunSettingsOptions`` with `--lambda` and `--epochs` described with the
/// path's defaults.
public struct PathSettingsOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Lambda the search starts from (>= 0); it is multiplied by --path-growth at each raise. (default \(PathOptions.defaultLambda) here)",
            transform: number("--lambda", Double.init))
    public var lambda: Double?

    @Option(parsing: .unconditional, help: "Epochs of the warm-up and the search together; each set found trains --path-settle-steps on top. (default \(PathOptions.defaultEpochs) here)",
            transform: number("--epochs", Int.init))
    public var epochs: Int?

    @OptionGroup public var settings: RunSettingsOptions

    public init() {}

    /// The `--config` file's configuration and the keys it set (defaults and no keys without `--config`).
    /// - Throws: `ConfigFileError` naming the file and what was wrong.
    public func loadConfigFile() throws -> (config: TrainingConfig, keys: Set<String>) { try settings.loadConfigFile() }
}

private let d = TrainingConfig()

/// `parse()`'s value, or a `ValidationError` naming `option`: `--budget: expected ..., got 'abc'`.
func parsed<T>(_ option: String, _ parse: () throws -> T) throws -> T {
    do { return try parse() } catch let e as ValueError { throw ValidationError("\(option): \(e)") }
}

/// A transform for a numeric option that says what was expected: `--lambda: expected a number, got 'x'`.
func number<T>(_ option: String, _ parse: @escaping @Sendable (String) -> T?) -> @Sendable (String) throws -> T {
    { text in
        guard let v = parse(text.trimmingCharacters(in: .whitespaces)) else {
            let kind: String
            switch T.self {
            case is UInt64.Type: kind = "a whole number >= 0"
            case is Int.Type: kind = "a whole number"
            default: kind = "a number"
            }
            throw ValidationError("\(option): expected \(kind), got '\(text)'")
        }
        return v
    }
}

/// Where a run's data comes from and how it is read (`--data`, `--format`, `--augment`, `--cache-mb`, `--skip-bad`):
/// part of the shared training options, and of `taps eval`.
public struct DataOptions: ParsableArguments {
    @Option(help: "Your own dataset, a folder or file: ImageFolder (train/ + val/ or test/, or one folder of class folders), CIFAR-10/100 binary folder, Keras-style .npz, folder of x_train.npy/y_train.npy, CSV (label + pixels), or IDX files. Format detected from the content.")
    public var data: String?

    @Option(help: "Force the format of --data: \(DataFormat.names).")
    public var format: String?

    @Option(help: "Training augmentation: none, flip, crop-flip (random-resized-crop + flip; default for image-network bases on --data, else none). Seeded.")
    public var augment: Augmentation?

    @Option(name: .customLong("cache-mb"), help: "Memory budget in MB for decoded ImageFolder images (default 1024): training and validation images are decoded on worker threads as batches need them and cached up to this budget; beyond it they are decoded again each epoch, so any dataset size trains in bounded memory.")
    public var cacheMB: Int?

    @Flag(name: .customLong("skip-bad"), help: "Skip and count image files that fail to decode instead of stopping at the first.")
    public var skipBad = false

    public init() {}

    /// Writes the options given into `config` (the others keep the `--config` file's or default value).
    public func apply(to config: inout TrainingConfig) {
        if let data { config.dataPath = data }
        if let format { config.dataFormat = format }
        if let augment { config.augment = augment }
        if let cacheMB { config.cacheMB = cacheMB }
        if skipBad { config.skipBad = true }
    }
}

/// Parses a comma-separated option value (`--lambdas 0,0.3,1`, `--modes taps,probe`, `--seeds 0,1,2`) with `parse`
/// for each item; a bad item gets `--OPTION: expected WHAT, got 'ITEM'`.
/// - Throws: `ValidationError` naming the option and the item.
public func commaSeparated<T>(_ text: String, option: String, expected: String, _ parse: (String) -> T?) throws -> [T] {
    try text.split(separator: ",").map { item -> T in
        let trimmed = item.trimmingCharacters(in: .whitespaces)
        guard let v = parse(trimmed) else { throw ValidationError("\(option): expected \(expected), got '\(item)'") }
        return v
    }
}
