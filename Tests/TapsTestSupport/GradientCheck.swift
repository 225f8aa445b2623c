// TapsTestSupport: finite-difference gradient checks in Float32 with a random-projection "fake loss".
import TapsTensor

/// One tensor whose gradient is checked: how to read and write its current value, and the analytic
/// gradient of the fake loss with respect to it.
public struct GradientCheckVariable {
    public var name: String
    public var read: () -> Tensor
    public var write: (Tensor) -> Void

    /// - Parameters:
    ///   - name: shown in the report (`input`, `conv.weight`, ...).
    ///   - read: returns the current value.
    ///   - write: installs a perturbed value (the checker restores the original afterwards).
    public init(name: String, read: @escaping () -> Tensor, write: @escaping (Tensor) -> Void) {
        self.name = name; self.read = read; self.write = write
    }
}

/// Tolerances and sampling of ``checkGradients(variables:forward:backward:options:)``.
public struct GradientCheckOptions: Sendable {
    /// Central-difference step `h` (Float32: 1e-2 to 1e-3; the default 5e-3 balances rounding error
    /// `~ eps·|loss|/h` against truncation error `~ h²·f'''`).
    public var step: Float = 5e-3
    /// Relative tolerance: coordinate passes when `|a - n| <= absoluteTolerance + relativeTolerance·max(|a|, |n|)`.
    public var relativeTolerance: Double = 2e-2
    /// Absolute floor of the tolerance (Float32 rounding of the fake loss divided by `2h`).
    public var absoluteTolerance: Double = 2e-3
    /// At most this many coordinates per variable are checked (chosen with a seeded RNG); all when fewer.
    public var maxCoordinates: Int = 48
    /// Seed of the projection `R` and the coordinate sample.
    public var seed: UInt64 = 1234
    /// One-sided slopes `(f(x+h) - f(x))/h` and `(f(x) - f(x-h))/h` differing by more than this (relative,
    /// with the absolute floor) mark a coordinate as a **kink** (ReLU at 0, MaxPool ties): reported in
    /// ``GradientCheckReport/kinks`` so a test can assert its inputs avoid them.
    public var kinkTolerance: Double = 0.25
    /// Whole-vector tolerance per variable: `||a - n|| / max(||a||, ||n||)` over the checked coordinates must be at
    /// most this. Float32 central differences land near 1e-4 here; a backward that is 1% wrong lands near 1e-2.
    public var vectorTolerance: Double = 3e-3
    /// The deliberately wrong backward every check also runs: the analytic gradient times this factor (1% off),
    /// compared with the same finite differences. A check whose mutant is not caught does not pass.
    public var mutantScale: Double = 1.01

    public init(step: Float = 5e-3, relativeTolerance: Double = 2e-2, absoluteTolerance: Double = 2e-3,
                maxCoordinates: Int = 48, seed: UInt64 = 1234, vectorTolerance: Double = 3e-3) {
        self.step = step; self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance; self.maxCoordinates = maxCoordinates; self.seed = seed
        self.vectorTolerance = vectorTolerance
    }
}

/// Result of a gradient check, per variable and overall.
public struct GradientCheckReport: CustomStringConvertible {
    /// Outcome for one variable.
    public struct Entry: CustomStringConvertible {
        public var name: String
        public var checked: Int
        public var failures: Int
        public var worstIndex: Int
        public var worstAnalytic: Double
        public var worstNumeric: Double
        public var worstRelative: Double
        /// Coordinates whose one-sided slopes disagree (non-differentiable points).
        public var kinks: Int
        /// `||a - n|| / max(||a||, ||n||)` over the checked coordinates.
        public var vectorError: Double = 0
        /// The same for the deliberately wrong backward (`mutantScale · a`).
        public var mutantVectorError: Double = 0
        /// The tolerance `vectorError` was held to.
        public var vectorTolerance: Double = 0
        /// Whether the 1%-wrong backward fails this check (a check that cannot tell is worthless).
        public var catchesMutant: Bool { mutantVectorError > vectorTolerance }
        /// Every coordinate within tolerance, the whole vector within `vectorTolerance`, and the mutant caught.
        public var passed: Bool { failures == 0 && vectorError <= vectorTolerance && catchesMutant }
        public var description: String {
            "\(passed ? "ok  " : "FAIL") \(name): \(checked) coords, \(failures) failures, \(kinks) kinks; worst [\(worstIndex)] "
                + "analytic \(worstAnalytic) numeric \(worstNumeric) rel \(worstRelative); vector error "
                + String(format: "%.2e (tolerance %.0e), 1%%-wrong backward %.2e%@", vectorError, vectorTolerance,
                         mutantVectorError, catchesMutant ? "" : " NOT CAUGHT")
        }
    }
    public var entries: [Entry]
    /// Every checked coordinate of every variable is within tolerance.
    public var passed: Bool { entries.allSatisfy(\.passed) }
    /// Total number of coordinates at kinks.
    public var kinks: Int { entries.reduce(0) { $0 + $1.kinks } }
    public var description: String { entries.map(\.description).joined(separator: "\n") }
}

