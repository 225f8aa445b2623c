// TapsNNTests: optimizers and schedule against hand-computed values.
import Foundation
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Optimizers and schedule (hand-computed)")
struct OptimizerTests {
    @Test("SGD momentum: buf = g, then 0.9·buf + g; p -= lr·buf")
    func sgdMomentum() {
        let p = Parameter("p", Tensor(shape: [2], storage: [1, -2]))
        let opt = SGD(parameters: [p], momentum: 0.9)
        p.grad = Tensor(shape: [2], storage: [0.5, 1])
        opt.step(learningRate: 0.1)                 // buf = [0.5, 1]; p = [0.95, -2.1]
        #expect(compareClose(p.value.doubles, [0.95, -2.1], rtol: 0, atol: 1e-6).isClose)
        p.grad = Tensor(shape: [2], storage: [1, 0])
        opt.step(learningRate: 0.1)                 // buf = [1.45, 0.9]; p = [0.805, -2.19]
        #expect(compareClose(p.value.doubles, [0.805, -2.19], rtol: 0, atol: 1e-6).isClose)
    }

    @Test("SGD skips frozen parameters and buffers; learning-rate scale applies per parameter")
    func sgdScaleAndFrozen() {
        let a = Parameter("a", Tensor(shape: [1], storage: [1]))
        let b = Parameter("b", Tensor(shape: [1], storage: [1]))
        let frozen = Parameter("f", Tensor(shape: [1], storage: [1]), requiresGrad: false)
        let buffer = Parameter("buf", Tensor(shape: [1], storage: [1]), isBuffer: true)
        let opt = SGD(parameters: [a, b, frozen, buffer], momentum: 0)
        #expect(opt.parameters.count == 3)
        opt.setLearningRateScale(10, for: b)
        for p in [a, b, frozen] { p.grad = Tensor(shape: [1], storage: [1]) }
        opt.step(learningRate: 0.01)
        #expect(abs(a.value.storage[0] - 0.99) < 1e-7)
        #expect(abs(b.value.storage[0] - 0.9) < 1e-7)
        #expect(frozen.value.storage[0] == 1 && buffer.value.storage[0] == 1)
        opt.zeroGrad()
        #expect(a.grad.maxAbs() == 0)
    }

    @Test("AdamW first step moves each coordinate by lr·sign(g) after decoupled decay")
    func adamWFirstStep() {
        let p = Parameter("p", Tensor(shape: [3], storage: [1, -1, 2]))
        let opt = AdamW(parameters: [p], weightDecay: 0.1)
        p.grad = Tensor(shape: [3], storage: [0.3, -4, 1e-3])
        opt.step(learningRate: 0.01)
        // m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) ≈ lr·sign(g); decay first: p·(1 - 0.001).
        let expected: [Double] = [1 * 0.999 - 0.01, -1 * 0.999 + 0.01, 2 * 0.999 - 0.01 * 1e-3 / (1e-3 + 1e-8)]
        #expect(compareClose(p.value.doubles, expected, rtol: 0, atol: 1e-6).isClose)
    }

    @Test("CosineSchedule: peak at 0, half at the middle, 0 at the end and after; linear warm-up")
    func cosine() {
        let s = CosineSchedule(peak: 0.01, totalSteps: 100)
        #expect(s.learningRate(at: 0) == 0.01)
        #expect(abs(s.learningRate(at: 50) - 0.005) < 1e-9)
        #expect(abs(s.learningRate(at: 25) - Float(0.005 * (1 + cos(Double.pi / 4)))) < 1e-9)
        #expect(s.learningRate(at: 100) == 0 && s.learningRate(at: 150) == 0)
        let w = CosineSchedule(peak: 0.1, totalSteps: 12, warmupSteps: 2)
        #expect(w.learningRate(at: 0) == 0.05 && w.learningRate(at: 1) == 0.1 && w.learningRate(at: 2) == 0.1)
        #expect(abs(w.learningRate(at: 7) - 0.05) < 1e-8)
    }

    @Test("a few SGD steps on DigitCNN reduce the loss on a fixed batch")
    func trainingReducesLoss() {
        var rng = SeededRNG(seed: 9)
        let model = makeDigitCNN(rng: &rng)
        let x = Tensor.normal([8, 1, 28, 28], rng: &rng)
        let labels = (0..<8).map { $0 % 10 }
        let opt = SGD(parameters: model.parameters, momentum: 0.9)
        var losses: [Double] = []
        for _ in 0..<8 {
            model.zeroGrad()
            let (loss, grad, _) = softmaxCrossEntropy(logits: model.forward(x, mode: .training), labels: labels)
            losses.append(loss)
            _ = model.backward(grad)
            opt.step(learningRate: 0.02)
        }
        #expect(zip(losses, losses.dropFirst()).allSatisfy { $1 < $0 } && losses.last! < losses.first! - 0.1, "\(losses)")
    }
}
