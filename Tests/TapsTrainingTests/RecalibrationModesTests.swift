// TapsTrainingTests: every training mode re-estimates BatchNorm statistics before validation and export
// (docs/method.md "Training recipe"): single task, joint stage 1 and fully joint go through one loop.
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

@Suite("BatchNorm recalibration in every training mode")
struct RecalibrationModesTests {
    /// A random densenet-small base (BatchNorm after every convolution) written as a safetensors file.
    static func makeBase(in dir: URL) throws -> String {
        var rng = SeededRNG(seed: 3)
        let (net, _) = try ModelZoo.make("densenet-small", classes: 10, imageSize: 16, rng: &rng)
        let url = dir.appendingPathComponent("densenet-small.safetensors")
        try SafeTensors.write(net.parameters.map { ($0.name, $0.value) }, metadata: ["architecture": "densenet-small"], to: url)
        return url.path
    }

    static func config(base: String, out: URL, task: String = "ucidigits") -> TrainingConfig {
        var c = TrainingConfig()
        c.task = task
        c.base = base
        c.imageSize = 16
        c.epochs = 2
        c.warmupEpochs = 1
        c.batchSize = 16
        c.trainLimit = 64
        c.lambda = 0.5
        c.outputDirectory = out.path
        return c
    }

    /// The training images the run used (the same split and limit as the trainer).
    static func trainingImages(_ c: TrainingConfig, base: BaseModel) throws -> LabeledImages {
        let data = try loadTask(config: c, base: base)
        let split = trainValidationSplit(data.train, validationFraction: c.validationFraction, seed: c.seed)
        guard let limit = c.trainLimit, limit < split.train.count else { return split.train }
        return applyTrainLimit(split.train, limit: limit, seed: c.seed)
    }

    /// Running statistics of every BatchNorm layer, in network order.
    static func statistics(_ network: any Layer) -> [Tensor] {
        batchNormLayers(in: network).flatMap { [$0.runningMean.value, $0.runningVar.value] }
    }

    /// `network`'s statistics equal a fresh recalibration of its own weights on `images` (what the loop does
    /// before validation); a mode that validated or exported with momentum-averaged statistics fails this.
    static func expectRecalibrated(_ network: any Layer, on images: LabeledImages, normalization: Normalization,
                                   _ label: String) {
        let exported = statistics(network)
        #expect(recalibrateBatchNorm(network, on: images, normalization: normalization) > 0)
        let fresh = statistics(network)
        #expect(exported.count == fresh.count && !exported.isEmpty)
        #expect(exported == fresh, "\(label): exported BatchNorm statistics are not the recalibrated ones")
    }

    /// The view's notices include a `recalibrated` notice before its first epoch event.
    static func expectNotice(_ events: [MetricsEvent], _ label: String) {
        let notice = events.firstIndex { if case .notice(let n) = $0 { return n.kind == .recalibrated }; return false }
        let epoch = events.firstIndex { if case .epoch = $0 { return true }; return false }
        #expect(notice != nil && epoch != nil && notice! < epoch!, "\(label): no recalibration notice before validation")
    }

    @Test("recalibration samples every class in a shuffled order, even from a folder listed class by class")
    func recalibrationSampleIsStratifiedAndShuffled() {
        let labels = (0..<10).flatMap { Array(repeating: $0, count: 5000) }  // an ImageFolder's order
        let order = recalibrationIndices(labels: labels, count: 1024)
        #expect(order.count == 1024 && Set(order).count == 1024)
        let perClass = Dictionary(grouping: order.map { labels[$0] }, by: { $0 }).mapValues(\.count)
        #expect(perClass.count == 10 && perClass.values.allSatisfy { (102...103).contains($0) }, "\(perClass)")
        #expect(Set(order.prefix(64).map { labels[$0] }).count >= 8, "the first batch mixes the classes")
        #expect(order == recalibrationIndices(labels: labels, count: 1024), "the same sample every time")
        #expect(recalibrationIndices(labels: [0, 1, 1], count: 1024).sorted() == [0, 1, 2])
    }

    @Test("single task: notice before validation, and the export holds recalibrated statistics")
    func singleTask() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-recal-single-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let basePath = try Self.makeBase(in: dir)
        let c = Self.config(base: basePath, out: dir.appendingPathComponent("run"))
        let store = MetricsStore()
        let summary = try Trainer(config: c, store: store, control: TrainingControl(lambda: c.lambda)).run()
        #expect(summary.status == .done)
        Self.expectNotice(try MetricsStore.readJSONL(dir.appendingPathComponent("run/metrics.jsonl")), "single task")
        let base = try BaseModel.load(basePath, imageSize: 16)
        let (network, _) = try TaskExport.load(URL(fileURLWithPath: summary.export ?? ""), onto: base)
        Self.expectRecalibrated(network.network, on: try Self.trainingImages(c, base: base),
                                normalization: base.normalization, "single task")
    }

    @Test("fully joint: every task's view has the notice, every export holds recalibrated statistics")
    func fullyJoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-recal-joint-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let basePath = try Self.makeBase(in: dir)
        let c = Self.config(base: basePath, out: dir)
        let tasks = ["ucidigits", "fashion"]
        let stores = tasks.map { _ in MetricsStore() }
        let trained = dir.appendingPathComponent("fully-joint-base.safetensors")
        let summaries = try FullyJointTrainer(config: c, tasks: tasks, outputDirectory: dir, baseFile: trained,
                                              stores: stores, control: TrainingControl(lambda: c.lambda)).run()
        #expect(summaries.count == 2 && summaries.allSatisfy { $0.status == .done })
        let base = try BaseModel.load(trained.path, imageSize: 16)
        for (t, task) in tasks.enumerated() {
            Self.expectNotice(try MetricsStore.readJSONL(dir.appendingPathComponent("\(task)/metrics.jsonl")), task)
            let (network, meta) = try TaskExport.load(URL(fileURLWithPath: summaries[t].export ?? ""), onto: base)
            #expect(meta.suiteMode == .fullyJoint)
            var tc = c
            tc.task = task
            Self.expectRecalibrated(network.network, on: try Self.trainingImages(tc, base: base),
                                    normalization: base.normalization, "fully joint \(task)")
        }
    }

    @Test("joint stage 1: the notice, and the shared base holds statistics recalibrated on the first task")
    func jointStageOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-recal-stage1-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let basePath = try Self.makeBase(in: dir)
        let c = Self.config(base: basePath, out: dir)
        let trained = dir.appendingPathComponent("joint-base.safetensors")
        let store = MetricsStore()
        let s1 = try JointBaseTrainer(config: c, tasks: ["ucidigits", "fashion"], epochs: 1, baseFile: trained,
                                      runDirectory: dir.appendingPathComponent("stage1"), store: store,
                                      control: TrainingControl(lambda: c.lambda)).run()
        #expect(s1.status == .done && s1.validationAccuracy.count == 2)
        Self.expectNotice(try MetricsStore.readJSONL(dir.appendingPathComponent("stage1/metrics.jsonl")), "stage 1")
        let base = try BaseModel.load(trained.path, imageSize: 16)
        var rng = SeededRNG(seed: 0)
        let network = try base.instantiate(classes: 10, rng: &rng)
        Self.expectRecalibrated(network, on: try Self.trainingImages(c, base: base), normalization: base.normalization,
                                "joint stage 1")
    }
}
