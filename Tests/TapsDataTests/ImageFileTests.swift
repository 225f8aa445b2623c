import Foundation
import Testing
import TapsData

@Suite("Image files: PNG (libpng), JPEG (libjpeg-turbo), uint8 .npy")
struct ImageFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/images").standardized

    struct Reference: Decodable {
        var png_rgb_chw_first: [Int]
        var png_grey_first: [Int]
        var jpeg_rgb_chw: [Int]
    }

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("reference.json")))
    }

    @Test("PNG decodes to the same CHW pixels as Pillow, grey and RGB")
    func png() throws {
        let rgb = try ImageFile.read(Self.fixtures.appendingPathComponent("coffee-24x16.png"))
        #expect(rgb.channels == 3 && rgb.height == 16 && rgb.width == 24)
        let ref = try reference()
        #expect(rgb.pixels.prefix(32).map(Int.init) == ref.png_rgb_chw_first)
        let grey = try ImageFile.read(Self.fixtures.appendingPathComponent("coffee-24x16-grey.png"))
        #expect(grey.channels == 1 && grey.pixels.prefix(32).map(Int.init) == ref.png_grey_first)
    }

    @Test("JPEG decodes within 2 grey levels of Pillow (both libjpeg-turbo, IDCT may differ)")
    func jpeg() throws {
        let img = try ImageFile.read(Self.fixtures.appendingPathComponent("coffee-24x16.jpg"))
        #expect(img.channels == 3 && img.height == 16 && img.width == 24)
        let expected = try reference().jpeg_rgb_chw
        let worst = zip(img.pixels, expected).map { abs(Int($0) - $1) }.max() ?? 99
        #expect(worst <= 2, "largest difference \(worst)")
    }

    @Test("uint8 .npy photos decode HWC to CHW; centre square and grey")
    func npyAndHelpers() throws {
        let img = try ImageFile.read(Self.fixtures.appendingPathComponent("../npy/coffee-224-rgb-uint8.npy").standardized)
        #expect(img.channels == 3 && img.height == 224 && img.width == 224)
        let wide = DecodedImage(pixels: Array(0..<24).map(UInt8.init), channels: 1, height: 4, width: 6)
        #expect(wide.centreSquare().pixels == [1, 2, 3, 4, 7, 8, 9, 10, 13, 14, 15, 16, 19, 20, 21, 22])
        let colour = DecodedImage(pixels: [255, 0, 0, 255, 0, 0], channels: 3, height: 1, width: 2)
        #expect(colour.grey().pixels == [76, 150])
    }

    @Test("truncated, corrupt and unknown files are one-line errors naming the file")
    func badFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-img-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = try Data(contentsOf: Self.fixtures.appendingPathComponent("coffee-24x16.png"))
        let cases: [(String, Data, String)] = [
            ("cut.png", png.prefix(200), "PNG data"),
            ("junk.jpg", Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5]), "JPEG data"),
            ("text.png", Data("hello".utf8), "expected a PNG, JPEG or uint8 .npy image"),
        ]
        for (name, bytes, needle) in cases {
            let url = dir.appendingPathComponent(name)
            try bytes.write(to: url)
            do {
                _ = try ImageFile.read(url)
                Issue.record("\(name) decoded")
            } catch {
                let text = "\(error)"
                #expect(text.contains(name) && text.contains(needle) && !text.contains("\n"), "\(text)")
            }
        }
    }
}
