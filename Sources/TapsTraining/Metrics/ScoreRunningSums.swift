// TapsTraining: running sums of the gate scores of a run's steps, for the dashboard's heatmap means.

/// Running sums of per-step gate scores: row 0 is zeros and row `i + 1` adds step `i`'s finite scores (a step with
/// fewer scores than ``width`` counts 0 for the rest; extra scores are left out), with running counts of the
/// non-finite (NaN, infinite) scores beside them. The mean score of layer `l` over steps `lo..<hi` is
/// `(sum(row: hi, layer: l) - sum(row: lo, layer: l)) / (hi - lo)` when the non-finite counts of the two rows agree.
///
/// Why: the dashboard's heatmap takes a mean per column and layer every frame; summed from the steps, a 20 000-step,
/// 49-layer history cost about a millisecond of a 200x60 frame. The rows are ``AppendOnlyArray``s, so the trainer's
/// appends after a dashboard snapshot copy nothing (flat arrays had copied 11.8 MB at 20 000 steps x 49 layers).
public struct ScoreRunningSums: Sendable, Equatable {
    /// Scores per row (the first step's score count).
    public let width: Int
    /// Row-major sums, ``width`` per row.
    public private(set) var sums = AppendOnlyArray<Double>()
    /// Row-major counts of non-finite scores, laid out as ``sums``.
    public private(set) var nonFinite = AppendOnlyArray<Int32>()

    /// Empty sums of `width` scores a row.
    public init(width: Int = 0) { self.width = max(0, width) }

    /// Rows held: the zero row and one per step appended (0 before the first append).
    public var rows: Int { width > 0 ? sums.count / width : 0 }

    /// Appends one step's row (the zero row first). Allocates only when the storage grows.
    public mutating func append(_ scores: [Double]) {
        guard width > 0 else { return }
        if sums.isEmpty {
            for _ in 0..<width { sums.append(0); nonFinite.append(0) }
        }
        let last = sums.count - width
        for l in 0..<width {
            let v = l < scores.count ? scores[l] : 0
            sums.append(sums[last + l] + (v.isFinite ? v : 0))
            nonFinite.append(nonFinite[last + l] &+ (v.isFinite ? 0 : 1))
        }
    }

    /// Drops every row (the width stays).
    public mutating func removeAll() {
        sums = AppendOnlyArray()
        nonFinite = AppendOnlyArray()
    }

    /// Sum of layer `layer`'s finite scores over the first `row` steps (`row` in `0..<rows`, `layer` in `0..<width`).
    public func sum(row: Int, layer: Int) -> Double {
        precondition(layer >= 0 && layer < width, "layer \(layer) of \(width)")
        return sums[row * width + layer]
    }

    /// Count of layer `layer`'s non-finite scores over the first `row` steps (ranges as ``sum(row:layer:)``).
    public func nonFiniteCount(row: Int, layer: Int) -> Int32 {
        precondition(layer >= 0 && layer < width, "layer \(layer) of \(width)")
        return nonFinite[row * width + layer]
    }
}
