// TapsNNTests: layers, loss and optimizers against PyTorch 2.x values (Tests/Fixtures/golden, scripts/make_golden.py).
import Foundation
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Golden values from PyTorch")
struct GoldenTests {
    @Test("Linear forward and backward", arguments: ["bias", "no_bias"])
    func linear(name: String) throws {
        let c = try GoldenFile("linear.json").case(name)
        let w = try c.tensor("weight"), x = try c.tensor("x")
        var rng = SeededRNG(seed: 0)
        let hasBias = c["bias"] != nil
        let fc = Linear(name: "fc", inFeatures: w.shape[1], outFeatures: w.shape[0], bias: hasBias, rng: &rng)
        fc.weight.value = w
        if hasBias { fc.bias!.value = try c.tensor("bias") }
        expectClose(fc.forward(x, mode: .training), try c.tensor("y"), "\(name) y")
        let dx = fc.backward(try c.tensor("dout"))
        expectClose(dx, try c.tensor("dx"), "\(name) dx")
        expectClose(fc.weight.grad, try c.tensor("dweight"), "\(name) dweight")
        if hasBias { expectClose(fc.bias!.grad, try c.tensor("dbias"), "\(name) dbias") }
    }

    @Test("Conv2d forward and backward (stride, padding, groups, depthwise; per-image and batched GEMM)",
          arguments: ["stride2_pad1", "stride1_pad0", "groups2_pad1", "depthwise_stride2"], [1, 2, 8])
    func conv(name: String, imagesPerGEMM: Int) throws {
        let c = try GoldenFile("conv2d.json").case(name)
        let w = try c.tensor("weight"), x = try c.tensor("x")
        let groups = try c.int("groups")
        var rng = SeededRNG(seed: 0)
        let conv = Conv2d(name: "conv", inChannels: x.shape[1], outChannels: w.shape[0], kernelSize: w.shape[2],
                          stride: try c.int("stride"), padding: try c.int("padding"), groups: groups, rng: &rng)
        conv.imagesPerGEMM = imagesPerGEMM
        conv.weight.value = w
        conv.bias!.value = try c.tensor("bias")
        expectClose(conv.forward(x, mode: .training), try c.tensor("y"), "\(name) y")
        expectClose(conv.backward(try c.tensor("dout")), try c.tensor("dx"), "\(name) dx")
        expectClose(conv.weight.grad, try c.tensor("dweight"), "\(name) dweight")
        expectClose(conv.bias!.grad, try c.tensor("dbias"), "\(name) dbias")
    }

    @Test("BatchNorm2d training step: output, gradients, running statistics")
    func batchNormTrain() throws {
        let c = try GoldenFile("batchnorm2d.json").case("train")
        let x = try c.tensor("x")
        let bn = BatchNorm2d(name: "bn", channels: x.shape[1])
        bn.weight.value = try c.tensor("weight")
        bn.bias.value = try c.tensor("bias")
        expectClose(bn.forward(x, mode: .training), try c.tensor("y"), "train y")
        expectClose(bn.backward(try c.tensor("dout")), try c.tensor("dx"), "train dx")
        expectClose(bn.weight.grad, try c.tensor("dweight"), "train dweight")
        expectClose(bn.bias.grad, try c.tensor("dbias"), "train dbias")
        expectClose(bn.runningMean.value, try c.tensor("running_mean"), "running_mean")
        expectClose(bn.runningVar.value, try c.tensor("running_var"), "running_var (unbiased)")
        #expect(Int(bn.numBatchesTracked.value.storage[0]) == (try c.int("num_batches_tracked")))
    }

    @Test("BatchNorm2d inference with running statistics: output and gradients")
    func batchNormEval() throws {
        let c = try GoldenFile("batchnorm2d.json").case("eval")
        let x = try c.tensor("x")
        let bn = BatchNorm2d(name: "bn", channels: x.shape[1])
        bn.weight.value = try c.tensor("weight")
        bn.bias.value = try c.tensor("bias")
        bn.runningMean.value = try c.tensor("running_mean")
        bn.runningVar.value = try c.tensor("running_var")
        expectClose(bn.forward(x, mode: .inference), try c.tensor("y"), "eval y")
        expectClose(bn.backward(try c.tensor("dout")), try c.tensor("dx"), "eval dx")
        expectClose(bn.weight.grad, try c.tensor("dweight"), "eval dweight")
        expectClose(bn.bias.grad, try c.tensor("dbias"), "eval dbias")
        #expect(bn.numBatchesTracked.value.storage[0] == 0, "inference must not count batches")
    }

    @Test("MaxPool2d forward and backward", arguments: ["k2", "k3_s2_p1"])
    func maxPool(name: String) throws {
        let c = try GoldenFile("maxpool2d.json").case(name)
        let pool = MaxPool2d(kernelSize: try c.int("kernel"), stride: try c.int("stride"), padding: try c.int("padding"))
        expectClose(pool.forward(try c.tensor("x"), mode: .training), try c.tensor("y"), "\(name) y")
        expectClose(pool.backward(try c.tensor("dout")), try c.tensor("dx"), "\(name) dx")
    }

