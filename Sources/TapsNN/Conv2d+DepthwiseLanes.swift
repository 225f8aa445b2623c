// TapsNN: the batch-lane depthwise kernel. The planes kernel (Conv2d+Depthwise.swift) runs short rows
// (2-32 outputs at 64 px) per tap, and its weight-gradient reduction is a serial Float sum that cannot
// vectorise. Here each channel's N planes are transposed to `[H*W, L]` (L = N rounded up to 8, the batch
// innermost), so every tap is a SIMD8 multiply-add over the batch whatever the plane size or stride.
// Notation: N batch, C channels, H W input, OH OW output, K kernel side, S stride, PAD padding, L lanes.
//
// Summation order equals the planes kernel's, so the results are the same bit for bit:
// y = b + taps in (kh, kw) order; dx and dW accumulate tap by tap, (i, j) row-major inside a tap; dW sums
// the per-image partials in batch order.
import Dispatch
import TapsTensor

extension Conv2d {
    /// Runs `body(channel, scratch)` for every channel on the shared pool (channels handed out dynamically, serially
    /// below 32 Ki multiply-adds of `work`), with `scratchCount` floats of workspace scratch per channel. The scratch
    /// is zeroed only when the batch does not fill its lanes (`zeroed`): then the lanes past the batch must hold
    /// finite values; otherwise every value the kernels read is written first. (This used to allocate and zero
    /// ~400 KiB per thread and call, and ran on `DispatchQueue.concurrentPerform`, whose sleeping threads are
    /// woken through the kernel, with channels striped statically over the threads.)
    /// Channels are handed out in blocks whose smallest output planes (`planeFloats` each) span at least a cache line
    /// (16 floats), so two workers never write the same line (EfficientNet's 2×2 and 4×4 planes at 64 px).
    private static func forEachChannel(_ C: Int, work: Int, scratchCount: Int, zeroed: Bool, planeFloats: Int,
                                       _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let block = max(1, (16 + planeFloats - 1) / max(1, planeFloats))
        func run(_ channels: Range<Int>) {
            Workspace.withScratch(scratchCount) { scratch in
                if zeroed { scratch.update(repeating: 0, count: scratchCount) }
                for c in channels { body(c, scratch) }
            }
        }
        if work < Self.depthwiseParallelMinimumWork {
            run(0..<C)
            return
        }
        Parallel.forEach((C + block - 1) / block) { b, _ in run((b * block)..<min(C, (b + 1) * block)) }
    }

    /// `dst[(h*W + w)*L + n] = src[n*stride + h*W + w]` for `n < N` (the other lanes are left as they are).
    @inline(__always)
    private static func toLanes(_ src: UnsafePointer<Float>, planeStride: Int, N: Int, HW: Int, L: Int,
                                _ dst: UnsafeMutablePointer<Float>) {
        // Position-major: the stores run contiguously through L1; the N read streams advance together.
        for i in 0..<HW {
            let d = dst + i * L, p = src + i
            for n in 0..<N { d[n] = p[n * planeStride] }
        }
    }

    /// `dst[n*stride + i] = src[i*L + n]` for `n < N`.
    @inline(__always)
    private static func fromLanes(_ src: UnsafePointer<Float>, planeStride: Int, N: Int, HW: Int, L: Int,
                                  _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<HW {
            let s = src + i * L, p = dst + i
            for n in 0..<N { p[n * planeStride] = s[n] }
        }
    }

