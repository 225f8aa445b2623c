// TapsData: a user's dataset opened from `--data PATH`: its format, class names and train/test splits,
// either in memory (CIFAR, NPZ/NPY, CSV, IDX) or as a list of image files (ImageFolder, decoded later).
import Foundation
import TapsTensor

/// A list of labelled image files (an ImageFolder split), not yet decoded.
public struct ImageList: Sendable, Equatable {
    /// Absolute file paths, in torchvision's order (classes sorted, files sorted within each class).
    public var files: [String]
    /// Class index of each file.
    public var labels: [Int]
    /// Number of classes of the dataset.
    public var classes: Int

    /// Creates a list. - Precondition: `files.count == labels.count`.
    public init(files: [String], labels: [Int], classes: Int) {
        precondition(files.count == labels.count, "ImageList: \(files.count) files, \(labels.count) labels")
        self.files = files; self.labels = labels; self.classes = classes
    }

    /// Number of images.
    public var count: Int { files.count }

    /// The files at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageList {
        ImageList(files: indices.map { files[$0] }, labels: indices.map { labels[$0] }, classes: classes)
    }
}

/// One split of a dataset: decoded images in memory, or image files.
public enum DatasetSplit: Sendable, Equatable {
    /// Decoded images (CIFAR, arrays, CSV, IDX).
    case memory(LabeledImages)
    /// Image files, decoded when used (ImageFolder).
    case files(ImageList)

    /// Number of examples.
    public var count: Int {
        switch self {
        case let .memory(m): return m.count
        case let .files(f): return f.count
        }
    }

    /// Class index of each example.
    public var labels: [Int] {
        switch self {
        case let .memory(m): return m.labels
        case let .files(f): return f.labels
        }
    }
}

/// A dataset opened from disk (``open(_:format:cifarCoarse:)``): what ``DataFormat`` it is, its classes and splits.
///
/// ```swift
/// let d = try Dataset.open(URL(fileURLWithPath: "flowers"))   // ImageFolder: train/ and val/
/// print(d.format, d.classNames, d.train.count, d.test.count)
/// ```
public struct Dataset: Sendable {
    /// The fraction of each class held out as the test split when a dataset has no test split of its own.
    public static let heldOutTestFraction = 0.2
    /// The seed of that hold-out: fixed, so that every run and `taps eval` see the same test split.
    public static let heldOutSeed: UInt64 = 0

    /// The detected (or forced) format.
    public var format: DataFormat
    /// The path given.
    public var path: String
    /// How the pixels were stored, e.g. `uint8 NHWC`, `float32 NCHW in [0, 1] (scaled by 255)`.
    public var layout: String
    /// Class names, index = label.
    public var classNames: [String]
    /// The training split (validation is held out from it later, by `trainValidationSplit`).
    public var train: DatasetSplit
    /// The test split.
    public var test: DatasetSplit
    /// Where the test split came from: `val/`, `test/`, `test_batch.bin`, or the seeded hold-out.
    public var testSource: String
    /// For a held-out test split: the test files (ImageFolder) or the indices into the original training data.
    public var heldOut: [String]?
    /// Lines worth telling the user (layout detected, split made, ...).
    public var notes: [String] = []

    /// Number of classes.
    public var classes: Int { classNames.count }

