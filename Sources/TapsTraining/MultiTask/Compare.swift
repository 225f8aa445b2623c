// TapsTraining: which layers each run claims — active-layer maps of run folders or exports, side by side.
import Foundation
import TAPS
import TapsNN

/// The active-layer map of one finished run, read from its export (and `summary.json` when there is one).
public struct ActiveMap: Codable, Sendable, Equatable {
    /// The folder or file it was read from.
    public var source: String
    public var task: String
    public var mode: String
    /// Lambda at the end of the run (from the export's lambda history), when known.
    public var lambda: Double?
    public var testAccuracy: Double?
    /// Gated layers in network order.
    public var layers: [String]
    /// Score of each layer.
    public var scores: [Double]
    /// Whether each layer is active: its delta is stored in the export (task-specific).
    public var active: [Bool]
    public var taskSpecificParameters: Int?
    public var fractionOfBackbone: Double?

    /// Reads a run folder (`task.safetensors`, optional `summary.json`) or a task export file.
    /// - Throws: `TaskExportError.notATaskExport`, `SafeTensorsError`, or a file error naming the path.
    public static func load(_ path: String) throws -> ActiveMap {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path,
                NSLocalizedDescriptionKey: "\(path): no such run folder or export"])
        }
        let folder = isDirectory.boolValue ? URL(fileURLWithPath: path) : nil
        let exportURL = folder?.appendingPathComponent("task.safetensors") ?? URL(fileURLWithPath: path)
        let file = try TaskExportFile(contentsOf: exportURL)
        let (export, meta) = (file.export, file.metadata)
        var summary: RunSummary?
        if let folder, let data = try? Data(contentsOf: folder.appendingPathComponent("summary.json")) {
            summary = try? makeJSONDecoder().decode(RunSummary.self, from: data)
        }
        let names = meta.gatedLayers
        let byName = Dictionary(export.tensors, uniquingKeysWith: { a, _ in a })
        return ActiveMap(
            source: path, task: meta.task, mode: meta.mode.rawValue,
            lambda: summary?.lambda ?? meta.lambdaHistory.last?.lambda,
            testAccuracy: summary?.testAccuracy ?? meta.testAccuracy,
            layers: names, scores: names.map { Double(byName[$0 + ".score"]?.storage.first ?? 0) },
            active: names.map { byName[$0 + ".weight_delta"] != nil },
            taskSpecificParameters: summary?.taskSpecificParameters, fractionOfBackbone: summary?.fractionOfBackbone)
    }

    /// A short description: `fashion taps λ=2 acc 0.7950`.
    public var description: String {
        var s = "\(task) \(mode)"
        if mode == "taps", let lambda { s += " λ=\(ProgressFormatter.fmt(lambda))" }
        if let a = testAccuracy { s += String(format: " acc %.4f", a) }
        s += " \(active.filter { $0 }.count)/\(layers.count) active"
        if let f = fractionOfBackbone { s += String(format: ", %.2f%% of the backbone", 100 * f) }
        return s
    }
}

/// Several runs' active-layer maps side by side (rows = layers, in network order; columns = runs).
public struct ActiveMapComparison: Sendable, Equatable {
    public var maps: [ActiveMap]
    /// Column labels: the task names when they are distinct, else the folder/file names.
    public var labels: [String]
    /// Union of the runs' layers, in network order of the first run that has each.
    public var rows: [String]

    public init(_ maps: [ActiveMap]) {
        self.maps = maps
        let tasks = maps.map(\.task)
        if Set(tasks).count == tasks.count {
            labels = tasks
        } else {
            let names = maps.map { URL(fileURLWithPath: $0.source).lastPathComponent == "task.safetensors"
                ? URL(fileURLWithPath: $0.source).deletingLastPathComponent().lastPathComponent
                : URL(fileURLWithPath: $0.source).lastPathComponent }
            labels = Set(names).count == names.count ? names : maps.indices.map { "\($0 + 1)" }
        }
        var seen = Set<String>(), order: [String] = []
        for m in maps { for l in m.layers where seen.insert(l).inserted { order.append(l) } }
        rows = order
    }

    /// `cells[row][column]`: active, shared, or nil when the run has no such layer.
    public var cells: [[Bool?]] {
        rows.map { layer in maps.map { m in m.layers.firstIndex(of: layer).map { m.active[$0] } } }
    }

    /// The text table: one line per layer, `●` active / `·` shared (ASCII `#` / `.`), then one line per run.
    public func text(ascii: Bool = false) -> String {
        let on = ascii ? "#" : "●", off = ascii ? "." : "·"
        let nameWidth = max(5, rows.map(\.count).max() ?? 0)
        let widths = labels.map { max($0.count, 3) }
        func pad(_ s: String, _ w: Int) -> String {
            let left = (w - s.count) / 2
            return String(repeating: " ", count: max(0, left)) + s + String(repeating: " ", count: max(0, w - s.count - left))
        }
        var out = "layer".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
            + zip(labels, widths).map { pad($0, $1) }.joined(separator: "  ") + "\n"
        for (i, row) in rows.enumerated() {
            out += row.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + cells[i].enumerated().map { j, c in pad(c.map { $0 ? on : off } ?? " ", widths[j]) }.joined(separator: "  ") + "\n"
        }
        out += "active".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
            + maps.enumerated().map { j, m in pad("\(m.active.filter { $0 }.count)/\(m.layers.count)", widths[j]) }.joined(separator: "  ") + "\n"
        out += "\n"
        for (l, m) in zip(labels, maps) {
            let text = l == m.task ? String(m.description.dropFirst(m.task.count + 1)) : m.description
            out += "\(l): \(text) (\(m.source))\n"
        }
        return out
    }

    /// The same grid as a standalone SVG.
    public func svg(title: String = "Active layers per run") -> String {
        SVGPlot.layerGrid(title: title, rows: rows, columns: labels, active: cells,
                          caption: "filled: active (task-specific delta stored); outlined: shared with the base")
    }
}
