// TapsData: per-image transforms of decoded photos: antialiased resize, resize-shorter-side + centre crop
// (torchvision's reference evaluation), colour conversion, and the seeded training augmentation.
// Notation: C channels, H height, W width; pixels are uint8 CHW (planar), as in DecodedImage.
import Foundation
import TapsTensor

// MARK: - Resize and crop

extension DecodedImage {
    /// The image resampled to `height x width` with a separable triangle (bilinear) filter whose support
    /// widens with the downscale factor (antialiased, as PIL's `BILINEAR` and torchvision's
    /// `Resize(antialias=True)`); upscaling is plain bilinear with half-pixel centres.
    ///
    /// ```
    /// out[c, y, x] = sum_{i,j} wy(y, i) * wx(x, j) * in[c, i, j]
    /// w(o, i) ∝ max(0, 1 - |i + 0.5 - (o + 0.5) * s| / max(s, 1)),  s = in / out, normalised to sum 1
    /// ```
    /// - Precondition: `height >= 1`, `width >= 1`.
    public func resized(height outH: Int, width outW: Int) -> DecodedImage {
        precondition(outH >= 1 && outW >= 1, "DecodedImage.resized: size \(outH)x\(outW)")
        if outH == height && outW == width { return self }
        let fx = resampleWeights(output: outW, input: width), fy = resampleWeights(output: outH, input: height)
        let H = height, W = width
        var out = [UInt8](repeating: 0, count: channels * outH * outW)
        var rows = [Float](repeating: 0, count: H * outW)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    let s = src.baseAddress! + c * H * W
                    // Horizontal pass: [H, W] -> [H, outW].
                    for y in 0..<H {
                        let row = s + y * W
                        for x in 0..<outW {
                            var acc: Float = 0
                            let start = fx.start[x], base = x * fx.taps
                            for k in 0..<fx.count[x] { acc += Float(row[start + k]) * fx.weight[base + k] }
                            rows[y * outW + x] = acc
                        }
                    }
                    // Vertical pass: [H, outW] -> [outH, outW].
                    let d = dst.baseAddress! + c * outH * outW
                    for y in 0..<outH {
                        let start = fy.start[y], base = y * fy.taps
                        for x in 0..<outW {
                            var acc: Float = 0
                            for k in 0..<fy.count[y] { acc += rows[(start + k) * outW + x] * fy.weight[base + k] }
                            d[y * outW + x] = UInt8(min(max(acc.rounded(), 0), 255))
                        }
                    }
                }
            }
        }
        return DecodedImage(pixels: out, channels: channels, height: outH, width: outW)
    }

    /// The rectangle `top..<top+height`, `left..<left+width` (clamped to the image; at least 1x1).
    public func cropped(top: Int, left: Int, height h: Int, width w: Int) -> DecodedImage {
        let t = min(max(top, 0), height - 1), l = min(max(left, 0), width - 1)
        let ch = min(max(h, 1), height - t), cw = min(max(w, 1), width - l)
        if t == 0 && l == 0 && ch == height && cw == width { return self }
        var out = [UInt8](repeating: 0, count: channels * ch * cw)
        for c in 0..<channels {
            for y in 0..<ch {
                let s = c * height * width + (t + y) * width + l, d = (c * ch + y) * cw
                for x in 0..<cw { out[d + x] = pixels[s + x] }
            }
        }
        return DecodedImage(pixels: out, channels: channels, height: ch, width: cw)
    }

    /// torchvision's evaluation transform: resize so the shorter side is `resize` (aspect kept), then take the
    /// centre `size x size` crop (`Resize(resize)` + `CenterCrop(size)`; for 224 the reference uses 256).
    /// - Precondition: `resize >= size >= 1`.
    public func resizedShorterSide(to resize: Int, centreCrop size: Int) -> DecodedImage {
        precondition(size >= 1 && resize >= size, "resizedShorterSide: resize \(resize), crop \(size)")
        let scaled: DecodedImage
        if height <= width {
            let w = max(size, Int((Double(width) * Double(resize) / Double(height)).rounded()))
            scaled = resized(height: resize, width: w)
        } else {
            let h = max(size, Int((Double(height) * Double(resize) / Double(width)).rounded()))
            scaled = resized(height: h, width: resize)
        }
        // torchvision CenterCrop: top = round((H - size) / 2).
        let top = Int((Double(scaled.height - size) / 2).rounded()), left = Int((Double(scaled.width - size) / 2).rounded())
        return scaled.cropped(top: top, left: left, height: size, width: size)
    }

    /// Grey replicated to three identical channels; RGB images are returned as they are.
    public func rgb() -> DecodedImage {
        guard channels == 1 else { return self }
        return DecodedImage(pixels: pixels + pixels + pixels, channels: 3, height: height, width: width)
    }

    /// The image with `channels` channels: grey to RGB by replication, RGB to grey by BT.601 luma.
    /// - Precondition: `channels` is 1 or 3.
    public func converted(channels target: Int) -> DecodedImage {
        precondition(target == 1 || target == 3, "DecodedImage.converted: \(target) channels")
        if target == channels { return self }
        return target == 3 ? rgb() : grey()
    }

    /// Mirrored left-right.
    public func flippedHorizontally() -> DecodedImage {
        var out = pixels
        for r in 0..<(channels * height) {
            let base = r * width
            for x in 0..<width { out[base + x] = pixels[base + width - 1 - x] }
        }
        return DecodedImage(pixels: out, channels: channels, height: height, width: width)
    }
}

/// Filter taps of a 1-D antialiased bilinear resample: for output `o`, inputs `start[o] ..< start[o] + count[o]`
/// with weights `weight[o * taps ..< o * taps + count[o]]`.
struct ResampleWeights {
    var start: [Int], count: [Int], weight: [Float], taps: Int
}

