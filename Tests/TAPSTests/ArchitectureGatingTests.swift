// TAPSTests: TAPS on the ImageNet architectures (docs/method.md "The gated layer"): which layers are gated, in which
// order, and that a freshly wrapped model computes exactly what its base computes.
import Testing
import TAPS
import TapsNN
import TapsTensor

@Suite("TAPS on ResNet, DenseNet, ViT and EfficientNet-Lite0")
struct ArchitectureGatingTests {
    @Test("gated-layer counts of the full-size models (built, never run)",
          arguments: [("resnet18", 20), ("resnet34", 36), ("resnet50", 53), ("resnet101", 104),
                      ("densenet121", 120), ("vit-b16", 49), ("efficientnet-lite0", 49),
                      ("densenet-small", 15), ("vit-tiny", 49)])
    func counts(architecture: String, expected: Int) throws {
        var rng = SeededRNG(seed: 0)
        let (net, head) = try ModelZoo.make(architecture, classes: 10, imageSize: 224, rng: &rng)
        let task = TaskNetwork(network: net, headName: head, behaviour: .learned)
        #expect(task.gatedLayers.count == expected)
        #expect(task.headParameters.map(\.name) == ["\(head).weight", "\(head).bias"])
        #expect(!task.gatedLayers.contains { $0.name == head })
    }

