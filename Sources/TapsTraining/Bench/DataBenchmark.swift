// TapsTraining: `taps bench --data PATH`: does the data pipeline keep up with training? Decode + augment images/s on
// worker threads, next to the training step's images/s on pre-decoded tensors and with the pipeline feeding it, and
// the peak resident memory with a cache budget.
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// The measurements of ``DataBenchmark/run(dataPath:format:base:cacheMB:batchSize:steps:epochs:workers:augmentation:seed:)``.
public struct DataBenchmarkResult: Sendable, Codable, Equatable {
    /// Training images in the ImageFolder.
    public var images: Int
    /// Input size of the base (pixels).
    public var imageSize: Int
    /// Decode + resize + augment + normalise alone, no training, `workers` threads, no cache: images per second.
    public var pipelineImagesPerSecond: Double
    /// Training steps on one pre-decoded batch, repeated: images per second.
    public var trainPreDecodedImagesPerSecond: Double
    /// Training steps fed by the prefetching pipeline: images per second.
    public var trainWithPipelineImagesPerSecond: Double
    /// Training steps run with the pipeline.
    public var pipelineSteps: Int
    /// Cache budget (MB) and bytes the cache held at the end.
    public var cacheMB: Int
    public var cachedBytes: Int
    /// Peak resident set size of the process (`VmHWM`, MB), and the resident size at the end (`VmRSS`).
    public var peakRSSMB: Double
    public var endRSSMB: Double
    /// Resident size after the model was built and one batch trained, before the pipeline ran (the model's working set).
    public var modelRSSMB: Double
}

/// `taps bench --data`: the data pipeline against the training step (see ``DataBenchmarkResult``).
public enum DataBenchmark {
    /// Runs the three measurements on the ImageFolder at `dataPath`.
    /// - Parameters:
    ///   - steps: training steps per measurement (the pipeline-only pass makes the same number of batches).
    ///   - epochs: when > 0, the pipeline-fed training runs this many whole epochs instead of `steps` steps (the
    ///     bounded-memory check on a large folder).
    /// - Throws: `ConfigError` when the data is not an ImageFolder; reader and decoding errors.
    public static func run(dataPath: String, format: DataFormat? = nil, base: BaseModel, cacheMB: Int, batchSize: Int = 32,
                           steps: Int = 20, epochs: Int = 0, workers: Int = 2, augmentation: Augmentation = .cropFlip,
                           seed: UInt64 = 0, progress: (String) -> Void = { _ in }) throws -> DataBenchmarkResult {
        let dataset = try Dataset.open(URL(fileURLWithPath: dataPath), format: format)
        guard case let .files(list) = dataset.train else {
            throw ConfigError.invalid(option: "--data", expected: "an ImageFolder (the pipeline decodes image files)",
                                      got: "\(dataset.format.rawValue) at \(dataPath)")
        }
        let recipe = base.inputRecipe
        let sampler = BatchSampler(count: list.count, batchSize: batchSize, seed: seed)
        let epochBatches = sampler.batches(epoch: 1)
        let timed = Array(epochBatches.prefix(steps))

        // 1. The pipeline alone (no cache: every image decoded).
        let cold = ImageFolderSource(list: list, recipe: recipe, cacheMB: 0)
        var t0 = now()
        var made = 0
        let alone = BatchPrefetcher(source: cold, batches: timed, normalization: base.normalization, augmentation: augmentation,
                                    epoch: 1, seed: seed, workers: workers, depth: 2 * workers)
        while let (x, _) = try alone.next() { made += x.shape[0] }
        let pipelineRate = Double(made) / (now() - t0)
        progress(String(format: "pipeline alone: %d images in %.2f s", made, now() - t0))

        // 2 and 3, interleaved in rounds (so a change in machine load hits both alike): training on one pre-decoded
        // batch, repeated, and training fed by the pipeline (with the cache budget), each round on the next slice of
        // the epoch's batches with a fresh prefetcher (no head start).
        var rng = SeededRNG(seed: seed)
        let task = try base.taskNetwork(classes: list.classes, mode: .taps, tau: 0.1, initialScore: 0.15, rng: &rng)
        let sgd = SGD(parameters: task.trainableParameters, momentum: 0.9, weightDecay: 0)
        func step(_ x: Tensor, _ y: [Int]) {
            task.zeroGrad()
            let ce = softmaxCrossEntropy(logits: task.forward(x, mode: .training), labels: y)
            task.backward(ce.gradient)
            sgd.step(learningRate: 0.001)
        }
        let (x0, y0) = try cold.batch(timed[0], normalization: base.normalization, augmentation: augmentation, epoch: 1, seed: seed)
        step(x0, y0)  // warm-up
        let modelRSS = memory().rss
        let source = ImageFolderSource(list: list, recipe: recipe, cacheMB: cacheMB)
        var trained = 0, stepsRun = 0, preDecodedImages = 0
        var preDecodedSeconds = 0.0, pipelineSeconds = 0.0
        func feed(_ batches: [[Int]], epoch: Int) throws {
            let prefetcher = BatchPrefetcher(source: source, batches: batches, normalization: base.normalization,
                                             augmentation: augmentation, epoch: epoch, seed: seed, workers: workers, depth: 2 * workers)
            let t = now()
            while let (x, y) = try prefetcher.next() {
                step(x, y)
                trained += x.shape[0]; stepsRun += 1
                if stepsRun % 200 == 0 {
                    let m = memory()
                    progress(String(format: "epoch %d, step %d: %.0f img/s, RSS %.0f MB (peak %.0f), cache %.0f MB", epoch, stepsRun,
                                    Double(trained) / (pipelineSeconds + now() - t), m.rss, m.peak, Double(source.cachedBytes) / 1_048_576))
                }
            }
            pipelineSeconds += now() - t
        }
        if epochs > 0 {
            t0 = now()
            for _ in 0..<timed.count { step(x0, y0) }
            preDecodedSeconds = now() - t0; preDecodedImages = timed.count * x0.shape[0]
            for e in 1...epochs { try feed(sampler.batches(epoch: e), epoch: e) }
        } else {
            let rounds = min(3, timed.count), per = (timed.count + rounds - 1) / rounds
            for r in 0..<rounds {
                let slice = Array(timed[min(r * per, timed.count)..<min((r + 1) * per, timed.count)])
                t0 = now()
                for _ in slice { step(x0, y0) }
                preDecodedSeconds += now() - t0; preDecodedImages += slice.count * x0.shape[0]
                try feed(slice, epoch: 1)
            }
        }
        let preDecodedRate = Double(preDecodedImages) / preDecodedSeconds
        progress(String(format: "training on pre-decoded tensors: %.1f img/s", preDecodedRate))
        let pipelineTrainRate = Double(trained) / pipelineSeconds
        let m = memory()
        return DataBenchmarkResult(images: list.count, imageSize: recipe.size, pipelineImagesPerSecond: pipelineRate,
                                   trainPreDecodedImagesPerSecond: preDecodedRate, trainWithPipelineImagesPerSecond: pipelineTrainRate,
                                   pipelineSteps: stepsRun, cacheMB: cacheMB, cachedBytes: source.cachedBytes, peakRSSMB: m.peak,
                                   endRSSMB: m.rss, modelRSSMB: modelRSS)
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// `VmRSS` and `VmHWM` of this process in MB, from `/proc/self/status` (0 where unavailable).
    public static func memory() -> (rss: Double, peak: Double) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func value(_ key: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0").map { $0 / 1024 } ?? 0
        }
        return (value("VmRSS"), value("VmHWM"))
    }
}
