// TapsTraining: the exported active-layer map (JSON, CSV, SVG) of a task at one step.
import Foundation
import TAPS

/// One gated layer in a snapshot.
public struct LayerState: Codable, Sendable, Equatable {
    public var index: Int
    public var name: String
    public var shape: [Int]
    /// Elements of the layer's weight (= its delta's size).
    public var parameters: Int
    public var score: Double
    public var active: Bool
    /// Frobenius norm of the delta `||dw||_2`.
    public var deltaNorm: Double
}

/// The active-layer map of a task at one step: per layer index, name, shape, parameters, score, active,
/// delta norm; plus task, step, epoch, lambda, tau, accuracies and totals.
public struct ActiveLayerSnapshot: Codable, Sendable, Equatable {
    public var task: String
    public var mode: String
    public var step: Int
    public var epoch: Int
    public var lambda: Double
    public var tau: Double
    public var trainAccuracy: Double?
    public var validationAccuracy: Double?
    public var layers: [LayerState]
    public var activeLayers: Int
    public var gatedLayers: Int
    public var taskSpecificParameters: Int
    public var backboneParameters: Int
    public var fractionOfBackbone: Double

    /// Reads the current state of `task`.
    public init(task: TaskNetwork, taskName: String, mode: String, step: Int, epoch: Int, lambda: Double,
                tau: Double, trainAccuracy: Double?, validationAccuracy: Double?) {
        self.task = taskName; self.mode = mode; self.step = step; self.epoch = epoch
        self.lambda = lambda; self.tau = tau
        self.trainAccuracy = trainAccuracy; self.validationAccuracy = validationAccuracy
        layers = task.gatedLayers.enumerated().map { i, g in
            LayerState(index: i, name: g.name, shape: g.base.weight.value.shape, parameters: g.weightCount,
                       score: Double(g.score.value.storage[0]), active: g.isActive, deltaNorm: g.delta.value.norm())
        }
        let acc = ParameterAccounting(task)
        activeLayers = layers.filter(\.active).count
        gatedLayers = layers.count
        taskSpecificParameters = acc.taskSpecificParameters
        backboneParameters = acc.backboneParameters
        fractionOfBackbone = acc.fractionOfBackbone
    }

    /// File stem `snapshot-step000123`.
    public var stem: String { String(format: "snapshot-step%06d", step) }

    /// CSV, one row per layer: `index,name,shape,parameters,score,active,delta_norm`.
    public var csv: String {
        var s = "index,name,shape,parameters,score,active,delta_norm\n"
        for l in layers {
            s += "\(l.index),\(l.name),\(l.shape.map(String.init).joined(separator: "x")),\(l.parameters),"
            s += String(format: "%.6f", l.score) + ",\(l.active ? 1 : 0)," + String(format: "%.6f", l.deltaNorm) + "\n"
        }
        return s
    }

    /// A standalone SVG: one bar per layer (score), the tau line, active bars filled, inactive outlined.
    public var svg: String {
        let rowH = 22, left = 220, width = 640, top = 48
        let height = top + rowH * layers.count + 40
        let maxScore = max(layers.map { abs($0.score) }.max() ?? 0, tau * 1.5, 1e-6)
        func x(_ v: Double) -> Double { Double(left) + Double(width - left - 20) * max(0, v) / maxScore }
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="monospace" font-size="12">
        <title>\(xmlEscape(task)) active layers at step \(step)</title>
        <text x="10" y="20" font-size="14">\(xmlEscape(task)) (\(mode)) step \(step), lambda \(ProgressFormatter.fmt(lambda)), tau \(ProgressFormatter.fmt(tau)): \(activeLayers)/\(gatedLayers) active</text>

        """
        for (i, l) in layers.enumerated() {
            let y = top + i * rowH
            let w = max(1, x(l.score) - Double(left))
            s += "<text x=\"10\" y=\"\(y + 15)\">\(xmlEscape(l.name))</text>\n"
            s += "<rect x=\"\(left)\" y=\"\(y + 3)\" width=\(String(format: "\"%.1f\"", w)) height=\"\(rowH - 6)\" "
            s += l.active ? "fill=\"#2b8a3e\"/>\n" : "fill=\"none\" stroke=\"#868e96\"/>\n"
        }
        let tx = x(tau)
        s += String(format: "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c92a2a\" stroke-dasharray=\"4 3\"/>\n",
                    tx, top - 6, tx, top + rowH * layers.count)
        s += String(format: "<text x=\"%.1f\" y=\"%d\" fill=\"#c92a2a\">tau</text>\n", tx + 4, top - 8)
        s += "</svg>\n"
        return s
    }

    /// Writes `<stem>.json`, `<stem>.csv` and `<stem>.svg` into `folder` atomically; returns their paths.
    /// - Throws: file-system errors naming the path.
    public func write(to folder: URL) throws -> [String] {
        let json = folder.appendingPathComponent(stem + ".json")
        let csvURL = folder.appendingPathComponent(stem + ".csv")
        let svgURL = folder.appendingPathComponent(stem + ".svg")
        try writeAtomically(try makeJSONEncoder().encode(self), to: json)
        try writeAtomically(Data(csv.utf8), to: csvURL)
        try writeAtomically(Data(svg.utf8), to: svgURL)
        return [json.path, csvURL.path, svgURL.path]
    }
}

/// Escapes `&`, `<`, `>` and quotes for XML text and attributes.
public func xmlEscape(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(ch)
        }
    }
    return out
}
