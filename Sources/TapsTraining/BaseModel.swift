// TapsTraining: the pretrained bases the engine can adapt, and how to build a task network on one.
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// A pretrained base network: its architecture, weights, head and input normalisation.
public struct BaseModel: @unchecked Sendable {
    /// Name shown in summaries and checked against exports (`digitcnn`).
    public var name: String
    /// Module name of the classifier head that each task replaces.
    public var headName: String
    /// Input image shape `[channels, height, width]`.
    public var inputShape: [Int]
    /// Per-channel input normalisation the base was trained with.
    public var normalization: Normalization
    /// The pretrained tensors by state_dict key.
    public var weights: [String: Tensor]
    /// A content hash of the weights (FNV-1a 64 over names, shapes and bytes, hex): identifies the base
    /// in exports. Not a cryptographic hash.
    public var contentHash: String
    /// Builds the architecture with a head of `classes` outputs, randomly initialised from `rng`.
    public var makeNetwork: @Sendable (_ classes: Int, _ rng: inout SeededRNG) -> any Layer

    /// Loads a base by name (`digitcnn`, the embedded MNIST-pretrained CNN) or from a `.safetensors` path
    /// holding a DigitCNN state_dict.
    /// - Throws: `SafeTensorsError` for a malformed file; `ConfigError.invalid` for an unknown base.
    public static func load(_ nameOrPath: String) throws -> BaseModel {
        let url: URL
        if nameOrPath == "digitcnn" {
            url = EmbeddedPack.baseWeightsURL
        } else if nameOrPath.hasSuffix(".safetensors") || FileManager.default.fileExists(atPath: nameOrPath) {
            url = URL(fileURLWithPath: nameOrPath)
        } else {
            throw ConfigError.invalid(option: "--base", expected: "digitcnn or a .safetensors file", got: nameOrPath)
        }
        let file = try SafeTensors.read(url)
        var weights: [String: Tensor] = [:]
        for (name, t) in file.tensors { weights[name] = t }
        return BaseModel(name: nameOrPath == "digitcnn" ? "digitcnn" : url.lastPathComponent,
                         headName: DigitCNN.headName, inputShape: DigitCNN.imageShape, normalization: .digitCNN, weights: weights,
                         contentHash: Self.hash(file.tensors.map { ($0.name, $0.tensor) }),
                         makeNetwork: { classes, rng in makeDigitCNN(classes: classes, rng: &rng) })
    }

    /// Brings a task's images to the base's input shape `inputShape`.
    /// - Throws: `ConfigError.invalid` when the images cannot be adapted to this base.
    public func prepare(_ data: TaskData) throws -> TaskData {
        guard data.train.imageShape == inputShape else {
            throw ConfigError.invalid(option: "--task", expected: "images of shape \(inputShape) for base \(name)",
                                      got: "\(data.name) with images \(data.train.imageShape)")
        }
        return data
    }

    /// Builds a fresh network with the base's weights and a new, randomly initialised head of `classes`.
    /// - Throws: `StateDictError` listing every missing, unexpected or mis-shaped tensor of the base.
    public func instantiate(classes: Int, rng: inout SeededRNG) throws -> any Layer {
        let net = makeNetwork(classes, &rng)
        // Strict load of the base's backbone plus the new head's own values: every name must match.
        var tensors = weights.filter { !$0.key.hasPrefix(headName + ".") }
        for p in net.parameters where p.name.hasPrefix(headName + ".") { tensors[p.name] = p.value }
        try loadStateDict(tensors, into: net, strict: true)
        return net
    }

    /// Wraps a fresh instance for one task.
    public func taskNetwork(classes: Int, mode: TrainingMode, tau: Double, initialScore: Double,
                            rng: inout SeededRNG) throws -> TaskNetwork {
        let behaviour: GateBehaviour = switch mode {
        case .taps: .learned
        case .finetune: .alwaysOn
        case .probe: .alwaysOff
        }
        return TaskNetwork(network: try instantiate(classes: classes, rng: &rng), headName: headName,
                           behaviour: behaviour, tau: Float(tau), initialScore: Float(initialScore))
    }

    static func hash(_ tensors: [(String, Tensor)]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { h ^= UInt64(byte); h = h &* 0x100_0000_01b3 }
        for (name, t) in tensors.sorted(by: { $0.0 < $1.0 }) {
            for b in name.utf8 { mix(b) }
            for d in t.shape { for b in withUnsafeBytes(of: UInt32(d).littleEndian, Array.init) { mix(b) } }
            t.withBuffer { buf in
                for b in UnsafeRawBufferPointer(buf) { mix(b) }
            }
        }
        return String(format: "fnv1a64:%016llx", h)
    }
}
