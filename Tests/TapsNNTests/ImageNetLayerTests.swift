// TapsNNTests: the layers of the ImageNet architectures: finite-difference checks (with broken backwards
// that must fail) and PyTorch golden values (Tests/Fixtures/golden/layers_imagenet.json).
import Foundation
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("ImageNet layers: gradient checks")
struct ImageNetLayerGradientTests {
    @Test("ReLU6 away from 0 and 6; GELU everywhere")
    func activations() {
        var rng = SeededRNG(seed: 11)
        let r6 = checkLayer(ReLU6(), input: kinkFreeTensor([2, 3, 4, 5], spacing: 0.25, rng: &rng))
        #expect(r6.passed && r6.kinks == 0, "\(r6)")
        let g = checkLayer(GELU(), input: .normal([3, 4, 5], std: 2, rng: &rng))
        #expect(g.passed, "\(g)")
        let broken = checkLayer(BrokenBackward(GELU(), .scaleInputGradient(1.05)), input: .normal([3, 4, 5], std: 2, rng: &rng))
        #expect(!broken.passed)
    }

    @Test("LayerNorm: input, weight, bias; a dropped bias gradient fails")
    func layerNorm() {
        var rng = SeededRNG(seed: 12)
        let ln = LayerNorm(name: "ln", width: 6, eps: 1e-6)
        ln.weight.value = .normal([6], mean: 1, std: 0.3, rng: &rng)
        ln.bias.value = .normal([6], rng: &rng)
        let r = checkLayer(ln, input: .normal([2, 3, 6], std: 2, rng: &rng))
        #expect(r.passed && r.entries.count == 3, "\(r)")
        let broken = checkLayer(BrokenBackward(ln, .dropBiasGradient), input: .normal([2, 3, 6], rng: &rng))
        #expect(!broken.passed)
    }

    @Test("AvgPool2d (k2, k3 s2 p1) and AdaptiveAvgPool2d (1x1, 3x2 from 7x5)")
    func pools() {
        var rng = SeededRNG(seed: 13)
        for layer in [AvgPool2d(kernelSize: 2), AvgPool2d(kernelSize: 3, stride: 2, padding: 1)] as [any Layer] {
            let r = checkLayer(layer, input: .normal([2, 2, 7, 6], rng: &rng))
            #expect(r.passed, "\(r)")
        }
        for layer in [AdaptiveAvgPool2d(outputSize: 1), AdaptiveAvgPool2d(outputHeight: 3, outputWidth: 2)] {
            let r = checkLayer(layer, input: .normal([2, 2, 7, 5], rng: &rng))
            #expect(r.passed, "\(r)")
        }
        let broken = checkLayer(BrokenBackward(AvgPool2d(kernelSize: 2), .scaleInputGradient(0.9)), input: .normal([1, 1, 4, 4], rng: &rng))
        #expect(!broken.passed)
    }

    @Test("MultiheadAttention: input and both projections; a scaled input gradient fails")
    func attention() {
        var rng = SeededRNG(seed: 14)
        let mha = MultiheadAttention(name: "attn", embedDim: 8, heads: 2, rng: &rng)
        for p in mha.parameters where p.name.hasSuffix("bias") { p.value = .normal(p.value.shape, std: 0.2, rng: &rng) }
        let r = checkLayer(mha, input: .normal([2, 5, 8], rng: &rng))
        #expect(r.passed && r.entries.count == 5, "\(r)")
        #expect(mha.parameters.map(\.name) == ["attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias"])
        let broken = checkLayer(BrokenBackward(mha, .scaleInputGradient(1.1)), input: .normal([2, 5, 8], rng: &rng))
        #expect(!broken.passed)
    }

