// TapsCommandLine: `--config FILE` — training settings from a TOML file or a run's own config.json.
import Foundation
import TOMLKit
import TapsTraining

/// Reads training settings from a file: a run's `config.json` (repeats that run exactly) or a TOML file with some
/// of the same keys. TOML keys may be `config.json`'s (`learning_rate`, `warmup_epochs`) or the command-line option
/// names (`lr`, `warmup-epochs`); settings the file leaves out keep their defaults.
///
/// A run's `config.json` written before `lambda_definition` was recorded (a JSON file with every key of
/// ``runKeys`` but no `lambda_definition`) keeps it unset: in TAPS mode with the proximal update its lambda meant
/// `1 - momentum` times today's, and `SharedTrainingOptions.validate(_:)` refuses it unless `--lambda` (today's
/// meaning) replaces its lambda. A file written by hand, with only some keys, takes today's definition.
///
/// ```toml
/// task = "fashion"
/// lambda = 0.3
/// epochs = 10
/// lr = 0.02
/// ```
public enum ConfigFile {
    /// Command-line option names whose `config.json` key differs.
    static let aliases: [String: String] = [
        "lr": "learning_rate", "val_fraction": "validation_fraction", "data_dir": "data_directory",
        "arch": "architecture", "steps": "max_steps", "out": "output_directory",
    ]

    /// The settings every run's `config.json` has recorded, from the first taps on (`penalty_update` came later): a
    /// JSON file holding all of them is a run's `config.json`, not one written by hand.
    static let runKeys: Set<String> = [
        "task", "base", "mode", "lambda", "tau", "initial_score", "penalty", "epochs", "warmup_epochs", "batch_size",
        "learning_rate", "momentum", "validation_fraction", "seed", "output_directory",
    ]

