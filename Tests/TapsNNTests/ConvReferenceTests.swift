// TapsNNTests: the im2col + GEMM convolution against the direct seven-loop reference.
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Conv2d fast path vs conv2dNaive")
struct ConvReferenceTests {
    struct Shape: Sendable, CustomStringConvertible {
        var n, c, o, h, w, k, stride, padding, groups: Int
        var dilation = 1
        var description: String { "N\(n) C\(c) O\(o) \(h)x\(w) k\(k) s\(stride) p\(padding) g\(groups) d\(dilation)" }
    }

    static let shapes: [Shape] = [
        Shape(n: 1, c: 1, o: 1, h: 1, w: 1, k: 1, stride: 1, padding: 0, groups: 1),
        Shape(n: 3, c: 3, o: 17, h: 9, w: 11, k: 3, stride: 2, padding: 1, groups: 1),
        Shape(n: 2, c: 17, o: 3, h: 8, w: 7, k: 3, stride: 1, padding: 1, groups: 1),
        Shape(n: 5, c: 17, o: 17, h: 5, w: 6, k: 5, stride: 2, padding: 2, groups: 17),
        Shape(n: 2, c: 6, o: 9, h: 7, w: 7, k: 3, stride: 3, padding: 0, groups: 3),
        Shape(n: 1, c: 3, o: 1, h: 4, w: 13, k: 1, stride: 2, padding: 0, groups: 1),
        Shape(n: 4, c: 2, o: 4, h: 9, w: 8, k: 3, stride: 1, padding: 2, groups: 2, dilation: 2),
        Shape(n: 2, c: 1, o: 3, h: 2, w: 3, k: 3, stride: 1, padding: 2, groups: 1),
        // Per-image path on its own (at least 64 output positions): input-channel blocks of dW (C ≥ 4) with a
        // remainder block, and the image-part split of a 3-channel stem.
        Shape(n: 3, c: 7, o: 5, h: 9, w: 8, k: 3, stride: 1, padding: 1, groups: 1),
        Shape(n: 5, c: 3, o: 4, h: 19, w: 17, k: 7, stride: 2, padding: 3, groups: 1),
        // The dense path on its own (input planes under half the kernel's taps): ResNet's layer4 at 64 px (2×2),
        // a 1×1 plane, and a strided one.
        Shape(n: 3, c: 5, o: 4, h: 2, w: 2, k: 3, stride: 1, padding: 1, groups: 1),
        Shape(n: 2, c: 3, o: 6, h: 1, w: 1, k: 3, stride: 1, padding: 1, groups: 1),
        Shape(n: 4, c: 2, o: 3, h: 2, w: 2, k: 3, stride: 2, padding: 1, groups: 1),
    ]