    @Test("Residual block (basic, with downsample) and dense block (channel concatenation)")
    func blocks() {
        var rng = SeededRNG(seed: 15)
        let options = GradientCheckOptions(step: 1e-3, absoluteTolerance: 5e-3)
        let basic = ResidualBlock(main: [
            Conv2d(name: "b.conv1", inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false, rng: &rng),
            BatchNorm2d(name: "b.bn1", channels: 3), ReLU(),
            Conv2d(name: "b.conv2", inChannels: 3, outChannels: 3, kernelSize: 3, padding: 1, bias: false, rng: &rng),
            BatchNorm2d(name: "b.bn2", channels: 3),
        ], shortcut: Sequential(name: "b.downsample", [
            Conv2d(name: "b.downsample.0", inChannels: 2, outChannels: 3, kernelSize: 1, stride: 2, bias: false, rng: &rng),
            BatchNorm2d(name: "b.downsample.1", channels: 3)]), activation: ReLU())
        let rb = checkLayer(basic, input: .normal([3, 2, 6, 6], rng: &rng), options: options)
        #expect(rb.passed, "\(rb)")
        let identity = ResidualBlock(main: [Conv2d(name: "c", inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1, rng: &rng), GELU()])
        let ri = checkLayer(identity, input: .normal([2, 2, 4, 4], rng: &rng))
        #expect(ri.passed, "\(ri)")
        let dense = DenseBlock([
            Conv2d(name: "d.0", inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, rng: &rng),
            Sequential(name: "d.1", [GELU(), Conv2d(name: "d.1.1", inChannels: 5, outChannels: 3, kernelSize: 1, rng: &rng)]),
        ])
        let rd = checkLayer(dense, input: .normal([2, 2, 4, 3], rng: &rng))
        #expect(rd.passed, "\(rd)")
        #expect(dense.forward(Tensor(zeros: [2, 2, 4, 3]), mode: .inference).shape == [2, 8, 4, 3])
        let broken = checkLayer(BrokenBackward(dense, .scaleInputGradient(1.1)), input: .normal([2, 2, 4, 3], rng: &rng))
        #expect(!broken.passed)
    }

    @Test("concatenateChannels and splitChannels are inverse")
    func concatSplit() {
        var rng = SeededRNG(seed: 16)
        let a = Tensor.normal([2, 3, 2, 2], rng: &rng), b = Tensor.normal([2, 1, 2, 2], rng: &rng)
        let c = concatenateChannels([a, b])
        #expect(c.shape == [2, 4, 2, 2] && c[1, 3, 1, 0] == b[1, 0, 1, 0] && c[1, 2, 0, 1] == a[1, 2, 0, 1])
        #expect(splitChannels(c, sizes: [3, 1]) == [a, b])
    }

    @Test("A small ViT end to end (patch embedding, class token, position embedding, blocks, head)")
    func vit() {
        var rng = SeededRNG(seed: 17)
        let vit = VisionTransformer(.init(imageSize: 8, patchSize: 4, layers: 1, heads: 2, hiddenDim: 8, mlpDim: 12, classes: 3), rng: &rng)
        for p in vit.parameters { p.value = .normal(p.value.shape, std: 0.3, rng: &rng) }
        let r = checkLayer(vit, input: .normal([2, 3, 8, 8], rng: &rng), options: GradientCheckOptions(step: 1e-2, maxCoordinates: 32))
        #expect(r.passed, "\(r)")
    }
}

@Suite("ImageNet layers: golden values from PyTorch")
struct ImageNetLayerGoldenTests {
    let file: GoldenFile
    init() throws { file = try GoldenFile("layers_imagenet.json") }

    func check(_ layer: any Layer, _ name: String) throws {
        let c = try file.case(name)
        expectClose(layer.forward(try c.tensor("x"), mode: .training), try c.tensor("y"), "\(name) y")
        expectClose(layer.backward(try c.tensor("dout")), try c.tensor("dx"), "\(name) dx")
    }

    @Test("ReLU6, GELU (exact erf), AvgPool2d, AdaptiveAvgPool2d")
    func parameterFree() throws {
        try check(ReLU6(), "relu6")
        try check(GELU(), "gelu")
        try check(AvgPool2d(kernelSize: 2), "avgpool_k2")
        try check(AvgPool2d(kernelSize: 3, stride: 2, padding: 1), "avgpool_k3_s2_p1")
        try check(AdaptiveAvgPool2d(outputSize: 1), "adaptive_1x1")
        try check(AdaptiveAvgPool2d(outputHeight: 3, outputWidth: 2), "adaptive_3x2")
    }

    @Test("LayerNorm (eps 1e-6)")
    func layerNorm() throws {
        let c = try file.case("layernorm")
        let ln = LayerNorm(name: "ln", width: 6, eps: 1e-6)
        ln.weight.value = try c.tensor("weight"); ln.bias.value = try c.tensor("bias")
        try check(ln, "layernorm")
        expectClose(ln.weight.grad, try c.tensor("dweight"), "dweight")
        expectClose(ln.bias.grad, try c.tensor("dbias"), "dbias")
    }

