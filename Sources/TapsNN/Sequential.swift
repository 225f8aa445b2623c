// TapsNN: an ordered container of named child layers (PyTorch `nn.Sequential` / a module with attributes).
import TapsTensor

/// Runs its children in order; backward runs them in reverse (PyTorch `nn.Sequential`).
///
/// ```
/// y = f_k(... f_1(f_0(x)))          dx = b_0(b_1(... b_k(dy)))
/// ```
///
/// Every child has a module name (its state_dict prefix): `Sequential(name: "conv_layers", [...])` names
/// its children `conv_layers.0`, `conv_layers.1`, ...; `Sequential(name: "", named: [("conv_layers", s)])`
/// names them as given (a PyTorch module with attributes). Parameter names are fixed when each layer is
/// created (`Conv2d(name: "conv_layers.0", ...)`), so children must be constructed with their module
/// names; ``init(name:_:)`` checks this. Shapes are whatever the chain accepts.
///
/// ```swift
/// let block = Sequential(name: "fc_layers", [
///     Linear(name: "fc_layers.0", inFeatures: 1152, outFeatures: 256, rng: &rng), ReLU(),
///     Linear(name: "fc_layers.2", inFeatures: 256, outFeatures: 10, rng: &rng)])
/// block.layer(named: "fc_layers.2")   // the head
/// ```
/// References: https://pytorch.org/docs/stable/generated/torch.nn.Sequential.html
public final class Sequential: Layer {
    /// Module name of this container (`""` for a top-level model).
    public let name: String
    /// Full module names of the children, parallel to ``layers``.
    public let childNames: [String]
    /// The children, in forward order.
    public private(set) var layers: [any Layer]

    /// A container whose children are named `<name>.<index>`.
    /// - Precondition: every parameter of child `i` is named `<name>.<i>.<...>`.
    public init(name: String, _ layers: [any Layer]) {
        self.name = name
        self.layers = layers
        childNames = layers.indices.map { name.isEmpty ? "\($0)" : "\(name).\($0)" }
        checkNames()
    }

    /// A container whose children have the given local names (full name `<name>.<local>`).
    /// - Precondition: every parameter of a child is named `<child full name>.<...>`.
    public init(name: String = "", named: [(String, any Layer)]) {
        self.name = name
        layers = named.map(\.1)
        childNames = named.map { name.isEmpty ? $0.0 : "\(name).\($0.0)" }
        checkNames()
    }

    private func checkNames() {
        for (child, childName) in zip(layers, childNames) {
            for p in child.parameters {
                precondition(p.name.hasPrefix(childName + "."),
                             "Sequential \(name): parameter \(p.name) does not belong to child \(childName)")
            }
        }
    }

    /// Parameters and buffers of every child, in order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// The children, in forward order.
    public var children: [any Layer] { layers }

    /// Replaces every direct child by `transform(child)` (TAPS wraps weighted layers this way).
    public func mapChildren(_ transform: (any Layer) -> any Layer) {
        layers = layers.map(transform)
    }

    /// The `i`-th child.
    public subscript(index: Int) -> any Layer { layers[index] }

    /// Runs every child in order.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var h = x
        for layer in layers { h = layer.forward(h, mode: mode) }
        return h
    }

    /// Runs every child's backward in reverse order.
    public func backward(_ dOut: Tensor) -> Tensor {
        var d = dOut
        for layer in layers.reversed() { d = layer.backward(d) }
        return d
    }

    /// The layer with full module name `moduleName` (e.g. `fc_layers.2`), searching nested containers.
    public func layer(named moduleName: String) -> (any Layer)? {
        for (child, childName) in zip(layers, childNames) {
            if childName == moduleName { return child }
            if let inner = child as? Sequential, moduleName.hasPrefix(childName + "."),
               let found = inner.layer(named: moduleName) {
                return found
            }
        }
        return nil
    }

    /// Replaces the layer with full module name `moduleName` (searching nested containers) by `newLayer`,
    /// whose parameters must be named `<moduleName>.<...>`.
    /// - Returns: `false` when no such layer exists.
    @discardableResult
    public func replaceLayer(named moduleName: String, with newLayer: any Layer) -> Bool {
        for i in layers.indices {
            if childNames[i] == moduleName {
                for p in newLayer.parameters {
                    precondition(p.name.hasPrefix(moduleName + "."),
                                 "Sequential: parameter \(p.name) does not belong to \(moduleName)")
                }
                layers[i] = newLayer
                return true
            }
            if let inner = layers[i] as? Sequential, moduleName.hasPrefix(childNames[i] + "."),
               inner.replaceLayer(named: moduleName, with: newLayer) {
                return true
            }
        }
        return false
    }
}
