// TapsNN: the embedded pretrained base network (a small MNIST CNN from PyPI digit-recognizer-py).
import TapsTensor

/// Builder for the DigitCNN base model shipped in `taps-pack/digitcnn-base.safetensors`.
///
/// ```
/// x: [N, 1, 28, 28]
/// conv_layers: 0 Conv2d(1→32, 3×3, pad 1)  1 ReLU  2 MaxPool2d(2)      → [N, 32, 14, 14]
///              3 Conv2d(32→64, 3×3, pad 1) 4 ReLU  5 MaxPool2d(2)      → [N, 64, 7, 7]
///              6 Conv2d(64→128, 3×3, pad 1) 7 ReLU 8 MaxPool2d(2)      → [N, 128, 3, 3]   (floor 7/2)
/// flatten                                                            → [N, 1152]
/// fc_layers:   0 Linear(1152→256)  1 ReLU  2 Linear(256→classes)      → logits [N, classes]
/// ```
///
/// Parameter names match the PyTorch `state_dict` (`conv_layers.{0,3,6}.{weight,bias}`,
/// `fc_layers.{0,2}.{weight,bias}`), so the safetensors file loads with ``loadStateDict(_:into:strict:)``.
///
/// ```swift
/// var rng = SeededRNG(seed: 1)
/// let model = DigitCNN.make(classes: 10, rng: &rng)
/// try loadStateDict(base, into: model)
/// model.replaceLayer(named: DigitCNN.headName, with: DigitCNN.makeHead(classes: 2, rng: &rng))
/// ```
/// References: PyPI `digit-recognizer-py` 0.1.0 `handwriting_model.pth` (MIT).
public enum DigitCNN {
    /// Module name of the classifier head.
    public static let headName = "fc_layers.2"
    /// Width of the features the head reads.
    public static let featureWidth = 256
    /// Input shape of one image `[channels, height, width]`.
    public static let imageShape = [1, 28, 28]

    /// A freshly initialised DigitCNN with a `classes`-way head (PyTorch default init from `rng`).
    public static func make(classes: Int = 10, rng: inout SeededRNG) -> Sequential {
        let conv = Sequential(name: "conv_layers", [
            Conv2d(name: "conv_layers.0", inChannels: 1, outChannels: 32, kernelSize: 3, padding: 1, rng: &rng),
            ReLU(), MaxPool2d(kernelSize: 2),
            Conv2d(name: "conv_layers.3", inChannels: 32, outChannels: 64, kernelSize: 3, padding: 1, rng: &rng),
            ReLU(), MaxPool2d(kernelSize: 2),
            Conv2d(name: "conv_layers.6", inChannels: 64, outChannels: 128, kernelSize: 3, padding: 1, rng: &rng),
            ReLU(), MaxPool2d(kernelSize: 2),
        ])
        let fc = Sequential(name: "fc_layers", [
            Linear(name: "fc_layers.0", inFeatures: 128 * 3 * 3, outFeatures: featureWidth, rng: &rng),
            ReLU(),
            makeHead(classes: classes, rng: &rng),
        ])
        return Sequential(name: "", named: [("conv_layers", conv), ("flatten", Flatten()), ("fc_layers", fc)])
    }

    /// A new head `Linear(256 → classes)` named `fc_layers.2`, for ``Sequential/replaceLayer(named:with:)``.
    public static func makeHead(classes: Int, rng: inout SeededRNG) -> Linear {
        Linear(name: headName, inFeatures: featureWidth, outFeatures: classes, rng: &rng)
    }
}

/// Shorthand for ``DigitCNN/make(classes:rng:)``.
public func makeDigitCNN(classes: Int = 10, rng: inout SeededRNG) -> Sequential {
    DigitCNN.make(classes: classes, rng: &rng)
}
