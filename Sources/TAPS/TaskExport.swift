// TAPS: a task's compact export — only what the task adds to the shared base (docs/method.md "Storage and accounting").
import Foundation
import TapsNN
import TapsTensor

/// The tensors and metadata of one exported task:
/// - `<layer>.weight_delta` for every **active** gated layer (inactive deltas are not stored: the
///   layer computes with `w0`);
/// - `<layer>.score` `[1]` for every gated layer, so the gates can be re-derived and shown;
/// - biases, norm parameters and running statistics (task-specific);
/// - the head (`<head>.weight`, `<head>.bias`).
///
/// Metadata (`__metadata__`, strings) carries at least `format` = `taps-task/1`, `tau`, `gated_layers`
/// (JSON array of names), `head`, and whatever the trainer adds (task, mode, lambda history, base hash,
/// accuracies).
public struct TaskExport {
    /// Format tag written to `__metadata__["format"]`.
    public static let format = "taps-task/1"

    public var tensors: [(String, Tensor)]
    public var metadata: [String: String]

    /// Collects the export of `task` in its current state.
    public init(task: TaskNetwork, metadata extra: [String: String] = [:]) {
        var t: [(String, Tensor)] = []
        for g in task.gatedLayers {
            if g.isActive { t.append((g.delta.name, g.delta.value)) }
            t.append((g.score.name, g.score.value))
        }
        for p in task.normalisationTensors { t.append((p.name, p.value)) }
        for p in task.headParameters { t.append((p.name, p.value)) }
        tensors = t
        var m = extra
        m["format"] = Self.format
        m["tau"] = String(task.gatedLayers.first?.tau ?? 0.1)
        m["head"] = task.headName
        let names = task.gatedLayers.map(\.name)
        m["gated_layers"] = String(data: (try? JSONEncoder().encode(names)) ?? Data("[]".utf8), encoding: .utf8)
        metadata = m
    }

    /// Wraps tensors read from a file.
    public init(tensors: [(String, Tensor)], metadata: [String: String]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Writes the export atomically as safetensors.
    /// - Throws: `SafeTensorsError` or a file-system error.
    public func write(to url: URL) throws {
        try SafeTensors.write(tensors, metadata: metadata, to: url)
    }

    /// Reads an export written by ``write(to:)``.
    /// - Throws: `SafeTensorsError` for a malformed file; `TaskExportError.notATaskExport` when the
    ///   metadata lacks the `taps-task` format tag.
    public static func read(_ url: URL) throws -> TaskExport {
        let file = try SafeTensors.read(url)
        guard let f = file.metadata["format"], f.hasPrefix("taps-task/") else {
            throw TaskExportError.notATaskExport(file: url.path)
        }
        return TaskExport(tensors: file.tensors.map { ($0.name, $0.tensor) }, metadata: file.metadata)
    }

    /// Loads this export into `task` (built on the same base): sets scores, tau, active deltas (zero for
    /// layers not stored), biases, norms and head.
    /// - Throws: `TaskExportError` naming each missing, unexpected or shape-mismatched tensor, or a gated
    ///   layer list that differs from the network's.
    public func apply(to task: TaskNetwork, source: String) throws {
        if let json = metadata["gated_layers"], let names = try? JSONDecoder().decode([String].self, from: Data(json.utf8)),
           names != task.gatedLayers.map(\.name) {
            throw TaskExportError.layerMismatch(file: source, expected: task.gatedLayers.map(\.name), found: names)
        }
        if let tauText = metadata["tau"], let tau = Float(tauText) {
            for g in task.gatedLayers { g.tau = tau }
        }
        var byName = Dictionary(tensors, uniquingKeysWith: { a, _ in a })
        var problems: [String] = []
        func take(_ p: Parameter, required: Bool) {
            guard let t = byName.removeValue(forKey: p.name) else {
                if required { problems.append("missing tensor '\(p.name)'") }
                return
            }
            guard t.shape == p.value.shape else {
                problems.append("tensor '\(p.name)' has shape \(t.shape), expected \(p.value.shape)")
                return
            }
            p.value = t
        }
        for g in task.gatedLayers {
            g.delta.value.zero()
            take(g.score, required: true)
            take(g.delta, required: false)
        }
        for p in task.normalisationTensors { take(p, required: true) }
        for p in task.headParameters { take(p, required: true) }
        for name in byName.keys.sorted() { problems.append("unexpected tensor '\(name)'") }
        if !problems.isEmpty { throw TaskExportError.mismatch(file: source, problems: problems) }
    }
}

/// Errors loading a task export.
public enum TaskExportError: Error, CustomStringConvertible {
    case notATaskExport(file: String)
    case layerMismatch(file: String, expected: [String], found: [String])
    case mismatch(file: String, problems: [String])
    case wrongBase(file: String, expected: String, found: String)
    /// A metadata field is missing or malformed.
    case badMetadata(file: String, field: String, expected: String)

    public var description: String {
        switch self {
        case .notATaskExport(let file):
            return "\(file): not a taps task export (no __metadata__ format 'taps-task/1'); for a base network use --base"
        case let .layerMismatch(file, expected, found):
            return "\(file): gated layers \(found) do not match the base's \(expected)"
        case let .mismatch(file, problems):
            return "\(file): export does not fit the base:\n" + problems.map { "  " + $0 }.joined(separator: "\n")
        case let .wrongBase(file, expected, found):
            return "\(file): made for base \(found), but the base given is \(expected)"
        case let .badMetadata(file, field, expected):
            return "\(file): __metadata__ field '\(field)' is missing or malformed; expected \(expected)"
        }
    }
}
