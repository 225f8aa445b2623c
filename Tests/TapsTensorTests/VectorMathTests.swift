// TapsTensorTests: the vectorised exp and erf (both compilations) against libm's expf/erff on dense grids, at the
// region boundaries and on special values; GELU and softmax against scalar formulas.
import Foundation
import Testing
import TapsTensor

@Suite("Vectorised exp and erf vs libm")
struct VectorMathTests {
    /// Distance in units in the last place between two finite floats of the same sign (0 when equal).
    private func ulps(_ a: Float, _ b: Float) -> Int {
        if a == b { return 0 }
        let ia = Int(Int32(bitPattern: a.bitPattern)), ib = Int(Int32(bitPattern: b.bitPattern))
        let ka = ia < 0 ? Int(Int32.min) - ia : ia, kb = ib < 0 ? Int(Int32.min) - ib : ib
        return abs(ka - kb)
    }

    /// `n` evenly spaced floats from `lo` to `hi`, plus every region edge and its float neighbours.
    private func grid(_ lo: Float, _ hi: Float, _ n: Int, edges: [Float]) -> [Float] {
        var xs = (0..<n).map { lo + (hi - lo) * Float($0) / Float(n - 1) }
        for e in edges { xs += [e, e.nextUp, e.nextDown, -e, (-e).nextUp, (-e).nextDown] }
        return xs
    }

    private func apply(_ xs: [Float], _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var ys = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { xb in ys.withUnsafeMutableBufferPointer { yb in f(xb.baseAddress!, yb.baseAddress!, xs.count) } }
        return ys
    }

    @Test("exp: within 1 ulp of expf on [-87.34, 88.72], 0 below, inf above, NaN kept",
          arguments: VectorMath.Variant.allCases)
    func exp(variant: VectorMath.Variant) {
        let xs = grid(-87.33654, 88.72283, 400_001, edges: [0, 0.34657359, 1, 10, 87.3, 88.38, 88.7, 88.72283])
        let ys = apply(xs) { VectorMath.exp($0, $1, count: $2, variant: variant) }
        var worst = 0, at: Float = 0
        for (x, y) in zip(xs, ys) where x >= -87.33654 && x <= 88.72283 {
            let u = ulps(y, expf(x))
            if u > worst { worst = u; at = x }
        }
        #expect(worst <= 1, "\(variant) exp worst \(worst) ulp at \(at)")
        let special = apply([-200, -87.5, 88.8, 1000, .infinity, -.infinity, .nan, 0]) { VectorMath.exp($0, $1, count: $2, variant: variant) }
        #expect(special[0] == 0 && special[1] == 0 && special[4 + 1] == 0)
        #expect(special[2] == .infinity && special[3] == .infinity && special[4] == .infinity)
        #expect(special[6].isNaN && special[7] == 1)
    }

    @Test("erf: within 6e-8 absolute and 1 ulp of erff on [-6, 6], odd, ±1 in the tails, NaN kept",
          arguments: VectorMath.Variant.allCases)
    func erf(variant: VectorMath.Variant) {
        let xs = grid(-6, 6, 600_001, edges: [1e-30, 1e-6, 0.5, 1.25, 2, 3.92, 4])
        let ys = apply(xs) { VectorMath.erf($0, $1, count: $2, variant: variant) }
        let negated = apply(xs.map { -$0 }) { VectorMath.erf($0, $1, count: $2, variant: variant) }
        #expect(zip(ys, negated).allSatisfy { $0 == -$1 }, "erf is not odd")
        var worstAbs: Float = 0, worstUlp = 0, atAbs: Float = 0, atUlp: Float = 0
        for (x, y) in zip(xs, ys) {
            let ref = erff(x)
            let d = abs(y - ref), u = ulps(y, ref)
            if d > worstAbs { worstAbs = d; atAbs = x }
            if u > worstUlp { worstUlp = u; atUlp = x }
        }
        #expect(worstAbs <= 6e-8, "\(variant) erf worst absolute \(worstAbs) at \(atAbs)")
        #expect(worstUlp <= 1, "\(variant) erf worst \(worstUlp) ulp at \(atUlp)")
        let special = apply([5, -5, 100, -.infinity, .infinity, .nan, 0, -0.0]) { VectorMath.erf($0, $1, count: $2, variant: variant) }
        #expect(special[0] == 1 && special[1] == -1 && special[2] == 1 && special[3] == -1 && special[4] == 1)
        #expect(special[5].isNaN && special[6] == 0)
    }