    @Test("MultiheadAttention (batch_first, packed in_proj, 2 heads)")
    func attention() throws {
        let c = try file.case("mha")
        var rng = SeededRNG(seed: 0)
        let mha = MultiheadAttention(name: "attn", embedDim: 8, heads: try c.int("heads"), rng: &rng)
        let p = mha.namedParameters
        p["attn.in_proj_weight"]!.value = try c.tensor("in_proj_weight")
        p["attn.in_proj_bias"]!.value = try c.tensor("in_proj_bias")
        p["attn.out_proj.weight"]!.value = try c.tensor("out_proj_weight")
        p["attn.out_proj.bias"]!.value = try c.tensor("out_proj_bias")
        try check(mha, "mha")
        expectClose(p["attn.in_proj_weight"]!.grad, try c.tensor("din_proj_weight"), "din_proj_weight")
        expectClose(p["attn.in_proj_bias"]!.grad, try c.tensor("din_proj_bias"), "din_proj_bias")
        expectClose(p["attn.out_proj.weight"]!.grad, try c.tensor("dout_proj_weight"), "dout_proj_weight")
        expectClose(p["attn.out_proj.bias"]!.grad, try c.tensor("dout_proj_bias"), "dout_proj_bias")
    }
}

@Suite("Depthwise convolution: direct kernel")
struct DepthwiseKernelTests {
    @Test("direct kernel = im2col + GEMM = naive reference, forward and backward, on odd shapes",
          arguments: [(c: 3, k: 3, s: 1, p: 1, h: 7, w: 5), (c: 5, k: 5, s: 2, p: 2, h: 9, w: 6),
                      (c: 2, k: 3, s: 2, p: 1, h: 1, w: 4), (c: 4, k: 3, s: 2, p: 0, h: 8, w: 7),
                      (c: 1, k: 1, s: 1, p: 0, h: 3, w: 17)])
    func agrees(config: (c: Int, k: Int, s: Int, p: Int, h: Int, w: Int)) {
        var rng = SeededRNG(seed: 21)
        let x = Tensor.normal([3, config.c, config.h, config.w], rng: &rng)
        let direct = Conv2d(name: "dw", inChannels: config.c, outChannels: config.c, kernelSize: config.k, stride: config.s,
                            padding: config.p, groups: config.c, rng: &rng)
        let gemmPath = Conv2d(name: "dw", inChannels: config.c, outChannels: config.c, kernelSize: config.k, stride: config.s,
                              padding: config.p, groups: config.c, rng: &rng)
        gemmPath.directDepthwise = false
        gemmPath.weight.value = direct.weight.value
        gemmPath.bias!.value = direct.bias!.value
        let y = direct.forward(x, mode: .training), yRef = gemmPath.forward(x, mode: .training)
        expectClose(y, yRef, rtol: 1e-5, atol: 1e-5, "forward vs GEMM")
        expectClose(y, conv2dNaive(input: x, weight: direct.weight.value, bias: direct.bias!.value, stride: config.s,
                                   padding: config.p, groups: config.c), rtol: 1e-5, atol: 1e-5, "forward vs naive")
        let dy = Tensor.normal(y.shape, rng: &rng)
        expectClose(direct.backward(dy), gemmPath.backward(dy), rtol: 1e-5, atol: 1e-5, "dx")
        expectClose(direct.weight.grad, gemmPath.weight.grad, rtol: 1e-4, atol: 1e-5, "dW")
        expectClose(direct.bias!.grad, gemmPath.bias!.grad, rtol: 1e-4, atol: 1e-5, "db")
        let explicit = direct.backward(dy, weight: direct.weight.value, needWeightGradient: true)
        expectClose(explicit.weight!, gemmPath.weight.grad, rtol: 1e-4, atol: 1e-5, "dW (explicit weight)")
    }

    @Test("the direct kernel passes the finite-difference check; a broken one fails")
    func gradients() {
        var rng = SeededRNG(seed: 22)
        let conv = Conv2d(name: "dw", inChannels: 4, outChannels: 4, kernelSize: 5, stride: 2, padding: 2, groups: 4, rng: &rng)
        let r = checkLayer(conv, input: .normal([2, 4, 7, 6], rng: &rng))
        #expect(r.passed && r.entries.count == 3, "\(r)")
        let broken = checkLayer(BrokenBackward(conv, .scaleWeightGradient(1.1)), input: .normal([2, 4, 7, 6], rng: &rng))
        #expect(!broken.passed)
    }
}