    @Test("softmax cross-entropy: loss, gradient, correct count")
    func crossEntropy() throws {
        let c = try GoldenFile("cross_entropy.json").case("mean")
        let labels = c["labels"] as! [Int]
        let r = softmaxCrossEntropy(logits: try c.tensor("logits"), labels: labels)
        #expect(abs(r.loss - (try c.double("loss"))) < 1e-5)
        expectClose(r.gradient, try c.tensor("dlogits"), "dlogits")
        #expect(r.correct == (try c.int("correct")))
    }

    @Test("SGD (momentum; Nesterov + weight decay) and AdamW over 3 steps with changing learning rates",
          arguments: ["sgd_momentum", "sgd_nesterov_wd", "adamw"])
    func optimizer(name: String) throws {
        let c = try GoldenFile("optimizers.json").case(name)
        let p = Parameter("p", try c.tensor("p0"))
        let grads = try (c["grads"] as! [[String: Any]]).map { g in try ["g": g].tensor("g") }
        let after = try (c["after"] as! [[String: Any]]).map { a in try ["a": a].tensor("a") }
        let lrs = (c["lrs"] as! [Double]).map(Float.init)
        let weightDecay = Float(try c.double("weight_decay"))
        let opt: any Optimizer = c["optimizer"] as? String == "sgd"
            ? SGD(parameters: [p], momentum: Float(try c.double("momentum")), weightDecay: weightDecay,
                  nesterov: c["nesterov"] as? Bool ?? false)
            : AdamW(parameters: [p], beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: weightDecay)
        for step in 0..<3 {
            p.grad = grads[step]
            opt.step(learningRate: lrs[step])
            expectClose(p.value, after[step], rtol: 1e-5, atol: 1e-6, "\(name) step \(step)")
        }
    }

    @Test("CosineSchedule equals PyTorch CosineAnnealingLR (eta_min 0)")
    func cosine() throws {
        let c = try GoldenFile("optimizers.json").case("cosine")
        let schedule = CosineSchedule(peak: Float(try c.double("peak")), totalSteps: try c.int("total_steps"))
        let expected = c["lrs"] as! [Double]
        for (step, lr) in expected.enumerated() {
            #expect(abs(Double(schedule.learningRate(at: step)) - lr) < 1e-8, "step \(step)")
        }
    }

    @Test("DigitCNN end to end: logits, loss and every parameter gradient (pattern weights, batch 2)")
    func digitCNN() throws {
        let c = try GoldenFile("digitcnn.json").case("pattern_batch2")
        var rng = SeededRNG(seed: 0)
        let model = DigitCNN.make(classes: 10, rng: &rng)
        for (k, p) in model.parameters.enumerated() {
            let s = p.value.shape
            let fanIn = s.count == 4 ? s[1] * s[2] * s[3] : (s.count == 2 ? s[1] : 64)
            p.value = pattern(s, phase: 0.3 * Double(k), scale: 1.5 / Double(fanIn).squareRoot())
        }
        let x = pattern([2, 1, 28, 28], phase: 0.1, scale: 1)
        let logits = model.forward(x, mode: .training)
        expectClose(logits, try c.tensor("logits"), rtol: 1e-4, atol: 1e-4, "logits")
        let (loss, dLogits, _) = softmaxCrossEntropy(logits: logits, labels: c["labels"] as! [Int])
        #expect(abs(loss - (try c.double("loss"))) < 1e-4)
        _ = model.backward(dLogits)
        let grads = c["grads"] as! [String: [String: Any]]
        #expect(Set(grads.keys) == Set(model.parameters.map(\.name)))
        for p in model.parameters {
            let g = grads[p.name]!
            let first = (g["first"] as! [Double])
            let r = compareClose(Array(p.grad.doubles.prefix(first.count)), first, rtol: 1e-3, atol: 1e-6)
            #expect(r.isClose, "\(p.name) first values: \(r)")
            let norm = g["norm"] as! Double
            #expect(relativeError(p.grad.norm(), norm) < 1e-3, "\(p.name) norm \(p.grad.norm()) vs \(norm)")
            #expect(abs(p.grad.sum() - (g["sum"] as! Double)) < 1e-3 * norm * Double(p.count).squareRoot(),
                    "\(p.name) sum \(p.grad.sum()) vs \(g["sum"] as! Double)")
        }
    }
}

/// `scale * sin(1.7 * i + phase)` rounded to Float (the formula in scripts/make_golden.py).
func pattern(_ shape: [Int], phase: Double, scale: Double) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, storage: (0..<n).map { Float(scale * sin(1.7 * Double($0) + phase)) })
}