    @Test("gated layers come in network order with torchvision module names")
    func names() throws {
        var rng = SeededRNG(seed: 0)
        let (resnet, _) = try ModelZoo.make("resnet50", classes: 10, imageSize: 64, rng: &rng)
        let r = TaskNetwork(network: resnet, headName: ResNet.headName, behaviour: .learned).gatedLayers.map(\.name)
        #expect(Array(r.prefix(6)) == ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer1.0.conv3",
                                       "layer1.0.downsample.0", "layer1.1.conv1"])
        #expect(r.last == "layer4.2.conv3")
        let vit = VisionTransformer(.tiny(imageSize: 32, classes: 10), rng: &rng)
        let v = TaskNetwork(network: vit, headName: VisionTransformer.headName, behaviour: .learned)
        #expect(Array(v.gatedLayers.map(\.name).prefix(5)) == [
            "conv_proj", "encoder.layers.encoder_layer_0.self_attention.in_proj",
            "encoder.layers.encoder_layer_0.self_attention.out_proj", "encoder.layers.encoder_layer_0.mlp.0",
            "encoder.layers.encoder_layer_0.mlp.3"])
        #expect(v.gatedLayers[1].delta.name == "encoder.layers.encoder_layer_0.self_attention.in_proj.weight_delta")
        #expect(v.gatedLayers[1].weightCount == 3 * 192 * 192)
        let (dense, _) = try ModelZoo.make("densenet121", classes: 10, imageSize: 64, rng: &rng)
        let d = TaskNetwork(network: dense, headName: DenseNet.headName, behaviour: .learned).gatedLayers.map(\.name)
        #expect(Array(d.prefix(4)) == ["features.conv0", "features.denseblock1.denselayer1.conv1",
                                       "features.denseblock1.denselayer1.conv2", "features.denseblock1.denselayer2.conv1"])
        #expect(d.contains("features.transition3.conv") && d.last == "features.denseblock4.denselayer16.conv2")
        let (eff, _) = try ModelZoo.make("efficientnet-lite0", classes: 10, imageSize: 64, rng: &rng)
        let e = TaskNetwork(network: eff, headName: EfficientNetLite.headName, behaviour: .learned).gatedLayers.map(\.name)
        #expect(Array(e.prefix(4)) == ["_conv_stem", "_blocks.0._depthwise_conv", "_blocks.0._project_conv", "_blocks.1._expand_conv"])
        #expect(e.last == "_conv_head")
    }

    /// Tiny configurations of each family, perturbed away from their initial values so that step-0
    /// equality is not trivially zero (ViT's head starts at zero).
    static func tiny(_ family: String, seed: UInt64) -> (any Layer, String) {
        var rng = SeededRNG(seed: seed)
        let net: any Layer, head: String
        switch family {
        case "resnet-basic": (net, head) = (ResNet.make(.init(block: .basic, layers: [1, 1, 1, 1], classes: 3, width: 8), rng: &rng), ResNet.headName)
        case "resnet-bottleneck": (net, head) = (ResNet.make(.init(block: .bottleneck, layers: [1, 2, 1, 1], classes: 3, width: 4), rng: &rng), ResNet.headName)
        case "densenet": (net, head) = (DenseNet.make(.small(classes: 3), rng: &rng), DenseNet.headName)
        case "vit": (net, head) = (VisionTransformer(.init(imageSize: 16, patchSize: 4, layers: 2, heads: 2, hiddenDim: 8, mlpDim: 16, classes: 3), rng: &rng), VisionTransformer.headName)
        default:
            let lite = EfficientNetLiteConfig(stemChannels: 8, stages: [
                .init(expansion: 1, kernel: 3, stride: 1, outChannels: 8, repeats: 1),
                .init(expansion: 2, kernel: 5, stride: 2, outChannels: 8, repeats: 2)], headChannels: 16, classes: 3)
            (net, head) = (EfficientNetLite.make(lite, rng: &rng), EfficientNetLite.headName)
        }
        for p in net.parameters where !p.name.hasSuffix("num_batches_tracked") {
            var noise = Tensor.normal(p.value.shape, std: 0.05, rng: &rng)
            if p.name.hasSuffix("running_var") { noise.withMutableBuffer { b in for i in 0..<b.count { b[i] = abs(b[i]) } } }
            p.value = p.value + noise
        }
        return (net, head)
    }

    @Test("at step 0 the TAPS-wrapped model equals the base, bit for bit",
          arguments: ["resnet-basic", "resnet-bottleneck", "densenet", "vit", "efficientnet"])
    func stepZero(family: String) {
        let (base, _) = Self.tiny(family, seed: 7)
        let (wrappedNet, head) = Self.tiny(family, seed: 7)
        let task = TaskNetwork(network: wrappedNet, headName: head, behaviour: .learned)
        #expect(!task.gatedLayers.isEmpty && task.gatedLayers.allSatisfy(\.isActive))
        var rng = SeededRNG(seed: 8)
        let x = Tensor.normal([3, 3, 32, 32].enumerated().map { $0.offset >= 2 && family == "vit" ? 16 : $0.element }, rng: &rng)
        let y = base.forward(x, mode: .inference)
        #expect(y.maxAbs() > 0)
        #expect(task.forward(x, mode: .inference) == y)
        // One training step's backward reaches every gate (deltas and scores get gradients).
        let logits = task.forward(x, mode: .training)
        let (_, d, _) = softmaxCrossEntropy(logits: logits, labels: [0, 1, 2])
        task.zeroGrad()
        task.backward(d)
        #expect(task.gatedLayers.allSatisfy { $0.delta.grad.maxAbs() > 0 })
    }

    @Test("the stem skips dL/d(images) by default, and every parameter's gradient is bit-identical with it computed",
          arguments: ["resnet-basic", "densenet", "vit", "efficientnet"])
    func stemSkipsInputGradient(family: String) {
        var rng = SeededRNG(seed: 8)
        let x = Tensor.normal([3, 3, 32, 32].enumerated().map { $0.offset >= 2 && family == "vit" ? 16 : $0.element }, rng: &rng)
        // A fresh, identical network per run: dropout draws from each network's own generator.
        func gradients(inputGradient: Bool) -> (parameters: [Tensor], input: Tensor) {
            let (net, head) = Self.tiny(family, seed: 7)
            let task = TaskNetwork(network: net, headName: head, behaviour: .learned)
            #expect(!task.computesInputGradient)
            task.computesInputGradient = inputGradient
            let (_, d, _) = softmaxCrossEntropy(logits: task.forward(x, mode: .training), labels: [0, 1, 2])
            task.zeroGrad()
            let dx = task.backward(d)
            return (task.trainableParameters.map(\.grad), dx)
        }
        let skipped = gradients(inputGradient: false)
        let full = gradients(inputGradient: true)
        #expect(skipped.parameters == full.parameters)
        #expect(skipped.input.shape == x.shape && skipped.input.maxAbs() == 0)
        #expect(full.input.shape == x.shape && full.input.maxAbs() > 0)
    }
}
