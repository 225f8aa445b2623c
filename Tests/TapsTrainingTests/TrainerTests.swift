import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

/// A throwaway run folder under the system temp directory.
func temporaryRunFolder(_ label: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-test-\(label)-\(UUID().uuidString.prefix(8))")
    return dir.path
}

func quickConfig(_ label: String, task: String = "fashion", mode: TrainingMode = .taps, lambda: Double = 0.3,
                 epochs: Int = 2, warmup: Int = 1, trainLimit: Int? = 640) -> TrainingConfig {
    var c = TrainingConfig()
    c.task = task; c.mode = mode; c.lambda = lambda; c.epochs = epochs; c.warmupEpochs = warmup
    c.trainLimit = trainLimit; c.seed = 0; c.outputDirectory = temporaryRunFolder(label)
    return c
}

@discardableResult
func train(_ config: TrainingConfig, control: TrainingControl? = nil) throws -> (RunSummary, MetricsStore, Trainer) {
    let store = MetricsStore()
    let trainer = try Trainer(config: config, store: store, control: control ?? TrainingControl(lambda: config.lambda))
    return (trainer.run(), store, trainer)
}

@Suite("Trainer on the embedded pack", .serialized)
struct TrainerTests {
    @Test("a seeded TAPS run on fashion (the default lambda, 3 epochs) reaches 78% test accuracy, beats the probe, shares a layer")
    func seededRunReachesAccuracy() throws {
        let (taps, _, _) = try train(quickConfig("acc-taps", lambda: TrainingConfig().lambda, epochs: 3, warmup: 1, trainLimit: nil))
        let (probe, _, _) = try train(quickConfig("acc-probe", mode: .probe, epochs: 3, warmup: 1, trainLimit: nil))
        #expect(taps.status == .done)
        #expect((taps.testAccuracy ?? 0) >= 0.78, "TAPS test accuracy \(taps.testAccuracy ?? -1)")
        #expect((taps.testAccuracy ?? 0) > (probe.testAccuracy ?? 1), "probe \(probe.testAccuracy ?? -1)")
        #expect(taps.activeLayers.count < taps.gatedLayers, "active \(taps.activeLayers)")
    }

