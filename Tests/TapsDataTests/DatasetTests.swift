// TapsDataTests: `--data` datasets made by the tests themselves (tinted embedded tasks): ImageFolder, CIFAR, NPZ,
// CSV; their bad-input errors; the eval transform; seeded augmentation; the stratified train limit.
import Foundation
import Testing
import TapsData

/// A small colour ImageFolder (train/ + val/, odd sizes around 96 px, JPEG and PNG) from the embedded `fashion`.
func makeImageFolder(_ label: String = #function, perClass: Int = 3, testPerClass: Int = 1, split: Bool = true) throws -> URL {
    let dir = try makeScratchDirectory(label)
    try ExampleDatasets.writeImageFolder(EmbeddedPack.load("fashion"), to: dir, perClass: perClass, testPerClass: testPerClass,
                                         size: 96, oddSizes: true, split: split)
    return dir
}

@Suite("--data datasets")
struct DatasetTests {
    @Test("ImageFolder: torchvision class order, val/ split, JPEG and PNG decoded at the recipe's size")
    func imageFolder() throws {
        let dir = try makeImageFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Python's sorted(): by code point, so "B" < "_x" < "a" < "class_00".
        for extra in ["a", "B", "_x"] {
            for split in ["train", "val"] {
                let d = dir.appendingPathComponent("\(split)/\(extra)")
                try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
                let image = DecodedImage(pixels: [UInt8](repeating: 99, count: 3 * 20 * 30), channels: 3, height: 20, width: 30)
                try ImageFile.encodePNG(image).write(to: d.appendingPathComponent("one.PNG"))
            }
        }
        #expect(try DataFormat.detect(dir) == .imageFolder)
        let d = try Dataset.open(dir)
        #expect(Array(d.classNames.prefix(4)) == ["B", "_x", "a", "class_00"])
        #expect(d.classes == 13 && d.train.count == 30 + 3 && d.test.count == 10 + 3 && d.testSource == "val/")
        guard case let .files(list) = d.train else { Issue.record("not files"); return }
        #expect(list.files.contains { $0.hasSuffix(".jpg") } && list.files.contains { $0.hasSuffix(".png") })
        let (images, skipped) = try list.decodeAll(recipe: .imageNet(size: 32), skipBad: false, workers: 2)
        #expect(skipped.isEmpty && images.imageShape == [3, 32, 32] && images.count == 33)
        #expect(images.labels == list.labels)
        // Decoding is independent of the number of workers.
        #expect(try list.decodeAll(recipe: .imageNet(size: 32), skipBad: false, workers: 1).images == images)
        // Grey recipe: RGB becomes grey.
        #expect(try list.decodeAll(recipe: ImageRecipe(channels: 1, size: 28), skipBad: false).images.imageShape == [1, 28, 28])
    }

    @Test("a single folder of classes is split into train and test, stratified and seeded, the same every time")
    func heldOutSplit() throws {
        let dir = try makeImageFolder(perClass: 4, testPerClass: 1, split: false)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Dataset.open(dir), b = try Dataset.open(dir)
        #expect(a.train.count + a.test.count == 50 && a.test.count == 10)
        var perClass = [Int](repeating: 0, count: 10)
        for y in a.test.labels { perClass[y] += 1 }
        #expect(perClass == [Int](repeating: 1, count: 10))
        #expect(a.heldOut == b.heldOut && a.heldOut?.count == 10 && a.notes.contains { $0.contains("held out") })
    }

