// TapsTraining: the accuracy/storage trade-off in one run (`taps path`, `--path`): a search raises lambda step by
// step and keeps each active set it meets; then each set trains from the end of warm-up and is recorded as a point
// (docs/method.md "The trade-off in one run").
import Foundation
import TAPS

/// How a path run searches and trains (`--path`, `--path-growth`, `--path-raise-every`, `--path-settle-steps`).
///
/// Search: after warm-up, lambda (starting at `--lambda`) is multiplied by `growth` every `raiseEvery` steps, and
/// every active set that holds for a sixteenth of an epoch is kept, until every gate is off (or `--epochs` end).
/// Training: each set in turn starts again from the parameters and momentum at the end of warm-up, trains for
/// `settleSteps` steps with its gates fixed and no penalty while the learning rate decays from `--lr` to 0, and is
/// evaluated on validation and test and recorded as a point with its own export.
public struct PathSettings: Codable, Sendable, Equatable {
    /// Factor lambda is multiplied by at each raise (> 1).
    public var growth: Double
    /// Steps between raises; 0: a quarter of an epoch.
    public var raiseEvery: Int
    /// Steps each set trains from the end of warm-up with its gates fixed (the learning rate decaying to 0) before
    /// it is evaluated; 0: ``defaultSettleEpochs`` epochs.
    public var settleSteps: Int

    /// Epochs each set trains by default. Measured on fashion (seeds 0 and 1, `conv_layers.0` + `conv_layers.3`):
    /// 3 epochs 0.756 / 0.770, 4 epochs 0.784 / 0.783, 6 epochs 0.793 / 0.796, against 0.792-0.794 for the 10-epoch
    /// sweep run at lambda 1 that keeps the same set (docs/method.md "The trade-off in one run").
    public static let defaultSettleEpochs = 6

    public init(growth: Double = 2, raiseEvery: Int = 0, settleSteps: Int = 0) {
        self.growth = growth; self.raiseEvery = raiseEvery; self.settleSteps = settleSteps
    }

    /// `raiseEvery` with 0 replaced by a quarter of `stepsPerEpoch`, `settleSteps` with 0 by ``defaultSettleEpochs``
    /// epochs (each at least 1).
    public func resolved(stepsPerEpoch: Int) -> (raiseEvery: Int, settleSteps: Int) {
        (raiseEvery > 0 ? raiseEvery : max(1, stepsPerEpoch / 4),
         settleSteps > 0 ? settleSteps : max(1, stepsPerEpoch) * Self.defaultSettleEpochs)
    }

    /// The largest `settleSteps` (and `raiseEvery`): far beyond any run's steps (the planned total of a path's sets is
    /// still computed with an overflow check).
    public static let maximumSteps = 1_000_000_000

    /// - Throws: `ConfigError.invalid` naming the option.
    public func validate() throws {
        guard growth > 1, growth <= 100, growth.isFinite else {
            throw ConfigError.invalid(option: "--path-growth", expected: "a factor in (1, 100]", got: "\(growth)")
        }
        guard raiseEvery >= 0, raiseEvery <= Self.maximumSteps else {
            throw ConfigError.invalid(option: "--path-raise-every", expected: "steps in 0...\(Self.maximumSteps)", got: "\(raiseEvery)")
        }
        guard settleSteps >= 0, settleSteps <= Self.maximumSteps else {
            throw ConfigError.invalid(option: "--path-settle-steps", expected: "steps in 0...\(Self.maximumSteps)", got: "\(settleSteps)")
        }
    }
}

/// One point of a path: an active set after it settled, with what it costs and how accurate it is.
public struct PathPoint: Codable, Sendable, Equatable {
    /// 0 for the set at the end of warm-up, then in the order found.
    public var index: Int
    /// The optimizer step at which the point was evaluated.
    public var step: Int
    /// Lambda when the set appeared.
    public var lambda: Double
    public var activeLayers: [String]
    public var gatedLayers: Int
    /// Task-specific parameters of the export (active deltas, norms, head) and the backbone's parameters.
    public var taskSpecificParameters: Int
    public var backboneParameters: Int
    public var fractionOfBackbone: Double
    /// Accuracy (0...1) on the validation split and on the test split.
    public var validationAccuracy: Double
    public var testAccuracy: Double?
    /// The point's export, relative to the run folder (`points/point-03.safetensors`).
    public var export: String?
    /// Seconds since the run started.
    public var seconds: Double

