// TapsNN: EfficientNet-Lite (MBConv without squeeze-excitation, ReLU6) with the lukemelas-style names of
// the shipped ImageNet checkpoint (`_conv_stem`, `_blocks.i._expand_conv`, `_fc`, ...).
import TapsTensor

/// Shape of an EfficientNet-Lite: stages of MBConv blocks.
///
/// ```
/// x: [N, 3, H, W]
/// _conv_stem 3×3/2 pad 1 → _bn0 → ReLU6                                  [N, 32, H/2, W/2]
/// _blocks.i (MBConv, expansion e, kernel k, stride s, in → out):
///   [_expand_conv 1×1 (in → e·in) → _bn0 → ReLU6]   (only when e ≠ 1)
///   _depthwise_conv k×k/s pad k/2, groups = e·in → _bn1 → ReLU6
///   _project_conv 1×1 (e·in → out) → _bn2                 (+ x when s = 1 and in = out; no activation)
/// _conv_head 1×1 → _bn1 → ReLU6 → global avg pool → flatten → dropout → _fc       [N, classes]
/// ```
/// All convolutions are bias-free; BatchNorm `eps = 1e-3`, momentum 0.01. Lite0 stages (e, k, s, out, repeats):
/// (1,3,1,16,1) (6,3,2,24,2) (6,5,2,40,2) (6,3,2,80,3) (6,5,1,112,3) (6,5,2,192,4) (6,3,1,320,1): 16 blocks
/// with stride 2 at the stem and blocks 1, 3, 5, 11; head width 1280. Parameters: 4,652,008 trainable with the
/// 1000-class `_fc` (3,371,008 without it); the checkpoint's 4,694,073 values add 42,065 BatchNorm buffer values.
/// Stochastic depth (drop-connect) of the reference implementation is not implemented.
/// References: Tan & Le, "EfficientNet", ICML 2019; TensorFlow EfficientNet-Lite; lukemelas `EfficientNet-PyTorch`.
public struct EfficientNetLiteConfig: Sendable, Equatable {
    /// One stage: `repeats` MBConv blocks; the first has `stride` and maps to `outChannels`.
    public struct Stage: Sendable, Equatable {
        public var expansion: Int, kernel: Int, stride: Int, outChannels: Int, repeats: Int
        /// A stage description.
        public init(expansion: Int, kernel: Int, stride: Int, outChannels: Int, repeats: Int) {
            self.expansion = expansion; self.kernel = kernel; self.stride = stride
            self.outChannels = outChannels; self.repeats = repeats
        }
    }
    /// Output channels of the stem.
    public var stemChannels: Int
    /// The stages, input to output.
    public var stages: [Stage]
    /// Output channels of `_conv_head`.
    public var headChannels: Int
    /// Classes of `_fc`.
    public var classes: Int
    /// Dropout before `_fc` (0.2 for Lite0).
    public var dropout: Float
    /// Input channels (3 for RGB).
    public var inputChannels: Int

    /// A configuration.
    public init(stemChannels: Int, stages: [Stage], headChannels: Int, classes: Int = 1000, dropout: Float = 0.2,
                inputChannels: Int = 3) {
        self.stemChannels = stemChannels; self.stages = stages; self.headChannels = headChannels
        self.classes = classes; self.dropout = dropout; self.inputChannels = inputChannels
    }

    /// EfficientNet-Lite0 (the shipped ImageNet checkpoint's architecture).
    public static func lite0(classes: Int = 1000) -> EfficientNetLiteConfig {
        .init(stemChannels: 32, stages: [
            .init(expansion: 1, kernel: 3, stride: 1, outChannels: 16, repeats: 1),
            .init(expansion: 6, kernel: 3, stride: 2, outChannels: 24, repeats: 2),
            .init(expansion: 6, kernel: 5, stride: 2, outChannels: 40, repeats: 2),
            .init(expansion: 6, kernel: 3, stride: 2, outChannels: 80, repeats: 3),
            .init(expansion: 6, kernel: 5, stride: 1, outChannels: 112, repeats: 3),
            .init(expansion: 6, kernel: 5, stride: 2, outChannels: 192, repeats: 4),
            .init(expansion: 6, kernel: 3, stride: 1, outChannels: 320, repeats: 1),
        ], headChannels: 1280, classes: classes)
    }
}

