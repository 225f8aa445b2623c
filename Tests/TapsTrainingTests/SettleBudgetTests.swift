// TapsTrainingTests: the settle phase and the storage budget (docs/method.md "Training recipe", "Storage budget").
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTraining

/// The scalar state of the checkpoint in `folder` (`checkpoint.safetensors`'s `taps_checkpoint` JSON).
func checkpointState(in folder: String) throws -> [String: Any] {
    let file = try SafeTensors.read(URL(fileURLWithPath: folder).appendingPathComponent("checkpoint.safetensors"))
    let json = try #require(file.metadata["taps_checkpoint"])
    return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
}

/// A 5-epoch fashion run on 960 images with a 20% budget (weighted penalty) starting at `lambda`.
private func budgetConfig(_ label: String, lambda: Double) -> TrainingConfig {
    var c = quickConfig(label, lambda: lambda, epochs: 5, warmup: 1, trainLimit: 960)
    c.penalty = .weighted
    c.budget = 0.2
    return c
}

/// `taps train --task ucidigits --epochs 10 --seed SEED --budget 20%` with the CLI's other defaults.
private func ucidigitsBudgetConfig(_ label: String, seed: UInt64) -> TrainingConfig {
    var c = quickConfig(label, task: "ucidigits", lambda: 0.3, epochs: 10, warmup: 2, trainLimit: nil)
    c.penalty = .weighted
    c.budget = 0.2
    c.seed = seed
    return c
}

/// Runs `config` and asks it to stop when step `step` has been reported; the stopped summary and its metrics.
private func runStopping(_ config: TrainingConfig, atStep step: Int) throws -> (RunSummary, MetricsStore) {
    let control = TrainingControl(lambda: config.lambda)
    let store = MetricsStore()
    let trainer = try Trainer(config: config, store: store, control: control)
    store.onEvent { event in if case .step(let s) = event, s.step == step { control.requestStop() } }
    return (trainer.run(), store)
}

/// Resumes the stopped run in `folder` to its end.
private func resumeToEnd(_ folder: String, lambda: Double) throws -> RunSummary {
    try Trainer(resuming: URL(fileURLWithPath: folder), store: MetricsStore(), control: TrainingControl(lambda: lambda)).run()
}

/// The bytes of a run's `task.safetensors`.
private func exportBytes(_ summary: RunSummary) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: try #require(summary.export)))
}

