// TapsNN: a residual block container (ResNet BasicBlock/Bottleneck, EfficientNet MBConv) and init helpers.
import TapsTensor

/// A main path with an optional residual connection and activation (torchvision `BasicBlock`/`Bottleneck`,
/// EfficientNet's MBConv):
///
/// ```
/// h = main_k(... main_0(x))
/// s = shortcut(x)   (or x when there is no shortcut layer)
/// y = act(h + s)            when residual      (act = identity when nil)
/// y = act(h)                otherwise
/// backward: d = act'(dy);   dx = main'(d) + (shortcut'(d) or d)
/// ```
/// Shapes are whatever the main path produces; with a residual, `h` and `s` must have the same shape.
/// Parameters come in main-path order, then the shortcut's (torchvision's state_dict order: `conv1`, `bn1`,
/// ..., `downsample.0`, `downsample.1`). Children are visited in the same order by ``mapChildren(_:)``,
/// so TAPS gates `conv1, conv2, [conv3], downsample.0` in that order.
///
/// ```swift
/// let block = ResidualBlock(main: [conv1, bn1, ReLU(), conv2, bn2], shortcut: nil, residual: true, activation: ReLU())
/// ```
/// References: He et al., "Deep Residual Learning", CVPR 2016; torchvision `models/resnet.py`.
public final class ResidualBlock: Layer {
    /// The main path, in forward order.
    public private(set) var main: [any Layer]
    /// The projection of the input on the residual path (`downsample`), or `nil` for the identity.
    public private(set) var shortcut: (any Layer)?
    /// Whether `h + s` is formed (false: a plain chain, e.g. an MBConv block that changes shape).
    public let residual: Bool
    /// Applied after the sum (ReLU in ResNet), or `nil`.
    public let activation: (any Layer)?

    /// Creates a block; `shortcut` is only used when `residual`.
    public init(main: [any Layer], shortcut: (any Layer)? = nil, residual: Bool = true, activation: (any Layer)? = nil) {
        precondition(residual || shortcut == nil, "ResidualBlock: a shortcut needs residual = true")
        self.main = main
        self.shortcut = shortcut
        self.residual = residual
        self.activation = activation
    }

    /// Main-path parameters, then the shortcut's.
    public var parameters: [Parameter] { main.flatMap(\.parameters) + (shortcut?.parameters ?? []) }

    /// Main-path layers, then the shortcut (the activation has no parameters and is not listed).
    public var children: [any Layer] { main + (shortcut.map { [$0] } ?? []) }

    /// Replaces every main-path layer and the shortcut by `transform(child)`.
    public func mapChildren(_ transform: (any Layer) -> any Layer) {
        main = main.map(transform)
        shortcut = shortcut.map(transform)
    }

    /// `act(main(x) + shortcut(x))` (or `act(main(x))` without a residual).
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var h = x
        for layer in main { h = layer.forward(h, mode: mode) }
        if residual {
            let s = shortcut?.forward(x, mode: mode) ?? x
            precondition(s.shape == h.shape, "ResidualBlock: main path \(h.shape) vs shortcut \(s.shape)")
            h.add(s)
        }
        return activation?.forward(h, mode: mode) ?? h
    }

    /// `dx = main'(d) + shortcut'(d)` with `d = act'(dy)`.
    public func backward(_ dOut: Tensor) -> Tensor {
        let d = activation?.backward(dOut) ?? dOut
        var dx = d
        for layer in main.reversed() { dx = layer.backward(dx) }
        if residual { dx.add(shortcut?.backward(d) ?? d) }
        return dx
    }
}

// MARK: - Initialisation (torchvision conventions)

/// Kaiming-normal for ReLU networks (`nn.init.kaiming_normal_(w, mode=..., nonlinearity="relu")`):
/// `w ~ N(0, 2 / fan)`, `fan = O·KH·KW` (`fanOut`) or `C/G·KH·KW` (fan in). Zeroes the bias if present.
func kaimingNormal(_ conv: Conv2d, fanOut: Bool, rng: inout SeededRNG) {
    let s = conv.weight.value.shape
    let fan = (fanOut ? s[0] : s[1]) * s[2] * s[3]
    conv.weight.value = .normal(s, std: (2 / Float(fan)).squareRoot(), rng: &rng)
    conv.bias?.value = Tensor(zeros: [s[0]])
}

/// A bias-free convolution with kaiming-normal (fan-out, ReLU) weights, as torchvision's ResNet initialises them.
func makeConv(_ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
              groups: Int = 1, fanOut: Bool = true, rng: inout SeededRNG) -> Conv2d {
    let conv = Conv2d(name: name, inChannels: inChannels, outChannels: outChannels, kernelSize: kernel, stride: stride,
                      padding: padding, groups: groups, bias: false, rng: &rng)
    kaimingNormal(conv, fanOut: fanOut, rng: &rng)
    return conv
}
