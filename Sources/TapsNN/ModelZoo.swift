// TapsNN: build any supported architecture by name.
import TapsTensor

/// Why ``ModelZoo/make(_:classes:imageSize:rng:)`` could not build a model.
public enum ModelZooError: Error, CustomStringConvertible, Equatable {
    /// The architecture name is not one of ``ModelZoo/architectures``.
    case unknownArchitecture(String, known: [String])
    /// The image size does not suit the architecture (e.g. not divisible by a ViT's patch).
    case badImageSize(architecture: String, imageSize: Int, requirement: String)
    /// The class count is below 1 or above ``ModelZoo/maximumClasses``.
    case badClassCount(architecture: String, classes: Int)

    /// One line with a hint.
    public var description: String {
        switch self {
        case let .unknownArchitecture(name, known):
            return "unknown architecture '\(name)'; choose one of: \(known.joined(separator: ", "))"
        case let .badImageSize(name, size, requirement):
            return "\(name) cannot take \(size)x\(size) images: \(requirement)"
        case let .badClassCount(name, classes):
            return "\(name) cannot have a \(classes)-class head: the class count must be 1...\(ModelZoo.maximumClasses)"
        }
    }
}

/// Factory of the supported architectures, with torchvision (or, for EfficientNet-Lite0, the shipped
/// checkpoint's) parameter names and seeded random initialisation.
///
/// | name | input | gated layers (TAPS) | parameters (1000 classes) |
/// |---|---|---|---|
/// | `resnet18` | `[N, 3, H, W]`, H ≥ 32 | 20 | 11,689,512 |
/// | `resnet34` | same | 36 | 21,797,672 |
/// | `resnet50` | same | 53 | 25,557,032 |
/// | `resnet101` | same | 104 | 44,549,160 |
/// | `densenet121` | same | 120 | 7,978,856 |
/// | `densenet-small` | same, H ≥ 16 | 15 | see ``DenseNetConfig/small(classes:)`` |
/// | `vit-b16` | `[N, 3, S, S]`, S divisible by 16 | 49 | 86,567,656 (at 224) |
/// | `vit-tiny` | `[N, 3, S, S]`, patch 8 below 128 px else 16 | 49 | ≈5.4 M (64 px, 10 classes) |
/// | `efficientnet-lite0` | `[N, 3, H, W]`, H ≥ 32 | 49 | 4,652,008 (3,371,008 without `_fc`) |
///
/// Every model maps images to logits `[N, classes]`.
///
/// ```swift
/// var rng = SeededRNG(seed: 0)
/// let (net, head) = try ModelZoo.make("resnet50", classes: 10, imageSize: 64, rng: &rng)   // head "fc"
/// let task = TaskNetwork(network: net, headName: head, behaviour: .learned)              // 53 gated layers
/// ```
public enum ModelZoo {
    /// Largest square image side ``make(_:classes:imageSize:rng:)`` accepts (an absurd `--image-size` or export
    /// metadata would otherwise ask for terabytes before anything else could fail).
    public static let maximumImageSize = 1024

    /// Largest class count ``make(_:classes:imageSize:rng:)`` accepts (ImageNet-21k has 21,841).
    public static let maximumClasses = 100_000

    /// The names ``make(_:classes:imageSize:rng:)`` accepts.
    public static let architectures = ["resnet18", "resnet34", "resnet50", "resnet101", "densenet121", "densenet-small",
                                       "vit-b16", "vit-tiny", "efficientnet-lite0"]

    /// torchvision / timm model names accepted as aliases of ours (`vit_b_16` is `vit-b16`, ...).
    public static let aliases = ["vit_b_16": "vit-b16", "vit_b16": "vit-b16", "efficientnet_lite0": "efficientnet-lite0",
                                 "densenet_small": "densenet-small", "vit_tiny": "vit-tiny"]

    /// Our name for `name`: itself, or the architecture a torchvision/timm model name (``aliases``) stands for;
    /// case-insensitive.
    public static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        return aliases[lower] ?? lower
    }

    /// Builds `architecture` with a `classes`-way head for square `imageSize` inputs (only ViTs depend on the
    /// size: their position embedding has `(imageSize/patch)² + 1` rows).
    /// - Returns: the network and its head's module name (for `TaskNetwork(headName:)` / `replaceLayer`).
    /// - Throws: ``ModelZooError`` for an unknown name, an unsuitable image size (also above ``maximumImageSize``)
    ///   or a class count outside `1...maximumClasses`.
    public static func make(_ architecture: String, classes: Int, imageSize: Int,
                            rng: inout SeededRNG) throws -> (network: any Layer, headName: String) {
        let architecture = canonical(architecture)
        try checkSizes(architecture, classes: classes, imageSize: imageSize)
        let minimum = architecture == "densenet-small" ? 16 : 32
        if !architecture.hasPrefix("vit"), architectures.contains(architecture), imageSize < minimum {
            throw ModelZooError.badImageSize(architecture: architecture, imageSize: imageSize,
                                             requirement: "at least \(minimum) px (five stride-2 stages)")
        }
        switch architecture {
        case "resnet18": return (ResNet.make(.resnet18(classes: classes), rng: &rng), ResNet.headName)
        case "resnet34": return (ResNet.make(.resnet34(classes: classes), rng: &rng), ResNet.headName)
        case "resnet50": return (ResNet.make(.resnet50(classes: classes), rng: &rng), ResNet.headName)
        case "resnet101": return (ResNet.make(.resnet101(classes: classes), rng: &rng), ResNet.headName)
        case "densenet121": return (DenseNet.make(.densenet121(classes: classes), rng: &rng), DenseNet.headName)
        case "densenet-small": return (DenseNet.make(.small(classes: classes), rng: &rng), DenseNet.headName)
        case "vit-b16", "vit-tiny":
            let config = architecture == "vit-b16" ? ViTConfig.vitB16(imageSize: imageSize, classes: classes)
                                                   : ViTConfig.tiny(imageSize: imageSize, classes: classes)
            guard imageSize > 0, imageSize % config.patchSize == 0 else {
                throw ModelZooError.badImageSize(architecture: architecture, imageSize: imageSize,
                                                 requirement: "must be a positive multiple of the patch size \(config.patchSize)")
            }
            return (VisionTransformer(config, rng: &rng), VisionTransformer.headName)
        case "efficientnet-lite0":
            return (EfficientNetLite.make(.lite0(classes: classes), rng: &rng), EfficientNetLite.headName)
        default:
            throw ModelZooError.unknownArchitecture(architecture, known: architectures)
        }
    }

    /// Refuses a class count outside `1...maximumClasses` and an image side above ``maximumImageSize`` before any
    /// memory is allocated.
    private static func checkSizes(_ architecture: String, classes: Int, imageSize: Int) throws {
        guard (1...maximumClasses).contains(classes) else {
            throw ModelZooError.badClassCount(architecture: architecture, classes: classes)
        }
        guard imageSize <= maximumImageSize else {
            throw ModelZooError.badImageSize(architecture: architecture, imageSize: imageSize,
                                             requirement: "at most \(maximumImageSize) px")
        }
    }
}
