// taps predict: top-k classes of one image with a base (e.g. ImageNet) or with an adapted task.
import ArgumentParser
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the top classes of an image (PNG, JPEG or uint8 .npy) with a base or an adapted task.",
        discussion: """
            Without --export the base's own head is used (for efficientnet-lite0: the 1000 ImageNet classes, at 224 px
            unless --image-size says otherwise). With --export, base + task export predict the task's classes.
            Photos are centre-cropped to a square and resized bilinearly to the network's input; grey images are
            replicated to RGB for image networks, and RGB is turned grey for digitcnn.
            """)

    @Argument(help: "Image file: PNG, JPEG, or a uint8 .npy of shape [H, W] or [H, W, 3].")
    var image: String

    @Option(help: "Base: digitcnn, efficientnet-lite0, or a .safetensors file (see --arch).")
    var base: String = "efficientnet-lite0"

    @Option(help: "Architecture of a --base file (default: from its metadata or names).")
    var arch: String?

    @Option(name: .customLong("image-size"), help: "Input size in pixels (default: 224 for the base's own head, the export's size with --export).")
    var imageSize: Int?

    @Option(help: "Task export (task.safetensors) to predict with instead of the base's head.")
    var export: String?

    @Option(help: "How many classes to print.")
    var top: Int = 5

    @OptionGroup var output: JSONOption

    /// `taps predict --json` (docs/cli-json.md).
    struct Result: Codable {
        struct Prediction: Codable { var index: Int; var label: String; var probability: Double; var logit: Double }
        var schema = "taps.predict/1"
        var image: String
        var width: Int
        var height: Int
        var channels: Int
        var base: String
        var inputSize: [Int]
        var export: String?
        var predictions: [Prediction]
    }

    func run() throws {
        try reportingErrors {
            let decoded = try ImageFile.read(URL(fileURLWithPath: image))
            guard decoded.width > 0, decoded.height > 0 else {
                throw ConfigError.invalid(option: "<image>", expected: "an image with at least 1x1 pixels",
                                          got: "\(image) with \(decoded.width)x\(decoded.height)")
            }
            let network: any Layer
            let model: BaseModel
            var names: [String]? = nil
            if let export {
                let file = try TaskExportFile(contentsOf: URL(fileURLWithPath: export))
                model = try BaseModel.load(base, architecture: arch ?? file.metadata.architecture,
                                           imageSize: imageSize ?? file.metadata.imageSize)
                network = try file.load(onto: model).network
            } else {
                model = try BaseModel.load(base, architecture: arch, imageSize: imageSize ?? (base == "digitcnn" ? nil : 224))
                network = try model.pretrainedNetwork()
                if model.name == "efficientnet-lite0" { names = try ImageNetBase.classNames() }
            }
            let (c, h, w) = (model.inputShape[0], model.inputShape[1], model.inputShape[2])
            var picture = decoded.centreSquare()
            if c == 1 { picture = picture.grey() }
            let prepared = picture.asLabeledImages().resized(height: h, width: w, channels: c)
            let (x, _) = prepared.batch([0], normalization: model.normalization)
            let logits = network.forward(x, mode: .inference).storage
            let maxLogit = logits.max() ?? 0
            let exps = logits.map { Foundation.exp(Double($0 - maxLogit)) }
            let total = exps.reduce(0, +)
            let ranked = exps.indices.sorted { exps[$0] > exps[$1] }.prefix(max(1, top))
            let predictions = ranked.map { i in
                Result.Prediction(index: i, label: names.map { i < $0.count ? $0[i] : "class \(i)" } ?? "class \(i)",
                                  probability: exps[i] / total, logit: Double(logits[i]))
            }
            if output.json {
                return try printJSON(Result(image: image, width: decoded.width, height: decoded.height, channels: decoded.channels,
                                            base: model.name, inputSize: [c, h, w], export: export, predictions: predictions))
            }
            print("\(image): \(decoded.width)x\(decoded.height), \(decoded.channels == 3 ? "RGB" : "grey") -> \(model.name) at \(h)x\(w)")
            for p in predictions {
                print(String(format: "%5d  %6.2f%%  logit %8.4f  %@", p.index, 100 * p.probability, p.logit, p.label as NSString))
            }
        }
    }
}

/// `taps inspect --model NAME` / `--base NAME`: the gated layers in order, with shapes, sizes and the backbone total
/// (also `taps inspect --json`, docs/cli-json.md).
struct GatedLayerListing: Codable {
    struct Entry: Codable { var index: Int; var name: String; var shape: [Int]; var parameters: Int }
    var schema = "taps.inspect-model/1"
    var title: String
    var head: String
    var classes: Int
    var gatedLayers: [Entry]
    var gatedWeights: Int
    var backboneParameters: Int
    var headParameters: Int

    static func make(model: String?, base: String?, arch: String?, imageSize: Int, classes: Int) throws -> GatedLayerListing {
        var rng = SeededRNG(seed: 0)
        let network: any Layer, head: String, title: String
        if let base {
            let b = try BaseModel.load(base, architecture: arch, imageSize: base == "digitcnn" ? nil : imageSize)
            network = try b.instantiate(classes: classes, rng: &rng)
            head = b.headName; title = "\(b.name) (\(b.architecture), \(b.inputShape[1]) px)"
        } else {
            let name = model ?? "digitcnn"
            if name == "digitcnn" {
                network = makeDigitCNN(classes: classes, rng: &rng); head = DigitCNN.headName
            } else {
                (network, head) = try ModelZoo.make(name, classes: classes, imageSize: imageSize, rng: &rng)
            }
            title = name
        }
        let task = TaskNetwork(network: network, headName: head, behaviour: .learned)
        let acc = ParameterAccounting(task)
        return GatedLayerListing(
            title: title, head: head, classes: classes,
            gatedLayers: task.gatedLayers.enumerated().map { i, g in
                Entry(index: i, name: g.name, shape: g.base.weight.value.shape, parameters: g.weightCount)
            },
            gatedWeights: task.gatedLayers.reduce(0) { $0 + $1.weightCount },
            backboneParameters: acc.backboneParameters, headParameters: acc.headParameters)
    }

    func print() {
        Swift.print("\(title): \(gatedLayers.count) gated layers (every conv/linear but the head '\(head)')")
        Swift.print("  #  " + "layer".padding(toLength: 55, withPad: " ", startingAt: 0) + "shape             parameters")
        for g in gatedLayers {
            Swift.print(String(format: "%3d  ", g.index) + g.name.padding(toLength: 55, withPad: " ", startingAt: 0)
                        + "\(g.shape)".padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%10d", g.parameters))
        }
        Swift.print("gated weights \(ProgressFormatter.grouped(gatedWeights)); backbone \(ProgressFormatter.grouped(backboneParameters)) parameters "
                    + "(+ head \(ProgressFormatter.grouped(headParameters)) for \(classes) classes)")
    }
}
