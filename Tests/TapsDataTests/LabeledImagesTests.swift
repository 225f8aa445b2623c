// TapsDataTests: batching and normalisation, rotation, relabelling, split and sampler.
import Foundation
import Testing
import TapsData
import TapsTensor

/// N images of C×H×W with pixel value `(n * 37 + i) % 256` and labels `n % classes`.
private func synthetic(_ n: Int, channels: Int = 1, height: Int = 2, width: Int = 3, classes: Int = 3) throws -> LabeledImages {
    let size = channels * height * width
    return try LabeledImages(pixels: (0..<(n * size)).map { UInt8(($0 / size * 37 + $0 % size) % 256) },
                             labels: (0..<n).map { $0 % classes }, channels: channels, height: height, width: width,
                             classes: classes)
}

@Suite("LabeledImages, split and sampler")
struct LabeledImagesTests {
    @Test("rot90 maps pixels as NumPy rot90 on a hand-made 2x3 image")
    func rot90Mapping() throws {
        // [[1, 2, 3],
        //  [4, 5, 6]]  -> counter-clockwise ->  [[3, 6], [2, 5], [1, 4]]
        let image = try LabeledImages(pixels: [1, 2, 3, 4, 5, 6], labels: [7], channels: 1, height: 2, width: 3, classes: 10)
        let r = image.rotated90CounterClockwise()
        #expect((r.height, r.width) == (3, 2))
        #expect(r.pixels == [3, 6, 2, 5, 1, 4])
        #expect(r.labels == [7])
    }

    @Test("batch normalises per channel: (p/255 - mean)/std, in index order")
    func batchNormalisation() throws {
        let data = try LabeledImages(pixels: [0, 255, 51, 102, /* image 1 */ 10, 20, 30, 40], labels: [1, 0],
                                     channels: 2, height: 1, width: 2, classes: 2)
        let norm = Normalization(mean: [0.5, 0.1], std: [0.25, 2])
        let (x, y) = data.batch([1, 0, 1], normalization: norm)
        #expect(x.shape == [3, 2, 1, 2])
        #expect(y == [0, 1, 0])
        func n(_ p: Float, _ c: Int) -> Float { (p / 255 - norm.mean[c]) / norm.std[c] }
        let expected: [Float] = [n(10, 0), n(20, 0), n(30, 1), n(40, 1), n(0, 0), n(255, 0), n(51, 1), n(102, 1),
                                 n(10, 0), n(20, 0), n(30, 1), n(40, 1)]
        for (a, e) in zip(x.storage, expected) { #expect(abs(a - e) < 1e-5, "\(a) vs \(e)") }

        let mnist = try EmbeddedPack.load("mnist5k")
        let (m, _) = mnist.train.batch([0], normalization: .digitCNN)
        #expect(abs(m.storage.min()! - (-0.1307 / 0.3081)) < 1e-5, "black background")
        #expect(m.storage.max()! <= (1 - 0.1307) / 0.3081 + 1e-5)
        let mean = m.storage.reduce(0, +) / Float(m.count)
        #expect(mean > -0.42 && mean < 1, "\(mean)")
    }

    @Test("subset and relabeled keep pixels; bad labels are an error, not a crash")
    func subsetAndRelabel() throws {
        let data = try synthetic(5)
        let s = data.subset([4, 0, 4])
        #expect(s.labels == [1, 0, 1])
        #expect(Array(s.pixels(of: 0)) == Array(data.pixels(of: 4)))
        #expect(errorMessage { try data.relabeled(classes: 2) { $0 + 1 } } == "relabeled: label of example 1: expected 0..<2, found 2")
        #expect(errorMessage { try LabeledImages(pixels: [1, 2], labels: [0], channels: 1, height: 1, width: 1, classes: 1, source: "csv") }
                == "csv: pixel count: expected 1 x 1x1x1 = 1, found 2")
    }

    @Test("split is stratified, deterministic, disjoint and complete")
    func split() throws {
        let data = try synthetic(300, classes: 3)
        let a = trainValidationSplit(data, validationFraction: 0.2, seed: 9)
        let b = trainValidationSplit(data, validationFraction: 0.2, seed: 9)
        let c = trainValidationSplit(data, validationFraction: 0.2, seed: 10)
        #expect(a.train == b.train && a.validation == b.validation)
        #expect(a.validation != c.validation)
        #expect(a.validation.classCounts == [20, 20, 20])
        #expect(a.train.classCounts == [80, 80, 80])
        // Pixel rows identify examples here (first pixel differs by 37 per example mod 256, plus the label):
        // check disjointness and completeness through a key of (first 2 pixels, label).
        func keys(_ d: LabeledImages) -> [String] { (0..<d.count).map { "\(Array(d.pixels(of: $0)))-\(d.labels[$0])" } }
        let trainKeys = Set(keys(a.train)), validationKeys = Set(keys(a.validation))
        #expect(trainKeys.isDisjoint(with: validationKeys))
        #expect(trainKeys.union(validationKeys) == Set(keys(data)))

        let real = try EmbeddedPack.load("fashion").train
        let r = trainValidationSplit(real, validationFraction: 0.1, seed: 1)
        #expect(r.train.count + r.validation.count == real.count)
        for (v, total) in zip(r.validation.classCounts, real.classCounts) {
            #expect(v == Int((0.1 * Double(total)).rounded()))
        }
        #expect(trainValidationSplit(data, validationFraction: 0, seed: 1).validation.count == 0)
    }

    @Test("sampler covers every index once per epoch; epochs differ; seeds reproduce", arguments: [false, true])
    func sampler(dropLast: Bool) {
        let sampler = BatchSampler(count: 103, batchSize: 10, seed: 5, dropLast: dropLast)
        let e0 = sampler.batches(epoch: 0), e1 = sampler.batches(epoch: 1)
        #expect(e0.count == (dropLast ? 10 : 11))
        #expect(e0.count == sampler.batchesPerEpoch)
        #expect(e0.dropLast().allSatisfy { $0.count == 10 })
        let flat = e0.flatMap { $0 }
        #expect(Set(flat).count == flat.count)
        if dropLast { #expect(flat.count == 100) } else {
            #expect(flat.sorted() == Array(0..<103))
            #expect(e0.last?.count == 3)
        }
        #expect(e0 != e1)
        #expect(e0 == BatchSampler(count: 103, batchSize: 10, seed: 5, dropLast: dropLast).batches(epoch: 0))
        #expect(e0 != BatchSampler(count: 103, batchSize: 10, seed: 6, dropLast: dropLast).batches(epoch: 0))
        #expect(BatchSampler(count: 5, batchSize: 2, seed: 1, shuffle: false).batches(epoch: 3) == [[0, 1], [2, 3], [4]])
    }
}