    @Test("resize-shorter-side + centre crop, as torchvision's evaluation transform")
    func evalTransform() throws {
        // 40x80 with the left and right quarters black: resize to 20x40, centre 20x20 crop is all white.
        var pixels = [UInt8](repeating: 0, count: 40 * 80)
        for y in 0..<40 { for x in 20..<60 { pixels[y * 80 + x] = 255 } }
        let image = DecodedImage(pixels: pixels, channels: 1, height: 40, width: 80)
        let out = image.resizedShorterSide(to: 20, centreCrop: 20)
        #expect(out.height == 20 && out.width == 20)
        // The crop keeps source columns 20..<60 (all white); only the outermost output columns feel the antialias filter.
        #expect((0..<20).allSatisfy { y in (1..<19).allSatisfy { out.pixels[y * 20 + $0] == 255 } }, "\(out.pixels.prefix(20))")
        let crop = image.resizedShorterSide(to: 24, centreCrop: 20)   // 24x48, crop rows 2..<22, cols 14..<34
        #expect(crop.height == 20 && crop.width == 20)
        // Antialiased downscale keeps the mean of a fine checkerboard (plain bilinear would alias).
        let checker = DecodedImage(pixels: (0..<(64 * 64)).map { ($0 / 64 + $0 % 64) % 2 == 0 ? 255 : 0 }, channels: 1, height: 64, width: 64)
        let small = checker.resized(height: 8, width: 8)
        #expect(small.pixels.allSatisfy { abs(Int($0) - 128) <= 2 }, "\(small.pixels)")
    }

