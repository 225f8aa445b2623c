// TapsTraining: the measurements behind `taps bench` (a benchmark, not a timed test).
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// Throughput figures of the engine on this machine.
public enum Benchmark {
    /// One measured figure.
    public struct Result: Sendable, Codable {
        public var name: String
        public var value: Double
        public var unit: String
    }

    /// GFLOP/s of `gemm` for `[m, k] · [k, n]` (2mnk flops per call), best of `repeats` timed rounds.
    public static func gemmGFLOPS(m: Int, n: Int, k: Int, repeats: Int = 5) -> Double {
        var rng = SeededRNG(seed: 1)
        let a = Tensor.normal([m * k], rng: &rng), b = Tensor.normal([k * n], rng: &rng)
        var c = Tensor(zeros: [m * n])
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let inner = max(1, Int(2e9 / flops))  // about 2 GFLOP per round
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            a.withBuffer { ap in b.withBuffer { bp in c.withMutableBuffer { cp in
                for _ in 0..<inner { gemm(.none, .none, m: m, n: n, k: k, ap.baseAddress!, bp.baseAddress!, cp.baseAddress!) }
            } } }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(inner))
        }
        return flops / best / 1e9
    }

    /// Training images per second (forward, backward, penalty, SGD step) of the base adapted in `mode`,
    /// on real batches of `task`; `steps` timed after 3 warm-up steps (by then every TAPS delta is
    /// non-zero, so TAPS pays for every weight-gradient GEMM, as it does mid-run).
    public static func trainingThroughput(base: BaseModel, task taskName: String, mode: TrainingMode,
                                          batchSize: Int = 32, steps: Int = 30) throws -> Double {
        let data = try EmbeddedPack.load(taskName)
        var rng = SeededRNG(seed: 0)
        let task = try base.taskNetwork(classes: data.classes, mode: mode, tau: 0.1, initialScore: 0.15, trainBiases: true, rng: &rng)
        let sgd = SGD(parameters: task.trainableParameters, momentum: 0.9, weightDecay: 0)
        let sampler = BatchSampler(count: data.train.count, batchSize: batchSize, seed: 0)
        let batches = Array(sampler.batches(epoch: 1).prefix(steps + 3))
        // The run loop's step with the contents ../bench's PyTorch mirror times: penalty as a subgradient.
        let settings = StepSettings(lambda: 0.3, penaltyOn: mode == .taps, penalty: .mean, penaltyUpdate: .subgradient,
                                    learningRate: 0.01)
        var t0: UInt64 = 0
        for (i, idx) in batches.enumerated() {
            if i == 3 { t0 = DispatchTime.now().uptimeNanoseconds }
            let (x, y) = data.train.batch(idx, normalization: base.normalization)
            _ = trainStep([SubBatch(network: task.network, gatedLayers: task.gatedLayers, images: x, labels: y)],
                          optimizer: sgd, settings: settings)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let images = batches.dropFirst(3).reduce(0) { $0 + $1.count }
        return Double(images) / seconds
    }

    /// What ``architectureThroughput(_:imageSize:batchSize:steps:warmup:mode:)`` measured over the timed steps.
    public struct StepMeasurement: Sendable, Codable {
        /// Training images per second (wall clock).
        public var imagesPerSecond: Double
        /// Mean wall seconds of the forward pass (with the loss) and of the backward pass per step.
        public var forwardSeconds: Double, backwardSeconds: Double
        /// Mean wall seconds per whole step (forward, backward, penalty, optimizer).
        public var stepSeconds: Double
        /// Mean CPU seconds (user + system, all threads) per step: on a shared machine a steadier figure than
        /// wall time for comparing builds at one thread.
        public var cpuSecondsPerStep: Double
        /// GEMM flops per step (`2·m·n·k` summed) and the wall seconds spent in GEMMs per step.
        public var gemmFlopsPerStep: Double, gemmSecondsPerStep: Double
        /// Workspace buffers allocated or grown during the timed steps (0 in a steady state).
        public var workspaceAllocations: Int
        /// GEMM throughput while in GEMMs, GFLOP/s.
        public var gemmGFLOPS: Double { gemmSecondsPerStep > 0 ? gemmFlopsPerStep / gemmSecondsPerStep / 1e9 : 0 }
        /// GEMM flops per wall second of the whole step, GFLOP/s.
        public var stepGFLOPS: Double { stepSeconds > 0 ? gemmFlopsPerStep / stepSeconds / 1e9 : 0 }
        /// Share of the step's wall time spent in GEMMs, 0...1.
        public var gemmShare: Double { stepSeconds > 0 ? gemmSecondsPerStep / stepSeconds : 0 }
    }

    /// User + system CPU seconds of the process so far.
    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Training throughput (forward, backward, penalty, SGD step) of a `ModelZoo` architecture adapted in
    /// `mode`, with random weights on random `[batch, 3, imageSize, imageSize]` images and random labels
    /// (10 classes); `steps` timed after `warmup` steps (by then every TAPS delta is non-zero, so every
    /// weight-gradient GEMM runs, as mid-run). Also reports forward/backward seconds, CPU seconds, GEMM flops
    /// and time, and workspace allocations of the timed steps.
    public static func architectureThroughput(_ architecture: String, imageSize: Int, batchSize: Int = 32,
                                              steps: Int = 10, warmup: Int = 2, mode: TrainingMode = .taps)
        throws -> StepMeasurement {
        var rng = SeededRNG(seed: 0)
        let (net, head) = try ModelZoo.make(architecture, classes: 10, imageSize: imageSize, rng: &rng)
        let behaviour: GateBehaviour = switch mode {
        case .taps: .learned
        case .finetune: .alwaysOn
        case .probe: .alwaysOff
        }
        let task = TaskNetwork(network: net, headName: head, behaviour: behaviour, tau: 0.1, initialScore: 0.15)
        let sgd = SGD(parameters: task.trainableParameters, momentum: 0.9, weightDecay: 0)
        let x = Tensor.normal([batchSize, 3, imageSize, imageSize], rng: &rng)
        let y = (0..<batchSize).map { $0 % 10 }
        var t0: UInt64 = 0, forward: UInt64 = 0, backward: UInt64 = 0
        var cpu0 = 0.0, gemm0 = (flops: 0.0, seconds: 0.0), allocations0 = 0
        for i in 0..<(warmup + steps) {
            if i == warmup {
                t0 = DispatchTime.now().uptimeNanoseconds; forward = 0; backward = 0
                cpu0 = processCPUSeconds(); gemm0 = GEMMStatistics.totals; allocations0 = Workspace.allocationCount
            }
            task.zeroGrad()
            let f0 = DispatchTime.now().uptimeNanoseconds
            let ce = softmaxCrossEntropy(logits: task.forward(x, mode: .training), labels: y)
            let b0 = DispatchTime.now().uptimeNanoseconds
            task.backward(ce.gradient)
            backward += DispatchTime.now().uptimeNanoseconds - b0
            forward += b0 - f0
            if mode == .taps { SparsityPenalty.accumulateGradient(task.gatedLayers, lambda: 0.3, kind: .mean) }
            sgd.step(learningRate: 0.01)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let gemm = GEMMStatistics.totals, n = Double(steps)
        return StepMeasurement(imagesPerSecond: Double(batchSize * steps) / seconds,
                               forwardSeconds: Double(forward) / 1e9 / n, backwardSeconds: Double(backward) / 1e9 / n,
                               stepSeconds: seconds / n, cpuSecondsPerStep: (processCPUSeconds() - cpu0) / n,
                               gemmFlopsPerStep: (gemm.flops - gemm0.flops) / n,
                               gemmSecondsPerStep: (gemm.seconds - gemm0.seconds) / n,
                               workspaceAllocations: Workspace.allocationCount - allocations0)
    }

    /// Inference images per second of the base (batch 256).
    public static func inferenceThroughput(base: BaseModel, task taskName: String) throws -> Double {
        let data = try EmbeddedPack.load(taskName)
        var rng = SeededRNG(seed: 0)
        let task = try base.taskNetwork(classes: data.classes, mode: .taps, tau: 0.1, initialScore: 0.15, rng: &rng)
        _ = evaluate(task, on: data.test, normalization: base.normalization)
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = evaluate(task, on: data.test, normalization: base.normalization)
        return Double(data.test.count) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
}