@Suite("Settle phase and storage budget", .serialized)
struct SettleBudgetTests {
    @Test("after the settle starts no gate flips, and the export holds the run's final active set",
          arguments: [1.0, 10.0])
    func settledGatesHoldAndAreExported(lambda: Double) throws {
        var c = quickConfig("settle-\(lambda)", lambda: lambda, epochs: 5, warmup: 1, trainLimit: 960)
        c.settleEpochs = 1
        let (summary, store, trainer) = try train(c)
        #expect(summary.status == .done, "\(summary.message ?? "")")
        let steps = store.snapshot().steps
        let settle = steps.filter { $0.phase == .settle }
        #expect(!settle.isEmpty)
        #expect(Set(settle.map(\.active)).count == 1, "the active set is fixed during the settle")
        #expect(summary.lateGateFlips == 0)
        #expect(summary.finalActiveLayers == summary.activeLayers, "the export is the run's end state")
        #expect(try #require(summary.selectedEpoch) == c.epochs, "model selection chooses among the settle epochs")
        let (network, _) = try TaskExport.load(URL(fileURLWithPath: try #require(summary.export)), onto: trainer.base)
        #expect(network.gatedLayers.filter(\.isActive).map(\.name) == summary.activeLayers)
    }

    @Test("a budget run exports a set within the budget that no left-out layer would still fit into",
          arguments: [0.05, 0.3])
    func budgetIsKeptAndUsed(budget: Double) throws {
        var c = quickConfig("budget-\(budget)", lambda: 0.1, epochs: 5, warmup: 1, trainLimit: 960)
        c.penalty = .weighted
        c.budget = budget
        let (summary, store, trainer) = try train(c)
        #expect(summary.status == .done, "\(summary.message ?? "")")
        let (network, _) = try TaskExport.load(URL(fileURLWithPath: try #require(summary.export)), onto: trainer.base)
        let backbone = Double(summary.accounting.backboneParameters)
        let used = network.gatedLayers.filter(\.isActive).reduce(0) { $0 + $1.weightCount }
        #expect(Double(used) / backbone <= budget, "\(network.gatedLayers.filter(\.isActive).map(\.name))")
        #expect(Double(summary.accounting.activeDeltaParameters) == Double(used))
        for g in network.gatedLayers where !g.isActive {
            #expect(Double(used + g.weightCount) / backbone > budget, "\(g.name) fits in the budget but was left out")
        }
        #expect(store.snapshot().notices.contains { $0.kind == .settled })
        // Once the set fits, the layers then off that would not fit beside it stay off until the settle, and lambda
        // is back at --lambda; a layer the budget can afford stays free.
        let snapshot = store.snapshot()
        let met = try #require(snapshot.notices.first { $0.message.hasPrefix("budget met at step") })
        let after = snapshot.steps.filter { $0.step >= met.step && $0.phase == .sparsify }
        let atFit = try #require(snapshot.steps.first { $0.step == met.step - 1 })
        let names = snapshot.start?.layers.map(\.name) ?? []
        let weights = network.gatedLayers.map(\.weightCount)
        let usedAtFit = zip(atFit.active, weights).reduce(0) { $0 + ($1.0 ? $1.1 : 0) }
        let pinned = Set(atFit.active.indices.filter { !atFit.active[$0] && Double(usedAtFit + weights[$0]) / backbone > budget })
        #expect(names.count == weights.count)
        for i in pinned { #expect(met.message.contains(names[i]), "\(names[i]) is not pinned: \(met.message)") }
        for (i, name) in names.enumerated() where !pinned.contains(i) && !atFit.active[i] {
            #expect(!met.message.contains(name + ",") && !met.message.contains(name + ")"), "\(name) fits but was pinned: \(met.message)")
        }
        #expect(!after.isEmpty)
        #expect(after.first?.lambda == c.lambda, "lambda \(after.first?.lambda ?? -1) after the fit")
        for s in after { #expect(pinned.allSatisfy { !s.active[$0] }, "step \(s.step): a pinned layer came back") }
    }

    @Test("a fit reached while every gate is off pins only the layers that would not fit (ucidigits, seed 19)")
    func affordableLayersStayFree() throws {
        // ucidigits seed 19, --budget 20%, 10 epochs: the set fits 4 steps into the penalty phase with every gate off
        // (the small convolutions chatter at tau); pinning all four cost 3 points (0.952 against 0.982).
        let c = ucidigitsBudgetConfig("budget-free", seed: 19)
        let (summary, store, _) = try train(c)
        #expect(summary.status == .done)
        let met = try #require(store.snapshot().notices.first { $0.message.hasPrefix("budget met at step") })
        #expect(met.message.contains("1 layer(s)") && met.message.contains("(fc_layers.0)"), "\(met.message)")
    }

    @Test("a run with no penalty epoch (a settle that takes every epoch after warm-up, or no epoch after it) warns")
    func noPenaltyEpochWarns() throws {
        func warnings(epochs: Int, warmup: Int, settle: Int?) throws -> [String] {
            var c = quickConfig("no-penalty-\(epochs)-\(warmup)-\(settle ?? -1)", lambda: 1, epochs: epochs, warmup: warmup,
                                trainLimit: 160)
            c.settleEpochs = settle
            let (summary, store, _) = try train(c)
            #expect(summary.status == .done, "\(summary.message ?? "")")
            let notices = store.snapshot().notices
            settled = notices.first { $0.kind == .settled }?.message ?? ""
            return notices.map(\.message).filter { $0.hasPrefix("warning: --") }
        }
        var settled = ""
        let settleAll = try warnings(epochs: 3, warmup: 1, settle: 2)
        let expected = "warning: --settle-epochs 2 takes every epoch after the 1 of warm-up"
        #expect(settleAll.count == 1 && settleAll[0].hasPrefix(expected), "\(settleAll)")
        // The settle's notice does not speak of a penalty epoch that never ran.
        #expect(settled.contains("the last warm-up epoch (no penalty epoch ran)"), "\(settled)")
        let warmupAll = try warnings(epochs: 2, warmup: 2, settle: nil)
        #expect(warmupAll.count == 1 && warmupAll[0].hasPrefix("warning: --epochs 2 is not above --warmup-epochs 2"), "\(warmupAll)")
        #expect(try warnings(epochs: 3, warmup: 1, settle: 1).isEmpty, "a settle that leaves a penalty epoch is fine")
    }

    @Test("a budget that holds no gated layer starts the run with a warning notice (the dashboard shows notices)")
    func emptyBudgetWarns() throws {
        var c = quickConfig("budget-zero", lambda: 0.3, epochs: 3, warmup: 1, trainLimit: 160)
        c.budget = 0
        let (summary, store, _) = try train(c)
        #expect(summary.status == .done, "\(summary.message ?? "")")
        let warnings = store.snapshot().notices.map(\.message).filter { $0.hasPrefix("warning: the budget") }
        #expect(warnings.count == 1 && warnings[0].contains("holds no gated layer"), "\(warnings)")
        #expect(summary.activeLayers.isEmpty)
    }

    @Test("model selection: a validation tie between settle epochs goes to the later one (ucidigits, seed 1)")
    func tiedValidationSelectsTheLaterEpoch() throws {
        // ucidigits, --budget 20%, seed 1, 10 epochs: both settle epochs reach the same validation accuracy.
        let c = ucidigitsBudgetConfig("budget-tie", seed: 1)
        let (summary, store, _) = try train(c)
        let settle = store.snapshot().epochs.filter { $0.epoch > c.epochs - c.effectiveSettleEpochs }
        let best = try #require(settle.map(\.validationAccuracy).max())
        let tied = settle.filter { $0.validationAccuracy == best }.map(\.epoch)
        #expect(tied.count > 1, "the scenario needs a tie: settle epochs \(settle.map { ($0.epoch, $0.validationAccuracy) })")
        #expect(summary.selectedEpoch == tied.last, "selected \(summary.selectedEpoch ?? -1) of tied epochs \(tied)")
    }

    @Test("the pin ends at the settle: a budget run stopped during its settle and resumed keeps the pinned layer the fill took back")
    func resumeInSettleKeepsFilledLayer() throws {
        // fashion, --budget 20%, --lambda 2: conv_layers.6 is pinned off when the set first fits, and the settle's
        // fill takes it back (19.1% of the backbone).
        var c = budgetConfig("budget-settle-ref", lambda: 2)
        let (reference, store, _) = try train(c)
        #expect(reference.status == .done, "\(reference.message ?? "")")
        let met = try #require(store.snapshot().notices.first { $0.message.hasPrefix("budget met at step") })
        #expect(met.message.contains("conv_layers.6") && reference.activeLayers.contains("conv_layers.6"),
                "the scenario needs a pinned layer in the settled set: \(met.message); settled \(reference.activeLayers)")
        // The settle's notice names what the fill changed.
        let settled = try #require(store.snapshot().notices.first { $0.kind == .settled })
        #expect(settled.message.contains("added conv_layers.6") && settled.message.contains("the last penalty epoch"),
                "\(settled.message)")

        c.outputDirectory = temporaryRunFolder("budget-settle-stop")
        let stopAt = reference.steps / c.epochs * (c.epochs - 1) + 3   // 3 steps into the settle epoch
        let (stopped, stopping) = try runStopping(c, atStep: stopAt)
        #expect(stopped.status == .stopped && stopped.steps == stopAt)
        #expect(stopping.snapshot().notices.contains { $0.kind == .settled })
        let pinned = try checkpointState(in: c.outputDirectory)["budget_pinned"] as? [[String]]
        #expect(pinned?.allSatisfy(\.isEmpty) ?? true, "the checkpoint of the settle still pins \(pinned ?? [])")
        let resumed = try resumeToEnd(c.outputDirectory, lambda: c.lambda)
        #expect(resumed.status == .done, "\(resumed.message ?? "")")
        #expect(resumed.activeLayers == reference.activeLayers)
        #expect(resumed.finalActiveLayers == reference.finalActiveLayers)
        #expect(resumed.testAccuracy == reference.testAccuracy)
        #expect(try exportBytes(resumed) == (try exportBytes(reference)), "the resumed run's export differs from the uninterrupted run's")
    }

    @Test("a budget run stopped at the boundary where its set first fits checkpoints the pin with lambda back at --lambda, and resumes to the uninterrupted run")
    func stopAtPinKeepsLambdaReset() throws {
        var c = budgetConfig("budget-pin-ref", lambda: 0.3)
        let (reference, store, _) = try train(c)
        #expect(reference.status == .done, "\(reference.message ?? "")")
        let met = try #require(store.snapshot().notices.first { $0.message.hasPrefix("budget met at step") })
        #expect(met.message.contains("lambda back to 0.3"), "the scenario needs an overshot lambda: \(met.message)")

        // The stop request arrives with the step before the pin: the next boundary pins, then stops.
        c.outputDirectory = temporaryRunFolder("budget-pin-stop")
        let (stopped, stopping) = try runStopping(c, atStep: met.step - 1)
        #expect(stopped.status == .stopped && stopped.steps == met.step - 1)
        #expect(stopping.snapshot().notices.contains { $0.message == met.message }, "the run stopped before the pin")
        let state = try checkpointState(in: c.outputDirectory)
        #expect(state["lambda"] as? Double == c.lambda, "the checkpoint holds the pin with lambda \(state["lambda"] ?? "none")")
        #expect((state["budget_pinned"] as? [[String]])?.flatMap { $0 }.isEmpty == false)

        let resumed = try resumeToEnd(c.outputDirectory, lambda: c.lambda)
        #expect(resumed.status == .done, "\(resumed.message ?? "")")
        #expect(resumed.lambdaHistory == reference.lambdaHistory)
        #expect(resumed.activeLayers == reference.activeLayers)
        #expect(try exportBytes(resumed) == (try exportBytes(reference)), "the resumed run's export differs from the uninterrupted run's")

        // A lower lambda asked for at that boundary is kept, not raised back to --lambda.
        c.outputDirectory = temporaryRunFolder("budget-pin-lower")
        let lowering = TrainingControl(lambda: c.lambda)
        let lowered = MetricsStore()
        let lowerTrainer = try Trainer(config: c, store: lowered, control: lowering)
        lowered.onEvent { event in if case .step(let s) = event, s.step == met.step - 1 { lowering.lambda = 0.1 } }
        #expect(lowerTrainer.run().status == .done)
        #expect(lowered.snapshot().steps.first { $0.step == met.step }?.lambda == 0.1)
    }

    @Test("a budget run is refused when --steps ends it before its settle; one stopped early warns that it is over budget")
    func budgetNeedsItsSettle() throws {
        var c = quickConfig("budget-steps", lambda: 0.1, epochs: 5, warmup: 1, trainLimit: 640)
        c.penalty = .weighted
        c.budget = 0.05
        c.maxSteps = 40
        // Refused before the run folder is touched (one line, no failed run left behind).
        do {
            _ = try Trainer(config: c, store: MetricsStore(), control: TrainingControl(lambda: c.lambda))
            Issue.record("a --steps limit before the settle was accepted")
        } catch {
            #expect("\(error)".hasPrefix("--steps: expected at least 81 with --budget"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: c.outputDirectory), "the refused run created \(c.outputDirectory)")

        c.maxSteps = nil
        c.outputDirectory = temporaryRunFolder("budget-stop")
        let control = TrainingControl(lambda: c.lambda)
        let store = MetricsStore()
        let trainer = try Trainer(config: c, store: store, control: control)
        store.onEvent { event in if case .step(let s) = event, s.step == 3 { control.requestStop() } }
        let stopped = trainer.run()
        #expect(stopped.status == .stopped)
        #expect(stopped.fractionOfBackbone > 0.05)
        #expect(store.snapshot().notices.contains { $0.message.hasPrefix("warning: the run stopped before its settle") })
    }
}
