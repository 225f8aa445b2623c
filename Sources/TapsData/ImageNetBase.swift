// TapsData: the ImageNet-pretrained EfficientNet-Lite0 shipped as a package resource (imagenet-base/).
import Foundation
import TapsTensor

/// Files of the real ImageNet base network shipped in `Resources/imagenet-base/` (see its README.md and
/// NOTICE.md for provenance and licences: Apache-2.0 weights and class names).
///
/// ```swift
/// let file = try SafeTensors.read(ImageNetBase.efficientNetLite0WeightsURL)   // 296 tensors, 4,694,073 values
/// let names = try ImageNetBase.classNames()                                   // 1000 names, names[967] = "espresso"
/// let x = ImageNetBase.normalize(uint8HWC: pixels, height: 224, width: 224)  // [1, 3, 224, 224]
/// ```
public enum ImageNetBase {
    /// The `imagenet-base` folder inside the resource bundle.
    public static var directory: URL {
        (Bundle.module.resourceURL ?? Bundle.module.bundleURL).appendingPathComponent("imagenet-base", isDirectory: true)
    }

    /// `efficientnet-lite0.safetensors`: EfficientNet-Lite0 ImageNet-1k weights with lukemelas-style names
    /// (`_conv_stem.weight`, `_blocks.{0..15}.*`, `_conv_head.weight`, `_bn0/_bn1.*`, `_fc.weight [1000, 1280]`),
    /// 4,694,073 parameters, F32 (I64 `num_batches_tracked`).
    public static var efficientNetLite0WeightsURL: URL {
        directory.appendingPathComponent("efficientnet-lite0.safetensors")
    }

    /// `golden_efficientnet_lite0.json`: top-5 classes, probabilities and logits of an independent float32
    /// reference on the `coffee` and `chelsea` photos (224×224).
    public static var goldenURL: URL { directory.appendingPathComponent("golden_efficientnet_lite0.json") }

    /// `imagenet-classes.txt`: the 1000 ILSVRC-2012 class names, one per line, index = line number.
    public static var classNamesURL: URL { directory.appendingPathComponent("imagenet-classes.txt") }

    /// Mean and scale of the base's input normalisation: `x = (pixel - 127) / 128` per RGB channel.
    public static let pixelMean: Float = 127, pixelScale: Float = 128

    /// The 1000 ImageNet class names (`names[i]` is class `i`).
    /// - Throws: ``DatasetError/unreadable(file:reason:)`` if the resource cannot be read, or
    ///   ``DatasetError/malformed(file:field:expected:found:)`` if it does not hold 1000 names.
    public static func classNames() throws -> [String] {
        let text: String
        do { text = try String(contentsOf: classNamesURL, encoding: .utf8) } catch {
            throw DatasetError.unreadable(file: classNamesURL.path, reason: "\(error)")
        }
        let names = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.isEmpty }
        guard names.count == 1000 else {
            throw DatasetError.malformed(file: classNamesURL.path, field: "line count", expected: "1000",
                                         found: "\(names.count)")
        }
        return names
    }

    /// Converts one RGB image stored as uint8 values in HWC order (`[height, width, 3]`, e.g. an `.npy` array's
    /// `floats`) to the base's input `[1, 3, height, width]` with `x = (pixel - 127) / 128`.
    /// - Precondition: `pixels.count == height * width * 3`.
    public static func normalize(uint8HWC pixels: [Float], height: Int, width: Int) -> Tensor {
        precondition(pixels.count == height * width * 3, "ImageNetBase.normalize: \(pixels.count) values for \(height)x\(width)x3")
        var x = Tensor(zeros: [1, 3, height, width])
        let plane = height * width
        x.withMutableBuffer { xb in
            for i in 0..<plane {
                for c in 0..<3 { xb[c * plane + i] = (pixels[i * 3 + c] - pixelMean) / pixelScale }
            }
        }
        return x
    }
}
