// TapsTensor: im2col / col2im writing into a wider column matrix, so several images share one GEMM.
// Notation inside kernels: C input channels, H W input size, KH KW kernel, OH OW output size,
// P = OH*OW output positions of one image, LD the row stride (leading dimension) of the column matrix.

/// Unfolds one image `[C, H, W]` into columns `[C*KH*KW, OH*OW]` stored with row stride `rowStride`
/// (`rowStride >= OH*OW`), zero padding:
///
/// ```
/// columns[(c*KH + kh)*KW + kw, oh*OW + ow] = image[c, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw]   (0 outside)
/// ```
///
/// Writing image `n` of a batch at `columns + n*OH*OW` with `rowStride = N*OH*OW` builds the column
/// matrix `[C*KH*KW, N*OH*OW]` of the whole batch, so one GEMM convolves every image. Same contract as
/// ``im2col(_:_:_:)`` when `rowStride == OH*OW` (that function is the readable reference).
/// References: Caffe `im2col_cpu`; PyTorch `nn.Unfold`.
public func im2col(_ image: UnsafePointer<Float>, _ g: ConvGeometry, _ columns: UnsafeMutablePointer<Float>,
                   rowStride: Int) {
    let OH = g.outHeight, OW = g.outWidth, H = g.height, W = g.width
    let sh = g.strideH, sw = g.strideW
    precondition(rowStride >= OH * OW, "im2col: rowStride \(rowStride) < \(OH * OW)")
    if sh == 1 && sw == 1 && OW == W {
        im2colSamePitch(image, g, columns, rowStride: rowStride)
        return
    }
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let dst = columns + row * rowStride
                let offH = kh * g.dilationH - g.padH, offW = kw * g.dilationW - g.padW
                let (owStart, owEnd) = validRange(offset: offW, stride: sw, input: W, output: OW)
                for oh in 0..<OH {
                    let ih = oh * sh + offH
                    let d = dst + oh * OW
                    if ih < 0 || ih >= H || owStart >= owEnd {
                        d.update(repeating: 0, count: OW)
                        continue
                    }
                    let src = plane + ih * W + offW
                    if owStart > 0 { d.update(repeating: 0, count: owStart) }
                    if sw == 1 {
                        (d + owStart).update(from: src + owStart, count: owEnd - owStart)
                    } else {
                        for ow in owStart..<owEnd { d[ow] = src[ow * sw] }
                    }
                    if owEnd < OW { (d + owEnd).update(repeating: 0, count: OW - owEnd) }
                }
                row += 1
            }
        }
    }
}

/// ``im2col(_:_:_:rowStride:)`` when both strides are 1 and `OW == W` (every "same" convolution, and 1×1):
/// input and column rows then have the same pitch, so each column row is one shifted copy of the plane
/// (`columns[row, t] = plane[t + offH*W + offW]`) followed by zeroing the out-of-image columns, instead
/// of a copy call per output row (2-16 floats at 64 px).
private func im2colSamePitch(_ image: UnsafePointer<Float>, _ g: ConvGeometry, _ columns: UnsafeMutablePointer<Float>,
                             rowStride: Int) {
    let OH = g.outHeight, OW = g.outWidth, H = g.height, W = g.width, P = OH * OW
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for kh in 0..<g.kernelHeight {
            let offH = kh * g.dilationH - g.padH
            // Rows oh with 0 <= oh + offH < H.
            let ohStart = min(max(0, -offH), OH), ohEnd = max(min(OH, H - offH), ohStart)
            for kw in 0..<g.kernelWidth {
                let d = columns + row * rowStride
                row += 1
                let offW = kw * g.dilationW - g.padW
                let (owStart, owEnd) = validRange(offset: offW, stride: 1, input: W, output: OW)
                if ohStart >= ohEnd || owStart >= owEnd {
                    d.update(repeating: 0, count: P)
                    continue
                }
                let tStart = ohStart * OW + owStart, tEnd = (ohEnd - 1) * OW + owEnd
                if tStart > 0 { d.update(repeating: 0, count: tStart) }
                (d + tStart).update(from: plane + tStart + offH * W + offW, count: tEnd - tStart)
                if tEnd < P { (d + tEnd).update(repeating: 0, count: P - tEnd) }
                if owStart > 0 || owEnd < OW {
                    // The shifted copy wrapped neighbouring rows' pixels into the padding columns.
                    for oh in ohStart..<ohEnd {
                        let r = d + oh * OW
                        for ow in 0..<owStart { r[ow] = 0 }
                        for ow in owEnd..<OW { r[ow] = 0 }
                    }
                }
            }
        }
    }
}

