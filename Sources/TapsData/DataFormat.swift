// TapsData: the dataset formats `--data PATH` accepts, and detection from the content on disk.
import Foundation

/// A dataset layout on disk (`--format`); ``detect(_:)`` finds it from the content.
public enum DataFormat: String, Codable, Sendable, CaseIterable {
    /// torchvision `ImageFolder`: `PATH/train/<class>/*.{jpg,jpeg,png}` and `PATH/val/` or `PATH/test/`,
    /// or a single folder of class folders (split into train and test, stratified and seeded).
    case imageFolder = "imagefolder"
    /// CIFAR-10 binary version: `data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`.
    case cifar10
    /// CIFAR-100 binary version (`train.bin`, `test.bin`), the 100 fine labels.
    case cifar100
    /// CIFAR-100 binary version with the 20 coarse (superclass) labels.
    case cifar100Coarse = "cifar100-coarse"
    /// A `.npz` archive with `x_train`, `y_train` and optionally `x_test`, `y_test` (Keras's `mnist.npz` layout).
    case npz
    /// A folder with `x_train.npy`, `y_train.npy` and optionally `x_test.npy`, `y_test.npy`.
    case npy
    /// CSV rows of a label and `C*H*W` pixels (header detected): one file, or a folder with `train.csv` and `test.csv`.
    case csv
    /// MNIST's IDX files: a folder with `*train-images*idx3*`, `*train-labels*idx1*` and the `t10k`/`test` pair.
    case idx

    /// The `--format` values, for help texts.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Detects the format of the file or folder at `url` from its content and names.
    /// - Throws: ``DatasetError`` naming the path when it does not exist or matches no format (the message
    ///   lists what was looked for).
    public static func detect(_ url: URL) throws -> DataFormat {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DatasetError.unreadable(file: url.path, reason: "no such file or folder")
        }
        if !isDirectory.boolValue { return try detectFile(url) }
        let names = Set((try? fm.contentsOfDirectory(atPath: url.path)) ?? [])
        func has(_ name: String) -> Bool { names.contains(name) || names.contains(name + ".gz") }
        if has("data_batch_1.bin") || has("test_batch.bin") { return .cifar10 }
        if has("train.bin") && has("test.bin") { return .cifar100 }
        if has("x_train.npy") { return .npy }
        if has("train.csv") { return .csv }
        if names.contains(where: { $0.contains("train-images") && $0.contains("idx3") }) { return .idx }
        // The CIFAR archives unpack into one folder: descend into it.
        for inner in ["cifar-10-batches-bin", "cifar-100-binary"] where names.contains(inner) {
            return try detect(url.appendingPathComponent(inner))
        }
        let subfolders = names.filter { name in
            var dir: ObjCBool = false
            return fm.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &dir) && dir.boolValue
        }
        if !subfolders.isEmpty { return .imageFolder }
        throw DatasetError.malformed(file: url.path, field: "dataset layout",
                                     expected: "class folders (ImageFolder), CIFAR .bin files, x_train.npy, train.csv or IDX files",
                                     found: names.isEmpty ? "an empty folder" : "\(names.count) entries, none of these")
    }

    private static func detectFile(_ url: URL) throws -> DataFormat {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw DatasetError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
        let lower = url.lastPathComponent.lowercased()
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            if lower.hasSuffix(".pt") || lower.hasSuffix(".pth") {
                throw DatasetError.unsupported(file: url.path, feature: "PyTorch checkpoint as data",
                                               hint: "--data takes a dataset; give checkpoints to --base")
            }
            return .npz
        }
        if head.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) || lower.hasSuffix(".npy") {
            throw DatasetError.unsupported(file: url.path, feature: "single .npy file as a dataset",
                                           hint: "a .npy holds one array; give a folder with x_train.npy and y_train.npy (x_test.npy, y_test.npy) or a .npz")
        }
        if lower.hasSuffix(".csv") || lower.hasSuffix(".csv.gz") { return .csv }
        if lower.hasSuffix(".bin") {
            throw DatasetError.unsupported(file: url.path, feature: "single CIFAR .bin file",
                                           hint: "give the folder that holds the CIFAR .bin files")
        }
        // Text that starts with digits or a header: CSV.
        if let first = head.first, head.prefix(4).allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x0A || $0 == 0x0D }),
           first != 0x7B {
            return .csv
        }
        throw DatasetError.malformed(file: url.path, field: "format",
                                     expected: "a .npz archive or a .csv file (or a dataset folder)",
                                     found: "bytes " + head.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))
    }
}