    @Test("CIFAR-10 (the six standard files) and CIFAR-100 fine and coarse labels")
    func cifar() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c10 = dir.appendingPathComponent("cifar-10-batches-bin")
        try ExampleDatasets.writeCIFAR10(EmbeddedPack.load("fashion"), to: c10, perClass: 2, testPerClass: 1)
        #expect(try DataFormat.detect(dir) == .cifar10)
        let d = try Dataset.open(dir)
        #expect(d.format == .cifar10 && d.train.count == 20 && d.test.count == 10 && d.classNames[3] == "class_03")
        // CIFAR-100: coarse label byte, fine label byte, pixels.
        let c100 = dir.appendingPathComponent("c100")
        try FileManager.default.createDirectory(at: c100, withIntermediateDirectories: true)
        var record = Data([7, 42]); record.append(Data(repeating: 5, count: 3072))
        try (record + record).write(to: c100.appendingPathComponent("train.bin"))
        try record.write(to: c100.appendingPathComponent("test.bin"))
        let fine = try Dataset.open(c100), coarse = try Dataset.open(c100, format: .cifar100Coarse)
        #expect(fine.format == .cifar100 && fine.classes == 100 && fine.train.labels == [42, 42])
        #expect(coarse.classes == 20 && coarse.test.labels == [7])
    }

    @Test("Keras-style .npz: NHWC uint8 with int64 labels, and NCHW float in [0, 1] detected and stated")
    func npz() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let keras = dir.appendingPathComponent("data.npz")
        try ExampleDatasets.writeNPZ(EmbeddedPack.load("fashion"), to: keras, perClass: 2, testPerClass: 1, size: 12)
        let d = try Dataset.open(keras)
        #expect(d.format == .npz && d.layout.contains("NHWC") && d.train.count == 20 && d.test.count == 10)
        guard case let .memory(train) = d.train else { Issue.record("not memory"); return }
        #expect(train.imageShape == [3, 12, 12])
        // NCHW float32 in [0, 1], labels [N, 1] uint8, no test arrays: a held-out split.
        let n = 10
        let x = NPYArray(shape: [n, 3, 4, 5], elements: .float32((0..<(n * 60)).map { Float($0 % 60) / 59 }))
        let y = NPYArray(shape: [n, 1], elements: .uint8((0..<n).map { UInt8($0 % 2) }))
        let nchw = dir.appendingPathComponent("nchw.npz")
        try NPZ.write([("x_train", x), ("y_train", y)], to: nchw)
        let e = try Dataset.open(nchw)
        #expect(e.layout.contains("NCHW") && e.layout.contains("scaled by 255") && e.train.count + e.test.count == n)
        guard case let .memory(m) = e.train else { Issue.record("not memory"); return }
        #expect(m.imageShape == [3, 4, 5] && m.pixels[0] == 0 && m.pixels[59] == 255)
    }

    @Test("CSV: header detected, label first or last, the image shape from the pixel count")
    func csv() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.csv")
        try ExampleDatasets.writeCSV(EmbeddedPack.load("fashion"), to: a, perClass: 3, size: 6)
        let d = try Dataset.open(a)
        #expect(d.format == .csv && d.layout.contains("header") && d.train.count + d.test.count == 30)
        guard case let .memory(m) = d.train else { Issue.record("not memory"); return }
        #expect(m.imageShape == [3, 6, 6])
        let b = dir.appendingPathComponent("b.csv")
        try Data("p0,p1,p2,p3,label\n1,2,3,4,1\n5,6,7,8,0\n9,9,9,9,1\n0,0,0,0,0\n".utf8).write(to: b)
        let e = try Dataset.open(b)
        #expect(e.layout.contains("label last") && e.classes == 2 && e.train.count + e.test.count == 4)
    }

    @Test("bad input: one-line errors naming the file, or counted under --skip-bad; nothing crashes")
    func badInput() throws {
        // An empty class folder.
        let dir = try makeImageFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("train/class_zz_empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        var m = errorMessage { try Dataset.open(dir) }
        #expect(m?.contains("class_zz_empty") == true && m?.contains("at least one") == true && m?.contains("\n") == false, "\(m ?? "no error")")
        try FileManager.default.removeItem(at: empty)
        // A split with no images: val/ exists but holds nothing.
        let val = dir.appendingPathComponent("val")
        try FileManager.default.moveItem(at: val, to: dir.appendingPathComponent("val-moved"))
        try FileManager.default.createDirectory(at: val, withIntermediateDirectories: true)
        m = errorMessage { try Dataset.open(dir) }
        #expect(m?.contains("/val") == true && m?.contains("\n") == false, "\(m ?? "no error")")
        try FileManager.default.removeItem(at: val)
        try FileManager.default.moveItem(at: dir.appendingPathComponent("val-moved"), to: val)
        // A truncated JPEG and a .png that is not a PNG.
        let classDir = dir.appendingPathComponent("train/class_01")
        let jpeg = try FileManager.default.contentsOfDirectory(atPath: classDir.path).sorted().first { $0.hasSuffix(".jpg") }!
        let full = try Data(contentsOf: classDir.appendingPathComponent(jpeg))
        try full.prefix(full.count / 2).write(to: classDir.appendingPathComponent("cut.jpg"))
        try Data("not a png at all".utf8).write(to: classDir.appendingPathComponent("fake.png"))
        let d = try Dataset.open(dir)
        guard case let .files(list) = d.train else { Issue.record("not files"); return }
        m = errorMessage { try list.decodeAll(recipe: .imageNet(size: 32), skipBad: false) }
        #expect(m?.contains("cut.jpg") == true && m?.contains("truncated") == true && m?.contains("\n") == false, "\(m ?? "no error")")
        let (images, skipped) = try list.decodeAll(recipe: .imageNet(size: 32), skipBad: true)
        #expect(images.count == list.count - 2 && skipped.count == 2)
        #expect(skipped.contains { $0.contains("cut.jpg") } && skipped.contains { $0.contains("fake.png") && $0.contains("expected a PNG, JPEG") })
        // A CIFAR file of the wrong length.
        let cifar = try makeScratchDirectory("cifar-bad")
        defer { try? FileManager.default.removeItem(at: cifar) }
        try ExampleDatasets.writeCIFAR10(EmbeddedPack.load("fashion"), to: cifar, perClass: 1, testPerClass: 1)
        let batch3 = cifar.appendingPathComponent("data_batch_3.bin")
        try (try Data(contentsOf: batch3)).dropLast(100).write(to: batch3)
        m = errorMessage { try Dataset.open(cifar) }
        #expect(m?.contains("data_batch_3.bin") == true && m?.contains("multiple of 3073") == true && m?.contains("\n") == false, "\(m ?? "")")
        // An .npz whose arrays disagree in length.
        let npz = cifar.appendingPathComponent("bad.npz")
        try NPZ.write([("x_train", NPYArray(shape: [5, 4, 4], elements: .uint8([UInt8](repeating: 1, count: 80)))),
                       ("y_train", NPYArray(shape: [4], elements: .int64([0, 1, 0, 1])))], to: npz)
        m = errorMessage { try Dataset.open(npz) }
        #expect(m?.contains("bad.npz") == true && m?.contains("y_train length") == true && m?.contains("\n") == false, "\(m ?? "")")
        // Not a dataset at all, and a missing path.
        m = errorMessage { try Dataset.open(cifar.appendingPathComponent("nothing-here")) }
        #expect(m?.contains("nothing-here") == true)
    }

    @Test("seeded augmentation: the same image, seed and epoch give the same pixels, whatever the batch")
    func augmentation() throws {
        let task = try EmbeddedPack.load("fashion")
        let rgb = task.train.subset(Array(0..<8)).resized(height: 32, width: 32, channels: 3)
        let a = rgb.batch([3, 5], normalization: .unit, augmentation: .cropFlip, epoch: 2, seed: 7)
        let b = rgb.batch([5, 1, 3], normalization: .unit, augmentation: .cropFlip, epoch: 2, seed: 7)
        let plane = 3 * 32 * 32
        let sameImage = Array(a.images.storage[0..<plane]) == Array(b.images.storage[(2 * plane)..<(3 * plane)])
        #expect(sameImage, "image 3 of epoch 2 differs between batches")
        let c = rgb.batch([3, 5], normalization: .unit, augmentation: .cropFlip, epoch: 3, seed: 7)
        #expect(a.images != c.images)
        #expect(rgb.batch([3], normalization: .unit, augmentation: .none, epoch: 2, seed: 7).images
                == rgb.batch([3], normalization: .unit).images)
        // A flip is a flip: applied twice with the same seed, it is undone.
        let image = rgb.image(at: 0)
        let flips = (0..<20).map { Augmentation.flip.apply(image, seed: UInt64($0)) }
        #expect(flips.contains(image) && flips.contains(image.flippedHorizontally()))
    }

    @Test("--train-limit: a stratified seeded subset keeps every class (the pack's files are sorted by class)")
    func trainLimit() throws {
        let labels = (0..<10).flatMap { [Int](repeating: $0, count: 100) }   // sorted by class, like cvdigits
        let idx = stratifiedSubsetIndices(labels: labels, limit: 95, seed: 1)
        #expect(idx.count == 95 && idx == idx.sorted() && Set(idx).count == 95)
        var perClass = [Int](repeating: 0, count: 10)
        for i in idx { perClass[labels[i]] += 1 }
        #expect(perClass.allSatisfy { $0 == 9 || $0 == 10 }, "\(perClass)")
        #expect(stratifiedSubsetIndices(labels: labels, limit: 95, seed: 1) == idx)
        #expect(stratifiedSubsetIndices(labels: labels, limit: 95, seed: 2) != idx)
        // A rare class still gets one.
        let skewed = [Int](repeating: 0, count: 990) + [Int](repeating: 1, count: 10)
        #expect(stratifiedSubsetIndices(labels: skewed, limit: 20, seed: 0).contains { skewed[$0] == 1 })
        let cv = try EmbeddedPack.load("cvdigits").train
        #expect(Set(applyTrainLimit(cv, limit: 1000, seed: 0).labels).count == 10)
        #expect(applyTrainLimit(cv, limit: nil, seed: 0) == cv)
    }
}

