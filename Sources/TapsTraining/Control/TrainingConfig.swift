// TapsTraining: everything that defines a training run (the CLI and the dashboard share it).
import Foundation
import TAPS
import TapsData

/// How a task adapts the base (docs/method.md "Several tasks").
public enum TrainingMode: String, Codable, Sendable, CaseIterable {
    /// Gated deltas with learned scores and the L1 sparsity penalty (Wallingford et al., CVPR 2022).
    case taps
    /// Every weight task-specific (all deltas always on, no penalty).
    case finetune
    /// Only the head (and normalisation/bias) trained; the backbone is frozen.
    case probe
}

/// Options of one training run. Defaults are tuned for the embedded pack (docs/method.md "Training recipe").
public struct TrainingConfig: Codable, Sendable, Equatable {
    /// Task name from the embedded pack (`fashion`, `ucidigits`, `lfwfaces`, `mnist-rot90`, ...).
    public var task: String = "fashion"
    /// Folder with the task's own IDX files (`<task>-train-images-idx3-ubyte[.gz]`, ...); nil: the embedded pack.
    public var dataDirectory: String? = nil
    /// Base network: `digitcnn` (embedded) or a path to a `.safetensors` file of the same architecture.
    public var base: String = "digitcnn"
    /// Architecture of a base given as a file (nil: from its metadata or recognised by its names).
    public var architecture: String? = nil
    /// Square input size for image-network bases (nil: 64); DigitCNN is always 28.
    public var imageSize: Int? = nil
    public var mode: TrainingMode = .taps
    /// Sparsity weight lambda (≥ 0). With the weighted penalty, a layer stays task-specific while its delta lowers
    /// the training loss by more than about `lambda` times its share of the gated layers' parameters (first order;
    /// docs/method.md "What lambda means, and why it transfers"). 0.3 was chosen on the embedded pack: about a fifth
    /// of fine-tuning's storage.
    public var lambda: Double = 0.3
    /// Gate threshold tau: a layer is active when its score `s >= tau`.
    public var tau: Double = 0.1
    /// Initial score of every gate (above tau, so all gates start on).
    public var initialScore: Double = 0.15
    /// The penalty's per-layer weights: `weighted` (by the delta's size, default: lambda then transfers across
    /// architectures) or `mean` (the paper's `1/N`).
    public var penalty: PenaltyKind = .weighted
    /// How the penalty updates the scores: through the optimizer (`subgradient`) or a proximal step.
    public var penaltyUpdate: SparsityPenalty.Update = .proximal
    /// Which definition of lambda the run was configured with (``currentLambdaDefinition``); nil in the
    /// `config.json` of runs made before it was recorded, whose proximal lambda meant `1 - momentum` times today's
    /// (a tenth at the default momentum).
    public var lambdaDefinition: Int? = TrainingConfig.currentLambdaDefinition
    /// 2: the proximal step carries the optimizer's steady-state gain `1/(1 - momentum)` (docs/method.md
    /// "Conversion"). Runs of the older definition are not resumed or reused with today's meaning.
    public static let currentLambdaDefinition = 2
    /// For a configuration of the older definition: how its proximal lambda compares with today's, e.g.
    /// "whose proximal lambda meant 0.1x today's (1 - momentum)", for the one-line refusals of resume and `--config`.
    public var olderLambdaDefinitionClause: String {
        "whose proximal lambda meant \(ProgressFormatter.fmt(1 - momentum))x today's (1 - momentum)"
    }
    /// This configuration's lambda in today's definition (``currentLambdaDefinition``), formatted for a command line:
    /// `lambda * (1 - momentum)` for a run of the older one, whose proximal step lacked the gain `1/(1 - momentum)`.
    public var lambdaInCurrentDefinition: String { ProgressFormatter.fmt(lambda * (1 - momentum)) }
    /// Whether lambda means what it meant when this configuration was written (always for modes and updates the
    /// gain does not touch: fine-tuning, probes and the subgradient form).
    public var hasCurrentLambdaDefinition: Bool {
        mode != .taps || penaltyUpdate != .proximal || lambdaDefinition == Self.currentLambdaDefinition
    }
    /// Total epochs, warm-up included.
    public var epochs: Int = 5
    /// Epochs at the start without the penalty.
    public var warmupEpochs: Int = 2
    /// Images per optimizer step.
    public var batchSize: Int = 32
    /// Peak learning rate (cosine decay to 0 over the run).
    public var learningRate: Double = 0.01
    /// Learning rate of the scores; `nil` uses `learningRate`.
    public var scoreLearningRate: Double? = nil
    public var momentum: Double = 0.9
    /// Fraction of the training split held out for validation / model selection.
    public var validationFraction: Double = 0.1
    /// Seed of initialisation, split, shuffling and dropout.
    public var seed: UInt64 = 0
    /// Run folder (`metrics.jsonl`, `summary.json`, `task.safetensors`, snapshots).
    public var outputDirectory: String = "runs/fashion"
    /// Stop after this many optimizer steps (nil: run all epochs). For smoke tests and demos.
    public var maxSteps: Int? = nil
    /// Limit the training examples used (nil: all). For quick tests.
    public var trainLimit: Int? = nil
    /// OpenBLAS threads (nil: the machine's cores).
    public var threads: Int? = nil
    /// Whether the gated layers' biases train (nil: ``defaultTrainBiases(for:)`` — off for TAPS and probe, as the
    /// paper's code freezes them; on for fine-tuning). Norm parameters always train.
    public var trainBiases: Bool? = nil
    /// Storage budget: the largest share of the backbone's parameters the active deltas may take (0.2 = 20%),
    /// or nil. With a budget the penalty is parameter-weighted, lambda rises while the active set costs more, and
    /// the settled set is the most accurate one that fits, filled with left-out layers (highest score first) while
    /// they fit (docs/method.md "Storage budget").
    public var budget: Double? = nil
    /// The budget in bytes of float32 deltas instead (`--budget-bytes 2MB`); converted with the backbone's size.
    public var budgetBytes: Int? = nil
    /// Whether the run has a storage budget (``budget`` or ``budgetBytes``).
    public var hasBudget: Bool { budget != nil || budgetBytes != nil }
    /// Final epochs in which the active set is fixed and only the kept deltas, norms and head train (TAPS mode;
    /// docs/method.md "Training recipe"). nil: ``defaultSettleEpochs``.
    public var settleEpochs: Int? = nil
    /// Write a checkpoint every this many optimizer steps (nil: only the defaults — after every epoch and every
    /// `checkpointMinutes`). Checkpoints never change what a run computes.
    public var checkpointEvery: Int? = nil
    /// Minutes between time-based checkpoints (nil: 5).
    public var checkpointMinutes: Double? = nil
    /// `--data`: the user's dataset, a file or folder (ImageFolder, CIFAR-10/100, .npz, .npy folder, CSV, IDX);
    /// nil: the embedded pack (or `dataDirectory`). `task` is then only the run's display name.
    public var dataPath: String? = nil
    /// `--format`: the format of `dataPath` (a `DataFormat` raw value); nil: detected from the content.
    public var dataFormat: String? = nil
    /// `--augment`: training augmentation; nil: `crop-flip` for image-network bases on `--data`, else `none`.
    public var augment: Augmentation? = nil
    /// `--cache-mb`: memory budget for decoded ImageFolder images in MB (``RunData/load(config:base:recordSplit:)``);
    /// nil: ``RunData/defaultCacheMB``.
    public var cacheMB: Int? = nil
    /// `--skip-bad`: skip (and count) image files that fail to decode instead of stopping; nil means false.
    public var skipBad: Bool? = nil
    /// `--path` (`taps path`): search the active sets by raising lambda, then train each from the end of warm-up and
    /// record it as a point with its own export (``PathSettings``); nil: an ordinary run.
    public var path: PathSettings? = nil