    /// The configuration described by `path`, and the keys the file set (as `config.json` names them).
    /// - Throws: `ConfigFileError` naming the file (and the line, or the key and what was expected).
    public static func load(_ path: String) throws -> (config: TrainingConfig, keys: Set<String>) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigFileError(file: path, message: plainDescription(of: error)
                .replacingOccurrences(of: "cannot read \(path): ", with: "cannot read: "))
        }
        let values: [String: Any]
        let trimmed = text.drop { $0.isWhitespace }
        let isJSON = path.hasSuffix(".json") || trimmed.first == "{"
        if isJSON {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw ConfigFileError(file: path, message: "not a JSON object (expected a run's config.json)")
            }
            values = object
        } else {
            values = try parseTOML(text, file: path)
        }
        var fileValues: [String: Any] = [:]
        for (key, value) in values {
            let snake = key.replacingOccurrences(of: "-", with: "_")
            fileValues[aliases[snake] ?? snake] = value
        }
        try normalise(&fileValues, file: path)
        // Defaults, overlaid with the file, decoded as config.json is.
        guard var merged = try JSONSerialization.jsonObject(with: makeJSONEncoder().encode(TrainingConfig())) as? [String: Any] else {
            throw ConfigFileError(file: path, message: "internal error: the default configuration does not encode")
        }
        merged.merge(fileValues) { _, new in new }
        // An older taps's config.json: its lambda keeps the definition it had (none recorded), not today's.
        if isJSON && runKeys.isSubset(of: fileValues.keys) && fileValues["lambda_definition"] == nil {
            merged["lambda_definition"] = nil
        }
        let config: TrainingConfig
        do {
            config = try makeJSONDecoder().decode(TrainingConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let error as DecodingError {
            throw ConfigFileError(file: path, message: describe(error, values: fileValues))
        }
        // A key the decoder ignored does not come back when the result is encoded: it is not a setting.
        let known = Set((try JSONSerialization.jsonObject(with: makeJSONEncoder().encode(config)) as? [String: Any] ?? [:]).keys)
        if let unknown = fileValues.keys.sorted().first(where: { !known.contains($0) && !(fileValues[$0] is NSNull) }) {
            let names = known.union(aliases.keys).sorted().joined(separator: ", ")
            throw ConfigFileError(file: path, message: "unknown setting '\(unknown)'; settings: \(names)")
        }
        return (config, Set(fileValues.keys))
    }

    /// Settings whose value is a whole number (`Int`/`UInt64` in `TrainingConfig`), lower-cased without
    /// underscores (`maxsteps`, `cachemb`), the second set those that cannot be negative either (`UInt64`).
    static let wholeNumberKeys: (all: Set<String>, unsigned: Set<String>) = {
        var all = Set<String>(), unsigned = Set<String>()
        let signed = [Int.self, Int?.self].map(ObjectIdentifier.init)
        let natural = [UInt64.self, UInt64?.self].map(ObjectIdentifier.init)
        for child in Mirror(reflecting: TrainingConfig()).children {
            guard let label = child.label?.lowercased() else { continue }
            let type = ObjectIdentifier(Swift.type(of: child.value))
            if signed.contains(type) { all.insert(label) }
            if natural.contains(type) { all.insert(label); unsigned.insert(label) }
        }
        return (all, unsigned)
    }()

    /// Checks what the decoder would reject without naming the key, and reads the command line's forms:
    /// a decimal (or, for the seed, a negative number) where a whole number belongs gets `epochs: expected a whole
    /// number >= 0, got 6.5` (the decoder said only "not valid JSON"); `budget = "20%"` and `budget_bytes = "2MB"`
    /// become the numbers `--budget 20%` and `--budget-bytes 2MB` give.
    /// - Throws: `ConfigFileError` naming `file` and the key.
    static func normalise(_ values: inout [String: Any], file: String) throws {
        for key in values.keys.sorted() {
            let name = key.replacingOccurrences(of: "_", with: "").lowercased()
            guard wholeNumberKeys.all.contains(name), !(values[key] is String), let number = values[key] as? NSNumber else { continue }
            // Exactly representable in the key's type (a seed takes every UInt64; the bridge fails for 6.5 or -1).
            let whole = wholeNumberKeys.unsigned.contains(name) ? (number as? UInt64) != nil : (number as? Int) != nil
            if !whole { throw ConfigFileError(file: file, message: "\(key): expected a whole number >= 0, got \(text(of: number))") }
        }
        do {
            if let text = values["budget"] as? String { values["budget"] = try Share(text, quote: "\"").value }
        } catch let e as ValueError { throw ConfigFileError(file: file, message: "budget: \(e)") }
        do {
            if let text = values["budget_bytes"] as? String { values["budget_bytes"] = try ByteSize(text, quote: "\"").bytes }
        } catch let e as ValueError { throw ConfigFileError(file: file, message: "budget_bytes: \(e)") }
    }

    /// A file's value as it reads in JSON (`6.5`, `"ten"`, `[1,2]`).
    static func text(of value: Any) -> String {
        if let s = value as? String { return "\"\(s)\"" }
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }

    /// TOML text as JSON-compatible values (through toml++'s JSON conversion).
    static func parseTOML(_ text: String, file: String) throws -> [String: Any] {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ConfigFileError(file: "\(file):\(error.source.begin.line):\(error.source.begin.column)",
                                  message: "not valid TOML: \(error.description)")
        }
        if let nested = table.keys.first(where: { table[$0]?.type == .table }) {
            throw ConfigFileError(file: file, message: "[\(nested)] tables are not settings; write the keys at the top level")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(table.convert(to: .json).utf8)) as? [String: Any] else {
            throw ConfigFileError(file: file, message: "cannot convert the TOML document")
        }
        return object
    }

    /// "lambda: expected a number, got "abc"" for a decoding error.
    static func describe(_ error: DecodingError, values: [String: Any]) -> String {
        func key(_ path: [any CodingKey]) -> String {
            guard let last = path.last?.stringValue else { return "(top level)" }
            return last.reduce(into: "") { s, c in s += c.isUppercase ? "_" + c.lowercased() : String(c) }
        }
        func got(_ k: String) -> String { values[k].map(text(of:)) ?? "nothing" }
        func expected(_ type: Any.Type) -> String {
            switch type {
            case is Double.Type, is Float.Type: return "a number"
            case is Int.Type, is UInt64.Type: return "a whole number >= 0"
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            default: return "\(type)"
            }
        }
        switch error {
        case let .typeMismatch(type, context):
            let k = key(context.codingPath)
            return "\(k): expected \(expected(type)), got \(got(k))"
        case let .dataCorrupted(context):
            // Without a key the decoder names nothing useful ("The given data was not valid JSON."): a value of a
            // nested setting (`path`) that does not fit its type.
            guard !context.codingPath.isEmpty else { return "a value does not fit its setting (a decimal where a whole number belongs?)" }
            let k = key(context.codingPath)
            let options: String
            switch k {
            case "mode": options = TrainingMode.allCases.map(\.rawValue).joined(separator: ", ")
            case "penalty": options = "mean, weighted"
            case "penalty_update": options = "proximal, subgradient"
            default: options = ""
            }
            return "\(k): " + (options.isEmpty ? context.debugDescription : "expected one of \(options)") + ", got \(got(k))"
        case let .valueNotFound(type, context):
            let k = key(context.codingPath)
            return "\(k): expected \(expected(type)), got nothing"
        case let .keyNotFound(codingKey, _):
            return "\(key([codingKey])): missing"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A config file that cannot be used: `FILE: what was wrong`.
public struct ConfigFileError: Error, CustomStringConvertible, Equatable {
    /// The file (with `:line:column` for TOML syntax errors).
    public var file: String
    /// What was wrong: `epochs: expected a whole number >= 0, got 6.5`.
    public var message: String
    /// The error for `file` (with `:line:column` when known) and what was wrong in it.
    public init(file: String, message: String) { self.file = file; self.message = message }
    public var description: String { "\(file): \(message)" }
}
