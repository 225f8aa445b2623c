// TapsData: per-channel input normalisation applied when a batch is made.

/// Per-channel normalisation of uint8 pixels: `x = (p / 255 - mean[c]) / std[c]`.
///
/// A single mean/std pair applies to every channel. References: torchvision `transforms.Normalize`.
public struct Normalization: Sendable, Equatable {
    /// Per-channel mean, in units of `p / 255`.
    public var mean: [Float]
    /// Per-channel standard deviation, in units of `p / 255`; every value must be non-zero.
    public var std: [Float]

    /// Creates a normalisation; `mean` and `std` have one value per channel (or one for all).
    public init(mean: [Float], std: [Float]) {
        precondition(!mean.isEmpty && mean.count == std.count, "Normalization: mean \(mean) and std \(std) differ in length")
        precondition(std.allSatisfy { $0 != 0 }, "Normalization: std must be non-zero, got \(std)")
        self.mean = mean
        self.std = std
    }

    /// The digit CNN base (`digitcnn-base.safetensors`) and MNIST convention: mean 0.1307, std 0.3081.
    public static let digitCNN = Normalization(mean: [0.1307], std: [0.3081])
    /// Plain scaling to `[0, 1]`: `x = p / 255`.
    public static let unit = Normalization(mean: [0], std: [1])
    /// EfficientNet-Lite's input convention `(p - 127) / 128`, for any channel count.
    public static let efficientNetLite = Normalization(mean: [127.0 / 255], std: [128.0 / 255])

    /// `(scale, bias)` for channel `c` such that `x = p * scale + bias`.
    @inlinable
    public func affine(channel c: Int) -> (scale: Float, bias: Float) {
        let m = mean.count == 1 ? mean[0] : mean[c]
        let s = std.count == 1 ? std[0] : std[c]
        return (1 / (255 * s), -m / s)
    }
}
