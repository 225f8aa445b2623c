// TapsTrainingTests: the settle phase and the storage budget (docs/method.md "Training recipe", "Storage budget").
import Foundation
import Testing
import TAPS
import TapsData
import TapsTraining

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
        // Once the set first fits, the layers then off stay off until the settle and lambda is back at --lambda.
        let snapshot = store.snapshot()
        let met = try #require(snapshot.notices.first { $0.message.hasPrefix("budget met at step") })
        let after = snapshot.steps.filter { $0.step >= met.step && $0.phase == .sparsify }
        let offAtFit = try #require(snapshot.steps.first { $0.step == met.step - 1 }).active
        #expect(!after.isEmpty)
        for s in after {
            #expect(s.lambda == c.lambda, "step \(s.step): lambda \(s.lambda)")
            #expect(zip(offAtFit, s.active).allSatisfy { was, now in was || !now }, "step \(s.step): a pinned layer came back")
        }
    }

    @Test("a budget run is refused when --steps ends it before its settle; one stopped early warns that it is over budget")
    func budgetNeedsItsSettle() throws {
        var c = quickConfig("budget-steps", lambda: 0.1, epochs: 5, warmup: 1, trainLimit: 640)
        c.penalty = .weighted
        c.budget = 0.05
        c.maxSteps = 40
        let (refused, _, _) = try train(c)
        #expect(refused.status == .failed && refused.steps == 0)
        #expect(refused.message?.hasPrefix("--steps 40 ends the run before its settle phase") == true, "\(refused.message ?? "")")

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