    public init() {}

    /// The paper's code: biases frozen in TAPS and the linear probe (head only), trained in full fine-tuning.
    public static func defaultTrainBiases(for mode: TrainingMode) -> Bool { mode == .finetune }

    /// The settle phase a run gets when `settleEpochs` is nil: in TAPS mode with at least two epochs after
    /// warm-up, the last 20% of the epochs (at least 1, leaving at least one penalty epoch); otherwise none.
    public var defaultSettleEpochs: Int {
        let penaltyEpochs = epochs - warmupEpochs
        guard mode == .taps, penaltyEpochs >= 2 else { return 0 }
        return min(max(1, Int((Double(epochs) * 0.2).rounded())), penaltyEpochs - 1)
    }

    /// The settle epochs this run uses.
    public var effectiveSettleEpochs: Int { mode == .taps && path == nil ? (settleEpochs ?? defaultSettleEpochs) : 0 }

    /// What `--budget` accepts, as its range errors say it (the command line's parser and ``validate()``).
    public static let budgetRange = "a share of the backbone from 0% to 100% (or 0 to 1)"

    /// Largest `--epochs`, `--warmup-epochs` and `--batch-size` accepted (1,000,000).
    public static let maximumCount = 1_000_000

    /// Checks ranges and names.
    /// - Throws: `ConfigError.invalid` naming the option and what was expected.
    public func validate() throws {
        func bad(_ option: String, _ expected: String, _ got: Any) -> ConfigError {
            .invalid(option: option, expected: expected, got: "\(got)")
        }
        guard lambda >= 0, lambda <= TrainingControl.maximumLambda else {
            throw bad("--lambda", "a number in [0, \(Int(TrainingControl.maximumLambda))] (>= 0, at most the ceiling)", lambda)
        }
        // Upper bounds keep step counts (epochs × steps per epoch) far from Int's range: a huge --epochs trapped on
        // overflow instead of giving an error.
        let most = Self.maximumCount
        guard epochs >= 1, epochs <= most else { throw bad("--epochs", "a whole number from 1 to \(most)", epochs) }
        guard warmupEpochs >= 0, warmupEpochs <= most else {
            throw bad("--warmup-epochs", "a whole number from 0 to \(most)", warmupEpochs)
        }
        guard batchSize >= 1, batchSize <= most else { throw bad("--batch-size", "a whole number from 1 to \(most)", batchSize) }
        guard learningRate > 0, learningRate.isFinite else { throw bad("--lr", "a number > 0", learningRate) }
        guard momentum >= 0, momentum < 1 else { throw bad("momentum", "a number in [0, 1)", momentum) }
        guard hasCurrentLambdaDefinition else {
            throw bad("lambda_definition", "\(Self.currentLambdaDefinition) (see docs/method.md \"Conversion\")",
                      lambdaDefinition.map(String.init) ?? "none")
        }
        guard validationFraction >= 0, validationFraction < 1 else {
            throw bad("--val-fraction", "a fraction in [0, 1)", validationFraction)
        }
        guard tau.isFinite else { throw bad("--tau", "a finite number", tau) }
        if let maxSteps, maxSteps < 1 { throw bad("--steps", "an integer >= 1", maxSteps) }
        if let b = budget, !(b >= 0 && b <= 1) {
            // A bare number from 1 to 100 was probably meant as a percentage (`budget = 20` in a file).
            let hint = b > 1 && b <= 100 ? " (did you mean \(ProgressFormatter.fmt(b))%?)" : ""
            throw bad("--budget", Self.budgetRange, ProgressFormatter.fmt(b) + hint)
        }
        if let b = budgetBytes, b < 0 { throw bad("--budget-bytes", "a size >= 0 (e.g. 2MB)", b) }
        if budget != nil && budgetBytes != nil { throw bad("--budget-bytes", "either --budget or --budget-bytes", "both") }
        if hasBudget && penalty != .weighted {
            throw bad("--penalty", "weighted with --budget (the budget prices layers by their size)", penalty.rawValue)
        }
        // A budget run's own limit (a penalty epoch before the settle) is the tighter one: checked below.
        let budgetSettle = hasBudget && mode == .taps && path == nil && epochs - warmupEpochs >= 2
        if let settle = settleEpochs, settle < 0 || (settle >= epochs && !budgetSettle) {
            throw bad("--settle-epochs", "a number of epochs from 0 to \(epochs - 1) (fewer than --epochs)", settle)
        }
        if hasBudget && mode == .taps && path == nil {
            let settle = effectiveSettleEpochs
            if settle == 0 || epochs - warmupEpochs < 2 {
                throw bad("--budget", "a penalty epoch to search in and a settle phase to fit the set into "
                          + "(--epochs at least --warmup-epochs + 2, --settle-epochs not 0)",
                          "\(epochs) epochs with \(warmupEpochs) of warm-up and \(settle) of settle")
            }
            if epochs - warmupEpochs - settle < 1 {
                // Without a penalty epoch the controller never acts and the settle fills the budget by scores that the
                // penalty never moved (EfficientNet-Lite0, 4 epochs, `--settle-epochs 2`: 326-341 of 397 against 367-381).
                throw bad("--settle-epochs", "at most \(epochs - warmupEpochs - 1) with --budget (--epochs minus "
                          + "--warmup-epochs minus 1: the budget's search needs a penalty epoch)", settle)
            }
        }
        if let checkpointEvery, checkpointEvery < 1 { throw bad("--checkpoint-every", "an integer >= 1 (steps)", checkpointEvery) }
        if let m = checkpointMinutes, !(m > 0 && m.isFinite) { throw bad("--checkpoint-minutes", "a number of minutes > 0", m) }
        if let t = trainLimit, t < 1 { throw bad("--train-limit", "an integer >= 1", t) }
        if let t = threads, t < 1 { throw bad("--threads", "an integer >= 1", t) }
        if let s = imageSize, s < 1 { throw bad("--image-size", "an integer >= 1 (pixels)", s) }
        if let cacheMB, cacheMB < 0 { throw bad("--cache-mb", "megabytes >= 0", cacheMB) }
        if let dataFormat, DataFormat(rawValue: dataFormat) == nil { throw bad("--format", DataFormat.names, dataFormat) }
        if let path {
            try path.validate()
            guard mode == .taps else { throw bad("--path", "taps mode (the path raises lambda)", mode.rawValue) }
            guard !hasBudget else { throw bad("--path", "no --budget (the path visits every budget)", "a budget") }
            guard epochs > warmupEpochs else { throw bad("--epochs", "more than --warmup-epochs \(warmupEpochs) for --path", epochs) }
        }
    }
}