    @inline(__always)
    private static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Batch-lane depthwise forward (same contract and values as ``depthwiseForwardPlanes(_:weight:outHeight:outWidth:)``).
    func depthwiseForwardLanes(_ x: Tensor, weight w: Tensor, outHeight OH: Int, outWidth OW: Int) -> Tensor {
        let N = x.shape[0], C = inChannels, H = x.shape[2], W = x.shape[3], K = kernelSize, S = stride, PAD = padding
        let L = (N + 7) / 8 * 8, HW = H * W, P = OH * OW
        var y = Tensor(zeros: [N, C, OH, OW])
        let biasValues = bias?.value
        x.withBuffer { xb in w.withBuffer { wb in y.withMutableBuffer { yb in
            nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
            Self.forEachChannel(C, work: N * C * P * K * K, scratchCount: (HW + P) * L, zeroed: L != N,
                               planeFloats: P) { c, scratch in
                let xl = scratch, yl = scratch + HW * L, kern = wp + c * K * K
                Self.toLanes(xp + c * HW, planeStride: C * HW, N: N, HW: HW, L: L, xl)
                let b = SIMD8<Float>(repeating: biasValues?.storage[c] ?? 0)
                for i in 0..<OH {
                    // Taps kh whose input row i*S + kh - PAD is inside the image.
                    let khLo = max(0, PAD - i * S), khHi = min(K, H + PAD - i * S)
                    for j in 0..<OW {
                        let kwLo = max(0, PAD - j * S), kwHi = min(K, W + PAD - j * S)
                        let out = yl + (i * OW + j) * L
                        for l in Swift.stride(from: 0, to: L, by: 8) {
                            var acc = biasValues == nil ? SIMD8<Float>() : b
                            if khLo < khHi && kwLo < kwHi {
                                for kh in khLo..<khHi {
                                    let row = xl + ((i * S + kh - PAD) * W + j * S - PAD) * L + l
                                    for kw in kwLo..<kwHi {
                                        acc += kern[kh * K + kw] * Self.load8(row + kw * L)
                                    }
                                }
                            }
                            Self.store8(acc, out + l)
                        }
                    }
                }
                Self.fromLanes(yl, planeStride: C * P, N: N, HW: P, L: L, yp + c * P)
            }
        } } }
        return y
    }

    /// Batch-lane depthwise backward (same contract and values as ``depthwiseBackwardPlanes(_:weight:dOut:weightGradient:)``).
    func depthwiseBackwardLanes(_ x: Tensor, weight w: Tensor, dOut: Tensor, weightGradient: inout Tensor?) -> Tensor {
        let N = x.shape[0], C = inChannels, H = x.shape[2], W = x.shape[3], K = kernelSize, S = stride, PAD = padding
        let OH = dOut.shape[2], OW = dOut.shape[3], L = (N + 7) / 8 * 8, HW = H * W, P = OH * OW
        var dx = Tensor(zeros: x.shape)
        let needW = weightGradient != nil
        var gw = weightGradient ?? Tensor(zeros: [0])
        weightGradient = nil
        x.withBuffer { xb in w.withBuffer { wb in dOut.withBuffer { db in dx.withMutableBuffer { dxb in
            gw.withMutableBuffer { gwb in
                nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, dp = db.baseAddress!
                nonisolated(unsafe) let dxp = dxb.baseAddress!, gp = gwb.baseAddress
                Self.forEachChannel(C, work: N * C * P * K * K, scratchCount: (2 * HW + P) * L + L,
                                   zeroed: L != N, planeFloats: P) { c, scratch in
                    let xl = scratch, dxl = scratch + HW * L, dyl = scratch + 2 * HW * L, acc = dyl + P * L
                    let kern = wp + c * K * K
                    if needW { Self.toLanes(xp + c * HW, planeStride: C * HW, N: N, HW: HW, L: L, xl) }
                    Self.toLanes(dp + c * P, planeStride: C * P, N: N, HW: P, L: L, dyl)
                    dxl.update(repeating: 0, count: HW * L)
                    for kh in 0..<K {
                        let (i0, i1) = Self.validOutputs(tap: kh, stride: S, padding: PAD, size: H, outSize: OH)
                        for kw in 0..<K {
                            let (j0, j1) = Self.validOutputs(tap: kw, stride: S, padding: PAD, size: W, outSize: OW)
                            let v = kern[kh * K + kw]
                            for l in Swift.stride(from: 0, to: L, by: 8) {
                                var a = SIMD8<Float>()
                                if j0 < j1 {
                                    for i in i0..<i1 {
                                        let off = ((i * S + kh - PAD) * W + kw - PAD) * L + l
                                        let g = dyl + i * OW * L + l
                                        for j in j0..<j1 {
                                            let gv = Self.load8(g + j * L), at = off + j * S * L
                                            Self.store8(Self.load8(dxl + at) + v * gv, dxl + at)
                                            if needW { a += gv * Self.load8(xl + at) }
                                        }
                                    }
                                }
                                Self.store8(a, acc + l)
                            }
                            if let gp, needW {
                                // Per-image partial sums, added in batch order (as the planes kernel).
                                var s = gp[c * K * K + kh * K + kw]
                                for n in 0..<N { s += acc[n] }
                                gp[c * K * K + kh * K + kw] = s
                            }
                        }
                    }
                    Self.fromLanes(dxl, planeStride: C * HW, N: N, HW: HW, L: L, dxp + c * HW)
                }
            }
        } } } }
        if needW { weightGradient = gw }
        accumulateDepthwiseBiasGradient(dOut)
        return dx
    }
}
