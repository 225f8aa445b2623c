// TapsNN: state_dict export and import by PyTorch key.
import TapsTensor

/// Every parameter and buffer of `model` as `(state_dict key, value)`, in model order (PyTorch
/// `model.state_dict()`). Shared parameters appear once.
public func stateDict(of model: any Layer) -> [(String, Tensor)] {
    var seen = Set<String>()
    return model.parameters.compactMap { seen.insert($0.name).inserted ? ($0.name, $0.value) : nil }
}

/// Why a state_dict did not load: every problem counted, the first few named, on one line.
///
/// ```
/// resnet.safetensors: does not match the model: 12 tensors missing (layer4.1.bn2.weight, layer4.1.bn2.bias,
/// layer4.1.conv2.weight, ...), 3 unexpected (...); is --arch right? (the file looks like resnet50)
/// ```
public struct StateDictError: Error, CustomStringConvertible, Equatable {
    /// Keys the model has but the dictionary lacks (reported in strict mode only), in model order.
    public var missing: [String]
    /// Keys the dictionary has but the model lacks (reported in strict mode only), sorted.
    public var unexpected: [String]
    /// Keys present in both with different shapes (always an error, as in PyTorch).
    public var shapeMismatches: [ShapeMismatch]
    /// Where the tensors came from (a file name), when the caller knows it.
    public var source: String?
    /// What to try, in the caller's terms (e.g. a command-line option); a generic hint when nil.
    public var hint: String?

    /// How many names of each kind the message shows.
    public static let namesShown = 3

    /// One shape mismatch.
    public struct ShapeMismatch: Equatable, Sendable {
        /// The state_dict key.
        public var name: String
        /// The shape the model has.
        public var modelShape: [Int]
        /// The shape the dictionary has.
        public var fileShape: [Int]
    }

    /// Creates the error; `source` and `hint` can be filled in by a caller that knows more.
    public init(missing: [String], unexpected: [String], shapeMismatches: [ShapeMismatch], source: String? = nil,
                hint: String? = nil) {
        self.missing = missing; self.unexpected = unexpected; self.shapeMismatches = shapeMismatches
        self.source = source; self.hint = hint
    }

    /// One line: counts, the first ``namesShown`` names of each kind, then the hint.
    public var description: String {
        func preview(_ names: [String]) -> String {
            let shown = names.prefix(Self.namesShown).joined(separator: ", ")
            return names.count > Self.namesShown ? shown + ", ..." : shown
        }
        var parts: [String] = []
        if !missing.isEmpty {
            parts.append("\(missing.count) tensor\(missing.count == 1 ? "" : "s") missing (\(preview(missing)))")
        }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected (\(preview(unexpected)))") }
        if !shapeMismatches.isEmpty {
            let shapes = shapeMismatches.map { "\($0.name): model \($0.modelShape), file \($0.fileShape)" }
            parts.append("\(shapeMismatches.count) with another shape (\(preview(shapes)))")
        }
        let generic = "was the file saved from this architecture?"
        return (source.map { "\($0): " } ?? "") + "does not match the model: " + parts.joined(separator: ", ")
            + "; " + (hint ?? generic)
    }
}

/// What ``loadStateDict(_:into:strict:)`` did.
public struct StateDictLoadReport: Sendable, Equatable {
    /// Keys copied into the model.
    public var loaded: [String]
    /// Model keys left untouched (non-strict mode).
    public var missing: [String]
    /// Dictionary keys ignored (non-strict mode).
    public var unexpected: [String]
    /// BatchNorm `num_batches_tracked` buffers the dictionary lacks (checkpoints of PyTorch before 0.4.1): the model
    /// keeps its own value, as PyTorch's `BatchNorm._load_from_state_dict` does, even in strict mode.
    public var defaulted: [String] = []
}

