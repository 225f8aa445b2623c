// TapsTraining: where a task's data comes from: the embedded pack, or IDX files of the user's own.
import Foundation
import TapsData

/// Loads task `name` from the embedded pack, or, with `dataDirectory`, from the user's IDX files
/// `<dir>/<name>-{train,test}-{images-idx3,labels-idx1}-ubyte[.gz]` (gzip or raw, MNIST layout).
/// - Throws: `ConfigError.unknownTask` listing the embedded tasks; `DatasetError` (one line naming the
///   file, the field and what was expected) for a missing or malformed file.
public func loadTask(_ name: String, dataDirectory: String? = nil) throws -> TaskData {
    guard let dataDirectory else {
        do {
            return try EmbeddedPack.load(name)
        } catch DatasetError.unknownTask {
            throw ConfigError.unknownTask(name, known: EmbeddedPack.taskNames)
        }
    }
    let dir = URL(fileURLWithPath: dataDirectory)
    func file(_ part: String) throws -> URL {
        let gz = dir.appendingPathComponent("\(name)-\(part)-ubyte.gz")
        let raw = dir.appendingPathComponent("\(name)-\(part)-ubyte")
        if FileManager.default.fileExists(atPath: gz.path) { return gz }
        if FileManager.default.fileExists(atPath: raw.path) { return raw }
        throw DatasetError.unreadable(file: gz.path, reason: "no such file (nor \(raw.lastPathComponent))")
    }
    return try TaskData.load(trainImages: file("train-images-idx3"), trainLabels: file("train-labels-idx1"),
                             testImages: file("test-images-idx3"), testLabels: file("test-labels-idx1"),
                             name: name, description: "IDX files in \(dataDirectory)")
}

// MARK: - Your own data (`--data`)

/// The task of a single run: `config.dataPath` when set (the user's dataset, read in any ``DataFormat``),
/// otherwise `config.task` from the embedded pack or `config.dataDirectory`; brought to the base's input by
/// ``BaseModel/prepare(_:)`` (size, channels), with what was done in ``TaskData/notes``.
///
/// When the dataset had no test split of its own, the held-out test files are listed in
/// `config.outputDirectory/data-split.json` (if `recordSplit`).
/// - Throws: `ConfigError` for an unknown task or format; `DatasetError` naming the file for unreadable or
///   malformed data (a bad image unless `config.skipBad`).
public func loadTask(config: TrainingConfig, base: BaseModel, recordSplit: Bool = true) throws -> TaskData {
    guard let path = config.dataPath else { return try loadTask(config.task, config: config, base: base) }
    return try loadDataset(path, name: config.task, config: config, base: base,
                           recordSplitIn: recordSplit ? config.outputDirectory : nil)
}

/// One task of a suite: an embedded task name (or, with `config.dataDirectory`, the name of IDX files there), or
/// the path of a dataset (any ``DataFormat``).
/// - Throws: `ConfigError.unknownTask` when `name` is neither; reader errors as ``loadTask(config:base:recordSplit:)``.
public func loadTask(_ name: String, config: TrainingConfig, base: BaseModel) throws -> TaskData {
    if config.dataDirectory != nil || EmbeddedPack.taskNames.contains(name) || !FileManager.default.fileExists(atPath: name) {
        return try base.prepare(loadTask(name, dataDirectory: config.dataDirectory))
    }
    return try loadDataset(name, name: Dataset.displayName(for: name), config: config, base: base, recordSplitIn: nil)
}

/// Opens the dataset at `path` (format forced by `config.dataFormat` or detected) and brings it to `base`.
func loadDataset(_ path: String, name: String, config: TrainingConfig, base: BaseModel, recordSplitIn folder: String?) throws -> TaskData {
    let dataset = try openDataset(path, config: config)
    let task = try base.taskData(from: dataset, name: name, skipBad: config.skipBad ?? false)
    try recordHeldOutSplit(of: dataset, in: folder)
    return task
}