    @Test("lambda 0 keeps every gate on and behaves like fine-tuning; lambda 100 (mean penalty) and 1e4 (weighted) turn every gate off after warm-up",
          arguments: [(PenaltyKind.mean, 100.0), (.weighted, 1e4)])
    func lambdaExtremes(penalty: PenaltyKind, lambda: Double) throws {
        let (zero, _, _) = try train(quickConfig("l0", lambda: 0))
        let (finetune, _, _) = try train(quickConfig("ft", mode: .finetune))
        #expect(zero.activeLayers.count == zero.gatedLayers)
        #expect(abs((zero.testAccuracy ?? 0) - (finetune.testAccuracy ?? 1)) <= 0.02,
                "lambda 0: \(zero.testAccuracy ?? -1), finetune: \(finetune.testAccuracy ?? -1)")
        var c = quickConfig("l-huge-\(penalty)", lambda: lambda)
        c.penalty = penalty
        let (huge, store, _) = try train(c)
        #expect(huge.activeLayers.isEmpty, "active: \(huge.activeLayers)")
        let sparsify = store.snapshot().steps.filter { $0.phase == .sparsify }
        #expect(!sparsify.isEmpty)
        #expect(sparsify.suffix(5).allSatisfy { $0.active.allSatisfy { !$0 } })
    }

    @Test("one lambda means the same with the proximal step and the subgradient through momentum (the same final set)",
          arguments: [0.3, 1.0])
    func lambdaTransfersAcrossUpdateForms(lambda: Double) throws {
        var sets: [[String]] = []
        for update in [SparsityPenalty.Update.proximal, .subgradient] {
            var c = quickConfig("form-\(update)-\(lambda)", lambda: lambda, epochs: 5, warmup: 1, trainLimit: 1280)
            c.penaltyUpdate = update
            let (summary, _, _) = try train(c)
            #expect(summary.status == .done)
            sets.append(summary.finalActiveLayers ?? [])
        }
        #expect(sets[0] == sets[1], "proximal \(sets[0]), subgradient \(sets[1])")
        #expect(sets[0].count < 4, "lambda \(lambda) switches a layer off")
    }

    @Test("a run folder written before the lambda definition was recorded is not resumed with today's meaning")
    func olderLambdaDefinitionIsNotResumed() throws {
        let c = quickConfig("old-lambda", epochs: 3, warmup: 1, trainLimit: 320)
        let control = TrainingControl(lambda: c.lambda)
        let store = MetricsStore()
        let trainer = try Trainer(config: c, store: store, control: control)
        store.onEvent { event in if case .step(let s) = event, s.step == 3 { control.requestStop() } }
        #expect(trainer.run().status == .stopped)
        let dir = URL(fileURLWithPath: c.outputDirectory)
        _ = try Trainer(resuming: dir, store: MetricsStore(), control: TrainingControl(lambda: c.lambda))
        // As an older taps wrote it: no lambda_definition.
        let url = dir.appendingPathComponent("config.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(json.removeValue(forKey: "lambda_definition") as? Int == TrainingConfig.currentLambdaDefinition)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        #expect {
            _ = try Trainer(resuming: dir, store: MetricsStore(), control: TrainingControl(lambda: c.lambda))
        } throws: { error in
            "\(error)".contains("config.json") && "\(error)".contains("older taps")
                && "\(error)".contains("--penalty weighted --lambda 0.03")
        }
        // The same run at today's lambda: the old one times 1 - momentum.
        json["momentum"] = 0.5
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        #expect {
            _ = try Trainer(resuming: dir, store: MetricsStore(), control: TrainingControl(lambda: c.lambda))
        } throws: { error in
            "\(error)".contains("meant 0.5x today's") && "\(error)".contains("--penalty weighted --lambda 0.15 ")
        }
    }

    @Test("the frozen base is bit-identical after training, and eval from the export reproduces test accuracy exactly")
    func frozenBaseAndExportRoundTrip() throws {
        let config = quickConfig("export")
        let (summary, _, trainer) = try train(config)
        let base = try BaseModel.load("digitcnn")
        for (name, w0) in trainer.task.baseWeights { #expect(base.weights[name] == w0, "\(name) changed") }

        let export = try TaskExport.read(URL(fileURLWithPath: config.outputDirectory + "/task.safetensors"))
        var rng = SeededRNG(seed: 99)
        let fresh = try base.taskNetwork(classes: 10, mode: .taps, tau: 0.1, initialScore: 0.15, rng: &rng)
        try export.apply(to: fresh, source: "task.safetensors")
        let data = try EmbeddedPack.load("fashion")
        let reproduced = evaluate(fresh, on: data.test, normalization: base.normalization).accuracy
        #expect(reproduced == summary.testAccuracy)
        #expect(fresh.activeIndices.map { fresh.gatedLayers[$0].name } == summary.activeLayers)
        let (x, _) = data.test.batch(Array(0..<64), normalization: base.normalization)
        #expect(fresh.forward(x, mode: .inference) == trainer.task.forward(x, mode: .inference))

        // The export holds only the active deltas.
        let deltas = export.tensors.map(\.0).filter { $0.hasSuffix(".weight_delta") }
        #expect(deltas.count == summary.activeLayers.count)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config.outputDirectory + "/summary.json"))) as? [String: Any]
        for key in ["task", "mode", "lambda", "test_accuracy", "gated_layers", "active_layers",
                    "task_specific_parameters", "backbone_parameters", "seconds"] {
            #expect(json?[key] != nil, "summary.json lacks \(key)")
        }
    }

    @Test("a lambda change applies from the next step and is recorded in the metrics stream")
    func lambdaChangeIsRecorded() throws {
        let config = quickConfig("lambda-change", epochs: 2, warmup: 0)
        let control = TrainingControl(lambda: 0.3)
        let store = MetricsStore()
        let trainer = try Trainer(config: config, store: store, control: control)
        store.onEvent { event in
            if case .step(let s) = event, s.step == 5 { control.scaleLambda(by: 1.25) }
        }
        let summary = trainer.run()
        let steps = store.snapshot().steps
        #expect(steps.first { $0.step == 5 }?.lambda == 0.3)
        #expect(steps.first { $0.step == 6 }?.lambda == 0.375)
        #expect(summary.lambdaHistory == [LambdaChange(step: 1, lambda: 0.3), LambdaChange(step: 6, lambda: 0.375, source: .user)])
        let events = try MetricsStore.readJSONL(URL(fileURLWithPath: config.outputDirectory + "/metrics.jsonl"))
        #expect(events.contains { if case .notice(let n) = $0 { return n.kind == .lambda && n.step == 6 && n.to == 0.375 }; return false })
    }

    @Test("a stop request ends the run at a step boundary with a complete run folder")
    func stopRequest() throws {
        let config = quickConfig("stop")
        let control = TrainingControl(lambda: 0.3)
        let store = MetricsStore()
        let trainer = try Trainer(config: config, store: store, control: control)
        store.onEvent { event in if case .step(let s) = event, s.step == 3 { control.requestStop() } }
        let summary = trainer.run()
        #expect(summary.status == .stopped && summary.steps == 3)
        for f in ["metrics.jsonl", "summary.json", "task.safetensors", "config.json"] {
            #expect(FileManager.default.fileExists(atPath: config.outputDirectory + "/" + f), "\(f) missing")
        }
    }

    @Test("pause blocks the trainer until resumed; snapshot requests write JSON, CSV and SVG")
    func pauseAndSnapshot() throws {
        let config = quickConfig("pause", trainLimit: 320)
        let control = TrainingControl(lambda: 0.3)
        let store = MetricsStore()
        let trainer = try Trainer(config: config, store: store, control: control)
        store.onEvent { event in
            if case .step(let s) = event, s.step == 2 {
                control.setPaused(true)
                control.requestSnapshot()
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { control.setPaused(false) }
            }
        }
        let summary = trainer.run()
        #expect(summary.status == .done)
        let notices = store.snapshot().notices
        let paused = notices.firstIndex { $0.kind == .paused }, resumed = notices.firstIndex { $0.kind == .resumed }
        #expect(paused != nil && resumed != nil && paused! < resumed!)
        let snapshot = notices.first { $0.kind == .snapshot && $0.step == 2 }
        #expect(snapshot?.paths?.count == 3)
        for p in snapshot?.paths ?? [] {
            let data = try Data(contentsOf: URL(fileURLWithPath: p))
            if p.hasSuffix(".json") {
                let s = try makeJSONDecoder().decode(ActiveLayerSnapshot.self, from: data)
                #expect(s.layers.count == 4 && s.step == 2)
            } else if p.hasSuffix(".csv") {
                #expect(String(decoding: data, as: UTF8.self).split(separator: "\n").count == 5)
            } else {
                #expect(String(decoding: data, as: UTF8.self).hasSuffix("</svg>\n"))
            }
        }
    }

    @Test("a NaN loss stops the run with a message")
    func nanLossStops() throws {
        var config = quickConfig("nan")
        config.learningRate = 1e8
        let (summary, store, _) = try train(config)
        #expect(summary.status == .failed)
        #expect(summary.message?.contains("loss became") == true)
        #expect(store.snapshot().end?.status == .failed)
    }

    @Test("unknown tasks and bad options are clear errors")
    func badOptions() {
        var c = quickConfig("bad", task: "nope")
        #expect(throws: ConfigError.self) { try Trainer(config: c, store: MetricsStore(), control: TrainingControl(lambda: 0)) }
        c = quickConfig("bad2"); c.lambda = -1
        #expect(throws: ConfigError.self) { try c.validate() }
        // Counts so large that steps per epoch × epochs would overflow are errors, not traps.
        for edit in [{ (c: inout TrainingConfig) in c.epochs = 1 << 62 }, { $0.warmupEpochs = 1 << 62 },
                     { $0.batchSize = 1 << 62 }] {
            c = quickConfig("bad3")
            edit(&c)
            #expect(throws: ConfigError.self) { try c.validate() }
        }
    }
}
