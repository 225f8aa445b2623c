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
    /// - Parameter minimumShorterSide: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg-turbo's DCT
    ///   scaling, much faster) as long as its shorter side stays at least this many pixels; 0 decodes full size.
    public static func read(_ url: URL, minimumShorterSide: Int = 0) throws -> DecodedImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        return try decode(data, source: url.path, minimumShorterSide: minimumShorterSide)
    }

    /// Decodes image bytes (PNG, JPEG or uint8 `.npy`, chosen by content); `source` names the origin in errors.
    /// - Throws: `DatasetError` naming `source` for an unknown format or corrupt/truncated data.
    public static func decode(_ data: Data, source: String, minimumShorterSide: Int = 0) throws -> DecodedImage {
        let bytes = [UInt8](data.prefix(8))
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(data, source: source) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            return try decodeJPEG(data, source: source, minimumShorterSide: minimumShorterSide)
        }
        if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return try decodeNPY(data, source: source) }
        throw DatasetError.malformed(file: source, field: "format", expected: "a PNG, JPEG or uint8 .npy image",
                                     found: data.isEmpty ? "an empty file"
                                         : "bytes " + bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))
    }

    /// Channels (1 grey, 3 colour) and size of the image at `url`, from its header only (PNG or JPEG).
    /// - Throws: `DatasetError` naming the file when it is unreadable or not a PNG/JPEG with a valid header.
    public static func header(_ url: URL) throws -> (channels: Int, height: Int, width: Int) {
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: 1 << 16) ?? Data()
        } catch {
            throw DatasetError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        let bytes = [UInt8](data.prefix(8))
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            let ok = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
            defer { png_image_free(&image) }
            guard ok != 0 else {
                throw DatasetError.malformed(file: url.path, field: "PNG header", expected: "a valid PNG", found: "unreadable header")
            }
            return (image.format & UInt32(PNG_FORMAT_FLAG_COLOR) == 0 ? 1 : 3, Int(image.height), Int(image.width))
        }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]), let handle = tjInitDecompress() {
            defer { tjDestroy(handle) }
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            var status = data.withUnsafeBytes { raw in
                tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), &width, &height, &subsampling, &colorspace)
            }
            if status != 0 {  // the header may lie beyond the first 64 KB (large EXIF blocks): read the whole file
                let all = (try? Data(contentsOf: url)) ?? data
                status = all.withUnsafeBytes { raw in
                    tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), &width, &height, &subsampling, &colorspace)
                }
            }
            guard status == 0 else {
                throw DatasetError.malformed(file: url.path, field: "JPEG header", expected: "a valid JPEG", found: String(cString: tjGetErrorStr2(handle)))
            }
            return (colorspace == Int32(TJCS_GRAY.rawValue) ? 1 : 3, Int(height), Int(width))
        }
        throw DatasetError.malformed(file: url.path, field: "format", expected: "a PNG or JPEG image",
                                     found: data.isEmpty ? "an empty file" : "bytes " + bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))
    }

    /// JPEG bytes (libjpeg-turbo, 4:2:0 for RGB) of `image` at `quality` 1...100.
    /// - Throws: `DatasetError.unsupported` if libjpeg-turbo fails.
    public static func encodeJPEG(_ image: DecodedImage, quality: Int = 90) throws -> Data {
        guard let handle = tjInitCompress() else {
            throw DatasetError.unsupported(file: "<jpeg>", feature: "JPEG encoding", hint: "libjpeg-turbo could not start")
        }
        defer { tjDestroy(handle) }
        let hwc = interleaved(image)
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let grey = image.channels == 1
        let status = hwc.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height),
                        Int32(grey ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue), &buffer, &size,
                        Int32(grey ? TJSAMP_GRAY.rawValue : TJSAMP_420.rawValue), Int32(min(max(quality, 1), 100)), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw DatasetError.unsupported(file: "<jpeg>", feature: "JPEG encoding", hint: String(cString: tjGetErrorStr2(handle)))
        }
        return Data(bytes: buffer, count: Int(size))
    }

    /// PNG bytes (libpng simplified API, 8-bit grey or RGB) of `image`.
    /// - Throws: `DatasetError.unsupported` if libpng fails.
    public static func encodePNG(_ image: DecodedImage) throws -> Data {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width); png.height = UInt32(image.height)
        png.format = image.channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
        let hwc = interleaved(image)
        var size: Int = 0
        guard hwc.withUnsafeBytes({ png_image_write_to_memory(&png, nil, &size, 0, $0.baseAddress, 0, nil) }) != 0, size > 0 else {
            throw DatasetError.unsupported(file: "<png>", feature: "PNG encoding", hint: "libpng could not size the image")
        }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            hwc.withUnsafeBytes { png_image_write_to_memory(&png, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        png_image_free(&png)
        guard ok != 0 else { throw DatasetError.unsupported(file: "<png>", feature: "PNG encoding", hint: "libpng failed") }
        return Data(out.prefix(size))
    }

    /// CHW (planar) to HWC (interleaved).
    static func interleaved(_ image: DecodedImage) -> [UInt8] {
        if image.channels == 1 { return image.pixels }
        let plane = image.height * image.width, c = image.channels
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        for i in 0..<plane { for k in 0..<c { out[i * c + k] = image.pixels[k * plane + i] } }
        return out
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

    static func decodeJPEG(_ data: Data, source: String, minimumShorterSide: Int = 0) throws -> DecodedImage {
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
        // DCT-domain downscaling (TJSCALED): the largest 1/d keeping the shorter side >= minimumShorterSide.
        if minimumShorterSide > 0 {
            for d: Int32 in [8, 4, 2] where min((width + d - 1) / d, (height + d - 1) / d) >= Int32(min(minimumShorterSide, 65_535)) {
                width = (width + d - 1) / d; height = (height + d - 1) / d
                break
            }
        }
        var hwc = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = data.withUnsafeBytes { raw in
            hwc.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), out.baseAddress,
                              width, 0, height, Int32(isGrey ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue), 0)
            }
        }
        // tjDecompress2 returns -1 for warnings too. A premature end (a truncated file, whose missing rows
        // libjpeg fills with grey) is an error, as in PIL; other warnings (extraneous bytes) are tolerated.
        if status != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            if tjGetErrorCode(handle) == Int32(TJERR_FATAL.rawValue) || message.contains("Premature end") {
                throw failure(message.contains("Premature end") ? "truncated" : "pixels")
            }
        }
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
