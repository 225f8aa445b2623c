// The progress lines of `taps train`: what the start line and the step lines say about the run's phases.
import Testing
import TapsTraining

@Suite("Progress lines")
struct ProgressFormatterTests {
    private func start(_ mode: RunMode, budget: Double? = nil, settle: Int? = nil) -> MetricsEvent {
        .start(RunStartEvent(task: "fashion", mode: mode, base: "digitcnn", lambda: 0.3, tau: 0.1, epochs: 10,
                             warmupEpochs: mode == .taps ? 2 : 10, stepsPerEpoch: 85, batchSize: 32, seed: 0, layers: [],
                             backboneParameters: 387_840, runDirectory: "runs/x", time: 0, budget: budget,
                             settleEpochs: settle))
    }

    private func step(_ phase: StepPhase) -> MetricsEvent {
        .step(StepEvent(step: 25, epoch: 1, phase: phase, loss: 0.5, taskLoss: 0.44, penalty: 0.2, lambda: 0.3,
                        accuracy: 0.75, learningRate: 0.01, scores: [0.2], active: [true], samplesPerSecond: 2000,
                        elapsed: 1))
    }

    @Test("the start line names the budget and the settle epochs; fine-tuning's has no lambda, tau or warm-up")
    func startLine() {
        let taps = ProgressFormatter.line(for: start(.taps, budget: 0.2, settle: 2)) ?? ""
        #expect(taps.contains("lambda 0.3, tau 0.1, budget 20% of the backbone,"), "\(taps)")
        #expect(taps.contains("10 epochs (2 warm-up, 2 settle) x 85 steps"), "\(taps)")
        let plain = ProgressFormatter.line(for: start(.taps, settle: 0)) ?? ""
        #expect(plain.contains("10 epochs (2 warm-up) x 85 steps") && !plain.contains("budget"), "\(plain)")
        let finetune = ProgressFormatter.line(for: start(.finetune)) ?? ""
        #expect(!finetune.contains("lambda") && !finetune.contains("tau") && !finetune.contains("warm-up"), "\(finetune)")
        #expect(finetune.contains("10 epochs x 85 steps"), "\(finetune)")
    }

    @Test("budgets read as the user types them: 20%, 19.35%")
    func percentages() {
        #expect(ProgressFormatter.percent(0.2) == "20%")
        #expect(ProgressFormatter.percent(0.19354) == "19.35%")
        #expect(ProgressFormatter.percent(0) == "0%")
    }

    @Test("step lines show the penalty only while it runs")
    func stepLines() {
        let on = ProgressFormatter.line(for: step(.sparsify)) ?? ""
        #expect(on.contains("loss 0.5000 (task 0.4400, penalty 0.2000 x lambda 0.3)"), "\(on)")
        let warm = ProgressFormatter.line(for: step(.warmup), totalSteps: 850) ?? ""
        #expect(warm.contains("loss 0.5000 (penalty off)") && !warm.contains("lambda"), "\(warm)")
        let settle = ProgressFormatter.line(for: step(.settle)) ?? ""
        #expect(settle.contains("(settle, penalty off)") && !settle.contains("lambda"), "\(settle)")
    }
}