/// Folds columns `[C*KH*KW, OH*OW]` stored with row stride `rowStride` back into an image `[C, H, W]`,
/// **adding** into `image` (the adjoint of ``im2col(_:_:_:rowStride:)``; overlapping windows sum).
/// The caller zeroes `image` first.
public func col2im(_ columns: UnsafePointer<Float>, _ g: ConvGeometry, _ image: UnsafeMutablePointer<Float>,
                   rowStride: Int) {
    let OH = g.outHeight, OW = g.outWidth, H = g.height, W = g.width
    let sh = g.strideH, sw = g.strideW
    precondition(rowStride >= OH * OW, "col2im: rowStride \(rowStride) < \(OH * OW)")
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let src = columns + row * rowStride
                let offH = kh * g.dilationH - g.padH, offW = kw * g.dilationW - g.padW
                let (owStart, owEnd) = validRange(offset: offW, stride: sw, input: W, output: OW)
                row += 1
                if owStart >= owEnd { continue }
                if sh == 1 && sw == 1 && OW == W && owStart == 0 && owEnd == OW {
                    // Whole rows valid and equal pitches: one contiguous add over the valid rows.
                    let ohStart = min(max(0, -offH), OH), ohEnd = max(min(OH, H - offH), ohStart)
                    let dst = plane + (ohStart + offH) * W + offW, s = src + ohStart * OW
                    for t in 0..<((ohEnd - ohStart) * OW) { dst[t] += s[t] }
                    continue
                }
                for oh in 0..<OH {
                    let ih = oh * sh + offH
                    if ih < 0 || ih >= H { continue }
                    let dst = plane + ih * W + offW
                    let s = src + oh * OW
                    if sw == 1 {
                        for ow in owStart..<owEnd { dst[ow] += s[ow] }
                    } else {
                        for ow in owStart..<owEnd { dst[ow * sw] += s[ow] }
                    }
                }
            }
        }
    }
}

/// ``col2im(_:_:_:rowStride:)`` for scratch columns: identical sums into `image`, but when both strides are 1
/// and `OW == W` (every "same" convolution) each column row is added as one contiguous shifted run, after
/// zeroing the entries of `columns` that fall in the left/right padding (they would otherwise land on the
/// neighbouring row's edge pixels). `columns` is left with those entries zeroed; use it on scratch only.
/// Replaces a loop over output rows of 2-16 floats each (col2im was 10% of a ResNet-18 step at 64 px).
///
/// With `overwrite`, `image` is written rather than added to, so the caller need not zero it: in a "same"
/// convolution (strides 1, output size = input size) with a centre tap (offset 0 on both axes) that tap's
/// column row covers every pixel exactly once, so it is copied first and the other taps add; other geometries
/// zero `image` first. Saves the zero fill of `dL/dx` (a memset over the input per image and layer).
public func col2imConsumingColumns(_ columns: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                                   _ image: UnsafeMutablePointer<Float>, rowStride: Int, overwrite: Bool = false) {
    let OH = g.outHeight, OW = g.outWidth, H = g.height, W = g.width
    let KH = g.kernelHeight, KW = g.kernelWidth
    guard g.strideH == 1 && g.strideW == 1 && OW == W else {
        if overwrite { image.update(repeating: 0, count: g.channels * H * W) }
        col2im(UnsafePointer(columns), g, image, rowStride: rowStride)
        return
    }
    precondition(rowStride >= OH * OW, "col2im: rowStride \(rowStride) < \(OH * OW)")
    // The centre tap (kh*dilation == pad on both axes), when output and input planes coincide.
    let centreH = g.padH % g.dilationH == 0 ? g.padH / g.dilationH : -1
    let centreW = g.padW % g.dilationW == 0 ? g.padW / g.dilationW : -1
    let copiesCentre = overwrite && OH == H && 0 <= centreH && centreH < KH && 0 <= centreW && centreW < KW
    if overwrite && !copiesCentre { image.update(repeating: 0, count: g.channels * H * W) }
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * H * W
        if copiesCentre {
            plane.update(from: columns + (c * KH * KW + centreH * KW + centreW) * rowStride, count: H * W)
        }
        for kh in 0..<KH {
            let offH = kh * g.dilationH - g.padH
            let ohStart = min(max(0, -offH), OH), ohEnd = max(min(OH, H - offH), ohStart)
            for kw in 0..<KW {
                let s = columns + row * rowStride
                row += 1
                if copiesCentre && kh == centreH && kw == centreW { continue }
                let offW = kw * g.dilationW - g.padW
                let (owStart, owEnd) = validRange(offset: offW, stride: 1, input: W, output: OW)
                if ohStart >= ohEnd || owStart >= owEnd { continue }
                if owStart > 0 || owEnd < OW {
                    for oh in ohStart..<ohEnd {
                        let r = s + oh * OW
                        for ow in 0..<owStart { r[ow] = 0 }
                        for ow in owEnd..<OW { r[ow] = 0 }
                    }
                }
                let tStart = ohStart * OW + owStart, tEnd = (ohEnd - 1) * OW + owEnd
                let dst = plane + offH * W + offW
                for t in tStart..<tEnd { dst[t] += s[t] }
            }
        }
    }
}

/// Output columns `ow` in `start..<end` whose input column `ow*stride + offset` lies in `0..<input`.
@inline(__always)
private func validRange(offset: Int, stride: Int, input: Int, output: Int) -> (Int, Int) {
    // ow*stride + offset >= 0  <=>  ow >= ceil(-offset / stride)
    let start = offset >= 0 ? 0 : (-offset + stride - 1) / stride
    // ow*stride + offset <= input - 1  <=>  ow <= floor((input - 1 - offset) / stride)
    let last = input - 1 - offset
    let end = last < 0 ? 0 : last / stride + 1
    return (min(start, output), min(max(end, 0), output))
}
