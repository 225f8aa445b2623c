// TapsNN: Conv2d on input planes smaller than its kernel (ResNet's layer4 on 2x2 maps at 64 px), as one product with
// the weight unfolded over the positions. Notation as in Conv2d.swift: N batch, C in channels, O out channels,
// P = OH*OW output positions, HW = H*W input positions of one image.
import Foundation
import TapsTensor

/// The weight unfolded over the positions, `Wd [O·P, C·HW]`, kept from the forward for the backward at the same weight.
/// The buffer is the layer's (reused every step, 16 MiB for 512 channels on 2×2 maps).
final class DenseUnfoldedWeight {
    /// The weight it was built from, held from a forward to the backward (which rebuilds when handed another) and
    /// released there, so that the next in-place update of the weight (TAPS's composition, SGD) does not copy it.
    /// Nil: `values` is stale.
    var weight: Tensor?
    var geometry: ConvGeometry
    var values: [Float]
    init(weight: Tensor, geometry: ConvGeometry, values: [Float]) {
        self.weight = weight; self.geometry = geometry; self.values = values
    }
}

extension Conv2d {
    /// Largest unfolded weight the dense path builds, in floats (8M = 32 MiB; ResNet-18's 512-channel 3×3
    /// convolutions on 2×2 maps need 4M).
    static let denseWeightMaximumCount = 1 << 23

    /// Whether this convolution, on inputs of geometry `g`, takes the dense path (``forwardDense(_:weight:geometry:)``):
    /// ungrouped, and an input plane of fewer than half as many positions as the kernel has taps (`2·H·W < KH·KW`), so
    /// that im2col would mostly multiply padding. A 3×3 convolution with padding 1 on 2×2 maps makes 36 products
    /// per output channel, input channel and image where 16 touch the image: the dense product makes those 16 and
    /// needs no im2col, col2im or padding zeros. ``denseWeightPath`` overrides the choice (tests).
    func runsDense(_ g: ConvGeometry) -> Bool {
        guard groups == 1, !usesDepthwiseKernel else { return false }
        let P = g.columnCols, HW = g.height * g.width
        let (rows, o1) = outChannels.multipliedReportingOverflow(by: P)
        let (cols, o2) = inChannels.multipliedReportingOverflow(by: HW)
        let (count, o3) = rows.multipliedReportingOverflow(by: cols)
        guard !o1, !o2, !o3, count > 0, count <= Self.denseWeightMaximumCount else { return false }
        return denseWeightPath ?? (Self.denseByDefault && 2 * HW < kernelSize * kernelSize)
    }

    /// `TAPS_CONV_DENSE=0` in the environment turns the dense path off unless ``denseWeightPath`` forces it
    /// (measurements).
    static let denseByDefault = ProcessInfo.processInfo.environment["TAPS_CONV_DENSE"] != "0"

    /// ``denseTaps(_:)`` of `g`, kept by the layer for the next call with the same geometry (no allocation per step).
    func denseTapList(_ g: ConvGeometry) -> [[(q: Int, tap: Int)]] {
        if let cached = denseTapCache, cached.geometry == g { return cached.taps }
        let taps = Self.denseTaps(g)
        denseTapCache = (g, taps)
        return taps
    }

