import Testing
import TapsTensor
import TapsTestSupport

@Suite("Batched (row-stride) im2col / col2im")
struct Im2colStridedTests {
    static let geometries = [
        ConvGeometry(channels: 3, height: 7, width: 5, kernelHeight: 3, kernelWidth: 3, padH: 1, padW: 1),
        ConvGeometry(channels: 2, height: 9, width: 8, kernelHeight: 3, kernelWidth: 2, strideH: 2, strideW: 3, padH: 1, padW: 0),
        ConvGeometry(channels: 1, height: 5, width: 5, kernelHeight: 5, kernelWidth: 5, padH: 2, padW: 2),
        ConvGeometry(channels: 2, height: 6, width: 7, kernelHeight: 3, kernelWidth: 3, strideH: 2, strideW: 2, padH: 2, padW: 2,
                     dilationH: 2, dilationW: 2),
        ConvGeometry(channels: 1, height: 2, width: 2, kernelHeight: 3, kernelWidth: 3, padH: 2, padW: 2),
        // Same-pitch fast path (strides 1, OW == W): 1x1, dilated, taps wholly outside, one-row images, 1x3.
        ConvGeometry(channels: 3, height: 3, width: 5, kernelHeight: 1, kernelWidth: 1),
        ConvGeometry(channels: 2, height: 6, width: 5, kernelHeight: 3, kernelWidth: 3, padH: 2, padW: 2,
                     dilationH: 2, dilationW: 2),
        ConvGeometry(channels: 2, height: 2, width: 2, kernelHeight: 5, kernelWidth: 5, padH: 2, padW: 2),
        ConvGeometry(channels: 2, height: 1, width: 4, kernelHeight: 3, kernelWidth: 3, padH: 1, padW: 1),
        ConvGeometry(channels: 1, height: 3, width: 1, kernelHeight: 3, kernelWidth: 3, padH: 1, padW: 1),
        ConvGeometry(channels: 2, height: 4, width: 6, kernelHeight: 1, kernelWidth: 3, padH: 0, padW: 1),
        // Same pitch without a centre tap (even dilated kernel), and same pitch with fewer output rows than
        // input rows: col2im's overwrite must zero these instead of copying a tap.
        ConvGeometry(channels: 2, height: 5, width: 6, kernelHeight: 2, kernelWidth: 2, padH: 1, padW: 1,
                     dilationH: 2, dilationW: 2),
        ConvGeometry(channels: 2, height: 6, width: 5, kernelHeight: 3, kernelWidth: 3, padH: 0, padW: 1),
    ]