    /// Opens the dataset at `url`.
    /// - Parameters:
    ///   - format: nil detects it (``DataFormat/detect(_:)``).
    ///   - cifarCoarse: CIFAR-100's 20 coarse labels instead of the 100 fine ones (same as `format: .cifar100Coarse`).
    /// - Throws: ``DatasetError`` naming the file, the field and what was expected (an empty class folder, a
    ///   split with no images, a file of the wrong length, arrays that disagree, ...).
    public static func open(_ url: URL, format: DataFormat? = nil, cifarCoarse: Bool = false) throws -> Dataset {
        let detected = try format ?? DataFormat.detect(url)
        var root = url
        for inner in ["cifar-10-batches-bin", "cifar-100-binary"]
        where FileManager.default.fileExists(atPath: url.appendingPathComponent(inner).path) {
            root = url.appendingPathComponent(inner)
        }
        switch detected {
        case .imageFolder: return try openImageFolder(url)
        case .cifar10: return try openCIFAR10(root)
        case .cifar100, .cifar100Coarse: return try openCIFAR100(root, coarse: cifarCoarse || detected == .cifar100Coarse)
        case .npz: return try openArrays(url, arrays: NPZ.read(url), kind: .npz)
        case .npy: return try openArrays(url, arrays: readNPYFolder(url), kind: .npy)
        case .csv: return try openCSV(url)
        case .idx: return try openIDX(url)
        }
    }

    // MARK: - ImageFolder

    /// File extensions of ImageFolder images (case-insensitive), a subset of torchvision's `IMG_EXTENSIONS`.
    public static let imageExtensions = ["jpg", "jpeg", "png"]

    static func openImageFolder(_ url: URL) throws -> Dataset {
        let fm = FileManager.default
        func isDirectory(_ u: URL) -> Bool {
            var d: ObjCBool = false
            return fm.fileExists(atPath: u.path, isDirectory: &d) && d.boolValue
        }
        let trainDir = url.appendingPathComponent("train")
        if isDirectory(trainDir) {
            let classNames = try classFolders(trainDir)
            let train = try scan(trainDir, classNames: classNames, requireAll: true)
            for name in ["val", "test"] {
                let dir = url.appendingPathComponent(name)
                guard isDirectory(dir) else { continue }
                let test = try scan(dir, classNames: classNames, requireAll: false)
                var d = Dataset(format: .imageFolder, path: url.path, layout: "JPEG/PNG files", classNames: classNames,
                                train: .files(train), test: .files(test), testSource: "\(name)/")
                let missing = classNames.filter { !fm.fileExists(atPath: dir.appendingPathComponent($0).path) }
                if !missing.isEmpty {
                    d.notes.append("\(dir.path): no folder for \(missing.count) of \(classNames.count) classes (\(missing.prefix(5).joined(separator: ", ")))")
                }
                return d
            }
            var d = try heldOutSplit(train, root: url, classNames: classNames)
            d.notes.insert("\(url.path): train/ has no val/ or test/ beside it", at: 0)
            return d
        }
        let classNames = try classFolders(url)
        return try heldOutSplit(scan(url, classNames: classNames, requireAll: true), root: url, classNames: classNames)
    }

    private static func heldOutSplit(_ all: ImageList, root: URL, classNames: [String]) throws -> Dataset {
        let (trainIdx, testIdx) = stratifiedHoldOut(labels: all.labels, classes: classNames.count,
                                                    fraction: heldOutTestFraction, seed: heldOutSeed)
        let test = all.subset(testIdx)
        var d = Dataset(format: .imageFolder, path: root.path, layout: "JPEG/PNG files", classNames: classNames,
                        train: .files(all.subset(trainIdx)), test: .files(test),
                        testSource: "held out: \(Int(heldOutTestFraction * 100))% of each class, seed \(heldOutSeed)")
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        d.heldOut = test.files.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
        d.notes.append("no test split: held out \(test.count) of \(all.count) images (\(Int(heldOutTestFraction * 100))% of each class, seed \(heldOutSeed)) as test")
        return d
    }