    /// For each output position `p` (in order), the input positions `q` it reads and the kernel tap `t = kh·KW + kw`
    /// that weighs them, in order of `q`. A pair `(p, q)` has at most one tap.
    static func denseTaps(_ g: ConvGeometry) -> [[(q: Int, tap: Int)]] {
        var taps: [[(q: Int, tap: Int)]] = []
        taps.reserveCapacity(g.columnCols)
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                var row: [(q: Int, tap: Int)] = []
                for kh in 0..<g.kernelHeight {
                    let iy = oy * g.strideH - g.padH + kh * g.dilationH
                    guard iy >= 0 && iy < g.height else { continue }
                    for kw in 0..<g.kernelWidth {
                        let ix = ox * g.strideW - g.padW + kw * g.dilationW
                        guard ix >= 0 && ix < g.width else { continue }
                        row.append((iy * g.width + ix, kh * g.kernelWidth + kw))
                    }
                }
                taps.append(row.sorted { $0.q < $1.q })
            }
        }
        return taps
    }

    /// `Wd[o·P + p, c·HW + q] = W[o, c, tap(p, q)]` (0 where `q` is outside `p`'s window), built in parallel over
    /// the output channels into this layer's buffer, which is kept for the backward at the same weight.
    func unfoldedWeight(_ w: Tensor, geometry g: ConvGeometry) -> DenseUnfoldedWeight {
        if let cached = denseUnfolded, cached.geometry == g, let built = cached.weight, built == w { return cached }
        let O = outChannels, C = inChannels, P = g.columnCols, HW = g.height * g.width
        let KK = kernelSize * kernelSize, width = C * HW
        let taps = denseTapList(g)
        let full = taps.allSatisfy { $0.count == HW }
        let unfolded = denseUnfolded ?? DenseUnfoldedWeight(weight: w, geometry: g, values: [])
        if unfolded.values.count != O * P * width { unfolded.values = [Float](repeating: 0, count: O * P * width) }
        unfolded.values.withUnsafeMutableBufferPointer { wdb in
            w.withBuffer { wb in
                nonisolated(unsafe) let wd = wdb.baseAddress!, wp = wb.baseAddress!
                Parallel.forEach(O) { o, _ in
                    for p in 0..<P {
                        let row = wd + (o * P + p) * width
                        if !full { row.update(repeating: 0, count: width) }
                        let pairs = taps[p]
                        for c in 0..<C {
                            let src = wp + (o * C + c) * KK, dst = row + c * HW
                            for pair in pairs { dst[pair.q] = src[pair.tap] }
                        }
                    }
                }
            }
        }
        unfolded.weight = w
        unfolded.geometry = g
        denseUnfolded = unfolded
        return unfolded
    }

    /// Forward on the dense path: `y[N, O·P] = x[N, C·HW] · Wdᵀ` (the NCHW output and input are already these
    /// matrices), plus the bias.
    func forwardDense(_ x: Tensor, weight w: Tensor, geometry g: ConvGeometry) -> Tensor {
        let N = x.shape[0], O = outChannels, P = g.columnCols, width = inChannels * g.height * g.width
        let wd = unfoldedWeight(w, geometry: g)
        let biasValue = bias?.value ?? Tensor(zeros: [0])
        let hasBias = bias != nil
        return x.withBuffer { xb in wd.values.withUnsafeBufferPointer { wdb in biasValue.withBuffer { bb in
            Tensor(shape: [N, O, g.outHeight, g.outWidth]) { yb in
                nonisolated(unsafe) let yp = yb.baseAddress!, bp = bb.baseAddress
                gemm(.none, .transposed, m: N, n: O * P, k: width, xb.baseAddress!, lda: width, wdb.baseAddress!,
                     ldb: width, yp, ldc: O * P)
                if hasBias, let bp {
                    Parallel.forEach(N) { n, _ in Self.addBias(bp, to: yp + n * O * P, channels: O, positions: P) }
                }
            }
        } } }
    }

    /// Backward on the dense path. `dx[N, C·HW] = dY[N, O·P] · Wd` (written, no col2im); when `weightGradient` is
    /// non-nil, `dWd = dYᵀ · x` into scratch, folded back to `dW[o, c, t] = Σ_{(p, q) with tap t} dWd[o·P + p, c·HW + q]`
    /// (in order of `p`, per output channel in parallel: the same sums for any thread count), written
    /// (`overwriteWeightGradient`) or added; `dL/db` accumulates when the bias trains.
    func backwardDense(_ x: Tensor, weight w: Tensor, dOut: Tensor, geometry g: ConvGeometry,
                       weightGradient: inout Tensor?, overwriteWeightGradient: Bool) -> Tensor {
        let N = x.shape[0], O = outChannels, C = inChannels, P = g.columnCols, HW = g.height * g.width
        let KK = kernelSize * kernelSize, width = C * HW
        let needW = weightGradient != nil, needX = computesInputGradient
        let wd = needX ? unfoldedWeight(w, geometry: g) : nil
        defer { denseUnfolded?.weight = nil }   // see DenseUnfoldedWeight.weight
        var gwStorage = weightGradient ?? Tensor(zeros: [0])
        weightGradient = nil
        let dx = x.withBuffer { xb in dOut.withBuffer { db in Tensor(shape: x.shape) { dxb in
            guard N > 0, let dp = db.baseAddress, let xp = xb.baseAddress else { return }
            if let wd {
                wd.values.withUnsafeBufferPointer { wdb in
                    gemm(.none, .none, m: N, n: width, k: O * P, dp, lda: O * P, wdb.baseAddress!, ldb: width,
                         dxb.baseAddress!, ldc: width)
                }
            } else {
                dxb.update(repeating: 0)
            }
            if needW {
                let taps = denseTapList(g)
                let overwrite = overwriteWeightGradient
                Workspace.withScratch(O * P * width) { dwd in
                    gemm(.transposed, .none, m: O * P, n: width, k: N, dp, lda: O * P, xp, ldb: width, dwd, ldc: width)
                    gwStorage.withMutableBuffer { gwb in
                        nonisolated(unsafe) let gwp = gwb.baseAddress!, dwd = dwd
                        Parallel.forEach(O) { o, _ in
                            let out = gwp + o * C * KK
                            if overwrite { out.update(repeating: 0, count: C * KK) }
                            for p in 0..<P {
                                let row = dwd + (o * P + p) * width
                                let pairs = taps[p]
                                for c in 0..<C {
                                    let src = row + c * HW, dst = out + c * KK
                                    for pair in pairs { dst[pair.tap] += src[pair.q] }
                                }
                            }
                        }
                    }
                }
            }
            accumulateBiasGradient(dOut: dp, batch: N, positions: P)
        } } }
        if needW { weightGradient = gwStorage }
        return dx
    }
}
