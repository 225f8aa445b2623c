// TapsNN: optimizers (SGD with momentum, AdamW) and the cosine learning-rate schedule.
import Foundation
import TapsTensor

/// An optimizer over a fixed list of parameters. The learning rate is passed at every step so a schedule
/// (``CosineSchedule``) and live changes stay outside the optimizer.
public protocol Optimizer: AnyObject {
    /// Applies one update with base learning rate `learningRate` to every parameter that currently
    /// `requiresGrad` (frozen parameters and buffers are skipped; their state is kept).
    func step(learningRate: Float)
    /// The parameters this optimizer was created with (buffers excluded).
    var parameters: [Parameter] { get }
    /// Multiplies the learning rate of `parameter` by `scale` (default 1), e.g. a separate TAPS score
    /// learning rate. Like a PyTorch parameter group with its own `lr`; weight decay uses the scaled rate.
    func setLearningRateScale(_ scale: Float, for parameter: Parameter)
    /// How many times `lr * g` a constant gradient `g` moves a parameter per step once the optimizer's state is
    /// steady: `1 / (1 - momentum)` for SGD with momentum (dampening 0), 1 for AdamW (whose step does not grow
    /// with a constant gradient's size). TAPS scales its proximal penalty step by it, so that lambda means the same
    /// with the proximal and the subgradient update (docs/method.md "Loss and the penalty update").
    var steadyStateGain: Double { get }
}

extension Optimizer {
    /// Clears the gradient of every parameter.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Sets the learning-rate multiplier of each of `parameters`.
    public func setLearningRateScale(_ scale: Float, for parameters: [Parameter]) {
        for p in parameters { setLearningRateScale(scale, for: p) }
    }
}

/// Stochastic gradient descent with momentum (PyTorch `torch.optim.SGD`, dampening 0):
///
/// ```
/// g   = grad + weightDecay · p
/// buf = g                          (first step)
/// buf = momentum · buf + g         (later steps)
/// d   = nesterov ? g + momentum · buf : buf          (d = g when momentum == 0)
/// p  -= lr · scale_p · d
/// ```
/// References: https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
public final class SGD: Optimizer {
    /// The optimised parameters (buffers removed), in the order given.
    public let parameters: [Parameter]
    /// Momentum factor `μ` (0 disables the buffer).
    public let momentum: Float
    /// L2 penalty added to the gradient (coupled, as PyTorch SGD).
    public let weightDecay: Float
    /// Nesterov momentum.
    public let nesterov: Bool
    /// `1 / (1 - momentum)` (``Optimizer/steadyStateGain``; Nesterov's `g + μ·buf` has the same steady state).
    public var steadyStateGain: Double { 1 / (1 - Double(momentum)) }
    private var buffers: [Tensor?]
    private var scales: [ObjectIdentifier: Float] = [:]

    /// The momentum buffers, one per entry of ``parameters`` (nil before a parameter's first step), for
    /// checkpoints. Setting a list of another length is ignored.
    public var momentumBuffers: [Tensor?] {
        get { buffers }
        set { if newValue.count == buffers.count { buffers = newValue } }
    }

    /// Creates an optimizer over the non-buffer entries of `parameters`.
    public init(parameters: [Parameter], momentum: Float = 0.9, weightDecay: Float = 0, nesterov: Bool = false) {
        precondition(momentum >= 0 && momentum < 1 && weightDecay >= 0,
                     "SGD: momentum must be in [0, 1) and weightDecay non-negative")
        precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum requires momentum > 0")
        self.parameters = parameters.filter { !$0.isBuffer }
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = Array(repeating: nil, count: self.parameters.count)
    }

    /// Multiplies the learning rate of `parameter` by `scale` from the next step on.
    public func setLearningRateScale(_ scale: Float, for parameter: Parameter) {
        scales[ObjectIdentifier(parameter)] = scale
    }

    /// One update of every parameter that `requiresGrad`, using its accumulated `grad`: one fused pass per
    /// parameter (decay, momentum, step), split over fixed element ranges (elementwise, so any thread count
    /// gives the same bits).
    public func step(learningRate: Float) {
        for (i, p) in parameters.enumerated() where p.requiresGrad {
            let lr = learningRate * (scales[ObjectIdentifier(p)] ?? 1)
            let mu = momentum, wd = weightDecay, nesterov = nesterov
            precondition(p.grad.count == p.value.count, "SGD: \(p.name) gradient \(p.grad.shape) vs value \(p.value.shape)")
            let first = mu != 0 && buffers[i] == nil
            var buf = buffers[i] ?? (mu != 0 ? Tensor(shape: p.value.shape) { _ in } : Tensor(zeros: [0]))
            buffers[i] = nil   // keep the buffer uniquely referenced (no copy-on-write)
            p.value.withMutableBuffer { wb in p.grad.withBuffer { gb in buf.withMutableBuffer { bb in
                nonisolated(unsafe) let w = wb.baseAddress, g = gb.baseAddress, b = bb.baseAddress
                Parallel.forRanges(wb.count, grain: Parallel.elementwiseGrain) { r in
                    let w = w!, g = g!
                    if mu == 0 {
                        for k in r { w[k] -= lr * (wd != 0 ? g[k] + wd * w[k] : g[k]) }
                        return
                    }
                    let b = b!
                    for k in r {
                        let gk = wd != 0 ? g[k] + wd * w[k] : g[k]
                        let bk = first ? gk : mu * b[k] + gk
                        b[k] = bk
                        w[k] -= lr * (nesterov ? gk + mu * bk : bk)
                    }
                }
            } } }
            if mu != 0 { buffers[i] = buf }
        }
    }
}

