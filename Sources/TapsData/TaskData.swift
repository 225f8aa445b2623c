// TapsData: a task is a named train/test pair of labelled image sets.
import Foundation

/// One classification task: training and test images with their class count.
///
/// Model selection uses a split of `train` (``trainValidationSplit(_:validationFraction:seed:)``); `test`
/// is only for the final report.
public struct TaskData: Sendable, Equatable {
    /// Task name, e.g. `mnist5k` or `mnist-rot90`.
    public var name: String
    /// Number of classes; labels are in `0..<classes`.
    public var classes: Int
    /// Training examples `[N, C, H, W]`.
    public var train: LabeledImages
    /// Held-out test examples, same image shape as `train`.
    public var test: LabeledImages
    /// One line on the source and licence of the data.
    public var description: String
    /// Lines to tell the user about how the data was read and adapted (held-out split, colour conversion,
    /// skipped files); the trainer reports each as a notice.
    public var notes: [String] = []

    /// Creates a task; `train` and `test` must share image shape and class count.
    /// - Throws: ``DatasetError/malformed(file:field:expected:found:)`` when they differ.
    public init(name: String, classes: Int, train: LabeledImages, test: LabeledImages, description: String) throws {
        guard train.imageShape == test.imageShape else {
            throw DatasetError.malformed(file: name, field: "test image shape", expected: "\(train.imageShape) (as train)",
                                         found: "\(test.imageShape)")
        }
        guard train.classes == classes, test.classes == classes else {
            throw DatasetError.malformed(file: name, field: "classes", expected: "\(classes)",
                                         found: "train \(train.classes), test \(test.classes)")
        }
        self.name = name
        self.classes = classes
        self.train = train
        self.test = test
        self.description = description
    }

    /// Loads a task from four IDX files (raw or gzip), single-channel images.
    ///
    /// - Parameters:
    ///   - classes: the class count; `nil` infers `max label + 1` over train and test.
    /// - Throws: ``DatasetError`` for unreadable or malformed files, image/label count mismatch,
    ///   train/test image size mismatch, or a label `>= classes`.
    public static func load(trainImages: URL, trainLabels: URL, testImages: URL, testLabels: URL, name: String,
                            classes: Int? = nil, description: String = "") throws -> TaskData {
        let train = try readPair(images: trainImages, labels: trainLabels)
        let test = try readPair(images: testImages, labels: testLabels)
        guard train.images.rows == test.images.rows, train.images.cols == test.images.cols else {
            throw DatasetError.malformed(file: testImages.path, field: "image size",
                                         expected: "\(train.images.rows)x\(train.images.cols) (as \(trainImages.lastPathComponent))",
                                         found: "\(test.images.rows)x\(test.images.cols)")
        }
        let inferred = (train.labels + test.labels).map(Int.init).max().map { $0 + 1 } ?? 1
        let k = classes ?? inferred
        func make(_ pair: (images: IDX.Images, labels: [UInt8]), _ labelsURL: URL) throws -> LabeledImages {
            try LabeledImages(pixels: pair.images.pixels, labels: pair.labels.map(Int.init), channels: 1,
                              height: pair.images.rows, width: pair.images.cols, classes: k, source: labelsURL.path)
        }
        return try TaskData(name: name, classes: k, train: make(train, trainLabels), test: make(test, testLabels),
                            description: description)
    }

    private static func readPair(images: URL, labels: URL) throws -> (images: IDX.Images, labels: [UInt8]) {
        let x = try IDX.readImages(images)
        let y = try IDX.readLabels(labels)
        guard x.count == y.count else {
            throw DatasetError.countMismatch(images: images.path, labels: labels.path, imageCount: x.count, labelCount: y.count)
        }
        return (x, y)
    }
}

extension Dataset {
    /// A task name for a dataset path: its last component without `.npz`, `.csv`, `.gz` (e.g. `flowers`, `mnist`).
    public static func displayName(for path: String) -> String {
        var name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        for suffix in [".gz", ".npz", ".csv"] where name.lowercased().hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
        return name.isEmpty ? "data" : name
    }
}
