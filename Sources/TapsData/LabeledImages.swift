// TapsData: an in-memory labelled image set (uint8 pixels, NCHW) and batching into Float tensors.
// Notation: N examples, C channels, H height, W width, B batch size.
import TapsTensor

/// A set of labelled images held as uint8 pixels `[N, C, H, W]` (contiguous, row-major) plus labels.
///
/// Pixels stay uint8 in memory (4× smaller than Float); ``batch(_:normalization:)`` converts the
/// selected examples to a normalised Float tensor.
///
/// ```swift
/// let (x, y) = data.train.batch([0, 5, 9], normalization: .digitCNN)   // x: [3, 1, 28, 28]
/// ```
public struct LabeledImages: Sendable, Equatable {
    /// Pixels `[N, C, H, W]`, row-major, values 0...255.
    public let pixels: [UInt8]
    /// Class index of each example, in `0..<classes`.
    public let labels: [Int]
    /// Channels per image `C`.
    public let channels: Int
    /// Image height `H`, in pixels.
    public let height: Int
    /// Image width `W`, in pixels.
    public let width: Int
    /// Number of classes; every label is in `0..<classes`.
    public let classes: Int

    /// Creates a set after checking that the sizes agree and every label is in `0..<classes`.
    /// - Throws: ``DatasetError/malformed(file:field:expected:found:)`` naming `source`.
    public init(pixels: [UInt8], labels: [Int], channels: Int, height: Int, width: Int, classes: Int,
                source: String = "<memory>") throws {
        guard channels > 0, height > 0, width > 0 else {
            throw DatasetError.malformed(file: source, field: "image size", expected: "positive channels, height, width",
                                         found: "\(channels)x\(height)x\(width)")
        }
        guard pixels.count == labels.count * channels * height * width else {
            throw DatasetError.malformed(file: source, field: "pixel count",
                                         expected: "\(labels.count) x \(channels)x\(height)x\(width) = \(labels.count * channels * height * width)",
                                         found: "\(pixels.count)")
        }
        guard classes > 0 else {
            throw DatasetError.malformed(file: source, field: "classes", expected: "at least 1", found: "\(classes)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw DatasetError.malformed(file: source, field: "label of example \(bad)", expected: "0..<\(classes)", found: "\(labels[bad])")
        }
        self.init(unchecked: pixels, labels: labels, channels: channels, height: height, width: width, classes: classes)
    }

    /// Internal initialiser for values already known to be consistent.
    init(unchecked pixels: [UInt8], labels: [Int], channels: Int, height: Int, width: Int, classes: Int) {
        self.pixels = pixels
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
    }

    /// Number of examples `N`.
    public var count: Int { labels.count }
    /// Pixels per example, `C * H * W`.
    public var imageSize: Int { channels * height * width }
    /// Shape of one example, `[C, H, W]`.
    public var imageShape: [Int] { [channels, height, width] }

    /// Number of examples of each class, indexed by class.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for y in labels { counts[y] += 1 }
        return counts
    }

    /// The pixels of example `index`, `[C, H, W]` row-major.
    public func pixels(of index: Int) -> ArraySlice<UInt8> {
        pixels[(index * imageSize)..<((index + 1) * imageSize)]
    }

    /// The examples at `indices` (in that order, repeats allowed) as a normalised Float batch.
    ///
    /// ```
    /// images[b, c, h, w] = (pixels[indices[b], c, h, w] / 255 - mean[c]) / std[c]
    /// ```
    /// - Returns: `images` `[B, C, H, W]` and `labels` `[B]`.
    /// - Precondition: every index is in `0..<count`; `normalization` has 1 or `channels` values.
    public func batch(_ indices: [Int], normalization: Normalization) -> (images: Tensor, labels: [Int]) {
        precondition(normalization.mean.count == 1 || normalization.mean.count == channels,
                     "batch: normalization has \(normalization.mean.count) channels, images have \(channels)")
        let plane = height * width, size = imageSize
        var images = Tensor(zeros: [indices.count, channels, height, width])
        var batchLabels = [Int]()
        batchLabels.reserveCapacity(indices.count)
        let affines = (0..<channels).map { normalization.affine(channel: $0) }
        pixels.withUnsafeBufferPointer { src in
            images.withMutableBuffer { dst in
                for (b, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count, "batch: index \(index) out of range 0..<\(count)")
                    batchLabels.append(labels[index])
                    for c in 0..<channels {
                        let (scale, bias) = affines[c]
                        let s = src.baseAddress! + index * size + c * plane
                        let d = dst.baseAddress! + b * size + c * plane
                        // Contiguous, branch-free: the optimiser vectorises this loop.
                        for i in 0..<plane { d[i] = Float(s[i]) * scale + bias }
                    }
                }
            }
        }
        return (images, batchLabels)
    }

    /// All examples as one normalised batch `[N, C, H, W]`.
    public func all(normalization: Normalization) -> (images: Tensor, labels: [Int]) {
        batch(Array(0..<count), normalization: normalization)
    }

    /// The examples at `indices`, in that order (repeats allowed), with the same class count.
    /// - Precondition: every index is in `0..<count`.
    public func subset(_ indices: [Int]) -> LabeledImages {
        let size = imageSize
        var out = [UInt8](repeating: 0, count: indices.count * size)
        var newLabels = [Int]()
        newLabels.reserveCapacity(indices.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "subset: index \(i) out of range 0..<\(count)")
                    (dst.baseAddress! + k * size).update(from: src.baseAddress! + i * size, count: size)
                    newLabels.append(labels[i])
                }
            }
        }
        return LabeledImages(unchecked: out, labels: newLabels, channels: channels, height: height, width: width, classes: classes)
    }

    /// Every image rotated 90° counter-clockwise (NumPy `rot90(img, 1)`); labels unchanged.
    ///
    /// ```
    /// out[c, i, j] = in[c, j, W - 1 - i]      out is [C, W, H]
    /// ```
    public func rotated90CounterClockwise() -> LabeledImages {
        let H = height, W = width, plane = H * W
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<(count * channels) {
                    let s = src.baseAddress! + p * plane, d = dst.baseAddress! + p * plane
                    for i in 0..<W {
                        for j in 0..<H { d[i * H + j] = s[j * W + (W - 1 - i)] }
                    }
                }
            }
        }
        return LabeledImages(unchecked: out, labels: labels, channels: channels, height: W, width: H, classes: classes)
    }

    /// The same images with labels mapped by `transform` into `0..<classes`.
    /// - Throws: ``DatasetError/malformed(file:field:expected:found:)`` when a mapped label is out of range.
    public func relabeled(classes: Int, _ transform: (Int) -> Int) throws -> LabeledImages {
        try LabeledImages(pixels: pixels, labels: labels.map(transform), channels: channels, height: height,
                          width: width, classes: classes, source: "relabeled")
    }
}
