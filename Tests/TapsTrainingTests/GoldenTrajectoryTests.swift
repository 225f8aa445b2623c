// TapsTrainingTests: the run loop's step against an independent PyTorch TAPS, 10 steps on the digitcnn base.
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

/// `Tests/Fixtures/golden/taps_trajectory.json`, written by `scripts/make_golden_trajectory.py` (PyTorch).
private struct GoldenTrajectory: Decodable {
    struct Settings: Decodable {
        var task: String
        var steps: Int
        var lr: Double
        var momentum: Double
        var lambda: Double
        var tau: Double
        var initialScore: Double
    }
    struct Point: Decodable {
        var step: Int
        var taskLoss: Double
        var penalty: Double
        var loss: Double
        var scores: [Double]
        var active: [Bool]
        var headWeightSum: Double
    }
    var magic: String
    var settings: Settings
    var gatedLayers: [String]
    var batches: [[Int]]
    var trajectory: [Point]

    static func load() throws -> GoldenTrajectory {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/golden/taps_trajectory.json").standardized
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(GoldenTrajectory.self, from: Data(contentsOf: url))
    }
}

/// `scale * sin(1.7 * i + phase)` in Double, rounded to Float (the generator's head initialisation).
private func pattern(_ shape: [Int], phase: Double, scale: Double) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, storage: (0..<n).map { Float(scale * sin(1.7 * Double($0) + phase)) })
}

@Suite("Golden trajectory: trainStep against PyTorch")
struct GoldenTrajectoryTests {
    /// Replays the generator's 10 steps through `trainStep` (forward, straight-through backward, SGD momentum,
    /// proximal penalty step) and returns one (task loss, penalty, scores, active, head sum) per step.
    fileprivate static func replay(_ golden: GoldenTrajectory) throws -> [(Double, Double, [Double], [Bool], Double)] {
        let s = golden.settings
        let base = try BaseModel.load("digitcnn")
        let data = try EmbeddedPack.load(s.task)
        var rng = SeededRNG(seed: 0)
        let task = try base.taskNetwork(classes: 10, mode: .taps, tau: s.tau, initialScore: s.initialScore, rng: &rng)
        for p in task.headParameters {
            p.value = p.name.hasSuffix(".weight") ? pattern(p.value.shape, phase: 0.3, scale: 1.0 / 16)
                                                  : pattern(p.value.shape, phase: 0.7, scale: 1.0 / 16)
        }
        let optimizer = SGD(parameters: task.trainableParameters, momentum: Float(s.momentum))
        let schedule = CosineSchedule(peak: Float(s.lr), totalSteps: s.steps)
        var out: [(Double, Double, [Double], [Bool], Double)] = []
        for (step, indices) in golden.batches.enumerated() {
            let (x, y) = data.train.batch(indices, normalization: base.normalization)
            let settings = StepSettings(lambda: s.lambda, penaltyOn: true, penalty: .mean, penaltyUpdate: .proximal,
                                        learningRate: schedule.learningRate(at: step))
            guard case .completed(let r) = trainStep([SubBatch(network: task.network, gatedLayers: task.gatedLayers,
                                                               images: x, labels: y)],
                                                     optimizer: optimizer, settings: settings) else {
                Issue.record("step \(step + 1) had a non-finite loss")
                break
            }
            let head = task.headParameters.first { $0.name.hasSuffix(".weight") }?.value.sum() ?? .nan
            out.append((r[0].taskLoss, r[0].penalty, task.gatedLayers.map { Double($0.score.value.storage[0]) },
                        task.gatedLayers.map(\.isActive), head))
        }
        return out
    }

    @Test("10 steps: losses, scores and active flags within 1e-4 of PyTorch")
    func matchesPyTorch() throws {
        let golden = try GoldenTrajectory.load()
        #expect(golden.magic == "taps-golden-trajectory" && golden.trajectory.count == golden.settings.steps)
        let ours = try Self.replay(golden)
        #expect(ours.count == golden.trajectory.count)
        var flips = 0
        for (g, o) in zip(golden.trajectory, ours) {
            #expect(abs(o.0 - g.taskLoss) < 1e-4, "step \(g.step): task loss \(o.0) vs PyTorch \(g.taskLoss)")
            #expect(abs(o.1 - g.penalty) < 1e-4, "step \(g.step): penalty \(o.1) vs PyTorch \(g.penalty)")
            for (a, b) in zip(o.2, g.scores) { #expect(abs(a - b) < 1e-4, "step \(g.step): scores \(o.2) vs PyTorch \(g.scores)") }
            #expect(o.3 == g.active, "step \(g.step): active \(o.3) vs PyTorch \(g.active)")
            #expect(abs(o.4 - g.headWeightSum) < 1e-4, "step \(g.step): head weight sum \(o.4) vs PyTorch \(g.headWeightSum)")
        }
        // The trajectory exercises the gate: layers switch off and one switches back on.
        for (a, b) in zip(golden.trajectory, golden.trajectory.dropFirst()) where a.active != b.active { flips += 1 }
        #expect(flips >= 3)
    }
}
