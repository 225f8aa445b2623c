import Testing
import TapsTraining
import TapsTUI

/// A base with more gated layers than the 80x24 heatmap has rows (EfficientNet-Lite0 has 49).
@Suite struct HeatmapScrollTests {
    func state(layers count: Int, offset: Int) -> DashboardState {
        let layers = (0..<count).map { LayerInfo(index: $0, name: "_blocks.\($0).conv", shape: [8, 8, 1, 1], parameters: 64) }
        var m = MetricsSnapshot()
        m.apply(.start(RunStartEvent(task: "fashion", mode: .taps, base: "efficientnet-lite0", lambda: 2, tau: 0.1,
                                     epochs: 5, warmupEpochs: 2, stepsPerEpoch: 85, batchSize: 32, seed: 0,
                                     layers: layers, backboneParameters: 3_371_008, runDirectory: "runs/x", time: 0)))
        let scores = (0..<count).map { $0 % 3 == 0 ? 0.05 : 0.2 }
        m.apply(.step(StepEvent(step: 1, epoch: 1, phase: .warmup, loss: 1, taskLoss: 1, penalty: 0.1, lambda: 2,
                                accuracy: 0.5, learningRate: 0.01, scores: scores, active: scores.map { $0 >= 0.1 },
                                samplesPerSecond: 30, elapsed: 1)))
        var s = DashboardState(metrics: m, lambda: 2, initialLambda: 2)
        s.heatmapOffset = offset
        return s
    }

    @Test func rowsScrollAndTheLastLineSaysWhere() {
        let size = Size(width: 80, height: 24)
        let top = render(state(layers: 49, offset: 0), size: size, theme: .builtInMono, caps: Capabilities()).lines
        #expect(top.contains { $0.contains("_blocks.0.conv") })
        #expect(top.contains { $0.contains("layers 1-") && $0.contains("of 49") && $0.contains("j/k scroll") })
        let scrolled = render(state(layers: 49, offset: 20), size: size, theme: .builtInMono, caps: Capabilities()).lines
        #expect(!scrolled.contains { $0.contains("_blocks.0.conv ") })
        #expect(scrolled.contains { $0.contains("_blocks.20.conv") })
        #expect(scrolled.contains { $0.contains("layers 21-") })
        // Past the end: clamped so the last layer is the last row shown.
        let end = render(state(layers: 49, offset: 1000), size: size, theme: .builtInMono, caps: Capabilities()).lines
        #expect(end.contains { $0.contains("_blocks.48.conv") } && end.contains { $0.contains("of 49") && $0.contains("0 below") })
    }

    @Test func everyLayerShowsWhenItFits() {
        let lines = render(state(layers: 49, offset: 5), size: Size(width: 160, height: 80), theme: .builtInMono,
                           caps: Capabilities()).lines
        #expect(lines.contains { $0.contains("_blocks.0.conv") } && lines.contains { $0.contains("_blocks.48.conv") })
        #expect(!lines.contains { $0.contains("j/k scroll") })
    }
}
