// TapsNN: DenseNet-BC (DenseNet-121 and small variants) with torchvision's module names.
import TapsTensor

/// Shape of a DenseNet-BC (torchvision `DenseNet(growth_rate, block_config, num_init_features, bn_size)`).
///
/// ```
/// x: [N, C, H, W]
/// features.conv0 7×7/2 pad 3 → norm0 → relu0 → pool0 (max 3×3/2 pad 1)          [N, F0, H/4, W/4]
/// denseblock i (i = 1...): blocks[i-1] dense layers; layer j reads the concatenation of all previous features
///   denselayer j: norm1 → relu → conv1 1×1 (bnSize·growth) → norm2 → relu → conv2 3×3 pad 1 (growth)
///   block output: concat(input, every layer's growth channels)                  [N, F + L·growth, h, w]
/// transition i (after every block but the last): norm → relu → conv 1×1 (F/2) → pool (avg 2×2/2)
/// features.norm5 → relu → adaptive avg pool 1×1 → flatten → classifier            [N, classes]
/// ```
/// DenseNet-121: growth 32, blocks `[6, 12, 24, 16]`, 64 initial features, bnSize 4: 1024 features,
/// 7,978,856 parameters with 1000 classes (as torchvision).
/// References: Huang et al., "Densely Connected Convolutional Networks", CVPR 2017; torchvision `models/densenet.py`.
public struct DenseNetConfig: Sendable, Equatable {
    /// Channels each dense layer adds.
    public var growthRate: Int
    /// Dense layers per block.
    public var blocks: [Int]
    /// Output channels of `conv0`.
    public var initialFeatures: Int
    /// Bottleneck width multiplier: `conv1` outputs `bnSize · growthRate` channels.
    public var bnSize: Int
    /// Classes of the `classifier` head.
    public var classes: Int
    /// Input channels (3 for RGB).
    public var inputChannels: Int

    /// A configuration; every entry of `blocks` must be positive.
    public init(growthRate: Int, blocks: [Int], initialFeatures: Int, bnSize: Int = 4, classes: Int = 1000,
                inputChannels: Int = 3) {
        self.growthRate = growthRate; self.blocks = blocks; self.initialFeatures = initialFeatures
        self.bnSize = bnSize; self.classes = classes; self.inputChannels = inputChannels
    }

    /// DenseNet-121.
    public static func densenet121(classes: Int = 1000) -> DenseNetConfig {
        .init(growthRate: 32, blocks: [6, 12, 24, 16], initialFeatures: 64, classes: classes)
    }

    /// A small DenseNet for fast experiments and tests: growth 8, blocks `[2, 2, 2]`, 16 initial features,
    /// bnSize 2 (15 convolutions: stem, 6 dense layers × 2, 2 transitions).
    public static func small(classes: Int = 10) -> DenseNetConfig {
        .init(growthRate: 8, blocks: [2, 2, 2], initialFeatures: 16, bnSize: 2, classes: classes)
    }

    /// Width of the features the head reads.
    public var featureWidth: Int {
        var f = initialFeatures
        for (i, count) in blocks.enumerated() {
            f += count * growthRate
            if i < blocks.count - 1 { f /= 2 }
        }
        return f
    }
}

/// A dense block: each layer sees the channel concatenation of the block input and every earlier layer's
/// output (torchvision `_DenseBlock`).
///
/// ```
/// f_0 = x [N, F, H, W];   f_{j+1} = concat(f_j, layer_j(f_j))   y = f_L   [N, F + L·growth, H, W]
/// backward: split dy into (d f_j, d new_j); d f_j += layer_j'(d new_j), from the last layer to the first
/// ```
/// Children are the dense layers (``Sequential``s named `<block>.denselayer1`, ...), in order.
public final class DenseBlock: Layer {
    /// The dense layers, each mapping `[N, F_j, H, W]` to `[N, growth, H, W]`.
    public private(set) var layers: [any Layer]
    private var channelCounts: [(input: Int, added: Int)] = []

    /// A block of the given dense layers.
    public init(_ layers: [any Layer]) { self.layers = layers }

    /// Every layer's parameters, in order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    /// The dense layers.
    public var children: [any Layer] { layers }
    /// Replaces every dense layer by `transform(layer)`.
    public func mapChildren(_ transform: (any Layer) -> any Layer) { layers = layers.map(transform) }

