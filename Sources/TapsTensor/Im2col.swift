// TapsTensor: im2col / col2im for convolution as GEMM.
// Notation inside kernels: C input channels, H W input size, KH KW kernel, OH OW output size.

/// Geometry of a 2-D convolution or pooling window over one NCHW image.
public struct ConvGeometry: Sendable, Equatable {
    public var channels: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideH: Int, strideW: Int
    public var padH: Int, padW: Int
    public var dilationH: Int, dilationW: Int

    /// Creates a geometry; output size follows PyTorch `Conv2d`:
    /// `out = floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1`.
    public init(channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
                strideH: Int = 1, strideW: Int = 1, padH: Int = 0, padW: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideH = strideH; self.strideW = strideW; self.padH = padH; self.padW = padW
        self.dilationH = dilationH; self.dilationW = dilationW
    }

    /// Output height.
    public var outHeight: Int { (height + 2 * padH - dilationH * (kernelHeight - 1) - 1) / strideH + 1 }
    /// Output width.
    public var outWidth: Int { (width + 2 * padW - dilationW * (kernelWidth - 1) - 1) / strideW + 1 }
    /// Rows of the column matrix: `channels * kernelHeight * kernelWidth`.
    public var columnRows: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix: `outHeight * outWidth`.
    public var columnCols: Int { outHeight * outWidth }
}

/// Unfolds one image `[C, H, W]` into columns `[C*KH*KW, OH*OW]` (zero padding), so that a convolution is
/// `weight[out, C*KH*KW] · columns`. References: Caffe `im2col_cpu`; PyTorch `nn.Unfold`.
public func im2col(_ image: UnsafePointer<Float>, _ g: ConvGeometry, _ columns: UnsafeMutablePointer<Float>) {
    let OH = g.outHeight, OW = g.outWidth, H = g.height, W = g.width
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let dst = columns + row * OH * OW
                let offH = kh * g.dilationH - g.padH, offW = kw * g.dilationW - g.padW
                for oh in 0..<OH {
                    let ih = oh * g.strideH + offH
                    let d = dst + oh * OW
                    if ih < 0 || ih >= H {
                        d.update(repeating: 0, count: OW)
                        continue
                    }
                    let src = plane + ih * W
                    if g.strideW == 1 {
                        // Contiguous run with zero edges.
                        for ow in 0..<OW {
                            let iw = ow + offW
                            d[ow] = (iw >= 0 && iw < W) ? src[iw] : 0
                        }
                    } else {
                        for ow in 0..<OW {
                            let iw = ow * g.strideW + offW
                            d[ow] = (iw >= 0 && iw < W) ? src[iw] : 0
                        }
                    }
                }
                row += 1
            }
        }
    }
}

/// Folds columns `[C*KH*KW, OH*OW]` back into an image `[C, H, W]`, **adding** into `image`
/// (the adjoint of ``im2col(_:_:_:)``; overlapping windows sum). The caller zeroes `image` first.
public func col2im(_ columns: UnsafePointer<Float>, _ g: ConvGeometry, _ image: UnsafeMutablePointer<Float>) {
    let OH = g.outHeight, OW = g.outWidth, H = g.height, W = g.width
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for kh in 0..<g.kernelHeight {
            for kw in 0..<g.kernelWidth {
                let src = columns + row * OH * OW
                let offH = kh * g.dilationH - g.padH, offW = kw * g.dilationW - g.padW
                for oh in 0..<OH {
                    let ih = oh * g.strideH + offH
                    if ih < 0 || ih >= H { continue }
                    let dst = plane + ih * W
                    let s = src + oh * OW
                    for ow in 0..<OW {
                        let iw = ow * g.strideW + offW
                        if iw >= 0 && iw < W { dst[iw] += s[ow] }
                    }
                }
                row += 1
            }
        }
    }
}
