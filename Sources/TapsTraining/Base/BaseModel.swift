// TapsTraining: the pretrained bases the engine can adapt, and how to build a task network on one.
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// A pretrained base network: its architecture, weights, head and input normalisation.
public struct BaseModel: @unchecked Sendable {
    /// Name shown in summaries and checked against exports (`digitcnn`, `efficientnet-lite0`, a file name).
    public var name: String
    /// Architecture name: `digitcnn` or one of `ModelZoo.architectures`.
    public var architecture: String
    /// Module name of the classifier head that each task replaces (`fc_layers.2`, `_fc`, `fc`, ...).
    public var headName: String
    /// Input image shape `[channels, height, width]`.
    public var inputShape: [Int]
    /// Per-channel input normalisation the base was trained with.
    public var normalization: Normalization
    /// The pretrained tensors by state_dict key.
    public var weights: [String: Tensor]
    /// A content hash of the weights (FNV-1a 64 over names, shapes and bytes, hex): identifies the base
    /// in exports. Not a cryptographic hash.
    public var contentHash: String
    /// What loading changed, for the run's notices (e.g. DataParallel's `module.` prefix removed).
    public var notes: [String] = []
    /// Builds the architecture with a head of `classes` outputs, randomly initialised from `rng`.
    public var makeNetwork: @Sendable (_ classes: Int, _ rng: inout SeededRNG) throws -> any Layer

    /// The bases that ship with the package.
    public static let embedded = ["digitcnn", "efficientnet-lite0"]

    /// torchvision's ImageNet normalisation (ResNet, DenseNet, ViT checkpoints).
    public static let imageNetNormalization = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// Loads the base of a run: `config.base` with `config.architecture` and `config.imageSize`.
    public static func load(for config: TrainingConfig) throws -> BaseModel {
        try load(config.base, architecture: config.architecture, imageSize: config.imageSize)
    }