/// A configuration error, phrased for the command line.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case invalid(option: String, expected: String, got: String)
    case unknownTask(String, known: [String])
    public var description: String {
        switch self {
        case let .invalid(option, expected, got): return "\(option): expected \(expected), got \(got)"
        case let .unknownTask(name, known):
            return "unknown task '\(name)'; embedded tasks: \(known.joined(separator: ", "))"
        }
    }
}

/// The warning for a storage budget that cannot steer the run: one that holds no gated layer (every gate ends off,
/// as in a probe) or one that holds them all (nothing is constrained). The run starts with it as a `warning:` notice (the
/// progress lines, the dashboard's event line); `--quiet` prints it on stderr.
public enum BudgetWarning {
    /// The warning for `start`'s budget (a share of the backbone; nil without a budget), or nil when the budget
    /// holds some gated layers but not all.
    public static func message(for start: RunStartEvent) -> String? {
        guard let share = start.budget, !start.layers.isEmpty else { return nil }
        let backbone = Double(max(start.backboneParameters, 1))
        let allowed = share * backbone
        let percent = ProgressFormatter.percent
        let budget = share > 1 ? "the budget (more than the whole backbone)" : "the budget (\(percent(share)) of the backbone)"
        let total = start.layers.reduce(0) { $0 + $1.parameters }
        if let smallest = start.layers.min(by: { $0.parameters < $1.parameters }), allowed < Double(smallest.parameters) {
            return "\(budget) holds no gated layer (the smallest, \(smallest.name), takes "
                + "\(percent(Double(smallest.parameters) / backbone))): every gate ends off, as in --mode probe"
        }
        if allowed >= Double(total) {
            return "\(budget) holds every gated layer (together \(percent(Double(total) / backbone))): it constrains nothing"
        }
        return nil
    }
}
