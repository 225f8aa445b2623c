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
