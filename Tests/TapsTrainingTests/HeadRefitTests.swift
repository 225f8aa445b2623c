// TapsTrainingTests: the linear probe on cached features, and the settle of an empty set that re-fits the head as the
// probe does (docs/method.md "Settle phase").
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

/// The head's tensors (`fc_layers.2.*`) of an export.
private func headTensors(of summary: RunSummary) throws -> [String: Tensor] {
    let file = try SafeTensors.read(URL(fileURLWithPath: try #require(summary.export)))
    return Dictionary(file.tensors.filter { $0.name.hasPrefix(DigitCNN.headName + ".") }.map { ($0.name, $0.tensor) },
                      uniquingKeysWith: { a, _ in a })
}

@Suite("Linear probe on cached features and the empty set's re-fit", .serialized)
struct HeadRefitTests {
    @Test("a probe on the frozen digitcnn trains its head on cached features: the head it would get through the network")
    func cachedProbeMatchesTheNetworkPath() throws {
        var c = quickConfig("probe-cache", mode: .probe, epochs: 1, warmup: 0, trainLimit: 320)
        let (summary, store, trainer) = try train(c)
        #expect(summary.status == .done, "\(summary.message ?? "")")
        #expect(store.snapshot().notices.contains { $0.message.contains("computed once and the head trains on them") })

        // The same epoch through the whole network with the public step, from the same seeded head.
        var rng = SeededRNG(seed: c.seed)
        let task = try trainer.base.taskNetwork(classes: trainer.data.classes, mode: .probe, tau: c.tau,
                                                initialScore: c.initialScore, rng: &rng)
        let batches = BatchSampler(count: trainer.data.train.count, batchSize: c.batchSize, seed: c.seed).batches(epoch: 1)
        let optimizer = SGD(parameters: task.trainableParameters, momentum: Float(c.momentum), weightDecay: 0)
        let schedule = CosineSchedule(peak: Float(c.learningRate), totalSteps: batches.count)
        for (s, indices) in batches.enumerated() {
            let (x, y) = try trainer.data.train.batch(indices, normalization: trainer.base.normalization, augmentation: .none,
                                                      epoch: 1, seed: c.seed)
            let settings = StepSettings(lambda: 0, penaltyOn: false, penalty: c.penalty, penaltyUpdate: c.penaltyUpdate,
                                        learningRate: schedule.learningRate(at: s))
            guard case .completed = trainStep([SubBatch(network: task.network, gatedLayers: task.gatedLayers, images: x, labels: y)],
                                              optimizer: optimizer, settings: settings) else {
                Issue.record("the reference step failed"); return
            }
        }
        let exported = try headTensors(of: summary)
        #expect(exported.count == 2)
        for p in task.headParameters {
            let e = try #require(exported[p.name])
            #expect(e.shape == p.value.shape)
            let diff = zip(e.storage, p.value.storage).map { abs($0 - $1) }.max() ?? 1
            #expect(diff < 1e-5, "\(p.name): cached and network paths differ by \(diff)")
        }
        c.outputDirectory = temporaryRunFolder("probe-cache-again")
        let (again, _, _) = try train(c)
        #expect(try headTensors(of: again) == exported, "a cached probe is deterministic")
    }

    @Test("TAPS whose gates all go off re-fits the head as the probe trains it: the probe's head bit for bit",
          arguments: [PenaltyKind.mean, .weighted])
    func everyGateOffExportsTheProbe(penalty: PenaltyKind) throws {
        var c = quickConfig("all-off-\(penalty)", lambda: penalty == .mean ? 100 : 1e4, epochs: 5, warmup: 1, trainLimit: 640)
        c.penalty = penalty
        let (taps, store, _) = try train(c)
        #expect(taps.status == .done, "\(taps.message ?? "")")
        #expect(taps.activeLayers.isEmpty && taps.finalActiveLayers == [])
        let events = store.snapshot()
        #expect(events.notices.contains { $0.message.hasPrefix("every gate is off: the head re-fits") })
        #expect(events.steps.allSatisfy { $0.phase != .settle }, "the re-fit replaces the settle epochs")
        let (probe, _, _) = try train(quickConfig("all-off-probe-\(penalty)", mode: .probe, epochs: 5, warmup: 1, trainLimit: 640))
        #expect(try headTensors(of: taps) == (try headTensors(of: probe)))
        #expect(taps.testAccuracy == probe.testAccuracy)
        #expect(taps.bestValidationAccuracy == probe.bestValidationAccuracy)
        #expect(taps.headRefitEpoch == probe.selectedEpoch && taps.headRefitSteps == probe.steps)
        #expect(taps.selectedEpoch == 5, "the settle's first epoch, where the re-fit stands")
    }

    @Test("with a --steps limit inside an epoch the re-fit stops where the probe stops: the same head")
    func refitHonoursTheStepLimit() throws {
        // 640 images: 20 steps per epoch; 99 steps end one step before the end of epoch 5, which neither run may score.
        var c = quickConfig("all-off-steps", lambda: 100, epochs: 6, warmup: 1, trainLimit: 640)
        c.penalty = .mean
        c.settleEpochs = 2
        c.maxSteps = 99
        let (taps, store, _) = try train(c)
        #expect(store.snapshot().notices.contains { $0.message.contains("as --mode probe trains it (4 epochs, 99 steps") },
                "the partial fifth epoch is not scored")
        var p = quickConfig("all-off-steps-probe", mode: .probe, epochs: 6, warmup: 1, trainLimit: 640)
        p.maxSteps = 99
        let (probe, _, _) = try train(p)
        #expect(taps.status == .done && probe.status == .done)
        #expect(taps.headRefitSteps == 99 && probe.steps == 99)
        #expect(try headTensors(of: taps) == (try headTensors(of: probe)))
        #expect(taps.headRefitEpoch == probe.selectedEpoch && (probe.selectedEpoch ?? 9) <= 4)
    }

    @Test("an empty set whose biases train (--train-biases on) keeps its settle epochs through the network")
    func refitOnlyForAFrozenBackbone() throws {
        var c = quickConfig("all-off-biases", lambda: 100, epochs: 5, warmup: 1, trainLimit: 640)
        c.penalty = .mean
        c.trainBiases = true
        let (summary, store, _) = try train(c)
        #expect(summary.status == .done && summary.activeLayers.isEmpty)
        let events = store.snapshot()
        #expect(!events.notices.contains { $0.message.hasPrefix("every gate is off") })
        #expect(events.steps.contains { $0.phase == .settle })
    }
}
