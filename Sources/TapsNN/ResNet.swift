// TapsNN: ResNet-18/34/50/101 with torchvision's module names (ResNet v1.5: stride on the 3x3 conv).
import TapsTensor

/// Shape of a ResNet (torchvision `ResNet(block, layers, num_classes)`), with an optional narrower width for
/// tiny test models.
///
/// ```
/// x: [N, C, H, W]
/// conv1 7×7/2 pad 3 → bn1 → relu → maxpool 3×3/2 pad 1                      [N, w, H/4, W/4]
/// layer1..layer4: blocks[i] blocks of planes w·2^i, first block of layer2..4 has stride 2
///   basic:      conv1 3×3/s, bn1, relu, conv2 3×3, bn2, (+ downsample), relu        expansion 1
///   bottleneck: conv1 1×1, bn1, relu, conv2 3×3/s, bn2, relu, conv3 1×1, bn3, (+ downsample), relu  expansion 4
///   downsample = Sequential(conv 1×1/s, bn) when stride ≠ 1 or channels change
/// avgpool (adaptive 1×1) → flatten → fc                                      [N, classes]
/// ```
/// Spatial sizes use the convolution formula (H = 224 → 112 → 56 → 56, 28, 14, 7). Any input of at least
/// 32×32 works (smaller inputs shrink layer4 to 1×1 earlier, still valid down to H ≥ 1 after each stride).
/// Parameter counts with 1000 classes (as torchvision): ResNet-18 11,689,512; ResNet-34 21,797,672;
/// ResNet-50 25,557,032; ResNet-101 44,549,160 (trainable parameters, BN buffers excluded).
/// References: He et al., CVPR 2016; torchvision `models/resnet.py`.
public struct ResNetConfig: Sendable, Equatable {
    /// Residual block kind.
    public enum Block: Sendable, Equatable {
        /// Two 3×3 convolutions (ResNet-18/34), expansion 1.
        case basic
        /// 1×1 → 3×3 → 1×1 (ResNet-50/101), expansion 4.
        case bottleneck
        /// Output channels per block relative to `planes`.
        public var expansion: Int { self == .basic ? 1 : 4 }
    }
    /// Block kind.
    public var block: Block
    /// Number of blocks in `layer1` ... `layer4`.
    public var layers: [Int]
    /// Classes of the `fc` head.
    public var classes: Int
    /// Stem width and `planes` of `layer1` (64 in torchvision; smaller values give tiny test models).
    public var width: Int
    /// Input channels (3 for RGB).
    public var inputChannels: Int

    /// A configuration; `layers` must have four positive entries.
    public init(block: Block, layers: [Int], classes: Int = 1000, width: Int = 64, inputChannels: Int = 3) {
        self.block = block; self.layers = layers; self.classes = classes; self.width = width
        self.inputChannels = inputChannels
    }

    /// ResNet-18: basic `[2, 2, 2, 2]` (20 convolutions: stem, 16 in blocks, 3 downsample).
    public static func resnet18(classes: Int = 1000) -> ResNetConfig { .init(block: .basic, layers: [2, 2, 2, 2], classes: classes) }
    /// ResNet-34: basic `[3, 4, 6, 3]`.
    public static func resnet34(classes: Int = 1000) -> ResNetConfig { .init(block: .basic, layers: [3, 4, 6, 3], classes: classes) }
    /// ResNet-50: bottleneck `[3, 4, 6, 3]`.
    public static func resnet50(classes: Int = 1000) -> ResNetConfig { .init(block: .bottleneck, layers: [3, 4, 6, 3], classes: classes) }
    /// ResNet-101: bottleneck `[3, 4, 23, 3]`.
    public static func resnet101(classes: Int = 1000) -> ResNetConfig { .init(block: .bottleneck, layers: [3, 4, 23, 3], classes: classes) }

    /// Width of the features the head reads: `8·width·expansion` (512 or 2048).
    public var featureWidth: Int { width * 8 * block.expansion }
}