    /// Sub-folders of `dir`, sorted as torchvision's `find_classes` sorts them (Python `sorted`: by code point).
    /// - Throws: ``DatasetError`` when there are none.
    static func classFolders(_ dir: URL) throws -> [String] {
        let fm = FileManager.default
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: dir.path) } catch {
            throw DatasetError.unreadable(file: dir.path, reason: (error as NSError).localizedDescription)
        }
        let folders = entries.filter { name in
            var d: ObjCBool = false
            return fm.fileExists(atPath: dir.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
        }.sorted(by: pythonOrder)
        guard !folders.isEmpty else {
            throw DatasetError.malformed(file: dir.path, field: "class folders", expected: "one sub-folder per class (ImageFolder)",
                                         found: "none")
        }
        return folders
    }

    /// Python's `str` order: lexicographic by Unicode code point.
    static func pythonOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.map(\.value).lexicographicallyPrecedes(b.unicodeScalars.map(\.value))
    }

    /// The images of `dir/<class>/**` (torchvision `make_dataset`: files found recursively, sorted).
    /// - Parameter requireAll: every class must have a folder (train); otherwise missing folders are allowed.
    /// - Throws: ``DatasetError`` for a class folder with no image, a folder not among the classes, or no image at all.
    static func scan(_ dir: URL, classNames: [String], requireAll: Bool) throws -> ImageList {
        let fm = FileManager.default
        var files: [String] = [], labels: [Int] = []
        if !requireAll {
            let extra = try classFolders(dir).filter { !classNames.contains($0) }
            if let first = extra.first {
                throw DatasetError.malformed(file: dir.appendingPathComponent(first).path, field: "class folder",
                                             expected: "one of the \(classNames.count) classes of train/", found: "'\(first)'")
            }
        }
        for (label, name) in classNames.enumerated() {
            let classDir = dir.appendingPathComponent(name)
            guard fm.fileExists(atPath: classDir.path) else { continue }
            var found: [String] = []
            if let walker = fm.enumerator(at: classDir, includingPropertiesForKeys: [.isRegularFileKey]) {
                for case let file as URL in walker
                where imageExtensions.contains(file.pathExtension.lowercased()) {
                    found.append(file.path)
                }
            }
            guard !found.isEmpty else {
                throw DatasetError.malformed(file: classDir.path, field: "class folder",
                                             expected: "at least one .jpg, .jpeg or .png image", found: "none")
            }
            found.sort(by: pythonOrder)
            files += found
            labels += [Int](repeating: label, count: found.count)
        }
        guard !files.isEmpty else {
            throw DatasetError.malformed(file: dir.path, field: "images", expected: "<class>/*.jpg|jpeg|png files", found: "none")
        }
        return ImageList(files: files, labels: labels, classes: classNames.count)
    }

    // MARK: - CIFAR

    static func openCIFAR10(_ dir: URL) throws -> Dataset {
        func file(_ name: String) throws -> URL {
            for candidate in [name, name + ".gz"] {
                let u = dir.appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: u.path) { return u }
            }
            throw DatasetError.unreadable(file: dir.appendingPathComponent(name).path,
                                          reason: "missing (CIFAR-10 needs data_batch_1.bin ... data_batch_5.bin and test_batch.bin)")
        }
        let train = try CIFAR10.read((1...5).map { try file("data_batch_\($0).bin") })
        let test = try CIFAR10.read([file("test_batch.bin")])
        let names = readNames(dir.appendingPathComponent("batches.meta.txt"), count: 10) ?? CIFAR10.classNames
        return Dataset(format: .cifar10, path: dir.path, layout: "uint8 CHW records (1 label + 3072 bytes)",
                       classNames: names, train: .memory(train), test: .memory(test), testSource: "test_batch.bin")
    }

    static func openCIFAR100(_ dir: URL, coarse: Bool) throws -> Dataset {
        func read(_ name: String) throws -> LabeledImages {
            let url = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw DatasetError.unreadable(file: url.path, reason: "missing (CIFAR-100 needs train.bin and test.bin)")
            }
            return try CIFAR10.read100(url, coarse: coarse)
        }
        let k = coarse ? 20 : 100
        let names = readNames(dir.appendingPathComponent(coarse ? "coarse_label_names.txt" : "fine_label_names.txt"), count: k)
            ?? (0..<k).map(String.init)
        return Dataset(format: coarse ? .cifar100Coarse : .cifar100, path: dir.path,
                       layout: "uint8 CHW records (2 labels + 3072 bytes), \(coarse ? "coarse" : "fine") labels",
                       classNames: names, train: .memory(try read("train.bin")), test: .memory(try read("test.bin")),
                       testSource: "test.bin")
    }

    /// `count` non-empty lines of a names file, or nil when it is missing or has another count.
    static func readNames(_ url: URL, count: Int) -> [String]? {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return names.count == count ? names : nil
    }

    // MARK: - Arrays (.npz, folder of .npy)

    enum ArrayKind { case npz, npy }

    static func readNPYFolder(_ dir: URL) throws -> [String: NPYArray] {
        var arrays: [String: NPYArray] = [:]
        for name in ["x_train", "y_train", "x_test", "y_test"] {
            for candidate in [name + ".npy", name + ".npy.gz"] {
                let u = dir.appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: u.path) { arrays[name] = try NPY.read(u); break }
            }
        }
        return arrays
    }

    static func openArrays(_ url: URL, arrays: [String: NPYArray], kind: ArrayKind) throws -> Dataset {
        func where_(_ name: String) -> String { kind == .npz ? "\(url.path)[\(name)]" : url.appendingPathComponent(name + ".npy").path }
        guard let xTrain = arrays["x_train"], let yTrain = arrays["y_train"] else {
            throw DatasetError.malformed(file: url.path, field: "arrays", expected: "x_train and y_train (Keras layout; x_test, y_test optional)",
                                         found: arrays.isEmpty ? "none" : arrays.keys.sorted().joined(separator: ", "))
        }
        let (trainPixels, layout) = try imageArray(xTrain, source: where_("x_train"))
        let trainLabels = try labelArray(yTrain, source: where_("y_train"))
        try checkLengths(images: trainPixels.n, labels: trainLabels.count, url: url, x: "x_train", y: "y_train", kind: kind)
        var testPixels: (pixels: [UInt8], n: Int, c: Int, h: Int, w: Int)?
        var testLabels: [Int] = []
        if let xTest = arrays["x_test"], let yTest = arrays["y_test"] {
            let (t, _) = try imageArray(xTest, source: where_("x_test"))
            testLabels = try labelArray(yTest, source: where_("y_test"))
            try checkLengths(images: t.n, labels: testLabels.count, url: url, x: "x_test", y: "y_test", kind: kind)
            guard (t.c, t.h, t.w) == (trainPixels.c, trainPixels.h, trainPixels.w) else {
                throw DatasetError.malformed(file: where_("x_test"), field: "image shape",
                                             expected: "\(trainPixels.c)x\(trainPixels.h)x\(trainPixels.w) (as x_train)",
                                             found: "\(t.c)x\(t.h)x\(t.w)")
            }
            testPixels = t
        } else if (arrays["x_test"] == nil) != (arrays["y_test"] == nil) {
            throw DatasetError.malformed(file: url.path, field: "arrays", expected: "both x_test and y_test, or neither",
                                         found: arrays["x_test"] == nil ? "y_test only" : "x_test only")
        }
        let classes = ((trainLabels + testLabels).max() ?? 0) + 1
        let train = try LabeledImages(pixels: trainPixels.pixels, labels: trainLabels, channels: trainPixels.c,
                                      height: trainPixels.h, width: trainPixels.w, classes: classes, source: where_("y_train"))
        let format: DataFormat = kind == .npz ? .npz : .npy
        let names = (0..<classes).map(String.init)
        if let t = testPixels {
            let test = try LabeledImages(pixels: t.pixels, labels: testLabels, channels: t.c, height: t.h, width: t.w,
                                         classes: classes, source: where_("y_test"))
            return Dataset(format: format, path: url.path, layout: layout, classNames: names, train: .memory(train),
                           test: .memory(test), testSource: "x_test, y_test")
        }
        return heldOutMemory(train, format: format, path: url.path, layout: layout, classNames: names)
    }

    private static func checkLengths(images: Int, labels: Int, url: URL, x: String, y: String, kind: ArrayKind) throws {
        guard images == labels else {
            let file = kind == .npz ? url.path : url.appendingPathComponent(y + ".npy").path
            throw DatasetError.malformed(file: file, field: "\(y) length", expected: "\(images) (one label per image of \(x))",
                                         found: "\(labels)")
        }
    }

    private static func heldOutMemory(_ all: LabeledImages, format: DataFormat, path: String, layout: String,
                                      classNames: [String]) -> Dataset {
        let (trainIdx, testIdx) = stratifiedHoldOut(labels: all.labels, classes: all.classes,
                                                    fraction: heldOutTestFraction, seed: heldOutSeed)
        var d = Dataset(format: format, path: path, layout: layout, classNames: classNames, train: .memory(all.subset(trainIdx)),
                        test: .memory(all.subset(testIdx)),
                        testSource: "held out: \(Int(heldOutTestFraction * 100))% of each class, seed \(heldOutSeed)")
        d.heldOut = testIdx.map(String.init)
        d.notes.append("no test split: held out \(testIdx.count) of \(all.count) images (\(Int(heldOutTestFraction * 100))% of each class, seed \(heldOutSeed)) as test")
        return d
    }

    /// Image pixels from an array: `[N, H, W]` (grey), `[N, H, W, C]` (NHWC) or `[N, C, H, W]` (NCHW) with C 1 or 3,
    /// uint8, integers 0...255 or floats (in [0, 1]: scaled by 255; else 0...255). Returns CHW pixels and a layout line.
    static func imageArray(_ a: NPYArray, source: String) throws -> ((pixels: [UInt8], n: Int, c: Int, h: Int, w: Int), String) {
        let s = a.shape
        var n = 0, c = 1, h = 0, w = 0, nchw = false
        switch s.count {
        case 3: (n, h, w) = (s[0], s[1], s[2])
        case 4:
            let lastIsChannel = s[3] == 1 || s[3] == 3, secondIsChannel = s[1] == 1 || s[1] == 3
            if lastIsChannel { (n, h, w, c) = (s[0], s[1], s[2], s[3]) }  // NHWC (Keras), also when ambiguous
            else if secondIsChannel { (n, c, h, w) = (s[0], s[1], s[2], s[3]); nchw = true }
            else {
                throw DatasetError.malformed(file: source, field: "shape", expected: "[N, H, W, C] or [N, C, H, W] with C 1 or 3",
                                             found: "\(s)")
            }
        default:
            throw DatasetError.malformed(file: source, field: "shape", expected: "[N, H, W], [N, H, W, C] or [N, C, H, W]",
                                         found: "\(s)")
        }
        guard h > 0, w > 0 else {
            throw DatasetError.malformed(file: source, field: "shape", expected: "positive image sizes", found: "\(s)")
        }
        var values: [UInt8]
        var kind: String
        switch a.elements {
        case let .uint8(v): values = v; kind = "uint8"
        case let .int64(v):
            if let bad = v.firstIndex(where: { $0 < 0 || $0 > 255 }) {
                throw DatasetError.malformed(file: source, field: "pixel \(bad)", expected: "0...255", found: "\(v[bad])")
            }
            values = v.map { UInt8($0) }; kind = "integer"
        case .float32, .float64:
            let f = a.floats
            if let bad = f.firstIndex(where: { !$0.isFinite }) {
                throw DatasetError.malformed(file: source, field: "pixel \(bad)", expected: "a finite number", found: "\(f[bad])")
            }
            let unit = (f.max() ?? 0) <= 1.0001
            let scale: Float = unit ? 255 : 1
            values = f.map { UInt8(min(max(($0 * scale).rounded(), 0), 255)) }
            kind = "\(a.descr == "<f4" ? "float32" : "float64") in \(unit ? "[0, 1] (scaled by 255)" : "[0, 255]")"
        }
        if c == 3 && !nchw {
            var chw = [UInt8](repeating: 0, count: values.count)
            let plane = h * w
            values.withUnsafeBufferPointer { src in
                chw.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n {
                        let sBase = i * plane * 3
                        for p in 0..<plane { for k in 0..<3 { dst[sBase + k * plane + p] = src[sBase + p * 3 + k] } }
                    }
                }
            }
            values = chw
        }
        let layout = s.count == 3 ? "\(kind) [N, H, W] (grey)" : "\(kind) \(nchw ? "NCHW" : "NHWC") (detected from shape \(s))"
        return ((values, n, c, h, w), layout)
    }

    /// Labels from an array `[N]` or `[N, 1]` of non-negative integers (any integer dtype, or integral floats).
    static func labelArray(_ a: NPYArray, source: String) throws -> [Int] {
        guard a.shape.count == 1 || (a.shape.count == 2 && a.shape[1] == 1) else {
            throw DatasetError.malformed(file: source, field: "shape", expected: "[N] or [N, 1] class indices", found: "\(a.shape)")
        }
        let values: [Int]
        switch a.elements {
        case let .uint8(v): values = v.map(Int.init)
        case let .int64(v):
            values = v.map { Int($0) }
        case .float32, .float64:
            let f = a.floats
            if let bad = f.firstIndex(where: { !$0.isFinite || $0 != $0.rounded() || $0 < 0 || $0 > 1e6 }) {
                throw DatasetError.malformed(file: source, field: "label \(bad)", expected: "a class index", found: "\(f[bad])")
            }
            values = f.map { Int($0) }
        }
        if let bad = values.firstIndex(where: { $0 < 0 || $0 > 1_000_000 }) {
            throw DatasetError.malformed(file: source, field: "label \(bad)", expected: "a class index 0...1000000", found: "\(values[bad])")
        }
        return values
    }

    // MARK: - CSV

    static func openCSV(_ url: URL) throws -> Dataset {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            func file(_ name: String) -> URL? {
                [name, name + ".gz"].map { url.appendingPathComponent($0) }.first { FileManager.default.fileExists(atPath: $0.path) }
            }
            guard let trainURL = file("train.csv") else {
                throw DatasetError.unreadable(file: url.appendingPathComponent("train.csv").path, reason: "missing")
            }
            let (train, layout) = try readCSV(trainURL)
            if let testURL = file("test.csv") {
                let (test, _) = try readCSV(testURL)
                guard test.imageShape == train.imageShape else {
                    throw DatasetError.malformed(file: testURL.path, field: "pixel columns", expected: "\(train.imageSize) (as train.csv)",
                                                 found: "\(test.imageSize)")
                }
                let k = max(train.classes, test.classes)
                let names = (0..<k).map(String.init)
                return Dataset(format: .csv, path: url.path, layout: layout, classNames: names,
                               train: .memory(try train.relabeled(classes: k) { $0 }),
                               test: .memory(try test.relabeled(classes: k) { $0 }), testSource: "test.csv")
            }
            return heldOutMemory(train, format: .csv, path: url.path, layout: layout, classNames: (0..<train.classes).map(String.init))
        }
        let (all, layout) = try readCSV(url)
        return heldOutMemory(all, format: .csv, path: url.path, layout: layout, classNames: (0..<all.classes).map(String.init))
    }

    /// Reads a CSV of images, inferring the label column from a header (`label`, `class`, `y`, `target` last
    /// means label last; otherwise first) and the image shape from the pixel count (`s*s` grey or `3*s*s` RGB CHW).
    static func readCSV(_ url: URL) throws -> (LabeledImages, String) {
        let data = try readMaybeGzip(url)
        let firstLine = String(decoding: data.prefix(1 << 20).prefix { $0 != 0x0A }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let fields = firstLine.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"\t")).lowercased() }
        guard fields.count >= 2 else {
            throw DatasetError.malformed(file: "\(url.path):1", field: "columns", expected: "a label and pixel columns",
                                         found: "\(fields.count) column\(fields.count == 1 ? "" : "s")")
        }
        let header = Int(fields[0]) == nil || fields.contains { Double($0) == nil }
        let labelNames: Set<String> = ["label", "labels", "class", "y", "target"]
        let labelLast = header && labelNames.contains(fields[fields.count - 1]) && !labelNames.contains(fields[0])
        let pixels = fields.count - 1
        let grey = Int(Double(pixels).squareRoot().rounded()), rgb = Int((Double(pixels) / 3).squareRoot().rounded())
        let (c, side): (Int, Int)
        if grey * grey == pixels { (c, side) = (1, grey) }
        else if 3 * rgb * rgb == pixels { (c, side) = (3, rgb) }
        else {
            throw DatasetError.malformed(file: "\(url.path):1", field: "pixel columns",
                                         expected: "s*s (grey) or 3*s*s (RGB, CHW) pixels besides the label", found: "\(pixels)")
        }
        let images = try CSVImages.parse(data, source: url.path, height: side, width: side, channels: c,
                                         labelColumn: labelLast ? .last : .first)
        let layout = "CSV, \(header ? "header" : "no header"), label \(labelLast ? "last" : "first"), \(c)x\(side)x\(side) pixels"
        return (images, layout)
    }

    // MARK: - IDX

    static func openIDX(_ dir: URL) throws -> Dataset {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        func find(_ split: [String], _ kind: String, _ rank: String) throws -> URL {
            guard let name = names.first(where: { n in split.contains { n.contains("\($0)-\(kind)") } && n.contains(rank) }) else {
                throw DatasetError.unreadable(file: dir.appendingPathComponent("\(split[0])-\(kind)-\(rank)-ubyte.gz").path,
                                              reason: "missing (IDX needs train and t10k/test images and labels)")
            }
            return dir.appendingPathComponent(name)
        }
        let task = try TaskData.load(trainImages: find(["train"], "images", "idx3"), trainLabels: find(["train"], "labels", "idx1"),
                                     testImages: find(["t10k", "test"], "images", "idx3"), testLabels: find(["t10k", "test"], "labels", "idx1"),
                                     name: dir.lastPathComponent)
        return Dataset(format: .idx, path: dir.path, layout: "IDX uint8 [N, H, W] (grey)",
                       classNames: (0..<task.classes).map(String.init), train: .memory(task.train), test: .memory(task.test),
                       testSource: "t10k/test files")
    }
}

/// A stratified, seeded split of example indices: per class `round(fraction * n)` (at least 1 when the class has
/// 2 or more) to the second part. Both parts keep the original order.
public func stratifiedHoldOut(labels: [Int], classes: Int, fraction: Double, seed: UInt64) -> (keep: [Int], heldOut: [Int]) {
    var byClass = [[Int]](repeating: [], count: max(classes, (labels.max() ?? -1) + 1))
    for (i, y) in labels.enumerated() where y >= 0 { byClass[y].append(i) }
    var rng = SeededRNG(seed: seed)
    var held = [Bool](repeating: false, count: labels.count)
    for members in byClass where !members.isEmpty {
        var take = Int((fraction * Double(members.count)).rounded())
        if fraction > 0, members.count >= 2 { take = max(take, 1) }
        take = min(take, members.count - (members.count >= 2 ? 1 : 0))
        for k in rng.permutation(members.count).prefix(take) { held[members[k]] = true }
    }
    return ((0..<labels.count).filter { !held[$0] }, (0..<labels.count).filter { held[$0] })
}
