// TapsTraining: the complete training state of a run, written atomically into its folder, so an interrupted run
// (killed, stopped, out of disk) continues exactly where its last checkpoint was (docs/method.md "Checkpoints").
import Foundation
import TAPS
import TapsNN
import TapsTensor

/// The scalar part of a checkpoint (`__metadata__["taps_checkpoint"]` of `checkpoint.safetensors`, JSON).
struct CheckpointState: Codable, Equatable {
    static let format = "taps-checkpoint/1"
    var format = CheckpointState.format
    /// Optimizer steps taken.
    var step: Int
    /// The epoch in progress (1-based) and how many of its steps were taken; `epochDone`: its evaluation and
    /// model selection are done too (training continues with epoch + 1).
    var epoch: Int
    var stepInEpoch: Int
    var epochDone: Bool
    var lambda: Double
    var lambdaHistory: [LambdaChange]
    /// Bytes of each view's metrics.jsonl at the checkpoint.
    var metricsOffsets: [UInt64]
    /// Per view: the epoch's summed task loss, correct predictions and images so far.
    var epochLoss: [Double]
    var epochCorrect: [Int]
    var epochSeen: [Int]
    var validation: [Double]
    var trainAccuracy: [Double?]
    var bestAccuracy: Double?
    var bestEpoch: Int?
    var bestPerMember: [Double]?
    var epochsCompleted: Int
    var trainingSeconds: Double
    /// Seconds of training before this checkpoint (so `elapsed` continues).
    var elapsed: Double
    /// The mode's sampler position at the start of `epoch` (joint modes), as JSON.
    var sampler: Data?
    /// Mask generator states of every dropout layer, per member in network order.
    var dropout: [[[UInt64]]]
    var announcedRecalibration: [Int]
    /// The settle rule's votes (steps each active set was held in the last penalty epoch) and the flip counts.
    var setVotes: [[String: Int]]?
    var flips: [[Int]]?
    var lateFlips: Int?
    /// Budget runs: the active sets seen at the end of each penalty epoch with their validation accuracy.
    var candidates: [[CandidateSet]]?
    /// Per member, the layers a budget run pinned off when it first fit, until the settle (nil in older
    /// checkpoints: none; empty from the settle on).
    var budgetPinned: [[String]]?
}

/// An active set (`"1011"`, one character per gated layer) and the validation accuracy it had.
struct CandidateSet: Codable, Equatable {
    var set: String
    var accuracy: Double
}

/// A checkpoint: ``CheckpointState`` plus tensors — every trainable parameter and buffer of every member
/// (`member<m>/<name>`), the optimizer's momentum buffers (`momentum/<index>`), and the best epoch's state
/// (`best/member<m>/<name>`).
struct Checkpoint {
    static let fileName = "checkpoint.safetensors"
    var state: CheckpointState
    var tensors: [String: Tensor]

    /// Writes atomically (temp file, fsync, rename): a kill or a full disk leaves the previous checkpoint.
    /// - Throws: ``FileWriteError`` / `SafeTensorsError.unwritable` naming the file.
    func write(to directory: URL) throws {
        let json = String(data: try makeJSONEncoder(pretty: false).encode(state), encoding: .utf8) ?? "{}"
        try SafeTensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                              metadata: ["format": CheckpointState.format, "taps_checkpoint": json],
                              to: directory.appendingPathComponent(Self.fileName))
    }

    /// Reads `directory/checkpoint.safetensors`.
    /// - Throws: `SafeTensorsError` for a damaged file; `CheckpointError` when it is missing or not a checkpoint.
    static func read(from directory: URL) throws -> Checkpoint {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw CheckpointError.missing(folder: directory.path) }
        let file = try SafeTensors.read(url)
        guard file.metadata["format"] == CheckpointState.format, let json = file.metadata["taps_checkpoint"],
              let state = try? makeJSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)) else {
            throw CheckpointError.malformed(file: url.path, reason: "no \(CheckpointState.format) state in __metadata__")
        }
        var tensors: [String: Tensor] = [:]
        for t in file.tensors { tensors[t.name] = t.tensor }
        return Checkpoint(state: state, tensors: tensors)
    }
}

/// Why a run cannot be resumed. One line each, naming the folder or file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case missing(folder: String)
    case malformed(file: String, reason: String)
    case finished(folder: String)
    case mismatch(file: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let folder):
            return "\(folder): no checkpoint.safetensors to resume from (the run stopped before its first checkpoint; start it again)"
        case let .malformed(file, reason): return "\(file): not a taps checkpoint (\(reason))"
        case .finished(let folder): return "\(folder): the run already finished (summary.json says done); nothing to resume"
        case let .mismatch(file, reason): return "\(file): does not fit this run (\(reason))"
        }
    }
}

/// The dropout layers of a network, whose mask generators a checkpoint keeps.
func dropoutLayers(in layer: any Layer) -> [Dropout] { layers(of: Dropout.self, in: layer) }

/// What a run folder already holds when a run is about to use it.
public enum RunFolderPolicy: Sendable, Equatable {
    /// Refuse a folder whose `summary.json` says a run finished there (the default: an old summary or export
    /// never sits beside a new config).
    case refuseFinished
    /// Start afresh in the folder whatever it holds (`--force`, sweeps retraining a changed setting).
    case overwrite
}
