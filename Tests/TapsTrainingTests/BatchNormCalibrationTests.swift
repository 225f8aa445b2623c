import Testing
import TapsData
import TapsNN
import TapsTensor
import TapsTraining

@Suite("BatchNorm recalibration before evaluation")
struct BatchNormCalibrationTests {
    @Test("running statistics become the cumulative batch statistics of the task's images; momentum is restored")
    func recalibrates() throws {
        var rng = SeededRNG(seed: 1)
        let conv = Conv2d(name: "0", inChannels: 1, outChannels: 3, kernelSize: 3, padding: 1, rng: &rng)
        let bn = BatchNorm2d(name: "1", channels: 3)
        let net = Sequential(name: "", [conv, bn])
        bn.runningMean.value = Tensor(repeating: 50, shape: [3])
        let data = try EmbeddedPack.load("lfwfaces").train
        #expect(recalibrateBatchNorm(net, on: data, normalization: .digitCNN, batchSize: 64, maxBatches: 1) == 1)
        // Reference: per-channel mean of the conv output over the 64 images recalibration samples (stratified, shuffled).
        let (x, _) = data.batch(recalibrationIndices(labels: data.labels, count: 64), normalization: .digitCNN)
        let y = conv.forward(x, mode: .inference)
        let plane = 28 * 28
        for c in 0..<3 {
            var sum = 0.0
            for n in 0..<64 { for i in 0..<plane { sum += Double(y.storage[(n * 3 + c) * plane + i]) } }
            let mean = sum / Double(64 * plane)
            #expect(abs(Double(bn.runningMean.value.storage[c]) - mean) < 1e-4 * max(1, abs(mean)))
        }
        #expect(bn.momentum == 0.1)
        #expect(recalibrateBatchNorm(makeDigitCNN(rng: &rng), on: data, normalization: .digitCNN) == 0)
    }
}