    /// Loads a base.
    /// - Parameters:
    ///   - nameOrPath: `digitcnn` (the embedded MNIST-pretrained CNN, 1x28x28), `efficientnet-lite0` (the embedded
    ///     ImageNet-pretrained EfficientNet-Lite0), or a `.safetensors` file with torchvision-style names.
    ///   - architecture: the file's architecture (`resnet18`, `densenet121`, `vit-b16`, ... see `ModelZoo`); nil
    ///     reads `__metadata__["architecture"]`, or recognises DigitCNN and EfficientNet-Lite0 by their names.
    ///   - imageSize: square input size in pixels for the image networks (default 64); DigitCNN is always 28.
    /// - Throws: `SafeTensorsError` for a malformed file, `ConfigError.invalid` for an unknown base or
    ///   architecture or an unsuitable image size.
    public static func load(_ nameOrPath: String, architecture: String? = nil, imageSize: Int? = nil) throws -> BaseModel {
        let url: URL
        switch nameOrPath {
        case "digitcnn": url = EmbeddedPack.baseWeightsURL
        case "efficientnet-lite0":
            url = ImageNetBase.efficientNetLite0WeightsURL
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ConfigError.invalid(option: "--base", expected: "the EfficientNet-Lite0 ImageNet weights, installed by"
                                          + " `make` (or: python3 scripts/fetch_imagenet_base.py, then swift build)",
                                          got: "no file at \(url.path)")
            }
        default:
            guard nameOrPath.hasSuffix(".safetensors") || FileManager.default.fileExists(atPath: nameOrPath) else {
                throw ConfigError.invalid(option: "--base", expected: "\(embedded.joined(separator: " or ")) or a .safetensors file",
                                          got: nameOrPath)
            }
            url = URL(fileURLWithPath: nameOrPath)
        }
        try rejectPickle(url)
        let file = try SafeTensors.read(url)
        var weights: [String: Tensor] = [:]
        for (name, t) in file.tensors { weights[name] = t }
        let (remapped, notes) = remapLegacyNames(weights, file: url.lastPathComponent); weights = remapped
        let arch = (architecture ?? file.metadata["architecture"]).map(ModelZoo.canonical) ?? recognise(weights)
        if arch == "efficientnet-lite0" { weights = renameTimmEfficientNetLite(weights) }
        guard let arch else {
            throw ConfigError.invalid(option: "--arch", expected: "the architecture of \(url.path) (digitcnn, \(ModelZoo.architectures.joined(separator: ", ")))",
                                      got: "nothing (no __metadata__ architecture and names not recognised)")
        }
        let name = embedded.contains(nameOrPath) ? nameOrPath : url.lastPathComponent
        // A file that records its input recipe (taps merge writes input_mean / input_std) keeps it.
        let recorded: Normalization? = {
            let parse = { (key: String) in file.metadata[key]?.split(separator: ",").compactMap { Float($0) } ?? [] }
            let mean = parse("input_mean"), std = parse("input_std")
            return !mean.isEmpty && mean.count == std.count && std.allSatisfy({ $0 > 0 }) ? Normalization(mean: mean, std: std) : nil
        }()
        let hash = Self.hash(file.tensors.map { ($0.name, $0.tensor) })
        if arch == "digitcnn" {
            if let imageSize, imageSize != 28 {
                throw ConfigError.invalid(option: "--image-size", expected: "28 for digitcnn", got: String(imageSize))
            }
            return BaseModel(name: name, architecture: arch, headName: DigitCNN.headName, inputShape: DigitCNN.imageShape,
                             normalization: recorded ?? .digitCNN, weights: weights, contentHash: hash, notes: notes,
                             makeNetwork: { classes, rng in makeDigitCNN(classes: classes, rng: &rng) })
        }
        guard ModelZoo.architectures.contains(arch) else {
            throw ConfigError.invalid(option: "--arch", expected: "digitcnn or one of \(ModelZoo.architectures.joined(separator: ", "))", got: arch)
        }
        let size = imageSize ?? (arch.hasPrefix("vit") ? vitImageSize(weights) : nil) ?? 64
        var probe = SeededRNG(seed: 0)
        let headName: String
        do {
            headName = try ModelZoo.make(arch, classes: 1, imageSize: size, rng: &probe).headName
        } catch {
            throw ConfigError.invalid(option: "--image-size", expected: "a size \(arch) accepts", got: "\(size) (\(error))")
        }
        return BaseModel(name: name, architecture: arch, headName: headName, inputShape: [3, size, size],
                         normalization: recorded ?? (arch == "efficientnet-lite0" ? .efficientNetLite : imageNetNormalization),
                         weights: weights, contentHash: hash, notes: notes,
                         makeNetwork: { classes, rng in try ModelZoo.make(arch, classes: classes, imageSize: size, rng: &rng).network })
    }


    /// The pretrained network with its own head, every tensor loaded strictly (for `taps predict`).
    /// - Throws: `StateDictError` when the file does not match the architecture.
    public func pretrainedNetwork() throws -> any Layer {
        guard let head = weights[headName + ".weight"], head.rank == 2 else {
            throw ConfigError.invalid(option: "--base", expected: "a head '\(headName).weight' [classes, features]", got: "none in \(name)")
        }
        var rng = SeededRNG(seed: 0)
        let net = try makeNetwork(head.shape[0], &rng)
        try loadBaseTensors(weights, into: net)
        return net
    }

    /// Brings a task's images to the base's input shape `inputShape`: unchanged when they match; for the
    /// image networks, resized bilinearly and grey replicated to RGB (e.g. the 28x28 pack at 64x64x3).
    /// - Throws: `ConfigError.invalid` when the images cannot be adapted to this base (DigitCNN needs 1x28x28).
    /// Grey images become RGB for RGB bases and RGB images grey (BT.601 luma) for grey bases, each with a note in
    /// ``TaskData/notes``.
    public func prepare(_ data: TaskData) throws -> TaskData {
        let data = withLoadNotes(data)
        let shape = data.train.imageShape
        if shape == inputShape { return data }
        guard shape[0] == 1 || shape[0] == 3, inputShape[0] == 1 || inputShape[0] == 3 else {
            throw ConfigError.invalid(option: "--task", expected: "grey or RGB images for base \(name) (input \(inputShape))",
                                      got: "\(data.name) with images \(shape)")
        }
        var out = data
        if shape[0] != inputShape[0] {
            out.train = out.train.converted(channels: inputShape[0]); out.test = out.test.converted(channels: inputShape[0])
            out.notes.append(inputShape[0] == 1 ? "RGB images converted to grey (BT.601 luma) for the grey base \(name)"
                                                : "grey images replicated to RGB for base \(name)")
        }
        if shape[1] != inputShape[1] || shape[2] != inputShape[2] {
            out = out.resized(height: inputShape[1], width: inputShape[2], channels: inputShape[0])
            out.notes.append("images resized from \(shape[1])x\(shape[2]) to \(inputShape[1])x\(inputShape[2]) for base \(name)")
        }
        return out
    }

    /// Builds a fresh network with the base's weights and a new, randomly initialised head of `classes`.
    /// - Throws: `StateDictError` listing every missing, unexpected or mis-shaped tensor of the base.
    public func instantiate(classes: Int, rng: inout SeededRNG) throws -> any Layer {
        let net = try makeNetwork(classes, &rng)
        // Strict load of the base's backbone plus the new head's own values: every name must match.
        var tensors = weights.filter { !$0.key.hasPrefix(headName + ".") }
        for p in net.parameters where p.name.hasPrefix(headName + ".") { tensors[p.name] = p.value }
        try loadBaseTensors(tensors, into: net)
        return net
    }

    /// Wraps a fresh instance for one task.
    /// - Parameter trainBiases: whether the gated layers' biases train (nil: ``TrainingConfig/defaultTrainBiases(for:)``).
    public func taskNetwork(classes: Int, mode: TrainingMode, tau: Double, initialScore: Double,
                            trainBiases: Bool? = nil, rng: inout SeededRNG) throws -> TaskNetwork {
        let behaviour: GateBehaviour = switch mode {
        case .taps: .learned
        case .finetune: .alwaysOn
        case .probe: .alwaysOff
        }
        return TaskNetwork(network: try instantiate(classes: classes, rng: &rng), headName: headName,
                           behaviour: behaviour, tau: Float(tau), initialScore: Float(initialScore),
                           trainBiases: trainBiases ?? TrainingConfig.defaultTrainBiases(for: mode))
    }

    /// The content hash of named tensors (``ContentHash`` over names, shapes as UInt32 and float bytes, in
    /// name order): the `base_hash` every export records.
    static func hash(_ tensors: [(String, Tensor)]) -> String {
        var h = ContentHash()
        for (name, t) in tensors.sorted(by: { $0.0 < $1.0 }) {
            h.combine(name)
            for d in t.shape { h.combine(UInt32(truncatingIfNeeded: d)) }
            t.withBuffer { h.combine(UnsafeRawBufferPointer($0)) }
        }
        return h.description
    }
}
