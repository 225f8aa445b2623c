// TapsData: how an image file becomes a network input at training resolution (decode, colour, resize, crop),
// and decoding a whole ImageFolder split on worker threads.
import Dispatch
import Foundation

/// The input recipe of a base network applied to a photo: decode (JPEG/PNG), convert to `channels`, resize the
/// shorter side to `resize` and take the centre `size x size` crop (torchvision's reference evaluation transform).
public struct ImageRecipe: Sendable, Equatable {
    /// Output channels: 3 (RGB bases) or 1 (grey bases).
    public var channels: Int
    /// Output side in pixels (the base's input size).
    public var size: Int
    /// Shorter side before the centre crop; `size * 256 / 224` for ImageNet bases, `size` for no crop.
    public var resize: Int

    /// Creates a recipe. - Precondition: `channels` 1 or 3, `resize >= size >= 1`.
    public init(channels: Int, size: Int, resize: Int? = nil) {
        precondition((channels == 1 || channels == 3) && size >= 1, "ImageRecipe: \(channels) channels, size \(size)")
        self.channels = channels
        self.size = size
        self.resize = max(resize ?? size, size)
    }

    /// The ImageNet evaluation recipe at `size`: resize to `round(size * 256 / 224)`, crop `size`.
    public static func imageNet(size: Int, channels: Int = 3) -> ImageRecipe {
        ImageRecipe(channels: channels, size: size, resize: Int((Double(size) * 256 / 224).rounded()))
    }

    /// Pixels of one image `[channels, size, size]`.
    public var imageSize: Int { channels * size * size }

    /// Decodes the file at `path` and applies the recipe.
    /// - Throws: ``DatasetError`` naming the file (unreadable, not an image, corrupt or truncated).
    public func load(_ path: String) throws -> DecodedImage {
        let decoded = try ImageFile.read(URL(fileURLWithPath: path), minimumShorterSide: resize)
        return decoded.converted(channels: channels).resizedShorterSide(to: resize, centreCrop: size)
    }
}

/// A raw buffer shared by worker threads that write disjoint ranges.
struct SharedBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}

/// Collects results from worker threads under a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withValue<R>(_ body: (inout Value) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
}

extension ImageList {
    /// Decodes every file with `recipe` on `workers` threads into one in-memory set `[N, C, size, size]`.
    /// - Parameter skipBad: drop files that fail to decode (their messages are returned) instead of throwing.
    /// - Returns: the images (in file order, without the skipped ones) and one message per skipped file.
    /// - Throws: the first failure in file order (``DatasetError`` naming the file) unless `skipBad`; an error when
    ///   every file failed.
    public func decodeAll(recipe: ImageRecipe, skipBad: Bool, workers: Int = ProcessInfo.processInfo.activeProcessorCount)
        throws -> (images: LabeledImages, skipped: [String]) {
        let n = count, size = recipe.imageSize
        var pixels = [UInt8](repeating: 0, count: n * size)
        let failures = LockedBox([Int: String]())
        let files = self.files
        pixels.withUnsafeMutableBufferPointer { buffer in
            let shared = SharedBuffer(base: buffer.baseAddress!)
            let threads = max(1, min(workers, n))
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                var i = worker
                while i < n {
                    do {
                        let image = try recipe.load(files[i])
                        image.pixels.withUnsafeBufferPointer { src in
                            (shared.base + i * size).update(from: src.baseAddress!, count: size)
                        }
                    } catch {
                        let message = "\(error)"
                        failures.withValue { $0[i] = message }
                    }
                    i += threads
                }
            }
        }
        let failed = failures.withValue { $0 }
        if let first = failed.keys.min(), !skipBad { throw FirstError(message: failed[first]!) }
        let keep = (0..<n).filter { failed[$0] == nil }
        guard !keep.isEmpty else {
            throw DatasetError.malformed(file: files.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? "<images>",
                                         field: "images", expected: "at least one decodable image", found: "all \(n) failed")
        }
        let all = LabeledImages(unchecked: pixels, labels: labels, channels: recipe.channels, height: recipe.size,
                                width: recipe.size, classes: classes)
        let images = failed.isEmpty ? all : all.subset(keep)
        return (images, failed.keys.sorted().map { failed[$0]! })
    }
}

extension ImageList {
    /// The files that decode with `recipe` (each decoded once on `workers` threads, nothing kept), for `--skip-bad`
    /// on a lazily read folder: the same files are dropped as ``decodeAll(recipe:skipBad:workers:)`` drops.
    /// - Returns: the decodable files in order, and one message per dropped file (in file order).
    /// - Throws: ``DatasetError`` when no file decodes.
    public func decodableFiles(recipe: ImageRecipe, workers: Int = ProcessInfo.processInfo.activeProcessorCount)
        throws -> (list: ImageList, skipped: [String]) {
        let n = count
        let failures = LockedBox([Int: String]())
        let files = self.files
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, n))) { worker in
            let threads = max(1, min(workers, n))
            var i = worker
            while i < n {
                do { _ = try recipe.load(files[i]) } catch {
                    let message = "\(error)"
                    failures.withValue { $0[i] = message }
                }
                i += threads
            }
        }
        let failed = failures.withValue { $0 }
        let keep = (0..<n).filter { failed[$0] == nil }
        guard !keep.isEmpty || n == 0 else {
            throw DatasetError.malformed(file: files.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? "<images>",
                                         field: "images", expected: "at least one decodable image", found: "all \(n) failed")
        }
        return (failed.isEmpty ? self : subset(keep), failed.keys.sorted().map { failed[$0]! })
    }
}

/// A decoding error carried across threads as its one-line message.
public struct FirstError: Error, CustomStringConvertible, Equatable {
    /// The original error's one-line message (names the file).
    public var message: String
    /// The message.
    public var description: String { message }
}
