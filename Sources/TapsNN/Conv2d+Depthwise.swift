// TapsNN: a direct kernel for depthwise convolution (groups = in = out channels, dilation 1), used by
// Conv2d instead of im2col + GEMM: with one channel per group the GEMMs are [1, K]·[K, P] products that
// OpenBLAS cannot speed up, and im2col would copy every input K times.
// Notation: N batch, C channels, H W input, OH OW output, K kernel side, S stride, PAD padding.
import Dispatch
import TapsTensor

extension Conv2d {
    /// Whether ``forward(_:weight:mode:)`` takes the direct depthwise path.
    var usesDepthwiseKernel: Bool {
        directDepthwise && groups == inChannels && groups == outChannels && dilation == 1
    }

    /// Output range `[lo, hi)` of positions `i` whose tap `i*S + k - PAD` falls inside `0..<size`.
    @inline(__always)
    static func validOutputs(tap k: Int, stride S: Int, padding PAD: Int, size: Int, outSize: Int) -> (Int, Int) {
        // i*S + k - PAD >= 0  ⇔  i >= ceil((PAD - k) / S);   i*S + k - PAD <= size - 1  ⇔  i <= floor((size - 1 + PAD - k) / S)
        let lo = max(0, (PAD - k + S - 1) / S * (PAD - k > 0 ? 1 : 0))
        let hiInclusive = (size - 1 + PAD - k) >= 0 ? (size - 1 + PAD - k) / S : -1
        // Never an inverted range (a tap that reaches no output, e.g. 5x5 padding 2 on a 1x1 map): empty, not lo > hi.
        return (lo, max(lo, min(outSize, hiInclusive + 1)))
    }

    /// Multiply-adds below which a depthwise kernel runs serially (a parallel region would cost more than it saves).
    static let depthwiseParallelMinimumWork = 32_768

    /// Runs `body(plane)` for every plane in `0..<planes` on the shared pool (``Parallel/forEach(_:_:)``: planes
    /// handed out dynamically), or serially below 32 Ki multiply-adds of `work`.
    /// Calls `body(kh, kw, i0, i1, j0, j1)` for every tap `(kh, kw)` of a `K×K` kernel that reaches some output column:
    /// output rows `i0..<i1` and columns `j0..<j1` read inside the `input` plane through that tap (``validOutputs``).
    /// Taps whose row range is empty are still called (their loops do nothing; the backward writes their 0 partial).
    @inline(__always)
    static func forEachTap(_ K: Int, stride S: Int, padding PAD: Int, input: (height: Int, width: Int),
                           output: (height: Int, width: Int), _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        for kh in 0..<K {
            let (i0, i1) = validOutputs(tap: kh, stride: S, padding: PAD, size: input.height, outSize: output.height)
            for kw in 0..<K {
                let (j0, j1) = validOutputs(tap: kw, stride: S, padding: PAD, size: input.width, outSize: output.width)
                if j0 >= j1 { continue }
                body(kh, kw, i0, i1, j0, j1)
            }
        }
    }

    static func forEachPlane(_ planes: Int, work: Int, _ body: (Int) -> Void) {
        if work < Self.depthwiseParallelMinimumWork {
            for p in 0..<planes { body(p) }
            return
        }
        Parallel.forEach(planes) { p, _ in body(p) }
    }

    /// Whether the batch-lane kernels (Conv2d+DepthwiseLanes.swift) run for a batch of `n` images whose output rows
    /// hold `outputWidth` positions.
    func usesBatchLanes(_ n: Int, outputWidth: Int) -> Bool {
        switch depthwiseKernel {
        case .planes: return false
        case .batchLanes: return true
        case .automatic: return n >= Conv2d.batchLanesMinimumBatch && outputWidth < Conv2d.planesMinimumOutputWidth
        }
    }

    /// Depthwise forward: `y[n, c, i, j] = b[c] + Σ_{kh, kw} W[c, 0, kh, kw] · x[n, c, i*S + kh - PAD, j*S + kw - PAD]`.
    func depthwiseForward(_ x: Tensor, weight w: Tensor, outHeight OH: Int, outWidth OW: Int) -> Tensor {
        usesBatchLanes(x.shape[0], outputWidth: OW) ? depthwiseForwardLanes(x, weight: w, outHeight: OH, outWidth: OW)
                                   : depthwiseForwardPlanes(x, weight: w, outHeight: OH, outWidth: OW)
    }

    /// Depthwise backward (see ``depthwiseBackwardPlanes(_:weight:dOut:weightGradient:)``).
    func depthwiseBackward(_ x: Tensor, weight w: Tensor, dOut: Tensor, weightGradient: inout Tensor?) -> Tensor {
        usesBatchLanes(x.shape[0], outputWidth: dOut.shape[3])
            ? depthwiseBackwardLanes(x, weight: w, dOut: dOut, weightGradient: &weightGradient)
                                   : depthwiseBackwardPlanes(x, weight: w, dOut: dOut, weightGradient: &weightGradient)
    }