    @Test("forward, dx, dW and db agree on odd shapes for every chunking", arguments: shapes)
    func agrees(s: Shape) {
        var rng = SeededRNG(seed: 31)
        let conv = Conv2d(name: "c", inChannels: s.c, outChannels: s.o, kernelSize: s.k, stride: s.stride,
                          padding: s.padding, dilation: s.dilation, groups: s.groups, rng: &rng)
        let x = Tensor.normal([s.n, s.c, s.h, s.w], rng: &rng)
        let y0 = conv2dNaive(input: x, weight: conv.weight.value, bias: conv.bias!.value, stride: s.stride,
                             padding: s.padding, dilation: s.dilation, groups: s.groups)
        let dy = Tensor.normal(y0.shape, rng: &rng)
        let ref = conv2dBackwardNaive(input: x, weight: conv.weight.value, dOut: dy, stride: s.stride,
                                      padding: s.padding, dilation: s.dilation, groups: s.groups)
        for chunk in [1, 2, s.n, 64] {
            conv.imagesPerGEMM = chunk
            conv.perImageGEMM = false
            conv.zeroGrad()
            expectClose(conv.forward(x, mode: .training), y0, "\(s) chunk \(chunk) y")
            expectClose(conv.backward(dy), ref.input, "\(s) chunk \(chunk) dx")
            expectClose(conv.weight.grad, ref.weight, "\(s) chunk \(chunk) dW")
            expectClose(conv.bias!.grad, ref.bias, "\(s) chunk \(chunk) db")
        }
        // A path against the reference, and accumulation into an existing gradient (a second backward doubles dW, db).
        func expectAgreesAccumulating(_ path: String) {
            conv.zeroGrad()
            expectClose(conv.forward(x, mode: .training), y0, "\(s) \(path) y")
            expectClose(conv.backward(dy), ref.input, "\(s) \(path) dx")
            expectClose(conv.weight.grad, ref.weight, "\(s) \(path) dW")
            expectClose(conv.bias!.grad, ref.bias, "\(s) \(path) db")
            _ = conv.backward(dy)
            expectClose(conv.weight.grad, 2 * ref.weight, "\(s) \(path) dW accumulated")
            expectClose(conv.bias!.grad, 2 * ref.bias, "\(s) \(path) db accumulated")
        }
        // The per-image path (image by image, dW by input-channel blocks or by image parts).
        conv.perImageGEMM = true
        expectAgreesAccumulating("per image")
        // The dense path (weight unfolded over the positions), forced on every ungrouped shape.
        guard s.groups == 1 else { return }
        conv.denseWeightPath = true
        expectAgreesAccumulating("dense")
        let fresh = conv.backward(dy, weight: conv.weight.value, needWeightGradient: true)
        expectClose(try! #require(fresh.weight), ref.weight, "\(s) dense fresh dW")
    }

    @Test("the dense path rebuilds its unfolded weight for another weight (TAPS composes a new one every step)")
    func denseFollowsTheWeight() {
        var rng = SeededRNG(seed: 33)
        let conv = Conv2d(name: "c", inChannels: 4, outChannels: 5, kernelSize: 3, padding: 1, rng: &rng)
        conv.denseWeightPath = true
        let x = Tensor.normal([2, 4, 2, 2], rng: &rng)
        let w1 = Tensor.normal(conv.weight.value.shape, rng: &rng), w2 = Tensor.normal(conv.weight.value.shape, rng: &rng)
        let b = conv.bias!.value
        expectClose(conv.forward(x, weight: w1, mode: .training), conv2dNaive(input: x, weight: w1, bias: b, padding: 1), "w1")
        let y2 = conv2dNaive(input: x, weight: w2, bias: b, padding: 1)
        expectClose(conv.forward(x, weight: w2, mode: .training), y2, "w2 after w1")
        let dy = Tensor.normal(y2.shape, rng: &rng)
        // A backward at another weight than the forward's uses that weight.
        let ref = conv2dBackwardNaive(input: x, weight: w1, dOut: dy, padding: 1)
        expectClose(conv.backward(dy, weight: w1, needWeightGradient: true).input, ref.input, "dx at w1 after a forward at w2")
        // The layer's own weight updated in place after a step (as SGD does): the next forward uses the new values.
        conv.denseWeightPath = true
        _ = conv.forward(x, mode: .training)
        _ = conv.backward(dy)
        conv.weight.value.withMutableBuffer { w in for i in w.indices { w[i] *= -0.5 } }
        expectClose(conv.forward(x, mode: .training), conv2dNaive(input: x, weight: conv.weight.value, bias: b, padding: 1),
                    "forward after an in-place update of the weight")
    }

    @Test("inference forward keeps no cache-dependent state and equals training forward")
    func inferenceEqualsTraining() {
        var rng = SeededRNG(seed: 32)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, rng: &rng)
        let x = Tensor.normal([3, 2, 5, 5], rng: &rng)
        #expect(conv.forward(x, mode: .inference) == conv.forward(x, mode: .training))
        let small = Tensor.normal([3, 2, 2, 2], rng: &rng)   // the dense path
        #expect(conv.forward(small, mode: .inference) == conv.forward(small, mode: .training))
    }
}
