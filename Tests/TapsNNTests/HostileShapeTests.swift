// TapsNNTests: shapes and checkpoints that used to trap or refuse (issue 9): depthwise kernels on maps smaller than
// their padding, EfficientNet-Lite0 at 32 px, older and wrapped PyTorch state_dicts, and the one-line mismatch error.
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Hostile shapes and checkpoints")
struct HostileShapeTests {
    @Test("depthwise kernels = naive reference for every small map, kernel 3/5, stride 1/2 (no inverted range)")
    func depthwiseSmallMaps() {
        var rng = SeededRNG(seed: 9)
        for k in [3, 5] {
            for s in [1, 2] {
                for h in 1...3 {
                    for w in 1...3 {
                        for kernel in [Conv2d.DepthwiseKernel.planes, .batchLanes] {
                            let conv = Conv2d(name: "dw", inChannels: 2, outChannels: 2, kernelSize: k, stride: s,
                                              padding: k / 2, groups: 2, rng: &rng)
                            conv.depthwiseKernel = kernel
                            let x = Tensor.normal([3, 2, h, w], rng: &rng)
                            let y = conv.forward(x, mode: .training)
                            let label = "k\(k) s\(s) \(h)x\(w) \(kernel)"
                            expectClose(y, conv2dNaive(input: x, weight: conv.weight.value, bias: conv.bias!.value, stride: s,
                                                       padding: k / 2, groups: 2), rtol: 1e-5, atol: 1e-5, "forward \(label)")
                            let dy = Tensor.normal(y.shape, rng: &rng)
                            let ref = conv2dBackwardNaive(input: x, weight: conv.weight.value, dOut: dy, stride: s,
                                                          padding: k / 2, groups: 2)
                            expectClose(conv.backward(dy), ref.input, rtol: 1e-5, atol: 1e-5, "dx \(label)")
                            expectClose(conv.weight.grad, ref.weight, rtol: 1e-4, atol: 1e-5, "dW \(label)")
                        }
                    }
                }
            }
        }
    }

    @Test("EfficientNet-Lite0 trains at 32 px (its smallest size): forward and backward, small and batch-lane batches")
    func efficientNetAt32() throws {
        var rng = SeededRNG(seed: 10)
        let (net, _) = try ModelZoo.make("efficientnet-lite0", classes: 3, imageSize: 32, rng: &rng)
        for batch in [2, 9] {
            let y = net.forward(Tensor.normal([batch, 3, 32, 32], rng: &rng), mode: .training)
            #expect(y.shape == [batch, 3])
            let dx = net.backward(Tensor.normal(y.shape, rng: &rng))
            #expect(dx.shape == [batch, 3, 32, 32] && dx.storage.allSatisfy(\.isFinite))
        }
    }

