// TapsNNTests: DigitCNN structure, Sequential naming, state_dict round trips and strict-mode errors.
import Foundation
import Testing
import TapsNN
import TapsData
import TapsTensor
import TapsTestSupport

@Suite("DigitCNN, Sequential and state_dict")
struct ModelTests {
    static let expectedNames = [
        "conv_layers.0.weight", "conv_layers.0.bias", "conv_layers.3.weight", "conv_layers.3.bias",
        "conv_layers.6.weight", "conv_layers.6.bias", "fc_layers.0.weight", "fc_layers.0.bias",
        "fc_layers.2.weight", "fc_layers.2.bias",
    ]

    @Test("parameter names, shapes, count and output shape match the PyTorch model")
    func structure() {
        var rng = SeededRNG(seed: 1)
        let model = makeDigitCNN(rng: &rng)
        #expect(model.parameters.map(\.name) == Self.expectedNames)
        #expect(model.parameters.map(\.value.shape) == [
            [32, 1, 3, 3], [32], [64, 32, 3, 3], [64], [128, 64, 3, 3], [128], [256, 1152], [256], [10, 256], [10],
        ])
        #expect(model.parameters.reduce(0) { $0 + $1.count } == 390_410)
        let y = model.forward(Tensor.normal([3, 1, 28, 28], rng: &rng), mode: .inference)
        #expect(y.shape == [3, 10] && y.isFinite)
        #expect(model.layer(named: "conv_layers.2") is MaxPool2d)
        #expect(model.layer(named: "fc_layers.1") is ReLU)
        #expect(model.layer(named: "nope") == nil)
        // PyTorch default init bounds: 1/sqrt(fan_in).
        #expect(model.parameters[0].value.maxAbs() <= 1 / 3 && model.parameters[0].value.maxAbs() > 0.3)
        #expect(model.parameters[6].value.maxAbs() <= 1 / Float(1152).squareRoot())
    }

    @Test("the head can be found and replaced; weighted layers are WeightedLayer")
    func head() {
        var rng = SeededRNG(seed: 2)
        let model = DigitCNN.make(classes: 10, rng: &rng)
        #expect((model.layer(named: DigitCNN.headName) as? Linear)?.outFeatures == 10)
        #expect(model.replaceLayer(named: DigitCNN.headName, with: DigitCNN.makeHead(classes: 2, rng: &rng)))
        #expect(model.forward(Tensor(zeros: [1, 1, 28, 28]), mode: .inference).shape == [1, 2])
        #expect(!model.replaceLayer(named: "fc_layers.9", with: ReLU()))
        var weighted = 0
        func walk(_ l: any Layer) { if l is any WeightedLayer { weighted += 1 }; l.children.forEach(walk) }
        walk(model)
        #expect(weighted == 5)
    }

    @Test("mapChildren swaps layers in place (as TAPS wraps weighted layers)")
    func mapChildren() {
        var rng = SeededRNG(seed: 3)
        let model = DigitCNN.make(rng: &rng)
        let conv = model.layer(named: "conv_layers") as! Sequential
        conv.mapChildren { $0 is ReLU ? Flatten() : $0 }
        #expect(conv.layers.filter { $0 is ReLU }.isEmpty && conv.layers.count == 9)
    }

    @Test("stateDict → loadStateDict round trip reproduces outputs")
    func roundTrip() throws {
        var rng = SeededRNG(seed: 4)
        let a = makeDigitCNN(rng: &rng), b = makeDigitCNN(rng: &rng)
        let x = Tensor.normal([2, 1, 28, 28], rng: &rng)
        #expect(a.forward(x, mode: .inference) != b.forward(x, mode: .inference))
        let sd = stateDict(of: a)
        #expect(sd.map(\.0) == Self.expectedNames)
        let report = try loadStateDict(Dictionary(uniqueKeysWithValues: sd), into: b)
        #expect(report.loaded == Self.expectedNames && report.missing.isEmpty && report.unexpected.isEmpty)
        #expect(a.forward(x, mode: .inference) == b.forward(x, mode: .inference))
    }

    @Test("strict load reports missing, unexpected and shape-mismatched keys together, on one line")
    func strictErrors() {
        var rng = SeededRNG(seed: 5)
        let model = makeDigitCNN(rng: &rng)
        let before = stateDict(of: model)
        var sd = Dictionary(uniqueKeysWithValues: before)
        sd["fc_layers.2.weight"] = Tensor(zeros: [2, 256])
        sd["conv_layers.0.bias"] = nil
        sd["extra.weight"] = Tensor(zeros: [1])
        do {
            try loadStateDict(sd, into: model)
            Issue.record("expected an error")
        } catch let error as StateDictError {
            #expect(error.missing == ["conv_layers.0.bias"])
            #expect(error.unexpected == ["extra.weight"])
            #expect(error.shapeMismatches.map(\.name) == ["fc_layers.2.weight"])
            #expect(error.description == "does not match the model: 1 tensor missing (conv_layers.0.bias), "
                + "1 unexpected (extra.weight), 1 with another shape (fc_layers.2.weight: model [10, 256], file [2, 256]); "
                + "was the file saved from this architecture?")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        // Nothing was copied by the failed load.
        #expect(stateDict(of: model).map(\.1) == before.map(\.1))
    }

    @Test("non-strict load ignores missing/unexpected keys but still rejects shape mismatches")
    func nonStrict() throws {
        var rng = SeededRNG(seed: 6)
        let model = makeDigitCNN(rng: &rng)
        var sd = Dictionary(uniqueKeysWithValues: stateDict(of: makeDigitCNN(rng: &rng)))
        sd["fc_layers.2.weight"] = nil
        sd["fc_layers.2.bias"] = nil
        sd["other"] = Tensor(zeros: [3])
        let report = try loadStateDict(sd, into: model, strict: false)
        #expect(report.missing == ["fc_layers.2.weight", "fc_layers.2.bias"] && report.unexpected == ["other"])
        #expect(model.parameters[0].value == sd["conv_layers.0.weight"]!)
        sd["fc_layers.0.bias"] = Tensor(zeros: [3])
        #expect(throws: StateDictError.self) { try loadStateDict(sd, into: model, strict: false) }
    }

    @Test("BatchNorm2d buffers are in the state_dict; scalar num_batches_tracked loads from [] or [1]")
    func batchNormStateDict() throws {
        let bn = BatchNorm2d(name: "bn1", channels: 2)
        #expect(stateDict(of: bn).map(\.0) == ["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                               "bn1.num_batches_tracked"])
        #expect(bn.numBatchesTracked.value.shape == [])
        try loadStateDict(["bn1.weight": Tensor(zeros: [2]), "bn1.bias": Tensor(zeros: [2]),
                           "bn1.running_mean": Tensor(zeros: [2]), "bn1.running_var": Tensor(zeros: [2]),
                           "bn1.num_batches_tracked": Tensor(shape: [1], storage: [7])], into: bn)
        #expect(bn.numBatchesTracked.value.shape == [] && bn.numBatchesTracked.value.storage == [7])
        #expect(bn.parameters.filter { $0.requiresGrad }.map(\.name) == ["bn1.weight", "bn1.bias"])
    }

    @Test("the embedded pretrained base loads strictly and reproduces PyTorch's logits on packaged images")
    func embeddedBase() throws {
        let pack = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/TapsData/Resources/taps-pack").standardized
        let file = try SafeTensors.read(pack.appendingPathComponent("digitcnn-base.safetensors"))
        var rng = SeededRNG(seed: 7)
        let model = makeDigitCNN(rng: &rng)
        try loadStateDict(Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) }), into: model)
        #expect(model.parameters[0].value == file["conv_layers.0.weight"]!)
        let golden = try JSONSerialization.jsonObject(
            with: Data(contentsOf: pack.appendingPathComponent("golden_digitcnn_logits.json"))) as! [String: Any]
        for task in ["mnist5k", "cvdigits", "fashion"] {
            let entry = golden[task] as! [String: Any]
            let images = try IDX.readImages(pack.appendingPathComponent(entry["file"] as! String))
            let indices = entry["indices"] as! [Int]
            var x = Tensor(zeros: [indices.count, 1, 28, 28])
            for (row, index) in indices.enumerated() {
                for k in 0..<784 {
                    x.storage[row * 784 + k] = (Float(images.pixels[index * 784 + k]) / 255 - 0.1307) / 0.3081
                }
            }
            let expected = (entry["logits"] as! [[Double]]).flatMap { $0 }
            let logits = model.forward(x, mode: .inference)
            let r = compareClose(logits.doubles, expected, rtol: 1e-4, atol: 1e-3)
            #expect(r.isClose, "\(task): \(r)")
        }
    }
}
