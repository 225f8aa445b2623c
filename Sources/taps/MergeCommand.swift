// taps merge: one plain network (torchvision names) from a base and a task export, for PyTorch.
import ArgumentParser
import Foundation
import TAPS
import TapsData
import TapsTensor
import TapsTraining

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write base + task export as one plain network (w0 + delta for active layers, the task's norms and head) with torchvision names.",
        discussion: "Load it in PyTorch with model.load_state_dict(safetensors.torch.load_file(OUT), strict=True) on the architecture with the task's class count.")

    @Option(help: "The base the export was made for: digitcnn, efficientnet-lite0 or a .safetensors file.")
    var base: String = "digitcnn"

    @Option(help: "Architecture of a --base file (default: from its metadata or names).")
    var arch: String?

    @Option(help: "Task export (task.safetensors written by taps train).")
    var export: String

    @Option(help: "Output .safetensors file.")
    var out: String

    @Option(name: .customLong("logits-for"), help: "Also run the adapted network on this .npy batch [N, C, H, W] (float32, already normalised) ...")
    var logitsFor: String?

    @Option(name: .customLong("logits-out"), help: "... and write its logits [N, classes] here as .npy (for scripts/check_merged_torchvision.py).")
    var logitsOut: String?

    func run() throws {
        try reportingErrors {
            let exportURL = URL(fileURLWithPath: export)
            let header = try TaskExport.read(exportURL)
            let b = try BaseModel.load(base, architecture: arch ?? header.metadata["architecture"],
                                       imageSize: header.metadata["image_size"].flatMap { Int($0) })
            let r = try mergeExport(exportURL, base: b, to: URL(fileURLWithPath: out))
            print("wrote \(out): \(r.tensors) tensors, \(b.architecture), \(r.activeLayers) active layers merged into w0")
            if let logitsFor, let logitsOut {
                let x = try NPY.read(URL(fileURLWithPath: logitsFor))
                guard x.shape.count == 4, Array(x.shape.dropFirst()) == b.inputShape else {
                    throw ConfigError.invalid(option: "--logits-for", expected: "a float array [N, \(b.inputShape.map(String.init).joined(separator: ", "))]",
                                              got: "shape \(x.shape)")
                }
                let (network, _) = try TaskExport.load(exportURL, onto: b)
                let logits = network.forward(x.tensor(), mode: .inference)
                try NPY.encode(NPYArray(shape: logits.shape, elements: .float32(logits.storage)))
                    .write(to: URL(fileURLWithPath: logitsOut), options: .atomic)
                print("wrote \(logitsOut): logits \(logits.shape)")
            }
        }
    }
}
