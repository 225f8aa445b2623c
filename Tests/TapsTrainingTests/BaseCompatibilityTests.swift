// TapsTrainingTests: base files saved by other PyTorch set-ups (DataParallel) load with a note, and a base that does
// not fit --arch fails with one line naming the file and the option to check (issue 9).
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

@Suite("Base files from other set-ups")
struct BaseCompatibilityTests {
    static func scratch(_ label: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-base-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("a DataParallel checkpoint (module.*) of the digit CNN is recognised and loads, with a note")
    func dataParallelPrefix() throws {
        let dir = try Self.scratch("dp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try SafeTensors.read(EmbeddedPack.baseWeightsURL)
        let url = dir.appendingPathComponent("dp.safetensors")
        try SafeTensors.write(file.tensors.map { ("module." + $0.name, $0.tensor) }, to: url)
        let base = try BaseModel.load(url.path)
        #expect(base.architecture == "digitcnn")
        #expect(base.notes == ["dp.safetensors: removed the 'module.' prefix of all 10 tensor names (a checkpoint saved from DataParallel)"])
        var rng = SeededRNG(seed: 1)
        let net = try base.instantiate(classes: 10, rng: &rng)
        let shipped = try BaseModel.load("digitcnn")
        #expect(shipped.notes.isEmpty)
        // The run shows the note: prepare puts it ahead of the task's own notes.
        #expect(try base.prepare(loadTask("fashion")).notes.first == base.notes.first)
        #expect(net.parameters.first { $0.name == "conv_layers.0.weight" }?.value == shipped.weights["conv_layers.0.weight"])
    }

    @Test("a base that is not the --arch architecture: one line with counts, the file name and the architecture it looks like")
    func wrongArchitecture() throws {
        let base = try BaseModel.load(EmbeddedPack.baseWeightsURL.path, architecture: "efficientnet-lite0", imageSize: 32)
        var rng = SeededRNG(seed: 2)
        do {
            _ = try base.instantiate(classes: 3, rng: &rng)
            Issue.record("expected an error")
        } catch let error as StateDictError {
            let message = error.description
            #expect(message.hasPrefix("digitcnn-base.safetensors: does not match the model: "), "\(message)")
            #expect(message.contains(" tensors missing (_conv_stem.weight, _bn0.weight, _bn0.bias, ...), "
                + "10 unexpected (conv_layers.0.bias, conv_layers.0.weight, conv_layers.3.bias, ...)"), "\(message)")
            #expect(message.hasSuffix("; is --arch right? (it is efficientnet-lite0; the file looks like digitcnn)"), "\(message)")
            #expect(!message.contains("\n") && message.count < 400, "\(message.count) characters")
        }
    }

    @Test("an export whose classes field disagrees with its stored head is refused before the head is allocated")
    func exportClassesMustMatchHead() throws {
        let dir = try Self.scratch("export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try BaseModel.load("digitcnn")
        var rng = SeededRNG(seed: 3)
        let task = try base.taskNetwork(classes: 10, mode: .probe, tau: 0.1, initialScore: 0.15, rng: &rng)
        for classes in [10, 1_000_000_000_000, 11] {
            let meta = TaskExportMetadata(task: "t", mode: .probe, base: "digitcnn", baseHash: base.contentHash,
                                          architecture: "digitcnn", imageSize: 28, classes: classes, tau: 0.1,
                                          head: base.headName, gatedLayers: task.gatedLayers.map(\.name),
                                          lambdaHistory: [], seed: 0, steps: 0)
            let url = dir.appendingPathComponent("classes-\(classes).safetensors")
            try TaskExport(task: task, metadata: meta).write(to: url)
            if classes == 10 {
                #expect(try TaskExport.load(url, onto: base).metadata.classes == 10)
                continue
            }
            do {
                _ = try TaskExport.load(url, onto: base)
                Issue.record("classes \(classes) loaded")
            } catch {
                #expect("\(error)" == "\(url.path): __metadata__ field 'classes' is missing or malformed; expected the output "
                    + "count of the stored head 'fc_layers.2.weight' (shape [10, 256]), found \(classes)")
            }
        }
    }
}
