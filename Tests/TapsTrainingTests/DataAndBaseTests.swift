// TapsTrainingTests: training on `--data` (a generated ImageFolder), base recognition from torchvision/timm names,
// the .pth refusal, and `taps merge` checked against an independent NumPy forward.
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

private let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts")

private func scratch(_ label: String) throws -> URL {
    let url = URL(fileURLWithPath: temporaryRunFolder(label))
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Your own data and your own base", .serialized)
struct DataAndBaseTests {
    @Test("a colour ImageFolder trains end to end on EfficientNet-Lite0 and on the grey digitcnn (with a notice)")
    func imageFolderTrains() throws {
        let dir = try scratch("folder")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ExampleDatasets.writeImageFolder(EmbeddedPack.load("fashion"), to: dir.appendingPathComponent("data"), perClass: 4,
                                             testPerClass: 1, size: 48, oddSizes: true)
        // A torchvision-named ResNet-18 file (our ResNet's names are torchvision's; see GoldenTests), no --arch.
        var rng = SeededRNG(seed: 1)
        let resnet = dir.appendingPathComponent("resnet18.safetensors")
        try SafeTensors.write(stateDict(of: try ModelZoo.make("resnet18", classes: 1000, imageSize: 32, rng: &rng).network), to: resnet)
        for base in ["efficientnet-lite0", "digitcnn", resnet.path] {
            var c = quickConfig("folder-\(base.count)", epochs: 1, warmup: 0, trainLimit: nil)
            c.dataPath = dir.appendingPathComponent("data").path; c.base = base; c.maxSteps = 2; c.batchSize = 8
            if base != "digitcnn" { c.imageSize = 32 }
            let (summary, store, trainer) = try train(c)
            #expect(summary.status == .done && summary.testAccuracy != nil, "\(summary.message ?? "")")
            #expect(trainer.data.classes == 10 && trainer.data.test.count == 10)
            #expect(trainer.data.train.imageShape == (base == "digitcnn" ? [1, 28, 28] : [3, 32, 32]))
            let notices = store.snapshot().notices.map(\.message)
            if base == resnet.path { #expect(trainer.base.architecture == "resnet18") }
            if base == "digitcnn" {
                #expect(notices.contains { $0.contains("converted to grey") }, "\(notices)")
                #expect(c.augmentation(for: trainer.base) == .none)
            } else {
                #expect(notices.contains { $0.contains("decoded at 32x32") }, "\(notices)")
                #expect(c.augmentation(for: trainer.base) == .cropFlip)
            }
        }
    }

    @Test("an ImageFolder trains lazily: the batches are those decoded into memory, and any --cache-mb gives the same run")
    func lazyImageFolder() throws {
        let dir = try scratch("lazy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data")
        try ExampleDatasets.writeImageFolder(EmbeddedPack.load("fashion"), to: data, perClass: 12, testPerClass: 3, size: 40,
                                             oddSizes: true)
        var c = quickConfig("lazy", epochs: 2, warmup: 1, trainLimit: 90)
        c.dataPath = data.path; c.base = "efficientnet-lite0"; c.imageSize = 32; c.batchSize = 16
        let base = try BaseModel.load(for: c)
        let lazy = try RunData.load(config: c, base: base, recordSplit: false)
        #expect(lazy.train.decodesOnDemand && lazy.validation.decodesOnDemand && lazy.test.decodesOnDemand)
        // The same split and the same augmented pixels as the images decoded into memory.
        let memory = try base.taskData(from: Dataset.open(data), name: "lazy", skipBad: false)
        var (inMemory, validation) = trainValidationSplit(memory.train, validationFraction: c.validationFraction, seed: c.seed)
        inMemory = applyTrainLimit(inMemory, limit: c.trainLimit, seed: c.seed)
        #expect(lazy.train.count == 90 && lazy.train.labels == inMemory.labels && lazy.validation.labels == validation.labels)
        let indices = Array(0..<lazy.train.count).shuffled()
        for start in stride(from: 0, to: indices.count, by: 32) {
            let idx = Array(indices[start..<min(start + 32, indices.count)])
            let a = try lazy.train.batch(idx, normalization: base.normalization, augmentation: .cropFlip, epoch: 2, seed: 7)
            let b = try inMemory.batch(idx, normalization: base.normalization, augmentation: .cropFlip, epoch: 2, seed: 7)
            #expect(a.images.storage == b.images.storage && a.labels == b.labels)
        }
        // Prefetched streams give the same batches in order.
        let batches = stride(from: 0, to: 90, by: 16).map { Array($0..<min($0 + 16, 90)) }
        let stream = BatchStream(source: lazy.train, batches: batches, normalization: base.normalization, augmentation: .cropFlip,
                                 epoch: 1, seed: 0)
        var k = 0
        while let (x, y) = try stream.next() {
            let direct = try lazy.train.batch(batches[k], normalization: base.normalization, augmentation: .cropFlip, epoch: 1, seed: 0)
            #expect(x.storage == direct.images.storage && y == direct.labels)
            k += 1
        }
        #expect(k == batches.count)
        // Whole runs: no cache (every image decoded every epoch) and a cache holding everything agree bit for bit.
        var summaries: [RunSummary] = []
        var exports: [Data] = []
        for cacheMB in [0, 64] {
            var run = c
            run.cacheMB = cacheMB; run.outputDirectory = dir.appendingPathComponent("run-\(cacheMB)").path
            let (summary, store, trainer) = try train(run)
            #expect(summary.status == .done, "\(summary.message ?? "")")
            #expect(store.snapshot().notices.contains { $0.message.contains("on worker threads") })
            if cacheMB == 64, let source = trainer.data.train as? ImageFolderSource { #expect(source.cachedBytes == 90 * 3 * 32 * 32) }
            summaries.append(summary)
            exports.append(try Data(contentsOf: URL(fileURLWithPath: run.outputDirectory).appendingPathComponent("task.safetensors")))
        }
        #expect(summaries[0].testAccuracy == summaries[1].testAccuracy && summaries[0].activeLayers == summaries[1].activeLayers)
        #expect(summaries[0].bestValidationAccuracy == summaries[1].bestValidationAccuracy)
        #expect(exports[0] == exports[1])
    }

    @Test("a truncated JPEG in a lazy ImageFolder stops the run with its file name, or is replaced and counted with --skip-bad")
    func lazyBadImage() throws {
        let dir = try scratch("lazy-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data")
        try ExampleDatasets.writeImageFolder(EmbeddedPack.load("fashion"), to: data, perClass: 6, testPerClass: 2, size: 40)
        let classFolder = data.appendingPathComponent("train")
        let first = try FileManager.default.contentsOfDirectory(atPath: classFolder.path).sorted()[0]
        let victimFolder = classFolder.appendingPathComponent(first)
        let victim = victimFolder.appendingPathComponent(try FileManager.default.contentsOfDirectory(atPath: victimFolder.path).sorted()[0])
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(bytes.count / 3).write(to: victim)
        var c = quickConfig("lazy-bad", epochs: 1, warmup: 0, trainLimit: nil)
        c.dataPath = data.path; c.base = "efficientnet-lite0"; c.imageSize = 32; c.batchSize = 8; c.validationFraction = 0
        let (failed, _, _) = try train(c)
        #expect(failed.status == .failed && failed.message?.contains(victim.lastPathComponent) == true, "\(failed.message ?? "")")
        c.skipBad = true; c.outputDirectory = dir.appendingPathComponent("skip").path
        let (summary, store, _) = try train(c)
        #expect(summary.status == .done, "\(summary.message ?? "")")
        #expect(store.snapshot().notices.contains { $0.message.hasPrefix("--skip-bad: skipped 1 of 60 training images") },
                "\(store.snapshot().notices.map(\.message))")
    }

    @Test("architectures recognised from torchvision and timm names; torchvision model names accepted")
    func recognition() throws {
        var rng = SeededRNG(seed: 0)
        for arch in ["resnet18", "resnet34", "resnet50", "densenet121", "vit-tiny"] {
            let (net, _) = try ModelZoo.make(arch, classes: 10, imageSize: 64, rng: &rng)
            var weights: [String: Tensor] = [:]
            for (k, v) in stateDict(of: net) { weights[k] = v }
            #expect(BaseModel.recognise(weights) == arch)
            if arch == "vit-tiny" { #expect(BaseModel.vitImageSize(weights) == 64) }
        }
        #expect(ModelZoo.canonical("vit_b_16") == "vit-b16" && ModelZoo.canonical("efficientnet_lite0") == "efficientnet-lite0")
        #expect(try ModelZoo.make("vit_b_16", classes: 2, imageSize: 32, rng: &rng).headName == VisionTransformer.headName)
    }

    @Test("timm's efficientnet_lite0 names load without --arch and compute what the shipped names compute")
    func timmEfficientNet() throws {
        let shipped = try BaseModel.load("efficientnet-lite0", imageSize: 32)
        // The spec of timm's names, written out independently of the loader's mapping.
        let repeats = [1, 2, 2, 3, 3, 4, 1]
        var stageBlock: [Int: (Int, Int)] = [:]
        var k = 0
        for (s, n) in repeats.enumerated() { for b in 0..<n { stageBlock[k] = (s, b); k += 1 } }
        var timm: [(String, Tensor)] = []
        for (name, t) in shipped.weights {
            var parts = name.split(separator: ".").map(String.init)
            if parts[0] == "_blocks", let (s, b) = stageBlock[Int(parts[1])!] {
                let first = s == 0
                let map = first ? ["_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"]
                                : ["_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                                   "_project_conv": "conv_pwl", "_bn2": "bn3"]
                parts = ["blocks", "\(s)", "\(b)", map[parts[2]]!] + parts[3...]
            } else {
                parts[0] = ["_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"][parts[0]]!
            }
            timm.append((parts.joined(separator: "."), t))
        }
        let dir = try scratch("timm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("efficientnet_lite0.safetensors")
        try SafeTensors.write(timm, to: file)
        let loaded = try BaseModel.load(file.path, imageSize: 32)
        #expect(loaded.architecture == "efficientnet-lite0")
        var rng = SeededRNG(seed: 3)
        let x = Tensor.uniform([2, 3, 32, 32], low: -1, high: 1, rng: &rng)
        let a = try shipped.pretrainedNetwork().forward(x, mode: .inference)
        let b = try loaded.pretrainedNetwork().forward(x, mode: .inference)
        #expect(a == b)
    }

    @Test("a PyTorch pickle as --base: one line with the Python line that converts it")
    func pickleRefused() throws {
        let dir = try scratch("pth")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, bytes) in [("model.pth", Data([0x50, 0x4B, 0x03, 0x04, 0, 0])), ("old.pt", Data([0x80, 0x02, 0x7D]))] {
            let url = dir.appendingPathComponent(name)
            try bytes.write(to: url)
            do {
                _ = try BaseModel.load(url.path)
                Issue.record("\(name) loaded")
            } catch {
                let m = "\(error)"
                #expect(m.contains("torch.load('\(url.path)'") && m.contains("save_file(") && m.contains(".safetensors')") && !m.contains("\n"), "\(m)")
            }
        }
    }

    @Test("taps merge: the merged digitcnn reproduces the adapted network's logits (NumPy forward if available, and as a plain network)")
    func merge() throws {
        var c = quickConfig("merge", lambda: 0.3, epochs: 2, warmup: 1, trainLimit: 256)
        let (summary, _, trainer) = try train(c)
        c = trainer.config
        #expect(summary.status == .done && !summary.activeLayers.isEmpty)
        let dir = try scratch("merge")
        defer { try? FileManager.default.removeItem(at: dir) }
        let export = URL(fileURLWithPath: c.outputDirectory).appendingPathComponent("task.safetensors")
        let merged = dir.appendingPathComponent("merged.safetensors")
        try mergeExport(export, base: trainer.base, to: merged)
        let file = try SafeTensors.read(merged)
        #expect(!file.tensors.contains { $0.name.hasSuffix(".weight_delta") || $0.name.hasSuffix(".score") })
        #expect(file.metadata["format"] == "taps-merged/1" && file.metadata["architecture"] == "digitcnn")
        let (network, _) = try TaskExport.load(export, onto: trainer.base)
        let (x, _) = try trainer.data.test.batch(Array(0..<16), normalization: trainer.base.normalization, augmentation: .none,
                                                epoch: 0, seed: 0)
        let expected = network.forward(x, mode: .inference)
        // The merged file as a plain network (strict load: every torchvision-style key present, nothing extra).
        let plain = try BaseModel.load(merged.path).pretrainedNetwork()
        let swift = plain.forward(x, mode: .inference)
        #expect(zip(swift.storage, expected.storage).allSatisfy { abs($0 - $1) <= 1e-4 })
        // An independent NumPy forward of the merged file.
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import numpy"]
        python.standardError = FileHandle.nullDevice
        guard (try? python.run()) != nil else { return }
        python.waitUntilExit()
        guard python.terminationStatus == 0 else { print("numpy not available: checked the Swift forward only"); return }
        let input = dir.appendingPathComponent("x.npy"), output = dir.appendingPathComponent("y.npy")
        try NPY.encode(NPYArray(shape: x.shape, elements: .float32(x.storage))).write(to: input)
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        run.arguments = ["python3", scriptsDirectory.appendingPathComponent("numpy_digitcnn_forward.py").path, merged.path, input.path, output.path]
        try run.run(); run.waitUntilExit()
        #expect(run.terminationStatus == 0)
        let numpy = try NPY.read(output)
        #expect(numpy.shape == expected.shape)
        let diff = zip(numpy.floats, expected.storage).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 1e-4, "max |numpy - taps| = \(diff)")
    }
}
