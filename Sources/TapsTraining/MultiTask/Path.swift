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
    /// Seconds since the run started (when the point was recorded; cumulative over the points).
    public var seconds: Double
    /// Size of the point's export file in bytes; nil when none was written (or in files written before this field).
    public var exportBytes: Int? = nil

    /// A point with every field given (`exportBytes` nil: no export was written).
    public init(index: Int, step: Int, lambda: Double, activeLayers: [String], gatedLayers: Int, taskSpecificParameters: Int,
                backboneParameters: Int, fractionOfBackbone: Double, validationAccuracy: Double, testAccuracy: Double?,
                export: String?, seconds: Double, exportBytes: Int? = nil) {
        self.index = index; self.step = step; self.lambda = lambda; self.activeLayers = activeLayers
        self.gatedLayers = gatedLayers; self.taskSpecificParameters = taskSpecificParameters
        self.backboneParameters = backboneParameters; self.fractionOfBackbone = fractionOfBackbone
        self.validationAccuracy = validationAccuracy; self.testAccuracy = testAccuracy; self.export = export
        self.seconds = seconds; self.exportBytes = exportBytes
    }

    /// The point's name in files and tables: `point-03`.
    public var name: String { String(format: "point-%02d", index) }

    /// The point's label in tables and figures, distinct for every point even when two share a lambda:
    /// `point 3 (2/4 active)`.
    public var label: String { "point \(index) (\(activeLayers.count)/\(gatedLayers) active)" }

    /// The point as a row of the sweep's CSV and figures. `seconds` is the point's own time, `seconds` minus
    /// `previousSeconds` (the previous point's `seconds`; 0 for the first point, whose time then includes warm-up and
    /// the search); `exportBytes` is the export's size (0 when none was written).
    public func sweepRow(seed: UInt64, previousSeconds: Double = 0) -> SweepRow {
        SweepRow(setting: name, mode: "taps", lambda: lambda, testAccuracy: testAccuracy,
                 bestValidationAccuracy: validationAccuracy, activeLayers: activeLayers.count, gatedLayers: gatedLayers,
                 activeLayerNames: activeLayers, taskSpecificParameters: taskSpecificParameters,
                 backboneParameters: backboneParameters, fractionOfBackbone: fractionOfBackbone, exportBytes: exportBytes ?? 0,
                 seconds: max(0, seconds - previousSeconds), reused: false, seed: seed, name: name)
    }
}

/// The files of a path run, its tables and its comparison with a sweep.
public enum PathReport {
    /// The points as rows of the sweep's formats (CSV, figures): each row's `seconds` is the point's own time (the
    /// first point's includes warm-up and the search), its `exportBytes` the size of its export.
    public static func rows(_ points: [PathPoint], seed: UInt64) -> [SweepRow] {
        points.enumerated().map { i, p in p.sweepRow(seed: seed, previousSeconds: i > 0 ? points[i - 1].seconds : 0) }
    }

    /// How the points were made, in one paragraph (`path.md`, docs/method.md "The trade-off in one run").
    static let method = "One run: after warm-up, a search raised lambda step by step and kept each new active set "
        + "that held; then each set trained from the state at the end of warm-up with its gates fixed and no penalty, "
        + "and was evaluated and exported to its own file (docs/method.md \"The trade-off in one run\"). Lambda is the "
        + "value at which the search kept the set."

    /// The note under the path's tables on what `seconds` means.
    static let secondsNote = "seconds: each point's own time (point 0's includes warm-up and the search)"

