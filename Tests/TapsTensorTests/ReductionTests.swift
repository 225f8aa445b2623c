// TapsTensorTests: the SIMD reductions and the overwrite initialiser against scalar references on odd lengths.
import Testing
import TapsTensor
import TapsTestSupport

@Suite("Vectorised reductions vs sequential Double")
struct ReductionTests {
    @Test("sum, squared deviations and centred dot on odd lengths (tails, several 1024 blocks)",
          arguments: [0, 1, 7, 8, 9, 31, 1023, 1024, 1025, 3001])
    func agree(count: Int) {
        var rng = SeededRNG(seed: 51)
        let x = Tensor.normal([max(count, 1)], mean: 0.7, rng: &rng), g = Tensor.normal([max(count, 1)], rng: &rng)
        let mean: Float = 0.65
        x.withBuffer { xb in g.withBuffer { gb in
            let ref = reductionsNaive(xb.baseAddress!, gb.baseAddress!, count, mean: mean)
            let tol = 1e-5 * Double(max(count, 1)).squareRoot() + 1e-6
            #expect(abs(vectorSum(xb.baseAddress!, count) - ref.sum) <= tol * max(1, abs(ref.sum)))
            #expect(abs(vectorSumSquaredDeviations(xb.baseAddress!, count, mean: mean) - ref.squares) <= tol * max(1, ref.squares))
            let (s, d) = vectorSumAndCenteredDot(gb.baseAddress!, xb.baseAddress!, count, mean: mean)
            #expect(abs(s - ref.gradSum) <= tol * max(1, abs(ref.gradSum)))
            #expect(abs(d - ref.centeredDot) <= tol * max(1, abs(ref.centeredDot)))
        } }
    }

    @Test("Tensor(shape:overwrittenBy:) holds what the body wrote")
    func overwrite() {
        let t = Tensor(shape: [2, 3]) { b in for i in 0..<b.count { b[i] = Float(i) } }
        #expect(t == Tensor(shape: [2, 3], storage: [0, 1, 2, 3, 4, 5]))
        #expect(Tensor(shape: [0, 4]) { _ in }.count == 0)
    }
}

@Suite("hasNonZero = maxAbs() != 0")
struct HasNonZeroTests {
    @Test("zeros, one non-zero anywhere, NaN, infinities, negative zero, denormals")
    func agrees() {
        for n in [0, 1, 63, 64, 65, 200] {
            var t = Tensor(zeros: [n])
            #expect(t.hasNonZero == (t.maxAbs() != 0))
            for pos in [0, n / 2, n - 1] where n > 0 {
                for v: Float in [1, -3, .infinity, -.infinity, .nan, -0.0, .leastNonzeroMagnitude] {
                    t = Tensor(zeros: [n])
                    t.storage[pos] = v
                    #expect(t.hasNonZero == (t.maxAbs() != 0), "n \(n) pos \(pos) v \(v)")
                }
            }
        }
    }
}
