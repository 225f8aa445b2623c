import Testing
import TapsTensor
import TapsTestSupport

@Suite("GEMM and im2col against naive references")
struct KernelTests {
    @Test("gemm matches the naive triple loop on odd shapes and every transpose",
          arguments: [(1, 1, 1), (3, 17, 5), (17, 3, 1), (31, 33, 64), (2, 129, 7)])
    func gemmMatchesNaive(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var rng = SeededRNG(seed: 7)
        for ta in [Transpose.none, .transposed] {
            for tb in [Transpose.none, .transposed] {
                let a = Tensor.normal([m * k], rng: &rng), b = Tensor.normal([k * n], rng: &rng)
                let c0 = Tensor.normal([m * n], rng: &rng)
                var fast = c0, slow = c0
                a.withBuffer { ap in b.withBuffer { bp in
                    fast.withMutableBuffer { cp in
                        gemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, ap.baseAddress!, bp.baseAddress!, beta: 2, cp.baseAddress!)
                    }
                    slow.withMutableBuffer { cp in
                        gemmNaive(ta, tb, m: m, n: n, k: k, alpha: 0.5, ap.baseAddress!, bp.baseAddress!, beta: 2, cp.baseAddress!)
                    }
                } }
                let r = compareClose(fast, slow, rtol: 1e-5, atol: 1e-4)
                #expect(r.isClose, "\(ta) \(tb) \(shape): \(r)")
            }
        }
    }

    @Test("im2col and col2im are adjoint: <im2col(x), y> == <x, col2im(y)>")
    func im2colAdjoint() {
        var rng = SeededRNG(seed: 3)
        for g in [ConvGeometry(channels: 3, height: 7, width: 5, kernelHeight: 3, kernelWidth: 3, padH: 1, padW: 1),
                  ConvGeometry(channels: 2, height: 9, width: 8, kernelHeight: 3, kernelWidth: 2, strideH: 2, strideW: 3, padH: 1, padW: 0),
                  ConvGeometry(channels: 1, height: 5, width: 5, kernelHeight: 5, kernelWidth: 5, padH: 2, padW: 2)] {
            let x = Tensor.normal([g.channels * g.height * g.width], rng: &rng)
            let y = Tensor.normal([g.columnRows * g.columnCols], rng: &rng)
            var cols = Tensor(zeros: [g.columnRows * g.columnCols])
            var back = Tensor(zeros: [g.channels * g.height * g.width])
            x.withBuffer { xp in cols.withMutableBuffer { im2col(xp.baseAddress!, g, $0.baseAddress!) } }
            y.withBuffer { yp in back.withMutableBuffer { col2im(yp.baseAddress!, g, $0.baseAddress!) } }
            #expect(relativeError(cols.dot(y), x.dot(back)) < 1e-5)
        }
    }

    @Test("im2col picks the right pixels (direct index check)")
    func im2colValues() {
        let g = ConvGeometry(channels: 1, height: 3, width: 3, kernelHeight: 2, kernelWidth: 2, padH: 0, padW: 0)
        let x = Tensor(shape: [9], storage: (1...9).map(Float.init))
        var cols = Tensor(zeros: [4 * 4])
        x.withBuffer { xp in cols.withMutableBuffer { im2col(xp.baseAddress!, g, $0.baseAddress!) } }
        // rows: (kh,kw) = (0,0),(0,1),(1,0),(1,1); cols: output positions (0,0),(0,1),(1,0),(1,1)
        #expect(cols.storage == [1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9])
    }

    @Test("seeded RNG is deterministic and roughly standard normal")
    func rng() {
        var a = SeededRNG(seed: 42), b = SeededRNG(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var r = SeededRNG(seed: 1)
        let t = Tensor.normal([20000], rng: &r)
        let mean = t.sum() / 20000
        let variance = t.dot(t) / 20000 - mean * mean
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        #expect(Set(r.permutation(50)) == Set(0..<50))
    }
}