    /// The table printed at the end of `taps path`: one line per point, labelled by its number and active count.
    public static func table(_ points: [PathPoint]) -> String {
        func r(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var s = "  point                   lambda  test acc  task-specific  % backbone  export bytes  seconds  export\n"
        for (p, row) in zip(points, rows(points, seed: 0)) {
            s += "  " + p.label.padding(toLength: 22, withPad: " ", startingAt: 0)
                + r(ProgressFormatter.fmt(p.lambda), 8)
                + r(p.testAccuracy.map { String(format: "%.4f", $0) } ?? "-", 10)
                + r(ProgressFormatter.grouped(p.taskSpecificParameters), 15)
                + r(String(format: "%.2f%%", 100 * p.fractionOfBackbone), 12)
                + r(ProgressFormatter.grouped(row.exportBytes), 14)
                + r(String(format: "%.1f", row.seconds), 9) + "  " + (p.export ?? "-") + "\n"
        }
        return s
    }

    /// `path.md`: how the points were made, and one row per point (its number, lambda, active layers, storage,
    /// accuracy, export and own time).
    public static func markdown(_ points: [PathPoint], task: String, seed: UInt64) -> String {
        var s = "# Path: \(task)\n\n\(method) Seed \(seed).\n\n"
        s += "| point | lambda | active layers | task-specific params | % backbone | val acc | test acc | export | export bytes | seconds |\n"
        s += "|---|---:|---|---:|---:|---:|---:|---|---:|---:|\n"
        for (p, row) in zip(points, rows(points, seed: seed)) {
            s += "| \(p.index) | \(ProgressFormatter.fmt(p.lambda)) | \(p.activeLayers.count)/\(p.gatedLayers)"
                + (p.activeLayers.isEmpty ? "" : " (\(p.activeLayers.joined(separator: ", ")))")
                + " | \(ProgressFormatter.grouped(p.taskSpecificParameters)) | " + String(format: "%.2f%%", 100 * p.fractionOfBackbone)
                + " | " + String(format: "%.4f", p.validationAccuracy)
                + " | \(p.testAccuracy.map { String(format: "%.4f", $0) } ?? "-") | \(p.export.map { "`\($0)`" } ?? "-")"
                + " | \(ProgressFormatter.grouped(row.exportBytes)) | " + String(format: "%.1f", row.seconds) + " |\n"
        }
        s += "\n" + secondsNote.prefix(1).uppercased() + secondsNote.dropFirst()
            + String(format: "; the run took %.1f s until its last point.\n", points.last?.seconds ?? 0)
        return s
    }

    /// The trade-off figure of a path: one marker per point, labelled by its number and lambda, joined in the order
    /// found; no fine-tune or probe markers (a path has none).
    public static func tradeoffSVG(_ points: [PathPoint], task: String, seed: UInt64) -> String {
        SVGPlot.tradeoff(title: "\(task): test accuracy vs task-specific parameters (path)", points: points.map { p in
            SVGPlot.Point(percent: 100 * p.fractionOfBackbone, accuracy: p.testAccuracy ?? 0,
                          label: "p\(p.index) λ=" + ProgressFormatter.fmt(p.lambda), kind: "taps")
        }, caption: "one path run (seed \(seed)): active sets the λ search found, each trained from the end of warm-up",
           tapsLegend: "path point (λ found)")
    }

    /// Writes `path.csv` (the sweep's columns; `seconds` per point), `path.md`, `path.json` and `tradeoff.svg` into
    /// `folder`, atomically.
    /// - Returns: the paths written.
    /// - Throws: ``FileWriteError`` naming the file.
    @discardableResult
    public static func write(_ points: [PathPoint], task: String, seed: UInt64, to folder: URL) throws -> [String] {
        var files: [String] = []
        func write(_ name: String, _ data: Data) throws {
            let url = folder.appendingPathComponent(name)
            try writeAtomically(data, to: url)
            files.append(url.path)
        }
        try write("path.csv", Data(SweepRunner.csv(rows(points, seed: seed)).utf8))
        try write("path.md", Data(markdown(points, task: task, seed: seed).utf8))
        try write("path.json", try makeJSONEncoder().encode(points))
        try write("tradeoff.svg", Data(tradeoffSVG(points, task: task, seed: seed).utf8))
        return files
    }

    /// What `taps path` prints at the end instead of a single run's summary: what the points are, where their files
    /// are, and what the run folder's own `task.safetensors` holds (the last point's network, not a chosen point).
    /// `files`: the names of the tables and figures written into `folder`.
    public static func endText(_ points: [PathPoint], task: String, status: String, seconds: Double, folder: String,
                               files: [String]) -> String {
        var s = String(format: "\npath (%@): task %@, %d point%@, %.1f s\n", status, task, points.count,
                       points.count == 1 ? "" : "s", seconds)
        guard !points.isEmpty else { return s + "  no point was recorded\n" }
        s += "  each point: an active set the lambda search found, trained from the end of warm-up with its gates fixed\n"
        s += table(points)
        s += "  " + secondsNote + "\n"
        s += "  exports        \(folder)/points/point-NN.safetensors (one per point; taps eval --export FILE)\n"
        s += "  files          \(files.joined(separator: ", ")) in \(folder)\n"
        if let last = points.last {
            s += "  task.safetensors in the run folder is the last point's network (point \(last.index), "
                + "\(last.activeLayers.count)/\(last.gatedLayers) active), not a pick: choose a point's export\n"
        }
        return s
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
                              pathPoint: p.name, pathPercent: 100 * p.fractionOfBackbone,
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
