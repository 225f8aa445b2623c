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

/// A share given as a percentage (`20%`) or a fraction (`0.2`).
public struct Share: ExpressibleByArgument, Sendable {
    public var value: Double
    public init?(argument: String) {
        let t = argument.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%"), let p = Double(t.dropLast()), p.isFinite { value = p / 100 }
        else if let f = Double(t), f.isFinite { value = f }
        else { return nil }
    }
}

/// A size in bytes: `123456`, `500KB`, `2MB`, `1GB` (powers of 1024).
public struct ByteSize: ExpressibleByArgument, Sendable {
    public var bytes: Int
    public init?(argument: String) {
        let t = argument.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("GB", 1_073_741_824), ("MB", 1_048_576), ("KB", 1024), ("B", 1)]
        let (unit, scale) = units.first { t.hasSuffix($0.0) } ?? ("", 1)
        guard let n = Double(t.dropLast(unit.count)), n.isFinite, n >= 0, n * scale < 1e15 else { return nil }
        bytes = Int(n * scale)
    }
}

/// A switch given as `on` or `off` on the command line.
public enum OnOff: String, ExpressibleByArgument, Sendable {
    case on, off
}

/// Options that define a training run; `taps train` and `taps-tui` take exactly these.
public struct TrainingOptions: ParsableArguments {
    @Option(help: "Task of the embedded pack (see `taps tasks`): fashion, ucidigits, lfwfaces, mnist-rot90, ... (default fashion; with --data, the run's name, default the dataset's folder or file name).")
    public var task: String?

    @Option(help: "Adaptation mode: taps (gated deltas + sparsity penalty), finetune (every layer task-specific), probe (head only).")
    public var mode: TrainingMode = .taps

    @OptionGroup public var shared: SharedTrainingOptions

    @Option(help: "Run folder for metrics.jsonl, summary.json, task.safetensors and snapshots (default: runs/TASK).")
    public var out: String?

    @Option(help: "Continue the interrupted run in this folder from its last checkpoint (its config.json decides every setting).")
    public var resume: String?

    @Flag(help: "Start afresh in --out even if it holds a finished run (its summary, export and checkpoint are removed).")
    public var force = false

    public init() {}

    /// What to do with a run folder that already holds a finished run.
    public var folderPolicy: RunFolderPolicy { force ? .overwrite : .refuseFinished }

    /// The trainer these options ask for: a fresh run of ``config()``, or the run in `--resume` continued.
    /// - Throws: the errors of `Trainer.init(config:store:control:folder:)` / `Trainer.init(resuming:store:control:)`.
    public func makeTrainer(store: MetricsStore, control: TrainingControl) throws -> Trainer {
        if let resume { return try Trainer(resuming: URL(fileURLWithPath: resume), store: store, control: control) }
        return try Trainer(config: try config(), store: store, control: control, folder: folderPolicy)
    }

    /// The run configuration these options describe.
    /// - Throws: `ConfigError` for out-of-range values.
    public func config() throws -> TrainingConfig {
        var c = shared.config()
        c.task = task ?? c.dataPath.map(Dataset.displayName(for:)) ?? "fashion"; c.mode = mode
        c.outputDirectory = out ?? "runs/\(c.task)"
        try c.validate()
        return c
    }
}