@Suite("the prefetching data pipeline")
struct PipelineTests {
    @Test("batches come in order, equal to the source's own, whatever the number of workers; the cache stays within budget")
    func orderAndDeterminism() throws {
        let dir = try makeImageFolder(perClass: 4, testPerClass: 0)
        defer { try? FileManager.default.removeItem(at: dir) }
        guard case let .files(list) = try Dataset.open(dir).train else { Issue.record("not files"); return }
        // 256 px RGB: 192 KB an image, so a 1 MB budget holds 5 of the 40.
        let recipe = ImageRecipe(channels: 3, size: 256)
        let batches = BatchSampler(count: list.count, batchSize: 6, seed: 3).batches(epoch: 1)
        let reference = ImageFolderSource(list: list, recipe: recipe, cacheMB: 0)
        let expected = try batches.map { try reference.batch($0, normalization: .unit, augmentation: .cropFlip, epoch: 1, seed: 9) }
        #expect(reference.cachedBytes == 0)
        for workers in [1, 3] {
            let source = ImageFolderSource(list: list, recipe: recipe, cacheMB: 1)
            for pass in 0..<2 {  // the second pass reads the cached images: same batches
                let p = BatchPrefetcher(source: source, batches: batches, normalization: .unit, augmentation: .cropFlip,
                                        epoch: 1, seed: 9, workers: workers, depth: 2)
                Thread.sleep(forTimeInterval: 0.2)  // several batches ready before the first is taken
                var k = 0
                while let (x, y) = try p.next() {
                    let same = x == expected[k].images && y == expected[k].labels
                    #expect(same, "workers \(workers), pass \(pass), batch \(k)")
                    k += 1
                }
                #expect(k == batches.count)
            }
            #expect(source.cachedBytes > 0 && source.cachedBytes <= 1 << 20, "\(source.cachedBytes)")
        }
        // In memory, the same protocol: LabeledImages is a source too.
        let memory = try list.decodeAll(recipe: ImageRecipe(channels: 3, size: 16), skipBad: false).images
        let p = BatchPrefetcher(source: memory, batches: batches, normalization: .unit, augmentation: .flip, epoch: 2, seed: 1)
        let first = try p.next()
        #expect(first?.images == memory.batch(batches[0], normalization: .unit, augmentation: .flip, epoch: 2, seed: 1).images)
        p.cancel()
    }