    /// Plane-by-plane depthwise forward (small batches; the reference of the batch-lane kernel).
    func depthwiseForwardPlanes(_ x: Tensor, weight w: Tensor, outHeight OH: Int, outWidth OW: Int) -> Tensor {
        let N = x.shape[0], C = inChannels, H = x.shape[2], W = x.shape[3], K = kernelSize, S = stride, PAD = padding
        var y = Tensor(zeros: [N, C, OH, OW])
        let biasValues = bias?.value
        x.withBuffer { xb in w.withBuffer { wb in y.withMutableBuffer { yb in
            nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
            Self.forEachPlane(N * C, work: N * C * OH * OW * K * K) { plane in
                let c = plane % C
                let src = xp + plane * H * W, dst = yp + plane * OH * OW, kern = wp + c * K * K
                if let biasValues { dst.update(repeating: biasValues.storage[c], count: OH * OW) }
                Self.forEachTap(K, stride: S, padding: PAD, input: (H, W), output: (OH, OW)) { kh, kw, i0, i1, j0, j1 in
                    let v = kern[kh * K + kw]
                    for i in i0..<i1 {
                        let row = src + (i * S + kh - PAD) * W + kw - PAD, out = dst + i * OW
                        if S == 1 {
                            for j in j0..<j1 { out[j] += v * row[j] }
                        } else {
                            for j in j0..<j1 { out[j] += v * row[j * S] }
                        }
                    }
                }
            }
        } } }
        return y
    }

    /// Depthwise backward: returns `dx` and accumulates `dW` into `weightGradient` (when non-nil):
    /// `dx[n, c, i*S + kh - PAD, j*S + kw - PAD] += W[c, kh, kw] · dy[n, c, i, j]`,
    /// `dW[c, kh, kw] += Σ_{n, i, j} dy[n, c, i, j] · x[n, c, i*S + kh - PAD, j*S + kw - PAD]`.
    func depthwiseBackwardPlanes(_ x: Tensor, weight w: Tensor, dOut: Tensor, weightGradient: inout Tensor?) -> Tensor {
        let N = x.shape[0], C = inChannels, H = x.shape[2], W = x.shape[3], K = kernelSize, S = stride, PAD = padding
        let OH = dOut.shape[2], OW = dOut.shape[3]
        var dx = Tensor(zeros: x.shape)
        // Per-plane weight gradients, summed over the batch afterwards (planes run in parallel).
        let needW = weightGradient != nil
        let partials = needW ? N * C * K * K : 0
        Workspace.withScratch(partials) { perPlane in
            perPlane.update(repeating: 0, count: partials)   // taps that reach no output leave their partial at 0
            x.withBuffer { xb in w.withBuffer { wb in dOut.withBuffer { db in dx.withMutableBuffer { dxb in
                do {
                    nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, dp = db.baseAddress!
                    nonisolated(unsafe) let dxp = dxb.baseAddress!, gp: UnsafeMutablePointer<Float>? = needW ? perPlane : nil
                    Self.forEachPlane(N * C, work: N * C * OH * OW * K * K) { plane in
                        let c = plane % C
                        let src = xp + plane * H * W, dsrc = dxp + plane * H * W, dy = dp + plane * OH * OW
                        let kern = wp + c * K * K
                        Self.forEachTap(K, stride: S, padding: PAD, input: (H, W), output: (OH, OW)) { kh, kw, i0, i1, j0, j1 in
                            let v = kern[kh * K + kw]
                            var acc: Float = 0
                            for i in i0..<i1 {
                                let off = (i * S + kh - PAD) * W + kw - PAD
                                let row = src + off, drow = dsrc + off, g = dy + i * OW
                                if S == 1 {
                                    for j in j0..<j1 { drow[j] += v * g[j]; acc += g[j] * row[j] }
                                } else {
                                    for j in j0..<j1 { drow[j * S] += v * g[j]; acc += g[j] * row[j * S] }
                                }
                            }
                            if let gp { gp[plane * K * K + kh * K + kw] = acc }
                        }
                    }
                }
            } } } }
            if needW {
                weightGradient!.withMutableBuffer { g in
                    for n in 0..<N {
                        for i in 0..<(C * K * K) { g[i] += perPlane[n * C * K * K + i] }
                    }
                }
            }
        }
        accumulateDepthwiseBiasGradient(dOut)
        return dx
    }

    /// `db[c] += Σ_{n,i,j} dy[n, c, i, j]` (per-plane Float sums, added in batch order) when the bias trains.
    func accumulateDepthwiseBiasGradient(_ dOut: Tensor) {
        guard let bias, bias.requiresGrad else { return }
        let N = dOut.shape[0], C = dOut.shape[1], P = dOut.shape[2] * dOut.shape[3]
        bias.grad.withMutableBuffer { gb in dOut.withBuffer { db in
            for n in 0..<N {
                for c in 0..<C {
                    let plane = db.baseAddress! + (n * C + c) * P
                    var s: Float = 0
                    for i in 0..<P { s += plane[i] }
                    gb[c] += s
                }
            }
        } }
    }
}
