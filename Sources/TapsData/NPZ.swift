// TapsData: NumPy `.npz` archives (a ZIP of `.npy` members, stored or deflated), read and written with
// ZIPFoundation. Reference: numpy.savez / numpy.savez_compressed.
import Foundation
import ZIPFoundation

/// Reader and writer of NumPy `.npz` archives: a ZIP whose members `NAME.npy` are `.npy` files.
///
/// ```swift
/// let arrays = try NPZ.read(URL(fileURLWithPath: "mnist.npz"))   // ["x_train": [60000, 28, 28] u1, "y_train": ...]
/// ```
public enum NPZ {
    /// Every array of the archive at `url`, by member name without the `.npy` suffix.
    /// - Throws: ``DatasetError`` naming the file (and the member): not a ZIP archive, a member that cannot
    ///   be extracted (corrupt or truncated), or a member that is not a valid `.npy`.
    public static func read(_ url: URL) throws -> [String: NPYArray] {
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw DatasetError.malformed(file: url.path, field: "archive", expected: "a .npz (ZIP) archive",
                                         found: "no readable ZIP directory (\(error))")
        }
        var arrays: [String: NPYArray] = [:]
        // A member's size field is the file's word, not a fact: no member inflates past maximumRatio x the archive.
        let fileBytes = UInt64(max(0, (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0))
        for entry in archive where entry.type == .file {
            let name = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            let member = "\(url.path)[\(entry.path)]"
            var data = Data()
            data.reserveCapacity(Int(min(entry.uncompressedSize, fileBytes * UInt64(Gzip.maximumRatio), 1 << 34)))
            do {
                _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
            } catch {
                throw DatasetError.malformed(file: member, field: "ZIP member", expected: "an intact member", found: "\(error)")
            }
            arrays[name] = try NPY.parse(data, source: member)
        }
        return arrays
    }

    /// Writes `arrays` as an uncompressed `.npz` (as `numpy.savez`) at `url`, atomically (temporary file + rename).
    /// - Throws: ZIPFoundation or file-system errors.
    public static func write(_ arrays: [(String, NPYArray)], to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        do {  // the archive is closed when it goes out of scope, before the rename
            let archive = try Archive(url: tmp, accessMode: .create)
            for (name, array) in arrays {
                let bytes = NPY.encode(array)
                try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                                     compressionMethod: .none) { position, size in
                    bytes.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
        }
        guard rename(tmp.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: tmp)
            throw DatasetError.unreadable(file: url.path, reason: "cannot rename the temporary file into place")
        }
    }
}
