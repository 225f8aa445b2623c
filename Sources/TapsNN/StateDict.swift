// TapsNN: state_dict export and import by PyTorch key.
import TapsTensor

/// Every parameter and buffer of `model` as `(state_dict key, value)`, in model order (PyTorch
/// `model.state_dict()`). Shared parameters appear once.
public func stateDict(of model: any Layer) -> [(String, Tensor)] {
    var seen = Set<String>()
    return model.parameters.compactMap { seen.insert($0.name).inserted ? ($0.name, $0.value) : nil }
}

/// Why a state_dict did not load: every problem at once, one per line.
public struct StateDictError: Error, CustomStringConvertible, Equatable {
    /// Keys the model has but the dictionary lacks (reported in strict mode only).
    public var missing: [String]
    /// Keys the dictionary has but the model lacks (reported in strict mode only).
    public var unexpected: [String]
    /// Keys present in both with different shapes (always an error, as in PyTorch).
    public var shapeMismatches: [ShapeMismatch]

    /// One shape mismatch.
    public struct ShapeMismatch: Equatable, Sendable {
        public var name: String, modelShape: [Int], fileShape: [Int]
    }

    /// Every problem, one per line, then a HINT line.
    public var description: String {
        var lines = ["state_dict does not match the model:"]
        lines += missing.map { "  missing key: \($0)" }
        lines += unexpected.map { "  unexpected key: \($0)" }
        lines += shapeMismatches.map { "  shape mismatch for \($0.name): model \($0.modelShape), state_dict \($0.fileShape)" }
        if !shapeMismatches.isEmpty {
            lines.append("HINT: a head with another class count? Replace the head after loading, or drop its keys and load with strict: false.")
        } else if !missing.isEmpty || !unexpected.isEmpty {
            lines.append("HINT: if the keys are right but incomplete on purpose (e.g. no head), load with strict: false.")
        }
        return lines.joined(separator: "\n")
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
}

/// Copies `tensors` into the parameters and buffers of `model` by state_dict key (PyTorch
/// `model.load_state_dict(tensors, strict=strict)`).
///
/// All keys are checked before anything is copied, so a failed load leaves the model unchanged.
/// Shapes must match exactly, except that a one-element scalar `[]` and `[1]` are interchangeable (for
/// `num_batches_tracked`); the model keeps its own shape.
/// - Throws: ``StateDictError`` listing every missing and unexpected key (strict mode) and every shape
///   mismatch (both modes), one per line.
@discardableResult
public func loadStateDict(_ tensors: [String: Tensor], into model: any Layer, strict: Bool = true) throws -> StateDictLoadReport {
    let params = model.parameters
    var modelNames = Set<String>()
    var missing: [String] = [], mismatches: [StateDictError.ShapeMismatch] = []
    for p in params where modelNames.insert(p.name).inserted {
        guard let t = tensors[p.name] else { missing.append(p.name); continue }
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
    return StateDictLoadReport(loaded: loaded, missing: missing, unexpected: unexpected)
}

private func shapesCompatible(_ a: [Int], _ b: [Int]) -> Bool {
    if a == b { return true }
    let scalarLike: ([Int]) -> Bool = { $0.count <= 1 && $0.reduce(1, *) == 1 }
    return scalarLike(a) && scalarLike(b)
}