/// Builder for ResNets whose `state_dict` keys equal torchvision's (`conv1.weight`, `bn1.*`,
/// `layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`, `layer2.0.downsample.1.*`, `fc.weight`, `fc.bias`),
/// so a checkpoint saved with `safetensors.torch.save_file(model.state_dict(), ...)` loads with
/// ``loadStateDict(_:into:strict:)``.
///
/// Initialisation as torchvision: convolutions kaiming-normal (fan-out, ReLU), BatchNorm `γ = 1, β = 0`,
/// `fc` PyTorch's default `U(±1/sqrt(in))`. Under TAPS every convolution is gated (stem, block convs and
/// downsample convs): ResNet-18 20, ResNet-34 36, ResNet-50 53, ResNet-101 104 gated layers.
///
/// ```swift
/// var rng = SeededRNG(seed: 0)
/// let model = ResNet.make(.resnet50(classes: 10), rng: &rng)      // input [N, 3, H, W] → [N, 10]
/// try loadStateDict(torchvisionTensors, into: model, strict: false)   // without fc.*: new head
/// ```
public enum ResNet {
    /// Module name of the classifier head.
    public static let headName = "fc"

    /// A freshly initialised ResNet.
    public static func make(_ config: ResNetConfig, rng: inout SeededRNG) -> Sequential {
        precondition(config.layers.count == 4 && config.layers.allSatisfy { $0 > 0 }, "ResNet: layers must be four positive counts")
        let w = config.width, e = config.block.expansion
        var named: [(String, any Layer)] = [
            ("conv1", makeConv("conv1", config.inputChannels, w, kernel: 7, stride: 2, padding: 3, rng: &rng)),
            ("bn1", BatchNorm2d(name: "bn1", channels: w)),
            ("relu", ReLU()),
            ("maxpool", MaxPool2d(kernelSize: 3, stride: 2, padding: 1)),
        ]
        var inPlanes = w
        for (stage, count) in config.layers.enumerated() {
            let planes = w << stage, name = "layer\(stage + 1)"
            var blocks: [any Layer] = []
            for b in 0..<count {
                let stride = stage > 0 && b == 0 ? 2 : 1
                blocks.append(makeBlock("\(name).\(b)", config.block, inPlanes: inPlanes, planes: planes, stride: stride, rng: &rng))
                inPlanes = planes * e
            }
            named.append((name, Sequential(name: name, blocks)))
        }
        named += [("avgpool", AdaptiveAvgPool2d(outputSize: 1)), ("flatten", Flatten()),
                  ("fc", Linear(name: "fc", inFeatures: inPlanes, outFeatures: config.classes, rng: &rng))]
        return Sequential(name: "", named: named)
    }

    /// One block named `name` (e.g. `layer2.0`): see ``ResNetConfig`` for its layers.
    static func makeBlock(_ name: String, _ kind: ResNetConfig.Block, inPlanes: Int, planes: Int, stride: Int,
                          rng: inout SeededRNG) -> ResidualBlock {
        let out = planes * kind.expansion
        var main: [any Layer]
        switch kind {
        case .basic:
            main = [makeConv("\(name).conv1", inPlanes, planes, kernel: 3, stride: stride, padding: 1, rng: &rng),
                    BatchNorm2d(name: "\(name).bn1", channels: planes), ReLU(),
                    makeConv("\(name).conv2", planes, planes, kernel: 3, padding: 1, rng: &rng),
                    BatchNorm2d(name: "\(name).bn2", channels: planes)]
        case .bottleneck:
            main = [makeConv("\(name).conv1", inPlanes, planes, kernel: 1, rng: &rng),
                    BatchNorm2d(name: "\(name).bn1", channels: planes), ReLU(),
                    makeConv("\(name).conv2", planes, planes, kernel: 3, stride: stride, padding: 1, rng: &rng),
                    BatchNorm2d(name: "\(name).bn2", channels: planes), ReLU(),
                    makeConv("\(name).conv3", planes, out, kernel: 1, rng: &rng),
                    BatchNorm2d(name: "\(name).bn3", channels: out)]
        }
        var downsample: (any Layer)?
        if stride != 1 || inPlanes != out {
            downsample = Sequential(name: "\(name).downsample", [
                makeConv("\(name).downsample.0", inPlanes, out, kernel: 1, stride: stride, rng: &rng),
                BatchNorm2d(name: "\(name).downsample.1", channels: out)])
        }
        return ResidualBlock(main: main, shortcut: downsample, residual: true, activation: ReLU())
    }
}
