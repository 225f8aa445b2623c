// TapsTrainingTests: inputs that used to trap or go wrong silently (issue "Runs that survive", item 5).
import Foundation
import Testing
import TapsData
import TapsTraining

@Suite("Bad inputs end with a message, never a trap")
struct InputRobustnessTests {
    /// A folder of IDX files for task `name`: `train` and `test` images of 28x28 with labels 0...9 in turn.
    static func idxTask(_ name: String, train: Int, test: Int) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-idx-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (part, n) in [("train", train), ("test", test)] {
            let images = IDX.Images(count: n, rows: 28, cols: 28, pixels: (0..<(n * 784)).map { UInt8($0 % 251) })
            try IDX.encodeImages(images).write(to: dir.appendingPathComponent("\(name)-\(part)-images-idx3-ubyte"))
            try IDX.encodeLabels((0..<n).map { UInt8($0 % 10) }).write(to: dir.appendingPathComponent("\(name)-\(part)-labels-idx1-ubyte"))
        }
        return dir
    }

    static func config(_ dir: URL, task: String) -> TrainingConfig {
        var c = TrainingConfig()
        c.task = task
        c.dataDirectory = dir.path
        c.outputDirectory = dir.appendingPathComponent("run").path
        c.epochs = 1
        c.warmupEpochs = 0
        return c
    }

    @Test("an empty training split is a one-line error naming the option, not a trap")
    func emptyTrainingSplit() throws {
        let dir = try Self.idxTask("empty", train: 0, test: 10)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            _ = try Trainer(config: Self.config(dir, task: "empty"), store: MetricsStore(), control: TrainingControl(lambda: 1))
        } throws: { error in
            "\(error)".contains("0 training images") && !"\(error)".contains("\n")
        }
    }

    @Test("an empty test split is refused before training")
    func emptyTestSplit() throws {
        let dir = try Self.idxTask("notest", train: 40, test: 0)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            _ = try Trainer(config: Self.config(dir, task: "notest"), store: MetricsStore(), control: TrainingControl(lambda: 1))
        } throws: { error in
            "\(error)".contains("0 test images")
        }
    }

    @Test("lambda has a ceiling: keys, assignment, infinity and NaN all stay in [0, 1e4]")
    func lambdaCeiling() {
        let control = TrainingControl(lambda: 2)
        for _ in 0..<200 { control.scaleLambda(by: 10) }
        #expect(control.lambda == TrainingControl.maximumLambda)
        control.lambda = .infinity
        #expect(control.lambda == TrainingControl.maximumLambda)
        control.lambda = .nan
        #expect(control.lambda == 0)
        control.lambda = -5
        #expect(control.lambda == 0)
        #expect(TrainingControl(lambda: 1e9).lambda == TrainingControl.maximumLambda)
        var c = TrainingConfig()
        c.lambda = 2e4
        #expect(throws: ConfigError.self) { try c.validate() }
    }

    @Test("--epochs not above --warmup-epochs in taps mode: a warning in the stream, the run still completes")
    func warmupCoversEveryEpoch() throws {
        let dir = try Self.idxTask("warm", train: 60, test: 10)
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = Self.config(dir, task: "warm")
        c.epochs = 1
        c.warmupEpochs = 2
        let store = MetricsStore()
        let summary = try Trainer(config: c, store: store, control: TrainingControl(lambda: 1)).run()
        #expect(summary.status == .done)
        #expect(store.snapshot().notices.contains { $0.message.contains("the sparsity penalty never runs") })
    }
}
