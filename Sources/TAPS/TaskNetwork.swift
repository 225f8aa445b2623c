// TAPS: a base network with every weighted layer but the head swapped for a gated wrapper.
import TapsNN
import TapsTensor

/// One task's view of a pretrained base: every `Linear`/`Conv2d` except the head is wrapped in a
/// ``GatedLayer`` (frozen `w0`, task delta, score), the head is new and task-specific, and biases and
/// normalisation parameters train per task (docs/method.md "The gated layer").
///
/// Biases of gated layers are task-specific (trained and exported with the task), like BatchNorm's
/// affine parameters; they are counted as "normalisation" parameters in ``ParameterAccounting``.
public final class TaskNetwork {
    /// The full network, input `[N, C, H, W]` → logits `[N, classes]`.
    public let network: any Layer
    /// Gated layers in network order (input to output): the heatmap's rows.
    public let gatedLayers: [GatedLayer]
    /// Module name of the head, e.g. `fc_layers.2`.
    public let headName: String
    /// Parameters of the head (`<head>.weight`, `<head>.bias`).
    public let headParameters: [Parameter]

    /// Wraps `network` in place. The head (the weighted layer named `headName`) is left unwrapped and
    /// trainable; every other weighted layer is gated with `behaviour`.
    /// - Parameters:
    ///   - network: a model whose parameters already hold the base weights and a freshly initialised head.
    ///   - headName: module name of the classifier, e.g. `fc_layers.2`.
    ///   - trainNormalisation: whether norm parameters (BatchNorm/LayerNorm affine) and biases of non-gated
    ///     layers train (true for every mode we ship).
    ///   - trainBiases: whether the biases of the gated layers train (docs/method.md "Training recipe": off for
    ///     TAPS and probe by default, as in the paper's code; on for fine-tuning).
    public init(network: any Layer, headName: String, behaviour: GateBehaviour, tau: Float = 0.1,
                initialScore: Float = 0.15, trainNormalisation: Bool = true, trainBiases: Bool = true) {
        self.network = network
        self.headName = headName
        var gated: [GatedLayer] = []
        func wrap(_ layer: any Layer) {
            layer.mapChildren { child in
                if let weighted = child as? any WeightedLayer {
                    let name = moduleName(of: weighted)
                    if name == headName { return child }
                    let g = GatedLayer(name: name, wrapping: weighted, tau: tau, initialScore: initialScore,
                                       behaviour: behaviour)
                    gated.append(g)
                    return g
                }
                wrap(child)
                return child
            }
        }
        wrap(network)
        gatedLayers = gated
        headParameters = network.parameters.filter { $0.name.hasPrefix(headName + ".") }
        let gatedDeltaOrScore = Set(gated.flatMap { [ObjectIdentifier($0.delta), ObjectIdentifier($0.score)] })
        let frozen = Set(gated.map { ObjectIdentifier($0.base.weight) })
        let gatedBiases = Set(gated.compactMap { $0.base.bias.map(ObjectIdentifier.init) })
        for p in network.parameters where !p.isBuffer {
            let id = ObjectIdentifier(p)
            if frozen.contains(id) { p.requiresGrad = false; continue }
            if gatedBiases.contains(id) { p.requiresGrad = trainBiases; continue }
            if gatedDeltaOrScore.contains(id) { continue }
            if headParameters.contains(where: { $0 === p }) { p.requiresGrad = true; continue }
            p.requiresGrad = trainNormalisation
        }
        computesInputGradient = false
    }

    /// Whether ``backward(_:)`` computes `dL/d(images)` (default false: nothing upstream of the images trains, so
    /// the stem convolution skips its transposed GEMM and col2im, as PyTorch's autograd does for inputs that do
    /// not require grad; ``backward(_:)`` then returns zeros). Set it for saliency maps or adversarial inputs.
    public var computesInputGradient: Bool {
        get { (firstLayer(of: network) as? any InputGradientOptional)?.computesInputGradient ?? true }
        set { (firstLayer(of: network) as? any InputGradientOptional)?.computesInputGradient = newValue }
    }

    /// Logits `[N, classes]` for images `[N, C, H, W]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { network.forward(x, mode: mode) }

    /// Backpropagates `dL/dlogits` `[N, classes]` through the whole network; returns `dL/d(images)` when
    /// ``computesInputGradient`` is set, else zeros of the images' shape.
    @discardableResult
    public func backward(_ dLogits: Tensor) -> Tensor { network.backward(dLogits) }

    /// Every parameter an optimizer should update (deltas, learned scores, biases, norms, head).
    public var trainableParameters: [Parameter] { network.parameters.filter { $0.requiresGrad } }

    /// Clears all gradients.
    public func zeroGrad() { network.zeroGrad() }

    /// The frozen, shared base weights `w0` by state_dict key (for the bit-identical check).
    public var baseWeights: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: gatedLayers.map { ($0.base.weight.name, $0.base.weight.value) })
    }

    /// Indices of the active gated layers.
    public var activeIndices: [Int] { gatedLayers.indices.filter { gatedLayers[$0].isActive } }

    /// Task-specific parameters other than deltas, scores and head: biases, norm affine parameters and
    /// norm buffers (running statistics), in state_dict order.
    public var normalisationTensors: [Parameter] {
        let exclude = Set(gatedLayers.flatMap {
            [ObjectIdentifier($0.delta), ObjectIdentifier($0.score), ObjectIdentifier($0.base.weight)]
        } + headParameters.map { ObjectIdentifier($0) })
        return network.parameters.filter { !exclude.contains(ObjectIdentifier($0)) }
    }
}

/// Module name of a weighted layer: ``WeightedLayer/moduleName`` (by default its weight's state_dict key
/// without the trailing `.weight`; attention's packed projection `...self_attention.in_proj_weight` gives
/// `...self_attention.in_proj`).
public func moduleName(of layer: any WeightedLayer) -> String {
    layer.moduleName
}
