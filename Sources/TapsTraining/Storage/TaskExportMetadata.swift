// TapsTraining: the one export path — typed metadata of `task.safetensors`, written and loaded the same way
// by `taps train`, the joint modes, `taps eval`, `taps predict`, suites and the dashboard.
import Foundation
import TAPS
import TapsNN
import TapsTensor

/// The metadata of a task export (`__metadata__` of `task.safetensors`, docs/method.md "Storage and accounting"), typed.
///
/// In the file every field is a string (safetensors metadata is a string map): numbers as Swift prints them
/// (exact round trip), lists as compact JSON. Field names are the snake_case keys the files have always used.
public struct TaskExportMetadata: Codable, Sendable, Equatable {
    /// `taps-task/1`.
    public var format: String = TaskExport.format
    /// Task name (embedded task, or the dataset the run used).
    public var task: String
    public var mode: TrainingMode
    /// Set for exports made by a suite's joint modes (`joint` stage 2 runs are plain single-task runs: nil).
    public var suiteMode: SuiteMode?
    /// The base the export loads onto: its name and ``BaseModel/contentHash``.
    public var base: String
    public var baseHash: String
    /// Architecture of the base (`digitcnn`, `resnet18`, ...).
    public var architecture: String
    /// Square input size in pixels the task was trained at.
    public var imageSize: Int
    /// Classes of the task's head.
    public var classes: Int
    /// Gate threshold tau.
    public var tau: Double
    /// Module name of the head (`fc_layers.2`, `fc`, ...).
    public var head: String
    /// Names of the gated layers in network order (the export's scores follow it).
    public var gatedLayers: [String]
    /// Lambda values and the first step each applied to.
    public var lambdaHistory: [LambdaChange]
    public var seed: UInt64
    /// Optimizer steps the run took.
    public var steps: Int
    /// Test accuracy (0...1) of the exported model, when evaluated.
    public var testAccuracy: Double?
    /// Validation accuracy (0...1) of the selected epoch.
    public var validationAccuracy: Double?
    /// The user's dataset the task was trained on (`--data`), so `taps eval` finds it again; nil for the embedded
    /// pack and `--data-dir` tasks.
    public var data: String? = nil
    /// Its format when it was forced with `--format`.
    public var dataFormat: String? = nil

    public init(task: String, mode: TrainingMode, suiteMode: SuiteMode? = nil, base: String, baseHash: String,
                architecture: String, imageSize: Int, classes: Int, tau: Double, head: String, gatedLayers: [String],
                lambdaHistory: [LambdaChange], seed: UInt64, steps: Int, testAccuracy: Double? = nil,
                validationAccuracy: Double? = nil) {
        self.task = task; self.mode = mode; self.suiteMode = suiteMode; self.base = base; self.baseHash = baseHash
        self.architecture = architecture; self.imageSize = imageSize; self.classes = classes; self.tau = tau
        self.head = head; self.gatedLayers = gatedLayers; self.lambdaHistory = lambdaHistory; self.seed = seed
        self.steps = steps; self.testAccuracy = testAccuracy; self.validationAccuracy = validationAccuracy
    }

    /// The string map written to the file.
    public var fields: [String: String] {
        func json<T: Encodable>(_ v: T) -> String {
            String(data: (try? makeJSONEncoder(pretty: false).encode(v)) ?? Data("[]".utf8), encoding: .utf8) ?? "[]"
        }
        var m: [String: String] = [
            "format": format, "task": task, "mode": mode.rawValue, "base": base, "base_hash": baseHash,
            "architecture": architecture, "image_size": String(imageSize), "classes": String(classes),
            "tau": String(tau), "head": head, "gated_layers": json(gatedLayers), "lambda_history": json(lambdaHistory),
            "seed": String(seed), "steps": String(steps),
        ]
        if let suiteMode { m["suite_mode"] = suiteMode.rawValue }
        if let testAccuracy { m["test_accuracy"] = String(testAccuracy) }
        if let validationAccuracy { m["validation_accuracy"] = String(validationAccuracy) }
        if let data { m["data"] = data }
        if let dataFormat { m["data_format"] = dataFormat }
        return m
    }