    @Test("col2im with a row stride matches the reference col2im image by image", arguments: geometries)
    func col2imMatchesReference(g: ConvGeometry) {
        var rng = SeededRNG(seed: 8)
        let batch = 3, P = g.columnCols, rows = g.columnRows, image = g.channels * g.height * g.width
        let wide = Tensor.normal([rows * batch * P], rng: &rng)
        var got = Tensor.normal([batch * image], rng: &rng)
        var ref = got
        wide.withBuffer { wp in got.withMutableBuffer { gp in
            for b in 0..<batch { col2im(wp.baseAddress! + b * P, g, gp.baseAddress! + b * image, rowStride: batch * P) }
        } }
        for b in 0..<batch {
            var cols = Tensor(zeros: [rows * P])
            for r in 0..<rows { for k in 0..<P { cols.storage[r * P + k] = wide.storage[r * batch * P + b * P + k] } }
            cols.withBuffer { cp in ref.withMutableBuffer { col2im(cp.baseAddress!, g, $0.baseAddress! + b * image) } }
        }
        let report = compareClose(got, ref, rtol: 1e-6, atol: 1e-6)
        #expect(report.isClose, "col2im \(report)")
        // The consuming variant (contiguous runs for same-pitch geometries) gives the same sums.
        var consumed = Tensor.normal([batch * image], rng: &rng)
        var consumedRef = consumed
        var scratch = wide
        scratch.withMutableBuffer { wp in consumed.withMutableBuffer { gp in
            for b in 0..<batch { col2imConsumingColumns(wp.baseAddress! + b * P, g, gp.baseAddress! + b * image, rowStride: batch * P) }
        } }
        wide.withBuffer { wp in consumedRef.withMutableBuffer { gp in
            for b in 0..<batch { col2im(wp.baseAddress! + b * P, g, gp.baseAddress! + b * image, rowStride: batch * P) }
        } }
        let consumedReport = compareClose(consumed, consumedRef, rtol: 1e-6, atol: 1e-6)
        #expect(consumedReport.isClose, "col2imConsumingColumns \(consumedReport)")
        // overwrite: the destination's old contents (NaN here) play no part; equals zeroing, then adding.
        var written = Tensor(repeating: .nan, shape: [batch * image])
        var writtenRef = Tensor(zeros: [batch * image])
        scratch = wide
        scratch.withMutableBuffer { wp in written.withMutableBuffer { gp in
            for b in 0..<batch {
                col2imConsumingColumns(wp.baseAddress! + b * P, g, gp.baseAddress! + b * image, rowStride: batch * P,
                                       overwrite: true)
            }
        } }
        wide.withBuffer { wp in writtenRef.withMutableBuffer { gp in
            for b in 0..<batch { col2im(wp.baseAddress! + b * P, g, gp.baseAddress! + b * image, rowStride: batch * P) }
        } }
        let writtenReport = compareClose(written, writtenRef, rtol: 1e-6, atol: 1e-6)
        #expect(writtenReport.isClose, "col2imConsumingColumns overwriting \(writtenReport)")
    }

    @Test("matches the reference im2col image by image inside a wider matrix", arguments: geometries)
    func matchesReference(g: ConvGeometry) {
        var rng = SeededRNG(seed: 5)
        let batch = 3, P = g.columnCols, rows = g.columnRows, image = g.channels * g.height * g.width
        let x = Tensor.normal([batch * image], rng: &rng)
        var wide = Tensor(repeating: .nan, shape: [rows * batch * P])
        x.withBuffer { xp in wide.withMutableBuffer { wp in
            for b in 0..<batch { im2col(xp.baseAddress! + b * image, g, wp.baseAddress! + b * P, rowStride: batch * P) }
        } }
        for b in 0..<batch {
            var ref = Tensor(zeros: [rows * P])
            x.withBuffer { xp in ref.withMutableBuffer { im2col(xp.baseAddress! + b * image, g, $0.baseAddress!) } }
            for r in 0..<rows {
                let got = Array(wide.storage[(r * batch * P + b * P)..<(r * batch * P + b * P + P)])
                #expect(got == Array(ref.storage[(r * P)..<(r * P + P)]), "row \(r) image \(b)")
            }
        }
    }

    @Test("col2im with a row stride is the adjoint of im2col with the same stride", arguments: geometries)
    func adjoint(g: ConvGeometry) {
        var rng = SeededRNG(seed: 6)
        let ld = g.columnCols + 3
        let x = Tensor.normal([g.channels * g.height * g.width], rng: &rng)
        var y = Tensor.normal([g.columnRows * ld], rng: &rng)
        for r in 0..<g.columnRows { for k in g.columnCols..<ld { y.storage[r * ld + k] = 0 } }
        var cols = Tensor(zeros: [g.columnRows * ld])
        var back = Tensor(zeros: [x.count])
        x.withBuffer { xp in cols.withMutableBuffer { im2col(xp.baseAddress!, g, $0.baseAddress!, rowStride: ld) } }
        y.withBuffer { yp in back.withMutableBuffer { col2im(yp.baseAddress!, g, $0.baseAddress!, rowStride: ld) } }
        #expect(relativeError(cols.dot(y), x.dot(back)) < 1e-5)
    }
}
