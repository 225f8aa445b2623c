// TapsTestSupport: tolerances and comparisons shared by every test target.
import TapsTensor

/// Result of comparing two float sequences element by element.
public struct CloseReport: Sendable, CustomStringConvertible {
    public var isClose: Bool
    public var worstIndex: Int
    public var worstAbsolute: Double
    public var worstRelative: Double
    public var sideBySide: String
    public var description: String {
        "worst at [\(worstIndex)] abs \(worstAbsolute) rel \(worstRelative)\n\(sideBySide)"
    }
}

/// Compares `actual` with `expected`: element `i` passes when
/// `|a - e| <= atol + rtol * |e|` (NumPy `allclose`). On failure the report shows the first values
/// side by side (llm.c style).
public func compareClose(_ actual: [Double], _ expected: [Double], rtol: Double, atol: Double) -> CloseReport {
    precondition(actual.count == expected.count, "length \(actual.count) vs \(expected.count)")
    var ok = true, worst = 0, worstAbs = 0.0, worstRel = 0.0
    for i in 0..<actual.count {
        let d = abs(actual[i] - expected[i])
        if !(d <= atol + rtol * abs(expected[i])) { ok = false }
        if d > worstAbs || d.isNaN {
            worstAbs = d; worst = i
            worstRel = d / max(abs(expected[i]), 1e-12)
        }
    }
    let lines = (0..<min(6, actual.count)).map { "  [\($0)] actual \(actual[$0])  expected \(expected[$0])" }
    return CloseReport(isClose: ok, worstIndex: worst, worstAbsolute: worstAbs, worstRelative: worstRel,
                       sideBySide: lines.joined(separator: "\n"))
}

/// Tensor overload of ``compareClose(_:_:rtol:atol:)``; shapes must match.
public func compareClose(_ actual: Tensor, _ expected: Tensor, rtol: Double = 1e-5, atol: Double = 1e-4) -> CloseReport {
    precondition(actual.shape == expected.shape, "shape \(actual.shape) vs \(expected.shape)")
    return compareClose(actual.doubles, expected.doubles, rtol: rtol, atol: atol)
}

/// Relative error used by gradient checks: `|a - n| / max(|a|, |n|, floor)`.
public func relativeError(_ a: Double, _ n: Double, floor: Double = 1e-12) -> Double {
    abs(a - n) / max(abs(a), abs(n), floor)
}