    /// `[N, F, H, W] → [N, F + Σ growth, H, W]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var features = x
        var counts: [(Int, Int)] = []
        for layer in layers {
            let new = layer.forward(features, mode: mode)
            counts.append((features.shape[1], new.shape[1]))
            features = concatenateChannels([features, new])
        }
        if mode == .training { channelCounts = counts }
        return features
    }

    /// Routes each layer's share of `dy` back through it and adds the result to the earlier features' gradient.
    public func backward(_ dOut: Tensor) -> Tensor {
        precondition(channelCounts.count == layers.count, "DenseBlock: backward without a training-mode forward")
        var d = dOut
        for (layer, count) in zip(layers, channelCounts).reversed() {
            let parts = splitChannels(d, sizes: [count.input, count.added])
            d = parts[0]
            d.add(layer.backward(parts[1]))
        }
        return d
    }
}

/// Builder for DenseNets whose `state_dict` keys equal torchvision's (`features.conv0.weight`, `features.norm0.*`,
/// `features.denseblock1.denselayer1.norm1.*`, `...conv1.weight`, `...norm2.*`, `...conv2.weight`,
/// `features.transition1.norm.*`, `features.transition1.conv.weight`, `features.norm5.*`, `classifier.*`).
///
/// Initialisation as torchvision: convolutions kaiming-normal (fan-in), BatchNorm `γ = 1, β = 0`, classifier
/// weight `U(±1/sqrt(in))` and bias 0. Under TAPS every convolution is gated: DenseNet-121 has
/// 1 + 2·58 + 3 = 120 gated layers; ``DenseNetConfig/small(classes:)`` has 15.
///
/// ```swift
/// let model = DenseNet.make(.densenet121(classes: 10), rng: &rng)   // [N, 3, H, W] → [N, 10]
/// ```
public enum DenseNet {
    /// Module name of the classifier head.
    public static let headName = "classifier"

    /// A freshly initialised DenseNet.
    public static func make(_ config: DenseNetConfig, rng: inout SeededRNG) -> Sequential {
        precondition(!config.blocks.isEmpty && config.blocks.allSatisfy { $0 > 0 }, "DenseNet: blocks must be positive")
        var f = config.initialFeatures
        var features: [(String, any Layer)] = [
            ("conv0", makeConv("features.conv0", config.inputChannels, f, kernel: 7, stride: 2, padding: 3,
                               fanOut: false, rng: &rng)),
            ("norm0", BatchNorm2d(name: "features.norm0", channels: f)),
            ("relu0", ReLU()),
            ("pool0", MaxPool2d(kernelSize: 3, stride: 2, padding: 1)),
        ]
        let g = config.growthRate, inner = config.bnSize * config.growthRate
        for (i, count) in config.blocks.enumerated() {
            let blockName = "features.denseblock\(i + 1)"
            var layers: [any Layer] = []
            for j in 0..<count {
                let n = "\(blockName).denselayer\(j + 1)"
                layers.append(Sequential(name: n, named: [
                    ("norm1", BatchNorm2d(name: "\(n).norm1", channels: f + j * g)), ("relu1", ReLU()),
                    ("conv1", makeConv("\(n).conv1", f + j * g, inner, kernel: 1, fanOut: false, rng: &rng)),
                    ("norm2", BatchNorm2d(name: "\(n).norm2", channels: inner)), ("relu2", ReLU()),
                    ("conv2", makeConv("\(n).conv2", inner, g, kernel: 3, padding: 1, fanOut: false, rng: &rng)),
                ]))
            }
            features.append(("denseblock\(i + 1)", DenseBlock(layers)))
            f += count * g
            if i < config.blocks.count - 1 {
                let t = "features.transition\(i + 1)"
                features.append(("transition\(i + 1)", Sequential(name: t, named: [
                    ("norm", BatchNorm2d(name: "\(t).norm", channels: f)), ("relu", ReLU()),
                    ("conv", makeConv("\(t).conv", f, f / 2, kernel: 1, fanOut: false, rng: &rng)),
                    ("pool", AvgPool2d(kernelSize: 2, stride: 2)),
                ])))
                f /= 2
            }
        }
        features.append(("norm5", BatchNorm2d(name: "features.norm5", channels: f)))
        let classifier = Linear(name: headName, inFeatures: f, outFeatures: config.classes, rng: &rng)
        classifier.bias?.value = Tensor(zeros: [config.classes])
        return Sequential(name: "", named: [
            ("features", Sequential(name: "features", named: features)), ("relu", ReLU()),
            ("pool", AdaptiveAvgPool2d(outputSize: 1)), ("flatten", Flatten()), ("classifier", classifier),
        ])
    }
}
