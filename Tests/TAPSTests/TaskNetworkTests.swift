import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTestSupport

/// docs/method.md "The gated layer" checks at the level of a whole network (the embedded digitcnn base).
@Suite("Task network on the embedded base")
struct TaskNetworkTests {
    func pretrained(seed: UInt64) throws -> Sequential {
        var rng = SeededRNG(seed: seed)
        let net = makeDigitCNN(classes: 10, rng: &rng)
        let file = try SafeTensors.read(EmbeddedPack.baseWeightsURL)
        try loadStateDict(Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) }), into: net)
        return net
    }

    @Test("at step 0 the TAPS-wrapped model's logits equal the base model's (same head), bit for bit")
    func stepZeroEqualsBase() throws {
        let base = try pretrained(seed: 1)
        let wrapped = TaskNetwork(network: try pretrained(seed: 1), headName: DigitCNN.headName, behaviour: .learned)
        let data = try EmbeddedPack.load("fashion")
        let (x, _) = data.test.batch(Array(0..<48), normalization: .digitCNN)
        #expect(wrapped.forward(x, mode: .inference) == base.forward(x, mode: .inference))
        #expect(wrapped.gatedLayers.allSatisfy { $0.isActive })
    }

    @Test("every weighted layer but the head is gated, in network order, with torchvision-style names")
    func gatedLayerNames() throws {
        let task = TaskNetwork(network: try pretrained(seed: 0), headName: DigitCNN.headName, behaviour: .learned)
        #expect(task.gatedLayers.map(\.name) == ["conv_layers.0", "conv_layers.3", "conv_layers.6", "fc_layers.0"])
        #expect(task.headParameters.map(\.name) == ["fc_layers.2.weight", "fc_layers.2.bias"])
        // w0 frozen; deltas, scores, biases and head train.
        let trainable = Set(task.trainableParameters.map(\.name))
        #expect(!trainable.contains("conv_layers.0.weight"))
        #expect(trainable.isSuperset(of: ["conv_layers.0.weight_delta", "conv_layers.0.score", "conv_layers.0.bias",
                                          "fc_layers.2.weight"]))
    }

    @Test("parameter accounting (docs/method.md, 'Storage and accounting') for all-on, all-off and one active layer")
    func accounting() throws {
        let task = TaskNetwork(network: try pretrained(seed: 0), headName: DigitCNN.headName, behaviour: .learned)
        let biases = 32 + 64 + 128 + 256, head = 256 * 10 + 10
        var a = ParameterAccounting(task)
        #expect(a.backboneParameters == 390_410 - head)
        #expect(a.taskSpecificParameters == 288 + 18_432 + 73_728 + 294_912 + biases + head)
        for g in task.gatedLayers { g.score.value.storage[0] = 0 }
        task.gatedLayers[2].score.value.storage[0] = 0.5
        a = ParameterAccounting(task)
        #expect(a.taskSpecificParameters == 73_728 + biases + head)
        #expect(abs(a.fractionOfBackbone - Double(73_728 + biases + head) / 387_840) < 1e-12)
        #expect(abs(ParameterAccounting.backboneMultiple([a, a]) - Double(387_840 + 2 * a.taskSpecificParameters) / 387_840) < 1e-12)
    }

    @Test("an export holds only active deltas and restores identical predictions on a fresh network")
    func exportRoundTrip() throws {
        let task = TaskNetwork(network: try pretrained(seed: 0), headName: DigitCNN.headName, behaviour: .learned)
        var rng = SeededRNG(seed: 9)
        for (i, g) in task.gatedLayers.enumerated() {
            g.delta.value = Tensor.normal(g.delta.value.shape, std: 0.01, rng: &rng)
            g.score.value.storage[0] = i % 2 == 0 ? 0.2 : 0.05
        }
        let export = TaskExport(task: task, metadata: ["task": "fashion"])
        #expect(export.tensors.filter { $0.0.hasSuffix(".weight_delta") }.map(\.0) == ["conv_layers.0.weight_delta", "conv_layers.6.weight_delta"])
        let fresh = TaskNetwork(network: try pretrained(seed: 5), headName: DigitCNN.headName, behaviour: .learned)
        try export.apply(to: fresh, source: "memory")
        let (x, _) = try EmbeddedPack.load("fashion").test.batch(Array(0..<16), normalization: .digitCNN)
        #expect(fresh.forward(x, mode: .inference) == task.forward(x, mode: .inference))

        var broken = export
        broken.tensors.removeAll { $0.0 == "fc_layers.2.bias" }
        broken.tensors.append(("bogus", Tensor(zeros: [1])))
        #expect(throws: TaskExportError.self) { try broken.apply(to: fresh, source: "memory") }
    }
}
