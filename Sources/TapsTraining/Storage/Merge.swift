// TapsTraining: back to PyTorch: a task export merged with its base into one plain network state_dict.
import Foundation
import TAPS
import TapsNN
import TapsTensor

/// The full adapted network of `task` as a plain state_dict with the base's (torchvision) names, loadable by
/// `model.load_state_dict(sd, strict=True)` into the architecture with `classes` outputs:
///
/// ```
/// <layer>.weight = w0 + 1[s >= tau] * dw      for every gated layer (w0 alone when the gate is off)
/// biases, normalisation (affine + running statistics) and head: the task's own
/// ```
/// No `weight_delta` or `score` tensors remain. Order: the network's state_dict order.
public func mergedStateDict(_ task: TaskNetwork) -> [(String, Tensor)] {
    var effective: [String: Tensor] = [:]
    for g in task.gatedLayers { effective[g.name + ".weight"] = g.effectiveWeight }
    let gatedExtras = Set(task.gatedLayers.flatMap { [$0.delta.name, $0.score.name] })
    return stateDict(of: task.network).compactMap { name, value in
        gatedExtras.contains(name) ? nil : (name, effective[name] ?? value)
    }
}

/// Writes `export` merged onto `base` (``mergedStateDict(_:)``) to `out` as safetensors, atomically, with metadata
/// `format` = `taps-merged/1`, the architecture, classes, input size and normalisation (the input recipe), and the
/// task's name.
/// - Returns: the number of tensors written and how many gated layers carried a delta.
/// - Throws: `TaskExportError.wrongBase` for an export made for another base; reader and writer errors.
@discardableResult
public func mergeExport(_ export: URL, base: BaseModel, to out: URL) throws -> (tensors: Int, activeLayers: Int) {
    let (network, exported) = try TaskExport.load(export, onto: base)
    let tensors = mergedStateDict(network)
    let classes = tensors.first { $0.0 == base.headName + ".weight" }?.1.shape.first ?? 0
    var meta: [String: String] = [
        "format": "taps-merged/1", "architecture": base.architecture, "classes": String(classes),
        "image_size": String(base.inputShape[1]), "input_channels": String(base.inputShape[0]),
        "input_mean": base.normalization.mean.map { String($0) }.joined(separator: ","),
        "input_std": base.normalization.std.map { String($0) }.joined(separator: ","),
        "base": base.name, "base_hash": base.contentHash,
    ]
    meta["task"] = exported.task
    try SafeTensors.write(tensors, metadata: meta, to: out)
    return (tensors.count, network.activeIndices.count)
}
