// TapsData: one photo from disk (PNG through libpng, JPEG through libjpeg-turbo, or a uint8 .npy).
import CImageCodecs
import Foundation

/// A decoded image: uint8 pixels in `[channels, height, width]` (CHW) order, 1 (grey) or 3 (RGB) channels.
public struct DecodedImage: Sendable, Equatable {
    public var pixels: [UInt8]
    public var channels: Int
    public var height: Int
    public var width: Int

    /// Wraps CHW pixels; `pixels.count` must be `channels * height * width`.
    public init(pixels: [UInt8], channels: Int, height: Int, width: Int) {
        precondition(pixels.count == channels * height * width, "DecodedImage: \(pixels.count) pixels for \(channels)x\(height)x\(width)")
        self.pixels = pixels; self.channels = channels; self.height = height; self.width = width
    }

    /// The image as a one-example dataset (label 0), for resizing and batching.
    public func asLabeledImages() -> LabeledImages {
        LabeledImages(unchecked: pixels, labels: [0], channels: channels, height: height, width: width, classes: 1)
    }

    /// The centre square crop (side = the shorter side), as photos are prepared for square networks.
    public func centreSquare() -> DecodedImage {
        let side = min(height, width)
        if height == width { return self }
        let top = (height - side) / 2, left = (width - side) / 2
        var out = [UInt8](repeating: 0, count: channels * side * side)
        for c in 0..<channels {
            for y in 0..<side {
                let src = c * height * width + (top + y) * width + left
                let dst = c * side * side + y * side
                for x in 0..<side { out[dst + x] = pixels[src + x] }
            }
        }
        return DecodedImage(pixels: out, channels: channels, height: side, width: side)
    }

    /// Grey by the ITU-R BT.601 luma weights (`0.299 R + 0.587 G + 0.114 B`); grey images are returned as they are.
    public func grey() -> DecodedImage {
        guard channels == 3 else { return self }
        let plane = height * width
        var out = [UInt8](repeating: 0, count: plane)
        for i in 0..<plane {
            let v = 0.299 * Float(pixels[i]) + 0.587 * Float(pixels[plane + i]) + 0.114 * Float(pixels[2 * plane + i])
            out[i] = UInt8(min(max(v.rounded(), 0), 255))
        }
        return DecodedImage(pixels: out, channels: 1, height: height, width: width)
    }
}

/// Reads PNG, JPEG and NumPy `.npy` (uint8, `[H, W]`, `[H, W, 1]` or `[H, W, 3]`) images, chosen by content.
public enum ImageFile {
    /// Decodes the file at `url`.
    /// - Throws: `DatasetError` naming the file: unreadable, unknown format (with the formats accepted),
    ///   or a decoder error (corrupt or truncated data).
    public static func read(_ url: URL) throws -> DecodedImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        let bytes = [UInt8](data.prefix(8))
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(data, source: url.path) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try decodeJPEG(data, source: url.path) }
        if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return try decodeNPY(data, source: url.path) }
        throw DatasetError.malformed(file: url.path, field: "format", expected: "a PNG, JPEG or uint8 .npy image",
                                     found: "bytes " + bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))
    }

    static func decodePNG(_ data: Data, source: String) throws -> DecodedImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { raw in png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) }
        func failure() -> DatasetError {
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            png_image_free(&image)
            return DatasetError.malformed(file: source, field: "PNG data", expected: "a valid PNG", found: message)
        }
        guard ok != 0 else { throw failure() }
        let isGrey = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) == 0
        image.format = isGrey ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let channels = isGrey ? 1 : 3
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= 100_000_000 else {
            png_image_free(&image)
            throw DatasetError.malformed(file: source, field: "PNG size", expected: "1 to 100M pixels", found: "\(width)x\(height)")
        }
        var hwc = [UInt8](repeating: 0, count: width * height * channels)
        let finished = data.withUnsafeBytes { _ in
            hwc.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        }
        guard finished != 0 else { throw failure() }
        return DecodedImage(pixels: chw(hwc, height: height, width: width, channels: channels),
                            channels: channels, height: height, width: width)
    }

    static func decodeJPEG(_ data: Data, source: String) throws -> DecodedImage {
        guard let handle = tjInitDecompress() else {
            throw DatasetError.unreadable(file: source, reason: "libjpeg-turbo could not start a decompressor")
        }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> DatasetError {
            DatasetError.malformed(file: source, field: "JPEG data", expected: "a valid JPEG",
                                   found: "\(what): \(String(cString: tjGetErrorStr2(handle)))")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = data.withUnsafeBytes { raw in
            tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count),
                                &width, &height, &subsampling, &colorspace)
        }
        guard header == 0, width > 0, height > 0, Int(width) * Int(height) <= 100_000_000 else { throw failure("header") }
        let isGrey = colorspace == Int32(TJCS_GRAY.rawValue)
        let channels = isGrey ? 1 : 3
        var hwc = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = data.withUnsafeBytes { raw in
            hwc.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), out.baseAddress,
                              width, 0, height, Int32(isGrey ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue), 0)
            }
        }
        // tjDecompress2 returns -1 for warnings too (e.g. premature end); accept those only if they are warnings.
        if status != 0 && tjGetErrorCode(handle) == Int32(TJERR_FATAL.rawValue) { throw failure("pixels") }
        return DecodedImage(pixels: chw(hwc, height: Int(height), width: Int(width), channels: channels),
                            channels: channels, height: Int(height), width: Int(width))
    }

    static func decodeNPY(_ data: Data, source: String) throws -> DecodedImage {
        let array = try NPY.parse(data, source: source)
        guard case .uint8(let values) = array.elements else {
            throw DatasetError.malformed(file: source, field: "dtype", expected: "uint8 ('|u1') pixels", found: array.descr)
        }
        let s = array.shape
        guard s.count == 2 || (s.count == 3 && (s[2] == 1 || s[2] == 3)) else {
            throw DatasetError.malformed(file: source, field: "shape", expected: "[H, W], [H, W, 1] or [H, W, 3]", found: "\(s)")
        }
        let channels = s.count == 3 ? s[2] : 1
        return DecodedImage(pixels: chw(values, height: s[0], width: s[1], channels: channels),
                            channels: channels, height: s[0], width: s[1])
    }

    /// HWC (interleaved) to CHW (planar).
    static func chw(_ hwc: [UInt8], height: Int, width: Int, channels: Int) -> [UInt8] {
        if channels == 1 { return hwc }
        var out = [UInt8](repeating: 0, count: hwc.count)
        let plane = height * width
        for i in 0..<plane { for c in 0..<channels { out[c * plane + i] = hwc[i * channels + c] } }
        return out
    }
}
