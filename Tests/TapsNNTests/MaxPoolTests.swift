// TapsNNTests: MaxPool2d tie and NaN rules (the 2x2 fast path and the general path agree with a reference).
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("MaxPool2d ties and NaN")
struct MaxPoolTests {
    /// First maximum in row-major window order wins; NaN wins. Returns output and dx for `dy`.
    func reference(_ x: Tensor, k: Int, s: Int, p: Int, dy: Tensor) -> (Tensor, Tensor) {
        let (N, C, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1
        var y = Tensor(zeros: [N, C, OH, OW]), dx = Tensor(zeros: x.shape)
        for nc in 0..<(N * C) {
            for i in 0..<OH {
                for j in 0..<OW {
                    var best = -Float.infinity, arg = -1
                    for h in (i * s - p)..<(i * s - p + k) where h >= 0 && h < H {
                        for w in (j * s - p)..<(j * s - p + k) where w >= 0 && w < W {
                            let v = x.storage[nc * H * W + h * W + w]
                            if arg < 0 || v > best || (v.isNaN && !best.isNaN) { best = v; arg = h * W + w }
                        }
                    }
                    y.storage[nc * OH * OW + i * OW + j] = best
                    dx.storage[nc * H * W + arg] += dy.storage[nc * OH * OW + i * OW + j]
                }
            }
        }
        return (y, dx)
    }

    @Test("ties pick the first maximum (fast 2x2 path and general path)", arguments: [(2, 2, 0), (3, 2, 1), (2, 1, 0)])
    func ties(config: (Int, Int, Int)) {
        let (k, s, p) = config
        var rng = SeededRNG(seed: 41)
        // Values from {0, 1, 2}: many ties.
        let x = Tensor(shape: [2, 3, 6, 7], storage: (0..<(2 * 3 * 6 * 7)).map { _ in Float(rng.next() % 3) })
        let pool = MaxPool2d(kernelSize: k, stride: s, padding: p)
        let y = pool.forward(x, mode: .training)
        let dy = Tensor.normal(y.shape, rng: &rng)
        let (yRef, dxRef) = reference(x, k: k, s: s, p: p, dy: dy)
        #expect(y == yRef)
        #expect(compareClose(pool.backward(dy), dxRef, rtol: 1e-6, atol: 1e-6).isClose)
    }

    @Test("NaN propagates to its window's output and receives the gradient")
    func nan() {
        var x = Tensor(shape: [1, 1, 4, 4], storage: (0..<16).map(Float.init))
        x.storage[5] = .nan   // window (0, 0) of the 2x2 pooling
        let pool = MaxPool2d(kernelSize: 2)
        let y = pool.forward(x, mode: .training)
        #expect(y.storage[0].isNaN && y.storage[1] == 7 && y.storage[2] == 13 && y.storage[3] == 15)
        let dx = pool.backward(Tensor(repeating: 1, shape: [1, 1, 2, 2]))
        #expect(dx.storage[5] == 1 && dx.storage[0] == 0 && dx.storage[4] == 0)
    }
}
