// TapsDataTests: IDX reader on hand-made and malformed files (never a crash, always one line).
import Foundation
import Testing
import TapsData

/// Writes a task's four IDX files (gzip or raw) and returns their URLs.
private func writeTask(in dir: URL, trainImages: Data, trainLabels: Data, testImages: Data, testLabels: Data)
    throws -> (URL, URL, URL, URL) {
    let urls = ["train-images", "train-labels", "test-images", "test-labels"].map { dir.appendingPathComponent("\($0).gz") }
    for (url, data) in zip(urls, [trainImages, trainLabels, testImages, testLabels]) { try Gzip.compress(data).write(to: url) }
    return (urls[0], urls[1], urls[2], urls[3])
}

private func images(_ n: Int, rows: Int = 2, cols: Int = 3) -> Data {
    IDX.encodeImages(IDX.Images(count: n, rows: rows, cols: cols, pixels: (0..<(n * rows * cols)).map { UInt8($0 % 256) }))
}

@Suite("IDX reader")
struct IDXTests {
    @Test("round trip through gzip and raw files")
    func roundTrip() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let x = IDX.Images(count: 2, rows: 2, cols: 3, pixels: [0, 1, 2, 3, 4, 255, 9, 8, 7, 6, 5, 4])
        let raw = dir.appendingPathComponent("x-idx3-ubyte"), gz = dir.appendingPathComponent("x-idx3-ubyte.gz")
        try IDX.encodeImages(x).write(to: raw)
        try Gzip.compress(IDX.encodeImages(x)).write(to: gz)
        #expect(try IDX.readImages(raw) == x)
        #expect(try IDX.readImages(gz) == x)
        let y = dir.appendingPathComponent("y.gz")
        try Gzip.compress(IDX.encodeLabels([3, 1])).write(to: y)
        #expect(try IDX.readLabels(y) == [3, 1])

        let (a, b, c, d) = try writeTask(in: dir, trainImages: IDX.encodeImages(x), trainLabels: IDX.encodeLabels([3, 1]),
                                         testImages: IDX.encodeImages(x), testLabels: IDX.encodeLabels([0, 2]))
        let task = try TaskData.load(trainImages: a, trainLabels: b, testImages: c, testLabels: d, name: "tiny")
        #expect(task.classes == 4)
        #expect(task.train.imageShape == [1, 2, 3])
        #expect(task.test.labels == [0, 2])
    }

    @Test("concatenated gzip members decode as one stream")
    func multiMember() throws {
        let whole = IDX.encodeLabels([1, 2, 3, 4])
        let data = Gzip.compress(whole.prefix(6)) + Gzip.compress(whole.dropFirst(6))
        #expect(try IDX.parseLabels(Gzip.decompress(data, source: "m.gz"), source: "m") == [1, 2, 3, 4])
    }

    @Test("malformed IDX files give one-line errors naming the file, field and expectation",
          arguments: [
            ("bad magic", Data([0, 0, 8, 4]) + images(1).dropFirst(4), "magic: expected 0x00000803, found 0x00000804"),
            ("labels given as images", IDX.encodeLabels([1, 2]), "found 0x00000801 (images and labels swapped?)"),
            ("zero rows", images(0, rows: 0, cols: 3), "header rows: expected 1...65535, found 0"),
            ("short header", images(1).prefix(10), "IDX header: truncated, expected 16 bytes, found 10"),
            ("truncated data", images(3).dropLast(5), "pixel data for 3 images of 2x3: truncated, expected 18 bytes, found 13"),
            ("trailing data", images(1) + Data([1, 2]), "data length: expected 6 bytes after the header, found 8"),
            ("huge count", Data([0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF]), "truncated, expected"),
          ])
    func malformedImages(label: String, data: Data, expected: String) throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("broken-images.gz")
        try Gzip.compress(data).write(to: url)
        let message = errorMessage { try IDX.readImages(url) }
        #expect(message?.hasPrefix(url.path + ": ") == true, "\(label): \(message ?? "no error")")
        #expect(message?.contains(expected) == true, "\(label): \(message ?? "no error")")
        #expect(message?.contains("\n") == false)
    }

    @Test("truncated labels and a truncated gzip stream")
    func truncatedLabelsAndGzip() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let labels = dir.appendingPathComponent("labels.gz")
        try Gzip.compress(IDX.encodeLabels([1, 2, 3]).dropLast()).write(to: labels)
        #expect(errorMessage { try IDX.readLabels(labels) } == "\(labels.path): label data for 3 labels: truncated, expected 3 bytes, found 2")

        let cut = dir.appendingPathComponent("cut.gz")
        let gz = Gzip.compress(images(40))
        try gz.prefix(gz.count / 2).write(to: cut)
        let message = errorMessage { try IDX.readImages(cut) }
        #expect(message?.hasPrefix("\(cut.path): gzip data is corrupt or truncated") == true, "\(message ?? "")")

        let garbage = dir.appendingPathComponent("garbage.gz")
        try (Data([0x1F, 0x8B]) + Data(repeating: 0x55, count: 40)).write(to: garbage)
        #expect(errorMessage { try IDX.readImages(garbage) }?.hasPrefix("\(garbage.path): gzip data is corrupt") == true)

        let missing = dir.appendingPathComponent("missing.gz")
        #expect(errorMessage { try IDX.readImages(missing) }?.hasPrefix("\(missing.path): cannot read") == true)
    }

    @Test("image/label count mismatch, label beyond classes and train/test size mismatch")
    func taskLevelErrors() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b, c, d) = try writeTask(in: dir, trainImages: images(3), trainLabels: IDX.encodeLabels([0, 1]),
                                         testImages: images(1), testLabels: IDX.encodeLabels([0]))
        #expect(errorMessage { try TaskData.load(trainImages: a, trainLabels: b, testImages: c, testLabels: d, name: "t") }
                == "\(a.path): has 3 images but \(b.path) has 2 labels; counts must agree")

        let (e, f, g, h) = try writeTask(in: dir, trainImages: images(2), trainLabels: IDX.encodeLabels([0, 7]),
                                         testImages: images(1), testLabels: IDX.encodeLabels([0]))
        #expect(errorMessage { try TaskData.load(trainImages: e, trainLabels: f, testImages: g, testLabels: h, name: "t", classes: 2) }
                == "\(f.path): label of example 1: expected 0..<2, found 7")

        let (i, j, k, l) = try writeTask(in: dir, trainImages: images(2), trainLabels: IDX.encodeLabels([0, 1]),
                                         testImages: images(1, rows: 3, cols: 3), testLabels: IDX.encodeLabels([0]))
        #expect(errorMessage { try TaskData.load(trainImages: i, trainLabels: j, testImages: k, testLabels: l, name: "t") }
                == "\(k.path): image size: expected 2x3 (as train-images.gz), found 3x3")
    }
}