/// Checks analytic gradients against central finite differences of the fake loss
/// `f = Σ forward() ⊙ R`, where `R` is a fixed random normal projection (llm.c), so every output element
/// matters:
///
/// ```
/// numeric_i = (f(v + h·e_i) - f(v - h·e_i)) / 2h        analytic = backward(R)
/// pass_i    ⇔ |analytic_i - numeric_i| <= atol + rtol · max(|analytic_i|, |numeric_i|)
/// pass      ⇔ every pass_i, ||a - n|| / max(||a||, ||n||) <= vectorTolerance,
///             and the 1%-wrong backward 1.01·a fails that vector test (the check can fail)
/// ```
///
/// `forward` must be deterministic and read the variables' current values; `backward(R)` must return
/// `df/dv` for each variable, in `variables` order, for the values at call time (it is called once,
/// before any perturbation). The fake loss is accumulated in Double, the layers run in Float32, so keep
/// sizes small and values O(1). Original values are restored afterwards.
public func checkGradients(variables: [GradientCheckVariable], forward: () -> Tensor,
                           backward: (Tensor) -> [Tensor],
                           options: GradientCheckOptions = GradientCheckOptions()) -> GradientCheckReport {
    var rng = SeededRNG(seed: options.seed)
    let out0 = forward()
    let projection = Tensor.normal(out0.shape, rng: &rng)
    let analytic = backward(projection)
    precondition(analytic.count == variables.count, "backward returned \(analytic.count) gradients for \(variables.count) variables")
    func loss() -> Double { forward().dot(projection) }
    let f0 = loss()
    let h = options.step
    var entries: [GradientCheckReport.Entry] = []
    for (variable, grad) in zip(variables, analytic) {
        let original = variable.read()
        precondition(grad.count == original.count, "\(variable.name): gradient \(grad.shape) vs value \(original.shape)")
        let coordinates = original.count <= options.maxCoordinates
            ? Array(0..<original.count) : Array(rng.permutation(original.count).prefix(options.maxCoordinates))
        var entry = GradientCheckReport.Entry(name: variable.name, checked: coordinates.count, failures: 0, worstIndex: -1,
                                              worstAnalytic: 0, worstNumeric: 0, worstRelative: 0, kinks: 0)
        var worstExcess = -Double.infinity
        var diff2 = 0.0, mutant2 = 0.0, a2 = 0.0, n2 = 0.0
        for i in coordinates {
            var v = original
            v.storage[i] = original.storage[i] + h
            variable.write(v)
            let fPlus = loss()
            v.storage[i] = original.storage[i] - h
            variable.write(v)
            let fMinus = loss()
            variable.write(original)
            // Use the actually representable steps (Float rounding of x ± h).
            let hPlus = Double(original.storage[i] + h) - Double(original.storage[i])
            let hMinus = Double(original.storage[i]) - Double(original.storage[i] - h)
            let numeric = (fPlus - fMinus) / (hPlus + hMinus)
            let a = Double(grad.storage[i])
            let slopeRight = (fPlus - f0) / hPlus, slopeLeft = (f0 - fMinus) / hMinus
            if abs(slopeRight - slopeLeft) > options.absoluteTolerance * 10
                + options.kinkTolerance * max(abs(slopeRight), abs(slopeLeft)) {
                entry.kinks += 1
            }
            diff2 += (a - numeric) * (a - numeric)
            mutant2 += (options.mutantScale * a - numeric) * (options.mutantScale * a - numeric)
            a2 += a * a
            n2 += numeric * numeric
            let allowed = options.absoluteTolerance + options.relativeTolerance * max(abs(a), abs(numeric))
            let err = abs(a - numeric)
            if !(err <= allowed) { entry.failures += 1 }
            if err - allowed > worstExcess || err.isNaN {
                worstExcess = err - allowed
                entry.worstIndex = i; entry.worstAnalytic = a; entry.worstNumeric = numeric
                entry.worstRelative = relativeError(a, numeric)
            }
        }
        let scale = max(a2, n2).squareRoot()
        entry.vectorError = scale > 0 ? diff2.squareRoot() / scale : (diff2 > 0 ? .infinity : 0)
        entry.mutantVectorError = scale > 0 ? mutant2.squareRoot() / scale : 0
        entry.vectorTolerance = options.vectorTolerance
        entries.append(entry)
    }
    return GradientCheckReport(entries: entries)
}