    @Test("the prefetcher stays a bounded number of batches ahead of a slow consumer")
    func bounded() throws {
        let images = try EmbeddedPack.load("fashion").train.subset(Array(0..<200))
        let batches = BatchSampler(count: 200, batchSize: 10, seed: 0).batches(epoch: 1)
        let p = BatchPrefetcher(source: images, batches: batches, normalization: .unit, augmentation: .none, epoch: 1, seed: 0,
                                workers: 3, depth: 2)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(p.ready == 2)
        _ = try p.next()
        Thread.sleep(forTimeInterval: 0.2)
        #expect(p.ready == 2)
        var n = 1
        while try p.next() != nil { n += 1 }
        #expect(n == 20 && p.ready == 0)
    }

    @Test("a bad file: the error names it, or with skipBad the next image of its class stands in (deterministically)")
    func badFile() throws {
        let dir = try makeImageFolder(perClass: 3, testPerClass: 1)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("truncated".utf8).write(to: dir.appendingPathComponent("train/class_02/zz_bad.jpg"))
        guard case let .files(list) = try Dataset.open(dir).train else { Issue.record("not files"); return }
        guard let bad = list.files.firstIndex(where: { $0.hasSuffix("zz_bad.jpg") }) else { Issue.record("no zz_bad.jpg"); return }
        let recipe = ImageRecipe(channels: 3, size: 24)
        let strict = BatchPrefetcher(source: ImageFolderSource(list: list, recipe: recipe, cacheMB: 0), batches: [[0], [bad]],
                                     normalization: .unit, augmentation: .none, epoch: 1, seed: 0)
        _ = try strict.next()
        let m = errorMessage { try strict.next() }
        #expect(m?.contains("zz_bad.jpg") == true && m?.contains("\n") == false, "\(m ?? "no error")")
        let lenient = ImageFolderSource(list: list, recipe: recipe, cacheMB: 0, skipBad: true)
        let a = try lenient.batch([bad], normalization: .unit, augmentation: .none, epoch: 1, seed: 0)
        let b = try lenient.batch([bad], normalization: .unit, augmentation: .none, epoch: 1, seed: 0)
        #expect(a.images == b.images && a.labels == [2] && lenient.badFiles.keys.contains(bad))
    }
}