/// The settings of a run other than its task, mode and folder: shared by `taps train` / `taps-tui` and by the
/// multi-run commands (`taps suite`, `taps sweep`), which choose tasks, modes and folders themselves.
public struct SharedTrainingOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"),
            help: "Folder with your own IDX files TASK-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz] (28x28 grey); default: the embedded pack.")
    public var dataDirectory: String?

    @OptionGroup public var data: DataOptions

    @Option(help: "Pretrained base: digitcnn (embedded MNIST CNN, 28x28), efficientnet-lite0 (embedded ImageNet EfficientNet-Lite0), or a .safetensors file with torchvision names.")
    public var base: String = "digitcnn"

    @Option(help: "Architecture of a --base file: resnet18/34/50/101, densenet121, densenet-small, vit-b16, vit-tiny, efficientnet-lite0, digitcnn (default: from the file's metadata or names).")
    public var arch: String?

    @Option(name: .customLong("image-size"), help: "Input size in pixels for image-network bases; task images are resized and grey is replicated to RGB (default 64).")
    public var imageSize: Int?

    @Option(help: "Sparsity weight lambda (>= 0). Larger means fewer active layers.")
    public var lambda: Double = TrainingConfig().lambda

    @Option(help: "Gate threshold tau: a layer is active when its score >= tau.")
    public var tau: Double = TrainingConfig().tau

    @Option(help: "Sparsity penalty: mean ((1/N) sum |s|, the paper's) or weighted (by layer size; the default with a budget).")
    public var penalty: PenaltyKind?

    private var penaltyGiven: Bool { penalty != nil }

    @Option(name: .customLong("penalty-update"),
            help: "How the penalty moves the scores: proximal (soft-threshold after each step; unused scores settle at 0) or subgradient (through SGD momentum, as the paper's code).")
    public var penaltyUpdate: SparsityPenalty.Update = TrainingConfig().penaltyUpdate

    @Option(help: "Total training epochs, warm-up included.")
    public var epochs: Int = TrainingConfig().epochs

    @Option(name: .customLong("warmup-epochs"), help: "Epochs at the start without the sparsity penalty.")
    public var warmupEpochs: Int = TrainingConfig().warmupEpochs

    @Option(name: .customLong("train-biases"),
            help: "Train the gated layers' biases: on or off (default: off for taps and probe, as the paper's code; on for finetune).")
    public var trainBiases: OnOff?

    @Option(help: "Storage budget: the active deltas may take at most this share of the backbone (e.g. 20% or 0.2); lambda rises until the active set fits. Needs --penalty weighted.")
    public var budget: Share?

    @Option(name: .customLong("budget-bytes"), help: "Storage budget in bytes of float32 deltas (e.g. 2MB, 500KB, 123456) instead of --budget.")
    public var budgetBytes: ByteSize?

    @Option(name: .customLong("settle-epochs"),
            help: "Final epochs with the active set fixed (only kept deltas, norms and head train; taps mode). Default: the last 20% of the epochs.")
    public var settleEpochs: Int?

    @Option(name: .customLong("batch-size"), help: "Images per optimizer step.")
    public var batchSize: Int = TrainingConfig().batchSize

    @Option(name: .customLong("lr"), help: "Peak learning rate (SGD, momentum 0.9, cosine decay to 0).")
    public var learningRate: Double = TrainingConfig().learningRate

    @Option(name: .customLong("val-fraction"), help: "Fraction of the training split held out for validation (model selection).")
    public var validationFraction: Double = TrainingConfig().validationFraction

    @Option(help: "Random seed (initialisation, split, shuffling).")
    public var seed: UInt64 = 0

    @Option(help: "Stop after this many optimizer steps (default: run every epoch).")
    public var steps: Int?

    @Option(name: .customLong("train-limit"), help: "Use at most this many training images: a stratified, seeded subset that keeps every class (quick runs).")
    public var trainLimit: Int?

    @Option(help: "OpenBLAS threads (default: all cores).")
    public var threads: Int?

    @Option(name: .customLong("checkpoint-every"),
            help: "Also write a checkpoint every this many steps (always: after every epoch and every 5 minutes).")
    public var checkpointEvery: Int?

    public init() {}

    /// A configuration with these settings (task, mode and folder left at their defaults; not validated).
    public func config() -> TrainingConfig {
        var c = TrainingConfig()
        c.base = base; c.architecture = arch; c.imageSize = imageSize; c.dataDirectory = dataDirectory; c.lambda = lambda; c.tau = tau; c.penalty = penalty ?? .mean; c.penaltyUpdate = penaltyUpdate
        c.epochs = epochs; c.warmupEpochs = warmupEpochs; c.batchSize = batchSize
        c.learningRate = learningRate; c.validationFraction = validationFraction; c.seed = seed
        c.maxSteps = steps; c.trainLimit = trainLimit; c.threads = threads; c.checkpointEvery = checkpointEvery; c.settleEpochs = settleEpochs; c.trainBiases = trainBiases.map { $0 == .on }
        c.budget = budget?.value; c.budgetBytes = budgetBytes?.bytes
        if budget != nil || budgetBytes != nil, !penaltyGiven { c.penalty = .weighted }
        data.apply(to: &c)
        return c
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

    @Option(name: .customLong("cache-mb"), help: "Memory budget in MB for decoded ImageFolder images in the lazy pipeline (beyond it, images are decoded again each epoch); taps bench --data uses it; taps train still decodes into memory until the run loop takes the pipeline.")
    public var cacheMB: Int?

    @Flag(name: .customLong("skip-bad"), help: "Skip and count image files that fail to decode instead of stopping at the first.")
    public var skipBad = false

    public init() {}

    /// Copies these options into `config`.
    public func apply(to config: inout TrainingConfig) {
        config.dataPath = data; config.dataFormat = format; config.augment = augment; config.cacheMB = cacheMB
        config.skipBad = skipBad ? true : nil
    }
}
