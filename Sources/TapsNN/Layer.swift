// TapsNN: the layer contract. Each layer owns its backward (llm.c style); there is no autograd graph.
import TapsTensor

/// Whether a forward pass is for training (batch statistics, dropout on, caches kept for backward)
/// or for inference (running statistics, dropout off).
public enum ForwardMode: Sendable {
    case training, inference
}

/// A named tensor of a model: a trainable parameter (with its gradient) or a buffer such as
/// BatchNorm's `running_mean`. Names are PyTorch `state_dict` keys (`layer1.0.conv1.weight`).
///
/// Reference semantics: layers and optimizers share the same `Parameter` object. A model is owned by
/// one thread at a time (the trainer's queue), hence `@unchecked Sendable`.
public final class Parameter: @unchecked Sendable {
    /// Full `state_dict` key, e.g. `conv_layers.0.weight`.
    public let name: String
    /// Current value; shape as in PyTorch.
    public var value: Tensor
    /// Accumulated gradient `dL/dvalue`, same shape as `value` (all zeros for buffers).
    public var grad: Tensor
    /// Whether optimizers update this tensor. Frozen base weights and buffers have `false`.
    public var requiresGrad: Bool
    /// Buffers (`running_mean`, `running_var`, `num_batches_tracked`) are state, never trained.
    public let isBuffer: Bool

    /// Creates a parameter (or a buffer when `isBuffer`) holding `value` with a zero gradient.
    public init(_ name: String, _ value: Tensor, requiresGrad: Bool = true, isBuffer: Bool = false) {
        self.name = name
        self.value = value
        self.grad = Tensor(zeros: isBuffer ? [0] : value.shape)
        self.requiresGrad = isBuffer ? false : requiresGrad
        self.isBuffer = isBuffer
    }

    /// Number of scalar elements.
    public var count: Int { value.count }

    /// Clears the accumulated gradient.
    public func zeroGrad() { if !isBuffer { grad.zero() } }
}

/// A differentiable layer with a hand-written backward pass.
///
/// `forward` caches what `backward` needs (in a small named `Cache` struct property of the layer);
/// `backward(dOut)` must follow the matching training-mode `forward`, returns `dL/dInput` and
/// **accumulates** parameter gradients into `Parameter.grad` (cleared by ``zeroGrad()``).
public protocol Layer: AnyObject {
    /// Computes the output for input `x` (shape documented by each layer).
    func forward(_ x: Tensor, mode: ForwardMode) -> Tensor
    /// Given `dL/dOutput` (shape of the last output), returns `dL/dInput` and accumulates parameter grads.
    func backward(_ dOut: Tensor) -> Tensor
    /// Every parameter and buffer of this layer and its children, in `state_dict` order.
    var parameters: [Parameter] { get }
    /// Direct children (for containers), in forward order; empty for leaf layers.
    var children: [any Layer] { get }
    /// Replaces each direct child by `transform(child)` (containers only; leaves ignore it).
    /// TAPS uses this to swap weighted layers for gated wrappers, as mlx-swift swaps `Linear`.
    func mapChildren(_ transform: (any Layer) -> any Layer)
}

extension Layer {
    public var children: [any Layer] { [] }
    public func mapChildren(_ transform: (any Layer) -> any Layer) {}
    /// Clears the gradients of every parameter.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
    /// Parameters and buffers by `state_dict` key.
    public var namedParameters: [String: Parameter] {
        Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }
}

/// A layer whose computation is linear in one weight tensor (`Linear`, `Conv2d`): the layers TAPS gates.
///
/// The weight can be supplied explicitly, so a wrapper can run the layer with an effective weight
/// `w0 + g * dw` and receive `dL/dW` at that weight instead of having it accumulated into `weight.grad`
/// (Wallingford et al., CVPR 2022, §3).
public protocol WeightedLayer: Layer {
    /// The layer's own weight (for a TAPS-wrapped layer: the frozen base weight `w0`).
    var weight: Parameter { get }
    /// Optional bias `[out]`.
    var bias: Parameter? { get }
    /// Forward with an explicit weight of the same shape as `weight.value`.
    func forward(_ x: Tensor, weight: Tensor, mode: ForwardMode) -> Tensor
    /// Backward for the last `forward(_:weight:mode:)`: returns `dL/dInput` and, when
    /// `needWeightGradient`, `dL/dW` at the weight used in forward (not accumulated anywhere).
    /// Accumulates the bias gradient into `bias.grad` when the bias requires grad.
    func backward(_ dOut: Tensor, weight: Tensor, needWeightGradient: Bool) -> (input: Tensor, weight: Tensor?)
    /// Module name used for TAPS bookkeeping (gate names, `<moduleName>.weight_delta`, `<moduleName>.score`).
    /// Defaults to the weight's state_dict key without a trailing `.weight` (`layer1.0.conv1`); layers with
    /// PyTorch-style packed names override it (attention's `in_proj_weight` → `...self_attention.in_proj`).
    var moduleName: String { get }
}

extension WeightedLayer {
    /// The weight's key without a trailing `.weight` (or the whole key if it has no such suffix).
    public var moduleName: String {
        let n = weight.name
        return n.hasSuffix(".weight") ? String(n.dropLast(".weight".count)) : n
    }
}

/// A layer that can skip `dL/d(input)` in backward when nothing upstream of its input trains: the first layer of a
/// network, whose input is the images. PyTorch's autograd skips it the same way (images do not require grad). For a
/// convolution that is the transposed GEMM and the col2im, a large share of a 7x7 stem's backward (ResNet, DenseNet).
public protocol InputGradientOptional: AnyObject {
    /// Whether backward computes `dL/d(input)` (default true); when false it returns zeros of the input's shape.
    var computesInputGradient: Bool { get set }
}

/// The layer a network's forward runs first: the first leaf of ``Layer/children``, depth first (for every
/// architecture here the stem convolution, whose input is the images).
public func firstLayer(of network: any Layer) -> any Layer {
    var layer = network
    while let first = layer.children.first { layer = first }
    return layer
}