    /// The point as a row of the sweep table (`taps sweep`'s table and figures are drawn from these rows).
    public func sweepRow(seed: UInt64, exportBytes: Int) -> SweepRow {
        SweepRow(setting: String(format: "point-%02d", index), mode: "taps", lambda: lambda, testAccuracy: testAccuracy,
                 bestValidationAccuracy: validationAccuracy, activeLayers: activeLayers.count, gatedLayers: gatedLayers,
                 activeLayerNames: activeLayers, taskSpecificParameters: taskSpecificParameters,
                 backboneParameters: backboneParameters, fractionOfBackbone: fractionOfBackbone, exportBytes: exportBytes,
                 seconds: seconds, reused: false, seed: seed, name: String(format: "point-%02d", index))
    }
}

/// The files of a path run and its comparison with a sweep.
public enum PathReport {
    /// Writes `path.csv`, `path.md`, `path.json` and `tradeoff.svg` (the sweep's formats) into `folder`, atomically.
    /// - Returns: the paths written.
    /// - Throws: ``FileWriteError`` naming the file.
    @discardableResult
    public static func write(_ points: [PathPoint], task: String, seed: UInt64, to folder: URL) throws -> [String] {
        let rows = points.map { p in
            p.sweepRow(seed: seed, exportBytes: p.export.map { fileSize(folder.appendingPathComponent($0).path) } ?? 0)
        }
        var files: [String] = []
        func write(_ name: String, _ data: Data) throws {
            let url = folder.appendingPathComponent(name)
            try writeAtomically(data, to: url)
            files.append(url.path)
        }
        try write("path.csv", Data(SweepRunner.csv(rows).utf8))
        try write("path.md", Data(("# Path: \(task)\n\nOne run; a point each time the active set changed and settled "
            + "(docs/method.md \"The trade-off in one run\").\n\n" + SweepRunner.table(rows) + "\n").utf8))
        try write("path.json", try makeJSONEncoder().encode(points))
        try write("tradeoff.svg", Data(SweepRunner.tradeoffSVG(task: task, rows: rows, aggregates: SweepAggregate.of(rows),
                                                               multiSeed: false).utf8))
        return files
    }

    /// One sweep setting set against the path: the path point nearest in storage (log scale) and the accuracy gap.
    public struct Comparison: Codable, Sendable, Equatable {
        public var setting: String
        public var sweepPercent: Double
        public var sweepTestAccuracy: Double
        public var pathPoint: String
        public var pathPercent: Double
        public var pathTestAccuracy: Double
        /// Path minus sweep, in accuracy points (percentage points).
        public var differencePoints: Double
    }

    /// Each TAPS row of a sweep against the path point with the nearest share of the backbone (ratio in log space).
    public static func compare(_ points: [PathPoint], sweep rows: [SweepRow]) -> [Comparison] {
        let usable = points.filter { $0.testAccuracy != nil }
        return rows.filter { $0.mode == "taps" && $0.testAccuracy != nil }.compactMap { r in
            func distance(_ f: Double) -> Double { abs(log(max(f, 1e-6)) - log(max(r.fractionOfBackbone, 1e-6))) }
            guard let p = usable.min(by: { distance($0.fractionOfBackbone) < distance($1.fractionOfBackbone) }),
                  let pa = p.testAccuracy, let ra = r.testAccuracy else { return nil }
            return Comparison(setting: r.setting, sweepPercent: 100 * r.fractionOfBackbone, sweepTestAccuracy: ra,
                              pathPoint: String(format: "point-%02d", p.index), pathPercent: 100 * p.fractionOfBackbone,
                              pathTestAccuracy: pa, differencePoints: 100 * (pa - ra))
        }
    }

    /// The comparison as Markdown, with the two runs' training time.
    public static func comparisonMarkdown(_ c: [Comparison], pathSeconds: Double, sweepSeconds: Double) -> String {
        var s = "| sweep setting | % of backbone | test acc | nearest path point | % of backbone | test acc | path - sweep (points) |\n"
        s += "|---|---:|---:|---|---:|---:|---:|\n"
        for r in c {
            s += String(format: "| %@ | %.2f | %.4f | %@ | %.2f | %.4f | %+.2f |\n", r.setting, r.sweepPercent, r.sweepTestAccuracy,
                        r.pathPoint, r.pathPercent, r.pathTestAccuracy, r.differencePoints)
        }
        let worst = c.map { abs($0.differencePoints) }.max() ?? 0
        s += String(format: "\nLargest gap %.2f points; the path took %.0f s, the sweep's TAPS runs %.0f s (%.0f%%).\n",
                    worst, pathSeconds, sweepSeconds, sweepSeconds > 0 ? 100 * pathSeconds / sweepSeconds : 0)
        return s
    }
}