/// Copies `tensors` into the parameters and buffers of `model` by state_dict key (PyTorch
/// `model.load_state_dict(tensors, strict=strict)`).
///
/// All keys are checked before anything is copied, so a failed load leaves the model unchanged.
/// Shapes must match exactly, except that a one-element scalar `[]` and `[1]` are interchangeable (for
/// `num_batches_tracked`); the model keeps its own shape.
/// A missing BatchNorm `num_batches_tracked` buffer is not an error (PyTorch fills it in for checkpoints saved
/// before it existed); the model keeps its value and the report lists it under `defaulted`.
/// - Throws: ``StateDictError`` counting every missing and unexpected key (strict mode) and every shape
///   mismatch (both modes), naming the first few.
@discardableResult
public func loadStateDict(_ tensors: [String: Tensor], into model: any Layer, strict: Bool = true) throws -> StateDictLoadReport {
    let params = model.parameters
    var modelNames = Set<String>()
    var missing: [String] = [], defaulted: [String] = [], mismatches: [StateDictError.ShapeMismatch] = []
    for p in params where modelNames.insert(p.name).inserted {
        guard let t = tensors[p.name] else {
            if p.name.hasSuffix(".num_batches_tracked") || p.name == "num_batches_tracked" {
                defaulted.append(p.name)
            } else {
                missing.append(p.name)
            }
            continue
        }
        if !shapesCompatible(p.value.shape, t.shape) {
            mismatches.append(.init(name: p.name, modelShape: p.value.shape, fileShape: t.shape))
        }
    }
    let unexpected = tensors.keys.filter { !modelNames.contains($0) }.sorted()
    if !mismatches.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
        throw StateDictError(missing: strict ? missing : [], unexpected: strict ? unexpected : [],
                             shapeMismatches: mismatches)
    }
    var loaded: [String] = []
    var done = Set<String>()
    for p in params where done.insert(p.name).inserted {
        guard let t = tensors[p.name] else { continue }
        p.value = t.shape == p.value.shape ? t : t.reshaped(p.value.shape)
        loaded.append(p.name)
    }
    return StateDictLoadReport(loaded: loaded, missing: missing, unexpected: unexpected, defaulted: defaulted)
}

/// `tensors` with the names of older or wrapped PyTorch checkpoints brought to today's torchvision names, and one
/// note per kind of change (empty when nothing changed):
/// - a `module.` prefix on every key (saved from `nn.DataParallel` / `DistributedDataParallel`) is removed,
///   as `torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(sd, "module.")` does;
/// - legacy DenseNet names `...denselayerN.norm.1.weight` / `conv.2` / `relu.1` become `norm1`, `conv2`, `relu1`,
///   as torchvision's `densenet._load_state_dict` regex
///   `^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$` does.
/// Keys that would collide after renaming are left as they are.
public func remapLegacyStateDictKeys(_ tensors: [String: Tensor]) -> (tensors: [String: Tensor], notes: [String]) {
    var out = tensors
    var notes: [String] = []
    let prefix = "module."
    if !out.isEmpty, out.keys.allSatisfy({ $0.hasPrefix(prefix) }) {
        let stripped = Dictionary(out.map { (String($0.key.dropFirst(prefix.count)), $0.value) }, uniquingKeysWith: { a, _ in a })
        if stripped.count == out.count {
            out = stripped
            notes.append("removed the '\(prefix)' prefix of all \(out.count) tensor names (a checkpoint saved from DataParallel)")
        }
    }
    var renamed = 0
    for key in out.keys.sorted() {
        guard let newKey = legacyDenseNetName(key), out[newKey] == nil, let value = out[key] else { continue }
        out[key] = nil
        out[newKey] = value
        renamed += 1
    }
    if renamed > 0 {
        notes.append("renamed \(renamed) legacy DenseNet tensor names (norm.1 -> norm1, conv.2 -> conv2), as torchvision does")
    }
    return (out, notes)
}

/// The torchvision name of a legacy DenseNet key (`features.denseblock1.denselayer1.norm.1.weight` ->
/// `features.denseblock1.denselayer1.norm1.weight`), or nil for any other key.
func legacyDenseNetName(_ key: String) -> String? {
    let parts = key.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count >= 4 else { return nil }
    let layer = parts[parts.count - 4], module = parts[parts.count - 3], index = parts[parts.count - 2], field = parts[parts.count - 1]
    let digits = layer.reversed().prefix { $0.isASCII && $0.isNumber }.count
    guard digits > 0, layer.dropLast(digits).hasSuffix("denselayer"),
          ["norm", "relu", "conv"].contains(module), index == "1" || index == "2",
          ["weight", "bias", "running_mean", "running_var"].contains(field) else { return nil }
    return (parts.dropLast(3).map(String.init) + ["\(module)\(index)", String(field)]).joined(separator: ".")
}

private func shapesCompatible(_ a: [Int], _ b: [Int]) -> Bool {
    if a == b { return true }
    let scalarLike: ([Int]) -> Bool = { $0.count <= 1 && $0.reduce(1, *) == 1 }
    return scalarLike(a) && scalarLike(b)
}
