// Task suites, joint training, sweeps and comparisons on the embedded pack (short runs: train limits, 2 epochs).
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

/// Shared settings of the short multi-task runs below (2 epochs, 1 warm-up, a few hundred images per task).
func suiteTraining(trainLimit: Int = 256, lambda: Double = 2) -> TrainingConfig {
    var c = TrainingConfig()
    c.epochs = 2; c.warmupEpochs = 1; c.trainLimit = trainLimit; c.seed = 0; c.lambda = lambda
    return c
}

/// Whether `url` holds well-formed XML (Foundation's parser).
func isWellFormedXML(_ url: URL) -> Bool {
    guard let parser = XMLParser(contentsOf: url) else { return false }
    return parser.parse()
}

/// Box for values captured by store listeners on the trainer's thread.
final class Captured<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    init(_ v: T) { _value = v }
    var value: T { get { lock.lock(); defer { lock.unlock() }; return _value } set { lock.lock(); _value = newValue; lock.unlock() } }
}

@Suite("Task suites, sweeps and comparisons", .serialized)
struct SuiteTests {
    // 3 s in release on 2 idle cores (7 s under load): ucidigits and lfwfaces, 256 images, 2 epochs each.
    @Test("incremental suite: the base and every earlier export stay bit-identical; each export reloads exactly")
    func incrementalSuiteLeavesEarlierTasksUntouched() throws {
        let out = temporaryRunFolder("suite-inc")
        let config = SuiteConfig(tasks: ["ucidigits", "lfwfaces"], mode: .incremental, training: suiteTraining(),
                                 outputDirectory: out)
        let runner = try SuiteRunner(config: config, control: TrainingControl(lambda: 2))
        #expect(runner.views.map(\.name) == ["ucidigits", "lfwfaces"])
        // When the second task starts, read the first task's export bytes; compare after the suite.
        let firstExport = URL(fileURLWithPath: out + "/ucidigits/task.safetensors")
        let before = Captured<Data?>(nil)
        runner.views[1].store.onEvent { event in
            if case .start = event { before.value = try? Data(contentsOf: firstExport) }
        }
        let summary = try runner.run()
        #expect(summary.status == .done)
        #expect(before.value != nil)
        #expect(try Data(contentsOf: firstExport) == before.value, "the first task's export changed while the second trained")
        #expect(summary.allChecksPass, "\(summary.table)")
        #expect(summary.sourceBaseHash == summary.sourceBaseHashAtEnd)
        #expect(summary.results.allSatisfy { $0.frozenBaseHashAfterTraining == summary.frozenHashReference })
        let base = try BaseModel.load("digitcnn")
        #expect(summary.baseHash == base.contentHash)

        for r in summary.results {
            // Export/reload equality: apply the file to a fresh network; re-exporting gives the same tensors.
            let url = URL(fileURLWithPath: r.summary.export ?? "")
            let file = try TaskExportFile(contentsOf: url)
            let network = try file.load(onto: base)
            let exported = file.export
            let again = TaskExport(task: network, metadata: file.metadata)
            let reread = Dictionary(exported.tensors, uniquingKeysWith: { a, _ in a })
            #expect(Set(again.tensors.map(\.0)) == Set(reread.keys))
            for (name, t) in again.tensors { #expect(reread[name] == t, "\(name) differs after reload") }
            #expect(r.reproducedTestAccuracy == r.summary.testAccuracy)
            #expect(exported.metadata["base_hash"] == base.contentHash)
            #expect(exported.metadata["architecture"] != nil && exported.metadata["lambda_history"] != nil)
        }
        // Accounting: multiple of one backbone in parameters and bytes, against T for full fine-tuning.
        let b = Double(summary.backboneParameters)
        #expect(summary.backboneMultiple == (b + Double(summary.totalTaskSpecificParameters)) / b)
        #expect(summary.fullFineTuneMultiple == 2)
        #expect(summary.backboneMultipleBytes > 1)
        #expect(FileManager.default.fileExists(atPath: out + "/suite.json"))
        #expect(try String(contentsOfFile: out + "/suite.md", encoding: .utf8).contains("| ucidigits |"))
    }

    @Test("mixed batches: every batch holds a sub-batch of every task; small tasks are cycled through")
    func mixedBatchSamplerDrawsFromEveryTask() {
        var sampler = MixedBatchSampler(counts: [100, 7, 30], batchSize: 32, seed: 3)
        #expect(sampler.perTask == [11, 11, 10])
        var seenSmall = Set<Int>()
        for _ in 0..<sampler.stepsPerEpoch(batchSize: 32) {
            let batch = sampler.next()
            #expect(batch.map(\.task) == [0, 1, 2])
            #expect(batch.allSatisfy { !$0.indices.isEmpty })
            #expect(batch[0].indices.allSatisfy { $0 < 100 } && batch[1].indices.allSatisfy { $0 < 7 })
            seenSmall.formUnion(batch[1].indices)
        }
        #expect(seenSmall == Set(0..<7))
        var a = MixedBatchSampler(counts: [5, 5], batchSize: 1, seed: 1), b = MixedBatchSampler(counts: [5, 5], batchSize: 1, seed: 1)
        #expect(a.perTask == [1, 1])
        for _ in 0..<7 { #expect(a.next().map(\.indices) == b.next().map(\.indices)) }
    }

    // 4.5 s in release (6 s under load): stage 1 on three tasks (40 steps), then a joint suite on two tasks.
    @Test("joint stage 1: every batch draws from every task; stage 2 exports record the stage-1 base's hash")
    func jointStage1AndStage2() throws {
        let out = URL(fileURLWithPath: temporaryRunFolder("joint-s1"))
        var training = suiteTraining(trainLimit: 128)
        training.maxSteps = 40
        let store = MetricsStore()
        let stage1 = try JointBaseTrainer(config: training, tasks: ["ucidigits", "lfwfaces", "fashion"], epochs: 1,
                                          baseFile: out.appendingPathComponent("joint-base.safetensors"),
                                          runDirectory: out.appendingPathComponent("stage1"), store: store,
                                          control: TrainingControl(lambda: 0))
        let batches = Captured<[[Int]]>([])
        stage1.onBatch = { batch in batches.value.append(batch.filter { !$0.indices.isEmpty }.map(\.task)) }
        let s1 = try stage1.run()
        #expect(s1.status == .done)
        #expect(batches.value.count == s1.steps && s1.steps > 0)
        #expect(batches.value.allSatisfy { Set($0) == [0, 1, 2] }, "a batch missed a task")
        #expect(s1.minimumTasksPerBatch == 3)
        let trained = try BaseModel.load(out.appendingPathComponent("joint-base.safetensors").path)
        #expect(trained.contentHash == s1.baseHash)
        #expect(trained.contentHash != (try BaseModel.load("digitcnn")).contentHash, "stage 1 did not change the base")

        // The whole joint suite (stage 1 + stage 2) on two tasks.
        var t2 = suiteTraining(trainLimit: 128)
        t2.maxSteps = nil
        let suiteOut = temporaryRunFolder("joint-suite")
        let runner = try SuiteRunner(config: SuiteConfig(tasks: ["ucidigits", "lfwfaces"], mode: .joint, training: t2,
                                                         outputDirectory: suiteOut, stage1Epochs: 1),
                                     control: TrainingControl(lambda: 2))
        #expect(runner.views.map(\.name) == ["stage1", "ucidigits", "lfwfaces"])
        let summary = try runner.run()
        #expect(summary.status == .done && summary.allChecksPass, "\(summary.table)")
        #expect(summary.stage1?.minimumTasksPerBatch == 2)
        #expect(summary.baseFile == suiteOut + "/joint-base.safetensors")
        for r in summary.results {
            let meta = try TaskExport.read(URL(fileURLWithPath: r.summary.export!)).metadata
            #expect(meta["base_hash"] == summary.stage1?.baseHash)
            #expect(meta["base"] == "joint-base.safetensors")
        }
    }

    // 2.6 s in release (4 s under load): two tasks, 128 images each, 2 epochs, trained together with the base.
    @Test("fully joint: the base trains too; exports reproduce on the saved base and are refused on the original one")
    func fullyJointSuite() throws {
        let out = temporaryRunFolder("fully-joint")
        let runner = try SuiteRunner(config: SuiteConfig(tasks: ["ucidigits", "lfwfaces"], mode: .fullyJoint,
                                                         training: suiteTraining(trainLimit: 128), outputDirectory: out),
                                     control: TrainingControl(lambda: 2))
        let summary = try runner.run()
        #expect(summary.status == .done && summary.allChecksPass, "\(summary.table)")
        #expect(summary.baseHash != summary.sourceBaseHash, "the fully joint base did not train")
        #expect(summary.sourceBaseHash == summary.sourceBaseHashAtEnd)
        for name in ["ucidigits", "lfwfaces"] {
            let events = try MetricsStore.readJSONL(URL(fileURLWithPath: "\(out)/\(name)/metrics.jsonl"))
            #expect(events.contains { if case .end(let e) = $0 { return e.status == .done }; return false })
        }
        // An export made for another base is refused, naming both hashes.
        let export = URL(fileURLWithPath: out + "/ucidigits/task.safetensors")
        let original = try BaseModel.load("digitcnn")
        #expect {
            _ = try TaskExport.load(export, onto: original)
        } throws: { error in
            guard let e = error as? TaskExportError, case .wrongBase = e else { return false }
            return e.description.contains(original.contentHash) && e.description.contains(summary.baseHash)
        }
        #expect(throws: TaskExportError.self) { _ = try reproduceAccuracy(export: export, base: original) }
    }

    // 15 s in release (21 s under load): four 2-epoch runs on 320 fashion images, then the probe three more times;
    // the rerun that trains nothing takes well under 1 s.
    @Test("sweep: resumable (a rerun trains nothing), active layers non-increasing in lambda, files well-formed")
    func sweepResumesAndIsMonotone() throws {
        let out = temporaryRunFolder("sweep")
        var training = suiteTraining(trainLimit: 320)
        training.task = "fashion"
        let config = SweepConfig(task: "fashion", lambdas: [20, 0, 2], modes: [.taps, .probe], training: training,
                                 outputDirectory: out)
        #expect(config.settings.map(\.folder) == ["taps-lambda-0", "taps-lambda-2", "taps-lambda-20", "probe"])
        let first = try SweepRunner(config: config).run()
        #expect(first.trained.count == 4 && first.skipped.isEmpty)
        let counts = first.rows.filter { $0.mode == "taps" }.map(\.activeLayers)
        #expect(counts.count == 3)
        #expect(first.monotone && zip(counts, counts.dropFirst()).allSatisfy { $0 >= $1 }, "active layers by lambda: \(counts)")
        #expect(counts.first == 4, "lambda 0 keeps every gate on")
        #expect(first.rows.last?.activeLayers == 0, "the probe has no active layer")

        let started = Date()
        let started2 = Captured(0)
        let runner = try SweepRunner(config: config)
        runner.onSettingStart = { _, _ in started2.value += 1 }
        let second = try runner.run()
        #expect(started2.value == 0 && second.trained.isEmpty && second.skipped.count == 4)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(second.rows.map(\.testAccuracy) == first.rows.map(\.testAccuracy))
        #expect(second.rows.allSatisfy { $0.reused })

        let csv = try String(contentsOfFile: out + "/sweep.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5 && csv[0].hasPrefix("setting,mode,lambda,test_accuracy"))
        #expect(try String(contentsOfFile: out + "/sweep.md", encoding: .utf8).contains("TAPS λ=20"))
        for svg in ["tradeoff.svg", "layers.svg"] {
            #expect(isWellFormedXML(URL(fileURLWithPath: out + "/" + svg)), "\(svg) is not well-formed XML")
        }
        // No temporary files left behind by the atomic writes.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).allSatisfy { !$0.hasPrefix(".") })

        // A setting with a broken summary is trained again.
        try Data("{".utf8).write(to: URL(fileURLWithPath: out + "/probe/summary.json"))
        let third = try SweepRunner(config: config).run()
        #expect(third.trained == ["probe"])
        // A changed setting (here the epochs) is not mistaken for a finished run.
        var changed = SweepConfig(task: "fashion", lambdas: [], modes: [.probe], training: training, outputDirectory: out)
        changed.training.epochs = 3
        #expect(try SweepRunner(config: changed).run().trained == ["probe"])
        _ = try SweepRunner(config: config).run()  // back to the sweep's own probe for the comparison below

        // compare: the sweep's runs side by side.
        let maps = try ["taps-lambda-0", "taps-lambda-20", "probe"].map { try ActiveMap.load(out + "/" + $0) }
        let comparison = ActiveMapComparison(maps)
        #expect(comparison.rows == ["conv_layers.0", "conv_layers.3", "conv_layers.6", "fc_layers.0"])
        #expect(comparison.labels == ["taps-lambda-0", "taps-lambda-20", "probe"])
        let text = comparison.text()
        #expect(text.contains("●") && text.contains("·"))
        #expect(comparison.cells.map { $0[0] } == [true, true, true, true])
        let svgURL = URL(fileURLWithPath: out + "/compare.svg")
        try writeAtomically(Data(comparison.svg().utf8), to: svgURL)
        #expect(isWellFormedXML(svgURL))
    }

    @Test("sweep with --budget: a rerun reuses the finished budget runs (the controller's lambda changes do not count as the user's)")
    func budgetSweepIsReused() throws {
        let out = temporaryRunFolder("sweep-budget")
        var training = suiteTraining(trainLimit: 256)
        training.task = "ucidigits"; training.epochs = 4; training.budget = 0.2
        let config = SweepConfig(task: "ucidigits", lambdas: [0.3], modes: [.taps, .probe], training: training, outputDirectory: out)
        let first = try SweepRunner(config: config).run()
        #expect(first.trained == ["taps-lambda-0.3", "probe"])
        // The probe's config.json repeats with `taps train --config`, which refuses a budget outside --mode taps.
        let probe = try makeJSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/probe/config.json")))
        #expect(probe.mode == .probe && !probe.hasBudget)
        let summaryURL = URL(fileURLWithPath: out + "/taps-lambda-0.3/summary.json")
        var summary = try makeJSONDecoder().decode(RunSummary.self, from: Data(contentsOf: summaryURL))
        #expect(summary.lambdaHistory.count > 1, "the controller raised lambda")
        #expect(summary.lambdaHistory.dropFirst().allSatisfy { $0.source == .budget })
        let notices = try MetricsStore.readJSONL(URL(fileURLWithPath: out + "/taps-lambda-0.3/metrics.jsonl")).compactMap { e -> String? in
            if case .notice(let n) = e, n.kind == .lambda { return n.message } else { return nil }
        }
        #expect(!notices.isEmpty && notices.allSatisfy { $0.hasSuffix("(budget controller)") }, "\(notices)")

        let second = try SweepRunner(config: config).run()
        #expect(second.trained.isEmpty && second.skipped == ["taps-lambda-0.3", "probe"])

        // A change the user made (a dashboard key, the control file) makes a run its settings do not repeat.
        summary.lambdaHistory.append(LambdaChange(step: 9, lambda: 1, source: .user))
        try writeAtomically(try makeJSONEncoder().encode(summary), to: summaryURL)
        #expect(try SweepRunner(config: config).run().trained == ["taps-lambda-0.3"])
    }

    @Test("SVG figures escape text and parse as XML")
    func svgEscaping() throws {
        let dir = URL(fileURLWithPath: temporaryRunFolder("svg"))
        let plot = SVGPlot.tradeoff(title: "a <b> & \"c\"", points: [
            .init(percent: 0.5, accuracy: 0.7, label: "λ=10", kind: "taps"),
            .init(percent: 100, accuracy: 0.8, label: "finetune", kind: "finetune"),
            .init(percent: 0.1, accuracy: 0.6, label: "probe", kind: "probe"),
        ])
        let grid = SVGPlot.layerGrid(title: "<grid>", rows: ["a&b", "c"], columns: ["x", "y<z"],
                                     active: [[true, nil], [false, true]])
        for (name, text) in [("plot.svg", plot), ("grid.svg", grid)] {
            let url = dir.appendingPathComponent(name)
            try writeAtomically(Data(text.utf8), to: url)
            #expect(isWellFormedXML(url), "\(name)")
        }
    }

    @Test("bad suite and sweep options are clear errors")
    func badOptions() {
        #expect(throws: ConfigError.self) { try SuiteConfig(tasks: [], outputDirectory: "x").validate() }
        #expect(throws: ConfigError.self) { try SuiteConfig(tasks: ["fashion", "fashion"], outputDirectory: "x").validate() }
        #expect(throws: ConfigError.self) { try SweepConfig(task: "fashion", lambdas: [-1], outputDirectory: "x").validate() }
        #expect(throws: ConfigError.self) { try SweepConfig(task: "fashion", lambdas: [], modes: [.taps], outputDirectory: "x").validate() }
    }
}
