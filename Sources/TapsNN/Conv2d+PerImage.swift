// TapsNN: Conv2d image by image, each worker keeping its image's column matrix in its own cache.
// Notation as in Conv2d.swift: N batch, C in channels, O out channels, G groups, Cg = C/G, Og = O/G,
// P = OH*OW output positions of one image, K = Cg*KH*KW rows of a group's columns.
import TapsTensor

extension Conv2d {
    /// Input-channel blocks (or image parts) the weight gradient is split into on the per-image path: twice
    /// ``gemmBlocks``, so two workers stay balanced when another program slows one of them. Fixed by the
    /// machine, never by ``Parallel/threads``, so the sums do not depend on the thread count.
    static var weightGradientPieces: Int { 2 * gemmBlocks }

    /// Forward on the per-image path (``perImageMinimumPositions``): for every image (in parallel, dynamically
    /// handed out) and group, `cols = im2col(x[n, g])` into the worker's scratch `[K, P]`, then
    /// `y[n, g] = W_g[Og, K] · cols` written straight into the NCHW output (no scatter), plus the bias.
    func forwardPerImage(_ x: Tensor, weight w: Tensor, geometry g: ConvGeometry) -> Tensor {
        let N = x.shape[0], C = inChannels, O = outChannels, G = groups
        let Cg = C / G, Og = O / G, P = g.columnCols, K = g.columnRows, HW = g.height * g.width
        let biasValue = bias?.value ?? Tensor(zeros: [0])
        let hasBias = bias != nil
        return x.withBuffer { xb in w.withBuffer { wb in biasValue.withBuffer { bb in
            Tensor(shape: [N, O, g.outHeight, g.outWidth]) { yb in
                nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
                nonisolated(unsafe) let bp = bb.baseAddress
                Parallel.forEach(N) { n, _ in
                    Workspace.withScratch(K * P) { cols in
                        for gi in 0..<G {
                            let yg = yp + (n * O + gi * Og) * P
                            im2col(xp + n * C * HW + gi * Cg * HW, g, cols, rowStride: P)
                            gemmUnsplit(.none, .none, m: Og, n: P, k: K, wp + gi * Og * K, lda: K, cols, ldb: P,
                                        yg, ldc: P)
                            if hasBias, let bp { Self.addBias(bp + gi * Og, to: yg, channels: Og, positions: P) }
                        }
                    }
                }
            }
        } } }
    }

