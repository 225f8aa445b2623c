// TapsData: bring images to a base network's input size (bilinear resize, grey to RGB).

extension LabeledImages {
    /// The images resized bilinearly to `height x width` and, when `channels` is 3 and the images are grey,
    /// replicated to three identical channels. Labels and class count are unchanged.
    ///
    /// Sampling follows PyTorch `F.interpolate(mode="bilinear", align_corners=False)` (half-pixel centres,
    /// edges clamped); results are rounded to the nearest uint8.
    ///
    /// ```
    /// src_y = (y + 0.5) * H_in / H_out - 0.5      (clamped to [0, H_in - 1]); likewise x
    /// ```
    /// - Precondition: `channels` equals the images' channel count, or is 3 with grey (1-channel) images.
    public func resized(height outH: Int, width outW: Int, channels outC: Int) -> LabeledImages {
        precondition(outC == channels || (outC == 3 && channels == 1),
                     "resized: cannot turn \(channels)-channel images into \(outC) channels")
        precondition(outH > 0 && outW > 0, "resized: size must be positive, got \(outH)x\(outW)")
        let H = height, W = width
        // Precomputed source rows/columns and weights (separable bilinear).
        func taps(_ outN: Int, _ inN: Int) -> (lo: [Int], hi: [Int], w: [Float]) {
            var lo = [Int](repeating: 0, count: outN), hi = lo, w = [Float](repeating: 0, count: outN)
            let scale = Float(inN) / Float(outN)
            for o in 0..<outN {
                let src = min(max((Float(o) + 0.5) * scale - 0.5, 0), Float(inN - 1))
                lo[o] = Int(src)
                hi[o] = min(lo[o] + 1, inN - 1)
                w[o] = src - Float(lo[o])
            }
            return (lo, hi, w)
        }
        let ty = taps(outH, H), tx = taps(outW, W)
        let outPlane = outH * outW, outSize = outC * outPlane
        var out = [UInt8](repeating: 0, count: count * outSize)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var plane = [Float](repeating: 0, count: outPlane)
                for n in 0..<count {
                    for c in 0..<channels {
                        let s = src.baseAddress! + n * imageSize + c * H * W
                        for y in 0..<outH {
                            let r0 = s + ty.lo[y] * W, r1 = s + ty.hi[y] * W, wy = ty.w[y]
                            for x in 0..<outW {
                                let a = Float(r0[tx.lo[x]]) * (1 - tx.w[x]) + Float(r0[tx.hi[x]]) * tx.w[x]
                                let b = Float(r1[tx.lo[x]]) * (1 - tx.w[x]) + Float(r1[tx.hi[x]]) * tx.w[x]
                                plane[y * outW + x] = a * (1 - wy) + b * wy
                            }
                        }
                        let copies = channels == outC ? [c] : Array(0..<outC)
                        for k in copies {
                            let d = dst.baseAddress! + n * outSize + k * outPlane
                            for i in 0..<outPlane { d[i] = UInt8(min(max(plane[i].rounded(), 0), 255)) }
                        }
                    }
                }
            }
        }
        return LabeledImages(unchecked: out, labels: labels, channels: outC, height: outH, width: outW, classes: classes)
    }
}

extension TaskData {
    /// Train and test images resized to `height x width` with `channels` channels (see
    /// ``LabeledImages/resized(height:width:channels:)``).
    public func resized(height: Int, width: Int, channels: Int) -> TaskData {
        var copy = self
        copy.train = train.resized(height: height, width: width, channels: channels)
        copy.test = test.resized(height: height, width: width, channels: channels)
        return copy
    }
}