    @Test("an element's value does not depend on its position in the array (vector body or padded tail)")
    func positionIndependent() {
        let xs: [Float] = (0..<13).map { Float($0) * 0.37 - 2.2 }
        let whole = apply(xs) { VectorMath.erf($0, $1, count: $2) }
        for start in 0..<xs.count {
            let part = apply(Array(xs[start...])) { VectorMath.erf($0, $1, count: $2) }
            #expect(Array(whole[start...]) == part)
        }
        let e1 = apply(xs) { VectorMath.exp($0, $1, count: $2) }
        let e2 = apply(Array(xs[5...])) { VectorMath.exp($0, $1, count: $2) }
        #expect(Array(e1[5...]) == e2)
    }

    @Test("GELU forward and backward and the row softmax against scalar libm formulas (odd lengths, tails)")
    func kernels() {
        for n in [1, 7, 8, 9, 65, 1000] {
            let xs = (0..<n).map { Float($0 % 97) * 0.13 - 6.1 }
            let dy = (0..<n).map { Float($0 % 11) * 0.3 - 1.4 }
            var e = [Float](repeating: 0, count: n), y = e, dx = e
            xs.withUnsafeBufferPointer { xb in e.withUnsafeMutableBufferPointer { eb in y.withUnsafeMutableBufferPointer { yb in
                VectorMath.geluForward(xb.baseAddress!, erf: eb.baseAddress!, yb.baseAddress!, count: n)
            } } }
            xs.withUnsafeBufferPointer { xb in e.withUnsafeBufferPointer { eb in dy.withUnsafeBufferPointer { gb in
                dx.withUnsafeMutableBufferPointer { db in
                    VectorMath.geluBackward(gb.baseAddress!, xb.baseAddress!, erf: eb.baseAddress!, db.baseAddress!, count: n)
                }
            } } }
            for i in 0..<n {
                let v = Double(xs[i]), phi = Foundation.exp(-v * v / 2) / (2 * Double.pi).squareRoot()
                let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                #expect(abs(Double(y[i]) - v * cdf) <= 1e-6 * max(1, abs(v)), "gelu(\(v))")
                #expect(abs(Double(dx[i]) - Double(dy[i]) * (cdf + v * phi)) <= 2e-6, "gelu'(\(v))")
            }
            var rows = xs + xs.map { $0 * 2 }
            rows.withUnsafeMutableBufferPointer { VectorMath.softmaxRows($0.baseAddress!, rows: 2, columns: n) }
            for r in 0..<2 {
                let row = xs.map { Double($0) * Double(r + 1) }, m = row.max()!
                let sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                for c in 0..<n { #expect(abs(Double(rows[r * n + c]) - Foundation.exp(row[c] - m) / sum) <= 1e-6) }
            }
        }
    }

    @Test("in place (output = input): exp, erf and the GELU forward give what they give out of place")
    func inPlace() {
        let xs: [Float] = (0..<37).map { Float($0) * 0.29 - 5.3 }
        for (name, f) in [("exp", { (x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int) in VectorMath.exp(x, y, count: n) }),
                          ("erf", { (x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int) in VectorMath.erf(x, y, count: n) }),
                          ("gelu", { (x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int) in
                              VectorMath.geluForward(x, erf: nil, y, count: n) })] {
            let outOfPlace = apply(xs, f)
            var inPlace = xs
            inPlace.withUnsafeMutableBufferPointer { b in f(UnsafePointer(b.baseAddress!), b.baseAddress!, b.count) }
            #expect(inPlace == outOfPlace, "\(name)")
        }
    }
}
