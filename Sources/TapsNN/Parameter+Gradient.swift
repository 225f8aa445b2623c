// TapsNN: helpers for layers that accumulate into `Parameter.grad` without copy-on-write copies.
import TapsTensor

extension Parameter {
    /// Moves the gradient out of the parameter (leaving an empty placeholder) when the parameter trains,
    /// so a layer can accumulate into uniquely referenced storage and store it back; `nil` when frozen.
    /// Without the move, `var g = p.grad; g += ...` would copy the whole gradient every step.
    func takeGradientIfTrainable() -> Tensor? {
        guard requiresGrad else { return nil }
        let g = grad
        grad = Tensor(zeros: [0])
        return g
    }
}