/// Adam with decoupled weight decay (PyTorch `torch.optim.AdamW`, `amsgrad = False`):
///
/// ```
/// t += 1;  p *= 1 - lr·weightDecay
/// m = β1·m + (1 - β1)·g;   v = β2·v + (1 - β2)·g²
/// p -= lr / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
/// ```
/// (`lr` already multiplied by the parameter's scale.) References: Loshchilov & Hutter 2019;
/// https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html
public final class AdamW: Optimizer {
    /// The optimised parameters (buffers removed), in the order given.
    public let parameters: [Parameter]
    /// Moment decay rates, denominator epsilon and decoupled weight decay (PyTorch defaults 0.9, 0.999, 1e-8, 0.01).
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// 1: Adam's step for a constant gradient is about `lr` whatever its size (``Optimizer/steadyStateGain``).
    public var steadyStateGain: Double { 1 }
    private struct State { var m: [Float]; var v: [Float]; var t: Int }
    private var states: [State?]
    private var scales: [ObjectIdentifier: Float] = [:]

    /// Creates an optimizer over the non-buffer entries of `parameters` (PyTorch defaults).
    public init(parameters: [Parameter], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0.01) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2) && eps >= 0 && weightDecay >= 0,
                     "AdamW: invalid hyperparameters")
        self.parameters = parameters.filter { !$0.isBuffer }
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        states = Array(repeating: nil, count: self.parameters.count)
    }

    /// Multiplies the learning rate of `parameter` by `scale` from the next step on.
    public func setLearningRateScale(_ scale: Float, for parameter: Parameter) {
        scales[ObjectIdentifier(parameter)] = scale
    }

    /// One update of every parameter that `requiresGrad`, using its accumulated `grad`.
    public func step(learningRate: Float) {
        for (i, p) in parameters.enumerated() where p.requiresGrad {
            let lr = learningRate * (scales[ObjectIdentifier(p)] ?? 1)
            var s = states[i] ?? State(m: [Float](repeating: 0, count: p.count), v: [Float](repeating: 0, count: p.count), t: 0)
            states[i] = nil
            s.t += 1
            let b1 = beta1, b2 = beta2, e = eps
            let stepSize = lr / (1 - powf(b1, Float(s.t)))
            let invSqrtBias2 = 1 / (1 - powf(b2, Float(s.t))).squareRoot()
            let decay = 1 - lr * weightDecay
            p.value.withMutableBuffer { w in p.grad.withBuffer { g in
                s.m.withUnsafeMutableBufferPointer { m in s.v.withUnsafeMutableBufferPointer { v in
                    for k in 0..<w.count {
                        w[k] *= decay
                        m[k] = b1 * m[k] + (1 - b1) * g[k]
                        v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                        w[k] -= stepSize * m[k] / (v[k].squareRoot() * invSqrtBias2 + e)
                    }
                } }
            } }
            states[i] = s
        }
    }
}

/// Cosine learning-rate decay to zero with optional linear warm-up (PyTorch `CosineAnnealingLR` with
/// `eta_min = 0` and `T_max = totalSteps - warmupSteps`, after warm-up):
///
/// ```
/// step < warmupSteps:  lr = peak · (step + 1) / warmupSteps
/// otherwise:           lr = peak · (1 + cos(π · (step - warmupSteps) / (totalSteps - warmupSteps))) / 2
/// step >= totalSteps:  lr = 0   (PyTorch's closed form would rise again; we clamp)
/// ```
/// Example: `CosineSchedule(peak: 0.01, totalSteps: 100).learningRate(at: 50) == 0.005`.
/// References: Loshchilov & Hutter 2017 (SGDR);
/// https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html
public struct CosineSchedule: Sendable, Equatable {
    /// Learning rate at the end of warm-up (the maximum).
    public var peak: Float
    /// Steps after which the rate is 0 (warm-up included).
    public var totalSteps: Int
    /// Linear warm-up steps before the cosine starts.
    public var warmupSteps: Int

    /// Creates a schedule; `0 <= warmupSteps <= totalSteps`.
    public init(peak: Float, totalSteps: Int, warmupSteps: Int = 0) {
        precondition(totalSteps > 0 && warmupSteps >= 0 && warmupSteps <= totalSteps,
                     "CosineSchedule: need 0 <= warmupSteps (\(warmupSteps)) <= totalSteps (\(totalSteps)), totalSteps > 0")
        self.peak = peak; self.totalSteps = totalSteps; self.warmupSteps = warmupSteps
    }

    /// The learning rate for 0-based optimizer step `step`.
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        if step >= totalSteps { return 0 }
        let t = Double(step - warmupSteps) / Double(totalSteps - warmupSteps)
        return Float(Double(peak) * (1 + cos(Double.pi * t)) / 2)
    }
}