func resampleWeights(output: Int, input: Int) -> ResampleWeights {
    let scale = Double(input) / Double(output)
    let support = max(scale, 1.0)
    let taps = Int(ceil(support)) * 2 + 1
    var start = [Int](repeating: 0, count: output), count = start
    var weight = [Float](repeating: 0, count: output * taps)
    for o in 0..<output {
        let centre = (Double(o) + 0.5) * scale
        let lo = max(Int((centre - support).rounded(.down)), 0)
        let hi = min(Int((centre + support).rounded(.up)), input)
        var ws: [Double] = []
        for i in lo..<max(hi, lo + 1) where i < input {
            ws.append(max(0, 1 - abs(Double(i) + 0.5 - centre) / support))
        }
        var total = ws.reduce(0, +)
        if total <= 0 { ws = [1]; total = 1 }
        let n = min(ws.count, taps)
        start[o] = min(lo, input - 1); count[o] = n
        for k in 0..<n { weight[o * taps + k] = Float(ws[k] / total) }
    }
    return ResampleWeights(start: start, count: count, weight: weight, taps: taps)
}

// MARK: - Augmentation

/// Training-time augmentation of an image already at training resolution (`--augment`).
public enum Augmentation: String, Codable, Sendable, CaseIterable {
    /// The image as it is.
    case none
    /// Horizontal flip with probability 1/2.
    case flip
    /// torchvision `RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3))` back to the same size, then the flip.
    case cropFlip = "crop-flip"

    /// The seed of one image's augmentation: a function of the run seed, the epoch and the image index only, so
    /// the result does not depend on batch composition, thread count or timing.
    public static func seed(runSeed: UInt64, epoch: Int, index: Int) -> UInt64 {
        var h = runSeed &+ 0x9E37_79B9_7F4A_7C15
        for v in [UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: index)] {
            h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        return h
    }

    /// `image` augmented with the RNG state `seed` (see ``seed(runSeed:epoch:index:)``); same size out as in.
    public func apply(_ image: DecodedImage, seed: UInt64) -> DecodedImage {
        guard self != .none else { return image }
        var rng = SeededRNG(seed: seed)
        var out = image
        if self == .cropFlip {
            let (top, left, h, w) = Augmentation.randomResizedCrop(height: image.height, width: image.width, rng: &rng)
            out = image.cropped(top: top, left: left, height: h, width: w).resized(height: image.height, width: image.width)
        }
        if rng.nextUniform() < 0.5 { out = out.flippedHorizontally() }
        return out
    }

    /// torchvision `RandomResizedCrop.get_params` with scale (0.08, 1) and ratio (3/4, 4/3): ten tries at a random
    /// area and log-uniform aspect ratio, else the whole image (ratio clamped).
    static func randomResizedCrop(height H: Int, width W: Int, rng: inout SeededRNG) -> (Int, Int, Int, Int) {
        let area = Double(H * W)
        let logLow = log(3.0 / 4.0), logHigh = log(4.0 / 3.0)
        for _ in 0..<10 {
            let target = area * (0.08 + 0.92 * Double(rng.nextUniform()))
            let aspect = exp(logLow + (logHigh - logLow) * Double(rng.nextUniform()))
            let w = Int((target * aspect).squareRoot().rounded()), h = Int((target / aspect).squareRoot().rounded())
            if w > 0 && w <= W && h > 0 && h <= H {
                let top = Int(rng.next() % UInt64(H - h + 1)), left = Int(rng.next() % UInt64(W - w + 1))
                return (top, left, h, w)
            }
        }
        return (0, 0, H, W)
    }
}

extension LabeledImages {
    /// The image at `index` as a ``DecodedImage``.
    /// - Precondition: `index` in `0..<count`.
    public func image(at index: Int) -> DecodedImage {
        DecodedImage(pixels: Array(pixels(of: index)), channels: channels, height: height, width: width)
    }

    /// Like ``batch(_:normalization:)``, with each image augmented by `augmentation` seeded by
    /// `(seed, epoch, index)` (``Augmentation/seed(runSeed:epoch:index:)``), so the result is deterministic.
    /// - Returns: `images` `[B, C, H, W]` and `labels` `[B]`.
    public func batch(_ indices: [Int], normalization: Normalization, augmentation: Augmentation, epoch: Int,
                      seed: UInt64) -> (images: Tensor, labels: [Int]) {
        guard augmentation != .none else { return batch(indices, normalization: normalization) }
        var out = [UInt8]()
        out.reserveCapacity(indices.count * imageSize)
        for i in indices {
            out += augmentation.apply(image(at: i), seed: Augmentation.seed(runSeed: seed, epoch: epoch, index: i)).pixels
        }
        let view = LabeledImages(unchecked: out, labels: indices.map { labels[$0] }, channels: channels, height: height,
                                 width: width, classes: classes)
        return view.batch(Array(0..<indices.count), normalization: normalization)
    }
}

extension LabeledImages {
    /// The images with `channels` channels: grey replicated to RGB, or RGB to grey by BT.601 luma
    /// (``DecodedImage/grey()``). Labels unchanged.
    /// - Precondition: `target` is 1 or 3 and the images have 1 or 3 channels.
    public func converted(channels target: Int) -> LabeledImages {
        precondition((target == 1 || target == 3) && (channels == 1 || channels == 3), "converted: \(channels) -> \(target) channels")
        if target == channels { return self }
        var out = [UInt8]()
        out.reserveCapacity(count * target * height * width)
        for i in 0..<count { out += image(at: i).converted(channels: target).pixels }
        return LabeledImages(unchecked: out, labels: labels, channels: target, height: height, width: width, classes: classes)
    }
}