/// Writes `folder/data-split.json` naming the test files held out of a dataset without a test split of its own.
func recordHeldOutSplit(of dataset: Dataset, in folder: String?) throws {
    if let folder, let heldOut = dataset.heldOut {
        let record: [String: String] = [
            "data": dataset.path, "format": dataset.format.rawValue, "test": dataset.testSource,
            "test_items": heldOut.joined(separator: "\n"),
        ]
        let dir = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try writeAtomically(try makeJSONEncoder().encode(record), to: dir.appendingPathComponent("data-split.json"))
    }
}

// MARK: - The splits of one run

/// The three splits a single-task run trains, selects and tests on, at the base's input. In memory for the embedded
/// tasks and array formats; lazy ``ImageFolderSource``s for an ImageFolder (decoded on worker threads as batches are
/// needed, cached up to `--cache-mb`), so a dataset larger than memory trains with bounded memory.
public struct RunData {
    /// Task name.
    public var name: String
    /// Classes; labels are in `0..<classes`.
    public var classes: Int
    /// Training part of the training split (after the validation hold-out and `--train-limit`).
    public var train: any ImageBatchSource
    /// Validation hold-out of the training split (model selection).
    public var validation: any ImageBatchSource
    /// Test split.
    public var test: any ImageBatchSource
    /// Where the data came from (one line).
    public var description: String
    /// What reading and adapting the data did that a user should know (each reported as a notice).
    public var notes: [String]

    /// Default decoded-image cache of the lazy pipeline when `--cache-mb` is not given, in MB.
    public static let defaultCacheMB = 1024

    /// The splits of `config`'s task (``loadTask(config:base:recordSplit:)`` for in-memory data, split by
    /// ``splitForTraining(_:config:)``). An ImageFolder's training files are split the same way (same indices, so
    /// the same images train as if decoded into memory) into lazy sources sharing the `--cache-mb` budget in
    /// proportion to their sizes; its test files are decoded when tested, without a cache.
    /// - Throws: as ``loadTask(config:base:recordSplit:)``; `ConfigError` for a split without images.
    public static func load(config: TrainingConfig, base: BaseModel, recordSplit: Bool = true) throws -> RunData {
        guard let path = config.dataPath else {
            let data = try loadTask(config: config, base: base, recordSplit: recordSplit)
            let (train, validation) = splitForTraining(data, config: config)
            return RunData(name: data.name, classes: data.classes, train: train, validation: validation, test: data.test,
                           description: data.description, notes: data.notes)
        }
        let dataset = try openDataset(path, config: config)
        if case .files(var trainList) = dataset.train, case .files(var testList) = dataset.test {
            try recordHeldOutSplit(of: dataset, in: recordSplit ? config.outputDirectory : nil)
            var notes = dataset.notes
            if config.skipBad ?? false {
                // --skip-bad drops what does not decode before the split, as reading into memory does (one decode pass).
                for (label, list) in [("training", trainList), ("test", testList)] {
                    let (good, skipped) = try list.decodableFiles(recipe: base.inputRecipe)
                    if !skipped.isEmpty {
                        notes.append("--skip-bad: skipped \(skipped.count) of \(list.count) \(label) images that failed to decode; first: \(skipped[0])")
                    }
                    if label == "training" { trainList = good } else { testList = good }
                }
            }
            var split = trainValidationSplitIndices(labels: trainList.labels, classes: trainList.classes,
                                                    validationFraction: config.validationFraction, seed: config.seed)
            if let limit = config.trainLimit, limit < split.train.count {
                let labels = split.train.map { trainList.labels[$0] }
                split.train = stratifiedSubsetIndices(labels: labels, limit: max(1, limit), seed: config.seed).map { split.train[$0] }
            }
            let recipe = base.inputRecipe
            let skipBad = config.skipBad ?? false
            let cacheMB = config.cacheMB ?? defaultCacheMB
            let seen = max(1, split.train.count + split.validation.count)
            let trainMB = Int((Double(cacheMB) * Double(split.train.count) / Double(seen)).rounded(.down))
            let train = ImageFolderSource(list: trainList.subset(split.train), recipe: recipe, cacheMB: trainMB, skipBad: skipBad)
            let validation = ImageFolderSource(list: trainList.subset(split.validation), recipe: recipe,
                                               cacheMB: cacheMB - trainMB, skipBad: skipBad)
            let test = ImageFolderSource(list: testList, recipe: recipe, cacheMB: 0, skipBad: skipBad)
            notes.append("images decoded at \(recipe.size)x\(recipe.size) on worker threads as training needs them (shorter side resized to \(recipe.resize), centre crop"
                         + (recipe.channels == 1 ? ", colour converted to grey (BT.601 luma) for this grey base" : ", grey files replicated to RGB")
                         + "); up to \(cacheMB) MB of decoded training and validation images cached (--cache-mb), the rest decoded again each epoch")
            return RunData(name: config.task, classes: dataset.classes, train: train, validation: validation, test: test,
                           description: "\(dataset.format.rawValue) dataset \(dataset.path) (\(dataset.layout))", notes: notes)
        }
        let data = try base.taskData(from: dataset, name: config.task, skipBad: config.skipBad ?? false)
        try recordHeldOutSplit(of: dataset, in: recordSplit ? config.outputDirectory : nil)
        let (train, validation) = splitForTraining(data, config: config)
        return RunData(name: data.name, classes: data.classes, train: train, validation: validation, test: data.test,
                       description: data.description, notes: data.notes)
    }
}

