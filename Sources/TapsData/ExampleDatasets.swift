// TapsData: small colour datasets on disk in every `--data` format, made from the embedded tasks (tinted per class),
// for tests, demos (`taps data example`) and the data-pipeline benchmark.
import Foundation

/// Writers of example datasets in each ``DataFormat``, made from a ``TaskData`` (e.g. the embedded `fashion`):
/// every grey image is tinted with a colour of its class (so colour carries signal) and resized.
///
/// ```swift
/// let task = try EmbeddedPack.load("fashion")
/// try ExampleDatasets.writeImageFolder(task, to: dir, perClass: 8, testPerClass: 2, size: 96, oddSizes: true)
/// ```
public enum ExampleDatasets {
    /// The RGB tint of class `k` (multipliers 0...1).
    static func tint(_ k: Int) -> (Float, Float, Float) {
        let palette: [(Float, Float, Float)] = [(1, 0.3, 0.3), (0.3, 1, 0.3), (0.3, 0.3, 1), (1, 1, 0.3), (1, 0.3, 1),
                                                (0.3, 1, 1), (1, 0.6, 0.2), (0.6, 0.2, 1), (0.2, 0.6, 0.4), (0.9, 0.9, 0.9)]
        return palette[k % palette.count]
    }

    /// Example `index` of `images` tinted by its class and resized to `height x width`: `[3, height, width]` RGB.
    public static func tinted(_ images: LabeledImages, _ index: Int, height: Int, width: Int) -> DecodedImage {
        let grey = images.image(at: index).converted(channels: 1)
        let (r, g, b) = tint(images.labels[index])
        let plane = grey.height * grey.width
        var rgb = [UInt8](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            let v = Float(grey.pixels[i])
            rgb[i] = UInt8(min(255, v * r + 20)); rgb[plane + i] = UInt8(min(255, v * g + 20)); rgb[2 * plane + i] = UInt8(min(255, v * b + 20))
        }
        return DecodedImage(pixels: rgb, channels: 3, height: grey.height, width: grey.width).resized(height: height, width: width)
    }

    /// The first `perClass` examples of each class (in file order).
    static func pick(_ images: LabeledImages, perClass: Int) -> [Int] {
        var taken = [Int](repeating: 0, count: images.classes)
        var out: [Int] = []
        for (i, y) in images.labels.enumerated() where taken[y] < perClass { taken[y] += 1; out.append(i) }
        return out
    }

    /// Writes an ImageFolder: `root/train/<class>/` and (when `testPerClass > 0`) `root/val/<class>/`, class folders
    /// named `class_<k>_<name>`. Files alternate JPEG and PNG; with `oddSizes` every image gets its own size around
    /// `size` (e.g. 96x131, 83x96), else `size x size`. Files are written atomically.
    /// - Returns: the number of files written.
    @discardableResult
    public static func writeImageFolder(_ task: TaskData, to root: URL, perClass: Int, testPerClass: Int, size: Int,
                                        oddSizes: Bool = false, split: Bool = true) throws -> Int {
        var written = 0
        for (splitName, images, n) in [("train", task.train, perClass), ("val", task.test, testPerClass)] where n > 0 {
            let dir = split ? root.appendingPathComponent(splitName) : root
            for (j, i) in pick(images, perClass: n).enumerated() {
                let k = images.labels[i]
                let classDir = dir.appendingPathComponent(String(format: "class_%02d", k))
                try FileManager.default.createDirectory(at: classDir, withIntermediateDirectories: true)
                let h = oddSizes ? size + (j * 37) % (size / 2 + 1) : size, w = oddSizes ? size + (j * 53) % (size / 3 + 1) - (j % 2) * 7 : size
                let image = tinted(images, i, height: max(8, h), width: max(8, w))
                let png = (j % 2 == 1)
                let data = png ? try ImageFile.encodePNG(image) : try ImageFile.encodeJPEG(image, quality: 92)
                let file = classDir.appendingPathComponent("\(splitName)_\(String(format: "%05d", i)).\(png ? "png" : "jpg")")
                try data.write(to: file, options: .atomic)
                written += 1
            }
        }
        return written
    }

    /// Writes the six CIFAR-10 binary files (`data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`) and
    /// `batches.meta.txt`: 32x32 tinted images, the training examples spread over the five batches.
    /// - Precondition: the task has at most 10 classes.
    public static func writeCIFAR10(_ task: TaskData, to dir: URL, perClass: Int, testPerClass: Int) throws {
        precondition(task.classes <= 10, "writeCIFAR10: \(task.classes) classes")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func records(_ images: LabeledImages, _ indices: [Int]) -> Data {
            var out = Data()
            for i in indices {
                out.append(UInt8(images.labels[i]))
                out.append(contentsOf: tinted(images, i, height: 32, width: 32).pixels)
            }
            return out
        }
        let train = pick(task.train, perClass: perClass)
        for b in 0..<5 {
            let part = train.enumerated().filter { $0.offset % 5 == b }.map(\.element)
            try records(task.train, part).write(to: dir.appendingPathComponent("data_batch_\(b + 1).bin"), options: .atomic)
        }
        try records(task.test, pick(task.test, perClass: testPerClass)).write(to: dir.appendingPathComponent("test_batch.bin"), options: .atomic)
        let names = (0..<10).map { String(format: "class_%02d", $0) }.joined(separator: "\n") + "\n"
        try Data(names.utf8).write(to: dir.appendingPathComponent("batches.meta.txt"), options: .atomic)
    }

    /// Writes a Keras-style `.npz` (`x_train` `[N, size, size, 3]` uint8 NHWC, `y_train` int64 `[N]`, `x_test`, `y_test`).
    public static func writeNPZ(_ task: TaskData, to url: URL, perClass: Int, testPerClass: Int, size: Int) throws {
        func arrays(_ images: LabeledImages, _ n: Int) -> (NPYArray, NPYArray) {
            let idx = pick(images, perClass: n)
            var hwc = [UInt8]()
            for i in idx { hwc += ImageFile.interleaved(tinted(images, i, height: size, width: size)) }
            return (NPYArray(shape: [idx.count, size, size, 3], elements: .uint8(hwc)),
                    NPYArray(shape: [idx.count], elements: .int64(idx.map { Int64(images.labels[$0]) })))
        }
        let (xTrain, yTrain) = arrays(task.train, perClass)
        let (xTest, yTest) = arrays(task.test, testPerClass)
        try NPZ.write([("x_train", xTrain), ("y_train", yTrain), ("x_test", xTest), ("y_test", yTest)], to: url)
    }

    /// Writes a CSV with a header (`label,p0,...`) and one row per image: label, then `3*size*size` RGB pixels (CHW).
    /// Training and test examples go into one file (taps holds out a test split).
    public static func writeCSV(_ task: TaskData, to url: URL, perClass: Int, size: Int) throws {
        var text = "label," + (0..<(3 * size * size)).map { "p\($0)" }.joined(separator: ",") + "\n"
        for i in pick(task.train, perClass: perClass) {
            text += "\(task.train.labels[i])," + tinted(task.train, i, height: size, width: size).pixels.map(String.init).joined(separator: ",") + "\n"
        }
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}
