// TapsDataTests: inputs built to hurt (issue 9, "no crash on any input"): a gzip bomb as IDX, a header that
// promises more than its file can hold, a safetensors header naming a tensor twice. Each gives one line naming the file.
import Foundation
import Testing
import TapsData
import TapsNN

@Suite("Hostile inputs")
struct HostileInputTests {
    /// A gzip file whose IDX header declares two 28x28 images but whose stream inflates to `zeros` more bytes.
    static func bomb(zeros: Int, header: Data = IDX.encodeImages(IDX.Images(count: 2, rows: 28, cols: 28,
                                                                             pixels: [UInt8](repeating: 7, count: 2 * 784)))) -> Data {
        Gzip.compress(header + Data(count: zeros))
    }

    /// The byte count in "... (stopped at N bytes)".
    static func stoppedAt(_ message: String) -> Int? {
        guard let range = message.range(of: "(stopped at ") else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber })
    }

    @Test("a gzip bomb as IDX images stops soon after what the header declares (128 KB at most), naming the file")
    func gzipBombImages() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bomb-images-idx3-ubyte.gz")
        let file = Self.bomb(zeros: 64 << 20)
        #expect(file.count < 100_000)  // 64 MB of zeros in under 100 KB
        try file.write(to: url)
        let message = errorMessage { try IDX.readImages(url) } ?? ""
        #expect(message.hasPrefix(url.path + ": decompressed data: expected 1584 bytes as its header declares, "
                                  + "found more than 67120"), "\(message)")
        #expect(!message.contains("\n"))
        let stopped = Self.stoppedAt(message) ?? .max
        #expect(stopped <= 1584 + 2 * 65_536, "\(message)")
    }

    @Test("a gzip bomb as IDX labels stops after 8 + count bytes")
    func gzipBombLabels() {
        let data = Gzip.compress(IDX.encodeLabels([1, 2, 3]) + Data(count: 16 << 20))
        let message = errorMessage { try IDX.parseLabels(data, source: "bomb-labels.gz") } ?? ""
        #expect(message.hasPrefix("bomb-labels.gz: decompressed data: expected 11 bytes as its header declares"), "\(message)")
        #expect((Self.stoppedAt(message) ?? .max) <= 11 + 2 * 65_536)
    }

    @Test("a header declaring more than deflate can pack into the file is refused before inflating it")
    func impossibleDeclaration() {
        // 1,000,000 images of 28x28 (784 MB) declared in a file of a few dozen bytes.
        var header = Data([0, 0, 8, 3])
        for v: UInt32 in [1_000_000, 28, 28] { withUnsafeBytes(of: v.bigEndian) { header.append(contentsOf: $0) } }
        let data = Gzip.compress(header + Data(count: 1000))
        let message = errorMessage { try IDX.parseImages(data, source: "tiny.gz") } ?? ""
        #expect(message.hasPrefix("tiny.gz: header: expected a size \(data.count) compressed bytes can hold"), "\(message)")
        #expect(message.contains("784000016 bytes declared"), "\(message)")
    }

    @Test("a gzip stream shorter or longer than declared, and a valid one, through the bounded path")
    func shorterLongerExact() throws {
        let two = IDX.encodeImages(IDX.Images(count: 2, rows: 2, cols: 2, pixels: [1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(try IDX.parseImages(Gzip.compress(two), source: "ok.gz").pixels == [1, 2, 3, 4, 5, 6, 7, 8])
        let short = errorMessage { try IDX.parseImages(Gzip.compress(two.dropLast(3)), source: "short.gz") } ?? ""
        #expect(short == "short.gz: pixel data for 2 images of 2x2: truncated, expected 8 bytes, found 5", "\(short)")
        let long = errorMessage { try IDX.parseImages(Gzip.compress(two + Data([9])), source: "long.gz") } ?? ""
        #expect(long == "long.gz: data length: expected 8 bytes after the header, found 9 (trailing bytes)", "\(long)")
        let longer = errorMessage { try IDX.parseImages(Gzip.compress(two + Data(count: 200_000)), source: "longer.gz") } ?? ""
        #expect(longer.hasPrefix("longer.gz: decompressed data: expected 24 bytes as its header declares, found more than 65560"),
                "\(longer)")
        let corrupt = errorMessage { try IDX.parseImages(Gzip.compress(two).dropLast(12), source: "cut.gz") } ?? ""
        #expect(corrupt.hasPrefix("cut.gz: "), "\(corrupt)")
    }

    @Test("a safetensors header naming a tensor twice is refused naming it (even spelled with an escape)",
          arguments: [
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, "w"),
            (#"{"ab":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a\u0062":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, "ab"),
            (#"{"__metadata__":{"k":"v"}, "x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]} ,"__metadata__":{"k":"w"}}"#, "__metadata__"),
          ])
    func duplicateSafeTensorsName(header: String, name: String) {
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(Data(count: 4))
        let message = errorMessage { try SafeTensors.read(data: data, source: "dup.safetensors") }
        #expect(message == "dup.safetensors: the header names tensor '\(name)' more than once; each name must appear once")
    }

    @Test("nested repeats and look-alike names are not duplicates")
    func notDuplicates() throws {
        let header = #"{"__metadata__":{"a":"{\"w\":1,\"w\":2}"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w.":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(Data(count: 8))
        let file = try SafeTensors.read(data: data, source: "ok.safetensors")
        #expect(Set(file.names) == ["w", "w."])
    }

    @Test("an NPY shape whose non-zero dimensions overflow is refused even with a 0 among them (found by make fuzz)")
    func npyShapeOverflowBehindZero() {
        // (6194741327996562088, 0, 3) holds 0 elements, but height x channels overflows: the image reader trapped.
        var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (6194741327996562088, 0, 3), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        let data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
                        + Array(header.utf8))
        let expected = "crash.npy: shape: expected a size that fits in memory, found [6194741327996562088, 0, 3]"
        #expect(errorMessage { try NPY.parse(data, source: "crash.npy") } == expected)
        #expect(errorMessage { try ImageFile.decode(data, source: "crash.npy") } == expected)
        // Zero-sized arrays whose other dimensions fit still parse, as in NumPy.
        var ok = "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 5, 3), }"
        ok += String(repeating: " ", count: (64 - (10 + ok.utf8.count + 1) % 64) % 64) + "\n"
        let empty = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(ok.utf8.count), 0] + Array(ok.utf8))
        #expect((try? NPY.parse(empty, source: "empty.npy"))?.shape == [0, 5, 3])
        // An image array with 2^40 rows of width 0 holds nothing: converting it takes no time (it looped 2^40 times).
        var rows = "{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776, 0, 3), }"
        rows += String(repeating: " ", count: (64 - (10 + rows.utf8.count + 1) % 64) % 64) + "\n"
        let wide = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(rows.utf8.count), 0] + Array(rows.utf8))
        let clock = ContinuousClock(), start = clock.now
        _ = try? NPY.parse(wide, source: "rows.npy").images(source: "rows.npy")
        #expect(clock.now - start < .seconds(5))
    }
}