/// Opens the dataset at `path`, in `config.dataFormat` when set (`--format`), else the detected format.
/// - Throws: `ConfigError` for an unknown `--format`; `DatasetError` naming the file for unreadable data.
func openDataset(_ path: String, config: TrainingConfig) throws -> Dataset {
    var format: DataFormat?
    if let f = config.dataFormat {
        guard let v = DataFormat(rawValue: f) else { throw ConfigError.invalid(option: "--format", expected: DataFormat.names, got: f) }
        format = v
    }
    return try Dataset.open(URL(fileURLWithPath: path), format: format)
}

extension BaseModel {
    /// How this base takes a photo: its channels and input size; ImageNet bases resize the shorter side to
    /// `size * 256 / 224` and centre-crop (torchvision's reference evaluation), DigitCNN resizes to 28x28 whole.
    public var inputRecipe: ImageRecipe {
        architecture == "digitcnn" ? ImageRecipe(channels: inputShape[0], size: inputShape[1])
                                   : .imageNet(size: inputShape[1], channels: inputShape[0])
    }

    /// The task of `dataset` at this base's input: ImageFolder files decoded with ``inputRecipe`` on worker threads,
    /// arrays brought over by ``prepare(_:)``.
    /// - Parameter skipBad: skip undecodable files (counted in the notes) instead of throwing.
    /// - Throws: `DatasetError` naming the first bad file (unless `skipBad`); `ConfigError` when the images cannot
    ///   be adapted.
    public func taskData(from dataset: Dataset, name: String, skipBad: Bool) throws -> TaskData {
        var notes = dataset.notes
        func materialise(_ split: DatasetSplit, _ label: String) throws -> LabeledImages {
            switch split {
            case let .memory(images): return images
            case let .files(list):
                let (images, skipped) = try list.decodeAll(recipe: inputRecipe, skipBad: skipBad)
                if !skipped.isEmpty {
                    notes.append("--skip-bad: skipped \(skipped.count) of \(list.count) \(label) images that failed to decode; first: \(skipped[0])")
                }
                return images
            }
        }
        var task = try TaskData(name: name, classes: dataset.classes, train: materialise(dataset.train, "training"),
                                test: materialise(dataset.test, "test"),
                                description: "\(dataset.format.rawValue) dataset \(dataset.path) (\(dataset.layout))")
        if case .files = dataset.train {
            notes.append("images decoded at \(inputShape[1])x\(inputShape[1]) for base \(self.name): shorter side resized to \(inputRecipe.resize), centre crop"
                         + (inputShape[0] == 1 ? "; colour converted to grey (BT.601 luma) for this grey base" : "; grey images replicated to RGB"))
        }
        task.notes = notes
        return try prepare(task)
    }
}

extension TrainingConfig {
    /// The training augmentation of this run on `base`: `augment`, or by default `crop-flip` for an image-network
    /// base on the user's photos (`--data`) and `none` otherwise (flipping the embedded digits changes their meaning).
    public func augmentation(for base: BaseModel) -> Augmentation {
        augment ?? (dataPath != nil && base.architecture != "digitcnn" ? .cropFlip : .none)
    }
}
