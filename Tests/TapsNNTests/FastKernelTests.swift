// TapsNNTests: the performance kernels against their readable references on odd shapes
// (batch-lane depthwise convolution, ...).
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Fast kernels vs references")
struct FastKernelTests {
    @Test("depthwise: batch-lane kernel = planes kernel bit for bit, and = naive, on odd shapes (tail lanes)",
          arguments: [(n: 9, c: 3, k: 3, s: 1, p: 1, h: 7, w: 5), (n: 13, c: 5, k: 5, s: 2, p: 2, h: 9, w: 6),
                      (n: 8, c: 2, k: 3, s: 2, p: 1, h: 1, w: 4), (n: 3, c: 4, k: 3, s: 2, p: 0, h: 8, w: 7),
                      (n: 17, c: 3, k: 5, s: 1, p: 2, h: 2, w: 2), (n: 10, c: 1, k: 1, s: 1, p: 0, h: 3, w: 17),
                      // A 5x5 tap that reaches no output of a 1x1 map (EfficientNet-Lite0 at 32 px): an empty range.
                      (n: 9, c: 2, k: 5, s: 1, p: 2, h: 1, w: 1), (n: 3, c: 3, k: 5, s: 1, p: 2, h: 1, w: 3),
                      (n: 8, c: 2, k: 5, s: 2, p: 2, h: 3, w: 1),
                      // Large enough for the pool (32 Ki multiply-adds and more): full lanes, and tail lanes.
                      (n: 16, c: 9, k: 3, s: 1, p: 1, h: 16, w: 16), (n: 12, c: 7, k: 5, s: 2, p: 2, h: 15, w: 16)])
    func depthwiseLanes(config: (n: Int, c: Int, k: Int, s: Int, p: Int, h: Int, w: Int)) {
        var rng = SeededRNG(seed: 41)
        let x = Tensor.normal([config.n, config.c, config.h, config.w], rng: &rng)
        let make = { (kernel: Conv2d.DepthwiseKernel, rng: inout SeededRNG) -> Conv2d in
            let conv = Conv2d(name: "dw", inChannels: config.c, outChannels: config.c, kernelSize: config.k,
                              stride: config.s, padding: config.p, groups: config.c, rng: &rng)
            conv.depthwiseKernel = kernel
            return conv
        }
        let lanes = make(.batchLanes, &rng), planes = make(.planes, &rng)
        planes.weight.value = lanes.weight.value
        planes.bias!.value = lanes.bias!.value
        let y = lanes.forward(x, mode: .training)
        #expect(y == planes.forward(x, mode: .training))
        expectClose(y, conv2dNaive(input: x, weight: lanes.weight.value, bias: lanes.bias!.value, stride: config.s,
                                   padding: config.p, groups: config.c), rtol: 1e-5, atol: 1e-5, "forward vs naive")
        let dy = Tensor.normal(y.shape, rng: &rng)
        let dx = lanes.backward(dy)
        #expect(dx == planes.backward(dy))
        #expect(lanes.weight.grad == planes.weight.grad)
        #expect(lanes.bias!.grad == planes.bias!.grad)
        let ref = conv2dBackwardNaive(input: x, weight: lanes.weight.value, dOut: dy, stride: config.s,
                                      padding: config.p, groups: config.c)
        expectClose(dx, ref.input, rtol: 1e-5, atol: 1e-5, "dx vs naive")
        expectClose(lanes.weight.grad, ref.weight, rtol: 1e-4, atol: 1e-5, "dW vs naive")
        // Explicit-weight backward (TAPS) without a weight gradient: dx only.
        let noW = lanes.backward(dy, weight: lanes.weight.value, needWeightGradient: false)
        #expect(noW.weight == nil && noW.input == dx)
    }
}