    /// Parses the string map of `file`.
    /// - Throws: ``TaskExportError/badMetadata(file:field:expected:)`` naming the first missing or malformed
    ///   field; never substitutes a default for a required field.
    public init(fields m: [String: String], file: String) throws {
        func text(_ key: String, _ expected: String) throws -> String {
            guard let v = m[key], !v.isEmpty else { throw TaskExportError.badMetadata(file: file, field: key, expected: expected) }
            return v
        }
        func parse<T>(_ key: String, _ expected: String, _ f: (String) -> T?) throws -> T {
            guard let v = f(try text(key, expected)) else { throw TaskExportError.badMetadata(file: file, field: key, expected: expected) }
            return v
        }
        func optional<T>(_ key: String, _ expected: String, _ f: (String) -> T?) throws -> T? {
            guard m[key] != nil else { return nil }
            return try parse(key, expected, f)
        }
        func decoded<T: Decodable>(_ type: T.Type) -> (String) -> T? {
            { try? makeJSONDecoder().decode(T.self, from: Data($0.utf8)) }
        }
        format = try text("format", "'\(TaskExport.format)'")
        guard format.hasPrefix("taps-task/") else { throw TaskExportError.notATaskExport(file: file) }
        task = try text("task", "the task name")
        mode = try parse("mode", "taps, finetune or probe", TrainingMode.init(rawValue:))
        suiteMode = try optional("suite_mode", "incremental, joint or fully-joint", SuiteMode.init(rawValue:))
        base = try text("base", "the base's name")
        baseHash = try text("base_hash", "the base's content hash (fnv1a64:...)")
        architecture = try text("architecture", "the base's architecture")
        imageSize = try parse("image_size", "an integer >= 1", { Int($0).flatMap { $0 >= 1 ? $0 : nil } })
        classes = try parse("classes", "an integer >= 1", { Int($0).flatMap { $0 >= 1 ? $0 : nil } })
        tau = try parse("tau", "a finite number", { Double($0).flatMap { $0.isFinite ? $0 : nil } })
        head = try text("head", "the head's module name")
        gatedLayers = try parse("gated_layers", "a JSON list of layer names", decoded([String].self))
        lambdaHistory = try parse("lambda_history", "a JSON list of {step, lambda}", decoded([LambdaChange].self))
        seed = try parse("seed", "an unsigned integer", { UInt64($0) })
        steps = try parse("steps", "an integer >= 0", { Int($0).flatMap { $0 >= 0 ? $0 : nil } })
        testAccuracy = try optional("test_accuracy", "a number in [0, 1]", { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } })
        validationAccuracy = try optional("validation_accuracy", "a number in [0, 1]", { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } })
        data = m["data"]
        dataFormat = m["data_format"]
    }
}

/// A task export read from disk: its tensors and typed metadata.
public struct TaskExportFile {
    /// Where it was read from.
    public var url: URL
    public var export: TaskExport
    public var metadata: TaskExportMetadata

    /// Reads and parses `url`.
    /// - Throws: `SafeTensorsError` for a malformed file; ``TaskExportError`` when it is not a task export or a
    ///   metadata field is missing or malformed.
    public init(contentsOf url: URL) throws {
        let export = try TaskExport.read(url)
        self.url = url
        self.export = export
        metadata = try TaskExportMetadata(fields: export.metadata, file: url.path)
    }

    /// Builds the task network on `base` and loads the export into it: scores, tau, active deltas, biases,
    /// norms and head (docs/method.md "Storage and accounting").
    /// - Throws: ``TaskExportError/wrongBase(file:expected:found:)`` when `base`'s content hash is not the one
    ///   the export was made for; ``TaskExportError`` for tensors that do not fit the base.
    public func load(onto base: BaseModel) throws -> TaskNetwork {
        guard metadata.baseHash == base.contentHash else {
            throw TaskExportError.wrongBase(file: url.path, expected: "\(base.name) (\(base.contentHash))",
                                            found: "\(metadata.base) (\(metadata.baseHash))")
        }
        try checkHeadMatchesClasses()
        var rng = SeededRNG(seed: 0)
        let network = try base.taskNetwork(classes: metadata.classes, mode: metadata.mode, tau: metadata.tau,
                                           initialScore: 0.15, rng: &rng)
        try export.apply(to: network, source: url.path)
        return network
    }
}

extension TaskExportFile {
    /// The `classes` field must be the stored head's output count (`<head>.weight` `[classes, features]`), checked
    /// before a network with that many outputs is allocated.
    /// - Throws: ``TaskExportError/badMetadata(file:field:expected:)`` naming the head's shape.
    func checkHeadMatchesClasses() throws {
        let name = metadata.head + ".weight"
        let shape = export.tensors.first { $0.0 == name }?.1.shape
        guard let shape, shape.count == 2, shape[0] == metadata.classes else {
            throw TaskExportError.badMetadata(file: url.path, field: "classes", expected: "the output count of the stored head "
                + "'\(name)' (shape \(shape.map { "\($0)" } ?? "missing")), found \(metadata.classes)")
        }
    }
}

extension TaskExport {
    /// Collects `task`'s export with typed metadata (the one way the trainer writes `task.safetensors`).
    public init(task: TaskNetwork, metadata: TaskExportMetadata) {
        self.init(task: task, metadata: metadata.fields)
    }

    /// Reads the export at `url` and loads it onto `base` (after checking that it was made for that base).
    /// - Returns: the task network, ready for inference, and the export's metadata.
    /// - Throws: see ``TaskExportFile/init(contentsOf:)`` and ``TaskExportFile/load(onto:)``.
    public static func load(_ url: URL, onto base: BaseModel) throws -> (network: TaskNetwork, metadata: TaskExportMetadata) {
        let file = try TaskExportFile(contentsOf: url)
        return (try file.load(onto: base), file.metadata)
    }
}
