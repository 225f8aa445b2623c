// TapsTUITests: a fixed, hand-built run state (no trainer), and the text snapshot helper.
import Foundation
import Testing
import TapsTraining
import TapsTUI

enum Fixture {
    /// DigitCNN's four gated layers.
    static let layers = [
        LayerInfo(index: 0, name: "conv_layers.0", shape: [32, 1, 3, 3], parameters: 288),
        LayerInfo(index: 1, name: "conv_layers.3", shape: [64, 32, 3, 3], parameters: 18_432),
        LayerInfo(index: 2, name: "conv_layers.6", shape: [128, 64, 3, 3], parameters: 73_728),
        LayerInfo(index: 3, name: "fc_layers.0", shape: [256, 1152], parameters: 294_912),
    ]

    /// 300 steps over 3 epochs: conv_layers.0 and fc_layers.0 stay active, conv_layers.3 drops below tau at
    /// step ~200, conv_layers.6 decays to 0; lambda raised once; paused.
    static func metrics(steps: Int = 300) -> MetricsSnapshot {
        var m = MetricsSnapshot()
        m.apply(.start(RunStartEvent(task: "fashion", mode: .taps, base: "digitcnn", lambda: 0.3, tau: 0.1,
                                     epochs: 5, warmupEpochs: 1, stepsPerEpoch: 100, batchSize: 32, seed: 1,
                                     layers: layers, backboneParameters: 388_416, runDirectory: "runs/fixture",
                                     time: 0)))
        for step in 1...steps {
            let t = Double(step)
            let lambda = step <= 150 ? 0.3 : 0.375
            let scores = [0.15 + 0.05 * t / 300, max(0.0, 0.15 - 0.1 * t / 200 * (t > 100 ? 1 : 0.2)),
                          max(0.0, 0.15 - t / 1000), 0.15 + 0.1 * t / 300]
            let phase: StepPhase = step <= 100 ? .warmup : .sparsify
            let taskLoss = 2.3 * exp(-t / 60) + 0.35 + 0.02 * sin(t)
            let penalty = scores.map(abs).reduce(0, +) / 4
            let loss = taskLoss + (phase == .sparsify ? lambda * penalty : 0)
            m.apply(.step(StepEvent(step: step, epoch: (step - 1) / 100 + 1, phase: phase, loss: loss,
                                    taskLoss: taskLoss, penalty: penalty, lambda: lambda,
                                    accuracy: min(0.97, 0.2 + 0.7 * (1 - exp(-t / 50)) + 0.03 * cos(t)),
                                    learningRate: 0.01, scores: scores, active: scores.map { $0 >= 0.1 },
                                    samplesPerSecond: 812, elapsed: t * 0.04)))
            if step % 100 == 0 {
                let e = step / 100
                m.apply(.epoch(EpochEvent(epoch: e, step: step, trainLoss: taskLoss, trainAccuracy: 0.6 + 0.1 * Double(e),
                                          validationAccuracy: 0.55 + 0.1 * Double(e), activeLayers: 3, seconds: 4)))
            }
            if step == 100 {
                m.apply(.notice(NoticeEvent(kind: .warmupOver, step: 101, message: "warm-up over, penalty on")))
            }
            if step == 150 {
                m.apply(.notice(NoticeEvent(kind: .lambda, step: 151, message: "lambda 0.3 -> 0.375", from: 0.3,
                                            to: 0.375)))
            }
            if step == 250 {
                m.apply(.notice(NoticeEvent(kind: .snapshot, step: 250, message: "snapshot written",
                                            paths: ["runs/fixture/snapshot-step000250.json"])))
            }
        }
        return m
    }

    static func state(paused: Bool = true, help: Bool = false) -> DashboardState {
        DashboardState(metrics: metrics(), lambda: 0.375, initialLambda: 0.3, paused: paused, showHelp: help)
    }
}

/// Compares `buffer.text` with `Snapshots/<name>.txt`; with `RECORD=1` in the environment rewrites the file.
func assertSnapshot(_ buffer: ScreenBuffer, named name: String, filePath: String = #filePath,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots").appendingPathComponent("\(name).txt")
    let actual = buffer.text + "\n"
    if ProcessInfo.processInfo.environment["RECORD"] == "1" {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("no snapshot \(url.path); run with RECORD=1 to create it", sourceLocation: sourceLocation)
        return
    }
    if actual != expected {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDiff = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
        Issue.record("""
            snapshot \(name) differs at line \(firstDiff + 1) (RECORD=1 rewrites it)
            expected: \(firstDiff < e.count ? String(e[firstDiff]) : "<none>")
            actual:   \(firstDiff < a.count ? String(a[firstDiff]) : "<none>")
            --- actual ---
            \(actual)
            """, sourceLocation: sourceLocation)
    }
}