    @Test("ModelZoo refuses absurd image sizes and class counts before allocating (they used to abort the process)")
    func absurdSizes() {
        var rng = SeededRNG(seed: 14)
        #expect(throws: ModelZooError.badImageSize(architecture: "vit-tiny", imageSize: 1_600_000, requirement: "at most 1024 px")) {
            try ModelZoo.make("vit-tiny", classes: 2, imageSize: 1_600_000, rng: &rng)
        }
        #expect(throws: ModelZooError.badImageSize(architecture: "efficientnet-lite0", imageSize: 100_000, requirement: "at most 1024 px")) {
            try ModelZoo.make("efficientnet-lite0", classes: 2, imageSize: 100_000, rng: &rng)
        }
        for classes in [0, -1, 1_000_000_000_000] {
            #expect(throws: ModelZooError.badClassCount(architecture: "resnet18", classes: classes)) {
                try ModelZoo.make("resnet18", classes: classes, imageSize: 32, rng: &rng)
            }
        }
        #expect(ModelZooError.badClassCount(architecture: "resnet18", classes: 0).description
                == "resnet18 cannot have a 0-class head: the class count must be 1...100000")
    }

    @Test("a checkpoint without num_batches_tracked (PyTorch < 0.4.1) loads strictly; the model keeps its counter")
    func withoutNumBatchesTracked() throws {
        var rng = SeededRNG(seed: 11)
        let source = BatchNorm2d(name: "bn", channels: 3)
        let model = BatchNorm2d(name: "bn", channels: 3)
        var sd = Dictionary(uniqueKeysWithValues: stateDict(of: source))
        sd["bn.weight"] = Tensor.normal([3], rng: &rng)
        sd["bn.num_batches_tracked"] = nil
        let report = try loadStateDict(sd, into: model)
        #expect(report.defaulted == ["bn.num_batches_tracked"] && report.missing.isEmpty)
        #expect(model.parameters.first { $0.name == "bn.weight" }?.value == sd["bn.weight"])
        #expect(model.parameters.first { $0.name == "bn.num_batches_tracked" }?.value.storage == [0])
    }

    @Test("DataParallel's module. prefix and legacy DenseNet names are remapped (torchvision's regex), with notes")
    func legacyNames() throws {
        var rng = SeededRNG(seed: 12)
        let (net, _) = try ModelZoo.make("densenet-small", classes: 4, imageSize: 32, rng: &rng)
        let current = Dictionary(uniqueKeysWithValues: stateDict(of: net))
        // Old names: features.denseblock1.denselayer1.norm1.weight -> ...norm.1.weight, saved through DataParallel.
        var legacy: [String: Tensor] = [:]
        for (key, value) in current {
            var old = key
            for (new, was) in [("norm1.", "norm.1."), ("norm2.", "norm.2."), ("conv1.", "conv.1."), ("conv2.", "conv.2.")]
            where key.contains("denselayer") && !key.hasSuffix("num_batches_tracked") {
                old = old.replacingOccurrences(of: "." + new, with: "." + was)
            }
            legacy["module." + old] = value
        }
        #expect(legacy.keys.contains("module.features.denseblock1.denselayer1.norm.1.running_var"))
        let (remapped, notes) = remapLegacyStateDictKeys(legacy)
        #expect(Set(remapped.keys) == Set(current.keys))
        #expect(notes.count == 2 && notes[0].contains("'module.' prefix") && notes[1].contains("legacy DenseNet"), "\(notes)")
        let (fresh, _) = try ModelZoo.make("densenet-small", classes: 4, imageSize: 32, rng: &rng)
        try loadStateDict(remapped, into: fresh)
        #expect(stateDict(of: fresh).map(\.1) == stateDict(of: net).map(\.1))
        // Today's names, and a partial prefix, are left alone.
        #expect(remapLegacyStateDictKeys(current).notes.isEmpty)
        #expect(remapLegacyStateDictKeys(["module.a": Tensor(zeros: [1]), "b": Tensor(zeros: [1])]).tensors.keys.sorted() == ["b", "module.a"])
        #expect(remapLegacyStateDictKeys(["x.denselayer2.relu.1.weight": Tensor(zeros: [1])]).tensors.keys.first == "x.denselayer2.relu1.weight")
        #expect(remapLegacyStateDictKeys(["x.denselayer.norm.1.weight": Tensor(zeros: [1])]).notes.isEmpty)
    }

    @Test("a key mismatch is one line: counts, the first three names of each kind, a hint")
    func mismatchMessage() {
        var rng = SeededRNG(seed: 13)
        let model = makeDigitCNN(rng: &rng)
        var sd = Dictionary(uniqueKeysWithValues: stateDict(of: model))
        for key in ["conv_layers.0.weight", "conv_layers.0.bias", "conv_layers.3.weight", "conv_layers.3.bias"] { sd[key] = nil }
        for i in 0..<50 { sd["extra.\(i).weight"] = Tensor(zeros: [1]) }
        sd["fc_layers.2.weight"] = Tensor(zeros: [2, 256])
        do {
            try loadStateDict(sd, into: model)
            Issue.record("expected an error")
        } catch let error as StateDictError {
            #expect(error.description == "does not match the model: 4 tensors missing (conv_layers.0.weight, conv_layers.0.bias, "
                + "conv_layers.3.weight, ...), 50 unexpected (extra.0.weight, extra.1.weight, extra.10.weight, ...), "
                + "1 with another shape (fc_layers.2.weight: model [10, 256], file [2, 256]); "
                + "was the file saved from this architecture?")
            var named = error
            named.source = "base.safetensors"
            named.hint = "is --arch right?"
            #expect(named.description.hasPrefix("base.safetensors: does not match the model: 4 tensors missing"))
            #expect(named.description.hasSuffix("; is --arch right?") && !named.description.contains("\n"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