/// Builder for EfficientNet-Lite models whose `state_dict` keys equal the shipped checkpoint's
/// (`_conv_stem.weight`, `_bn0.*`, `_blocks.{i}.{_expand_conv,_depthwise_conv,_project_conv}.weight`,
/// `_blocks.{i}.{_bn0,_bn1,_bn2}.*`, `_conv_head.weight`, `_bn1.*`, `_fc.weight`, `_fc.bias`).
///
/// Random initialisation: convolutions kaiming-normal (fan-out), BatchNorm `γ = 1, β = 0`, `_fc` `U(±1/sqrt(in))`.
/// Under TAPS every convolution is gated (stem, expand, depthwise, project, head): Lite0 has
/// 1 + 2 + 15·3 + 1 = 49 gated layers.
///
/// ```swift
/// let model = EfficientNetLite.make(.lite0(), rng: &rng)
/// try loadStateDict(tensors(of: ImageNetBase.efficientNetLite0WeightsURL), into: model)   // strict
/// let logits = model.forward(x, mode: .inference)   // x: [N, 3, 224, 224], (pixel - 127) / 128
/// ```
public enum EfficientNetLite {
    /// Module name of the classifier head.
    public static let headName = "_fc"

    /// A freshly initialised EfficientNet-Lite.
    public static func make(_ config: EfficientNetLiteConfig, rng: inout SeededRNG) -> Sequential {
        let bn = { (name: String, c: Int) in BatchNorm2d(name: name, channels: c, eps: 1e-3, momentum: 0.01) }
        var blocks: [any Layer] = []
        var inC = config.stemChannels
        for stage in config.stages {
            for r in 0..<stage.repeats {
                let i = blocks.count, n = "_blocks.\(i)", stride = r == 0 ? stage.stride : 1
                let mid = inC * stage.expansion, out = stage.outChannels
                var main: [any Layer] = []
                if stage.expansion != 1 {
                    main += [makeConv("\(n)._expand_conv", inC, mid, kernel: 1, rng: &rng), bn("\(n)._bn0", mid), ReLU6()]
                }
                main += [makeConv("\(n)._depthwise_conv", mid, mid, kernel: stage.kernel, stride: stride,
                                  padding: stage.kernel / 2, groups: mid, rng: &rng),
                         bn("\(n)._bn1", mid), ReLU6(),
                         makeConv("\(n)._project_conv", mid, out, kernel: 1, rng: &rng), bn("\(n)._bn2", out)]
                blocks.append(ResidualBlock(main: main, residual: stride == 1 && inC == out))
                inC = out
            }
        }
        let fc = Linear(name: headName, inFeatures: config.headChannels, outFeatures: config.classes, rng: &rng)
        return Sequential(name: "", named: [
            ("_conv_stem", makeConv("_conv_stem", config.inputChannels, config.stemChannels, kernel: 3, stride: 2,
                                    padding: 1, rng: &rng)),
            ("_bn0", bn("_bn0", config.stemChannels)), ("relu_stem", ReLU6()),
            ("_blocks", Sequential(name: "_blocks", blocks)),
            ("_conv_head", makeConv("_conv_head", inC, config.headChannels, kernel: 1, rng: &rng)),
            ("_bn1", bn("_bn1", config.headChannels)), ("relu_head", ReLU6()),
            ("avgpool", AdaptiveAvgPool2d(outputSize: 1)), ("flatten", Flatten()),
            ("dropout", dropoutOrIdentity(config.dropout, rng: &rng)), ("_fc", fc),
        ])
    }
}
