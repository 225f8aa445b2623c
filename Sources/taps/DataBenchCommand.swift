// taps bench --data: the data pipeline's images/s next to the training step's, and peak memory with --cache-mb.
import ArgumentParser
import Foundation
import TapsData
import TapsTraining

/// The options `taps bench` takes for `--data` (kept apart so the rest of `taps bench` is unchanged).
struct DataBenchOptions: ParsableArguments {
    @Option(help: "Benchmark the data pipeline on this ImageFolder (decode + augment on worker threads) against the training step.")
    var data: String?

    @Option(name: .customLong("base"), help: "Base for --data: efficientnet-lite0, digitcnn or a .safetensors file (e.g. a torchvision resnet18).")
    var base: String = "efficientnet-lite0"

    @Option(name: .customLong("base-arch"), help: "Architecture of a --base file (default: from its names).")
    var baseArch: String?

    @Option(name: .customLong("cache-mb"), help: "Cache budget for decoded images, MB.")
    var cacheMB: Int = 256

    @Option(name: .customLong("data-image-size"), help: "Input size of the base for --data (pixels).")
    var dataImageSize: Int = 224

    @Option(help: "Decoding threads.")
    var workers: Int = 2

    @Option(name: .customLong("data-epochs"), help: "Train whole epochs over --data with the pipeline (the bounded-memory check) instead of --steps steps.")
    var dataEpochs: Int = 0

    @Option(help: "Augmentation for --data: none, flip, crop-flip.")
    var augment: Augmentation = .cropFlip

    func run(steps: Int?, batchSize: Int) throws {
        guard let data else { return }
        guard workers >= 1, cacheMB >= 0, dataEpochs >= 0 else {
            throw ConfigError.invalid(option: "--workers/--cache-mb/--data-epochs", expected: ">= 1, >= 0, >= 0", got: "\(workers), \(cacheMB), \(dataEpochs)")
        }
        let b = try BaseModel.load(base, architecture: baseArch, imageSize: base == "digitcnn" ? nil : dataImageSize)
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        print("data pipeline on \(data): base \(b.name) (\(b.architecture)) at \(b.inputShape[1]) px, batch \(batchSize), \(workers) decode threads, cache \(cacheMB) MB, augment \(augment.rawValue); load average \(load)")
        let r = try DataBenchmark.run(dataPath: data, base: b, cacheMB: cacheMB, batchSize: batchSize, steps: steps ?? 20,
                                      epochs: dataEpochs, workers: workers, augmentation: augment, seed: 0) { print("  " + $0) }
        print(String(format: "pipeline (decode + resize + augment), no cache   %8.1f img/s", r.pipelineImagesPerSecond))
        print(String(format: "train step on pre-decoded tensors               %8.1f img/s", r.trainPreDecodedImagesPerSecond))
        print(String(format: "train step fed by the pipeline (%d steps)  %8.1f img/s (%.1f%% of pre-decoded)", r.pipelineSteps,
                     r.trainWithPipelineImagesPerSecond, 100 * r.trainWithPipelineImagesPerSecond / r.trainPreDecodedImagesPerSecond))
        print(String(format: "memory: RSS after model + one step %.0f MB; peak %.0f MB; end %.0f MB; cache held %.0f MB of %d MB (%d images)",
                     r.modelRSSMB, r.peakRSSMB, r.endRSSMB, Double(r.cachedBytes) / 1_048_576, r.cacheMB, r.images))
    }
}