    /// Backward on the per-image path. Returns `dL/dx` (zeros when ``computesInputGradient`` is false) and
    /// writes (`overwriteWeightGradient`) or accumulates `dL/dW` into `weightGradient` when it is non-nil;
    /// accumulates `dL/db` when the bias trains.
    ///
    /// - `dx[n, g] = col2im(W_gᵀ · dY[n, g])`, per image in parallel; the product `[K, P]` is folded back by the
    ///   worker that computed it, while it is still in its cache. No gather of `dY` (each image's planes are
    ///   already a `[Og, P]` matrix).
    /// - `dW_g = Σ_n dY[n, g] · im2col(x[n, g])ᵀ`, split by input-channel blocks (each block unfolds only its
    ///   channels and owns its columns of `dW`, summing the images in order), or, with fewer input channels
    ///   than ``weightGradientPieces`` (a stem on RGB images), by image parts whose partial sums are added in
    ///   part order. Either split is fixed by the shape and the machine, so results do not depend on the
    ///   thread count.
    func backwardPerImage(_ x: Tensor, weight w: Tensor, dOut: Tensor, geometry g: ConvGeometry,
                          weightGradient: inout Tensor?, overwriteWeightGradient: Bool) -> Tensor {
        let N = x.shape[0], C = inChannels, O = outChannels, G = groups
        let Cg = C / G, Og = O / G, P = g.columnCols, K = g.columnRows, HW = g.height * g.width
        let taps = kernelSize * kernelSize, GOK = G * Og * K
        let needW = weightGradient != nil, needX = computesInputGradient
        var gwStorage = weightGradient ?? Tensor(zeros: [0])
        weightGradient = nil
        let pieces = Self.weightGradientPieces
        let byChannels = Cg >= pieces, parts = min(N, pieces)
        let dx = x.withBuffer { xb in w.withBuffer { wb in dOut.withBuffer { db in Tensor(shape: x.shape) { dxb in
            if !needX { dxb.update(repeating: 0) }
            gwStorage.withMutableBuffer { gwb in
                nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, dp = db.baseAddress!
                nonisolated(unsafe) let dxp = dxb.baseAddress!, gwp = gwb.baseAddress
                if needW && N > 0, let gwp {
                    if byChannels {
                        Parallel.forEach(G * pieces) { item, _ in
                            let gi = item / pieces, block = item % pieces
                            let c0 = block * Cg / pieces, c1 = (block + 1) * Cg / pieces
                            var sub = g
                            sub.channels = c1 - c0
                            let rows = sub.columnRows
                            Workspace.withScratch(rows * P) { cols in
                                for n in 0..<N {
                                    im2col(xp + n * C * HW + (gi * Cg + c0) * HW, sub, cols, rowStride: P)
                                    gemmUnsplit(.none, .transposed, m: Og, n: rows, k: P, dp + (n * O + gi * Og) * P,
                                                lda: P, cols, ldb: P, beta: n == 0 && overwriteWeightGradient ? 0 : 1,
                                                gwp + gi * Og * K + c0 * taps, ldc: K)
                                }
                            }
                        }
                    } else {
                        Workspace.withScratch(parts * GOK) { partials in
                            Parallel.forEach(parts) { part, _ in
                                let n0 = part * N / parts, n1 = (part + 1) * N / parts
                                Workspace.withScratch(K * P) { cols in
                                    for gi in 0..<G {
                                        for n in n0..<n1 {
                                            im2col(xp + n * C * HW + gi * Cg * HW, g, cols, rowStride: P)
                                            gemmUnsplit(.none, .transposed, m: Og, n: K, k: P,
                                                        dp + (n * O + gi * Og) * P, lda: P, cols, ldb: P,
                                                        beta: n == n0 ? 0 : 1, partials + part * GOK + gi * Og * K,
                                                        ldc: K)
                                        }
                                    }
                                }
                            }
                            let overwrite = overwriteWeightGradient
                            Parallel.forRanges(GOK, grain: Parallel.elementwiseGrain) { range in
                                for i in range {
                                    var s: Float = overwrite ? 0 : gwp[i]
                                    for part in 0..<parts { s += partials[part * GOK + i] }
                                    gwp[i] = s
                                }
                            }
                        }
                    }
                }
                if needX {
                    Parallel.forEach(N) { n, _ in
                        Workspace.withScratch(K * P) { cols in
                            for gi in 0..<G {
                                gemmUnsplit(.transposed, .none, m: K, n: P, k: Og, wp + gi * Og * K, lda: K,
                                            dp + (n * O + gi * Og) * P, ldb: P, cols, ldc: P)
                                let dst = dxp + n * C * HW + gi * Cg * HW
                                col2imConsumingColumns(cols, g, dst, rowStride: P, overwrite: true)
                            }
                        }
                    }
                }
            }
            if N > 0, let dp = db.baseAddress { accumulateBiasGradient(dOut: dp, batch: N, positions: P) }
        } } } }
        if needW { weightGradient = gwStorage }
        return dx
    }

    /// `planes[o, i] += bias[o]` for `channels` output planes of `positions` values each (the bias of a forward).
    static func addBias(_ bias: UnsafePointer<Float>, to planes: UnsafeMutablePointer<Float>, channels: Int, positions P: Int) {
        for o in 0..<channels {
            let plane = planes + o * P, v = bias[o]
            for i in 0..<P { plane[i] += v }
        }
    }

    /// `db[o] += Σ_{n,i} dY[n, o, i]` over `dY [N, O, P]` when the bias trains: per channel, images in order, so
    /// the sum is the same for any thread count.
    func accumulateBiasGradient(dOut dp: UnsafePointer<Float>, batch N: Int, positions P: Int) {
        guard let bias, bias.requiresGrad else { return }
        let O = outChannels
        bias.grad.withMutableBuffer { gb in
            nonisolated(unsafe) let gbp = gb.baseAddress!, dp = dp
            Parallel.forEach(O) { o, _ in
                var s = 0.0
                for n in 0..<N { s += vectorSum(dp + (n * O + o) * P, P) }
                gbp[o] += Float(s)
            }
        }
    }
}
