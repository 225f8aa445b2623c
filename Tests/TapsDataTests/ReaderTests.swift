// TapsDataTests: NPY (NumPy-made fixtures), CSV and CIFAR-10 readers, including malformed input.
import Foundation
import Testing
import TapsData

private let npyDirectory = fixturesDirectory.appendingPathComponent("npy")

@Suite("NPY, CSV and CIFAR-10 readers")
struct ReaderTests {
    @Test("NumPy-written files of every supported version and dtype")
    func npyFixtures() throws {
        let u1 = try NPY.read(npyDirectory.appendingPathComponent("u1-v1.npy"))
        #expect(u1.shape == [2, 3, 4])
        #expect(u1.elements == .uint8((0..<24).map { UInt8($0 * 10) }))
        let f4 = try NPY.read(npyDirectory.appendingPathComponent("f4-v2.npy"))
        #expect(f4 == NPYArray(shape: [2, 3], elements: .float32((0..<6).map { (Float($0) - 2.5) / 4 })))
        let f8 = try NPY.read(npyDirectory.appendingPathComponent("f8-v3.npy"))
        #expect(f8 == NPYArray(shape: [3], elements: .float64([0.1, -1e300, 3])))
        #expect(f8.floats[1] == -.infinity)
        let scalar = try NPY.read(npyDirectory.appendingPathComponent("f4-scalar.npy"))
        #expect(scalar.shape == [] && scalar.tensor().storage == [1.5])
        // The encoder reproduces NumPy's bytes.
        for (name, version) in [("u1-v1.npy", UInt8(1)), ("f4-v2.npy", 2), ("f8-v3.npy", 3)] {
            let url = npyDirectory.appendingPathComponent(name)
            #expect(try NPY.encode(NPY.read(url), version: version) == Data(contentsOf: url), "\(name)")
        }
    }

    @Test("the coffee photo (224x224 RGB uint8, HWC) converts to CHW images")
    func coffee() throws {
        let url = npyDirectory.appendingPathComponent("coffee-224-rgb-uint8.npy")
        let array = try NPY.read(url)
        #expect(array.shape == [224, 224, 3])
        let image = try array.images(source: url.path)
        #expect(image.imageShape == [3, 224, 224] && image.count == 1)
        // Values checked with NumPy: a[0,0] = [39, 26, 15], a[100,150] = [247, 234, 219], sum 13933052.
        let plane = 224 * 224, offset = 100 * 224 + 150
        let corner: [UInt8] = [0, plane, 2 * plane].map { image.pixels[$0] }
        let middle: [UInt8] = [offset, plane + offset, 2 * plane + offset].map { image.pixels[$0] }
        #expect(corner == [39, 26, 15])
        #expect(middle == [247, 234, 219])
        #expect(image.pixels.reduce(0) { $0 + Int($1) } == 13_933_052)
        let (x, _) = image.batch([0], normalization: .efficientNetLite)
        #expect(abs(x.storage[0] - (39 - 127) / 128) < 1e-5)
    }

    @Test("rejected NPY files say why and what to do")
    func npyErrors() throws {
        let fortran = npyDirectory.appendingPathComponent("fortran.npy")
        #expect(errorMessage { try NPY.read(fortran) } == "\(fortran.path): unsupported Fortran-ordered array (fortran_order: True); re-save it in C order: np.save(path, np.ascontiguousarray(a))")
        let big = npyDirectory.appendingPathComponent("big-endian.npy")
        #expect(errorMessage { try NPY.read(big) }?.contains("unsupported big-endian dtype '>f4'") == true)

        let good = NPY.encode(NPYArray(shape: [4], elements: .float32([1, 2, 3, 4])))
        func message(_ data: Data) -> String? { errorMessage { try NPY.parse(data, source: "x.npy") } }
        #expect(message(good.dropLast(3)) == "x.npy: data for shape [4] <f4: truncated, expected 16 bytes, found 13")
        #expect(message(Data("PK\u{03}\u{04}zipfile".utf8)) == "x.npy: magic: expected \\x93NUMPY, found 50 4b 03 04 7a 69")
        #expect(message(good.prefix(40)) == "x.npy: NPY header: truncated, expected 128 bytes, found 40")
        var c8 = good  // integers are read (Keras labels are int64); complex numbers are not
        let descr = try #require(c8.range(of: Data("<f4".utf8)))
        c8.replaceSubrange(descr, with: Data("<c8".utf8))
        #expect(message(c8) == "x.npy: unsupported dtype '<c8'; supported dtypes: u1, f4, f8 and integers i1-i8, u2-u8")
        var i8 = good
        i8.replaceSubrange(descr, with: Data("<i4".utf8))
        #expect(try NPY.parse(i8, source: "x.npy") == NPYArray(shape: [4], elements: .int64([1065353216, 1073741824, 1077936128, 1082130432])))
        var v9 = good
        v9[6] = 9
        #expect(message(v9)?.contains("unsupported NPY format version 9.0") == true)
    }

    @Test("CSV: header skipped, label first or last, CRLF; malformed rows name line and column")
    func csv() throws {
        let text = "label,p1,p2,p3,p4\r\n3,0,255,7,8\r\n\r\n1,1,2,3,4.0\r\n"
        let data = try CSVImages.parse(Data(text.utf8), source: "d.csv", height: 2, width: 2)
        #expect(data.labels == [3, 1] && data.classes == 4)
        #expect(data.pixels == [0, 255, 7, 8, 1, 2, 3, 4])
        let last = try CSVImages.parse(Data("9,8,7,6,2\n".utf8), source: "l.csv", height: 1, width: 4, labelColumn: .last, classes: 3)
        #expect(last.labels == [2] && last.pixels == [9, 8, 7, 6])

        func message(_ s: String, classes: Int? = nil) -> String? {
            errorMessage { try CSVImages.parse(Data(s.utf8), source: "d.csv", height: 2, width: 2, classes: classes) }
        }
        #expect(message("1,2,3,4\n") == "d.csv:1: column count: expected 5 (1 label + 4 pixels), found 4")
        #expect(message("1,2,3,4,5\n2,0,0,300,0\n") == "d.csv:2: column 4: expected an integer pixel 0...255, found '300'")
        #expect(message("1,2,3,4,5\nx,0,0,0,0\n") == "d.csv:2: label (column 1): expected a non-negative integer, found 'x'")
        #expect(message("1,2,3,4,5\n2,0,0,-1,0\n") == "d.csv:2: column 4: expected an integer pixel 0...255, found '-1'")
        #expect(message("5,2,3,4,5\n", classes: 3) == "d.csv: label of example 0: expected 0..<3, found 5")

        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gz = dir.appendingPathComponent("d.csv.gz")
        try Gzip.compress(Data(text.utf8)).write(to: gz)
        #expect(try CSVImages.read(gz, height: 2, width: 2) == data)
    }

    @Test("CIFAR-10 binary: records to CHW images; wrong sizes and labels are errors")
    func cifar() throws {
        var record = [UInt8](repeating: 0, count: 2 * CIFAR10.recordBytes)
        record[0] = 7
        for i in 0..<3072 { record[1 + i] = UInt8(i / 1024 * 100) }  // R=0, G=100, B=200
        record[CIFAR10.recordBytes] = 2
        record[CIFAR10.recordBytes + 1] = 42
        let data = try CIFAR10.parse(Data(record), source: "b.bin")
        #expect(data.count == 2 && data.imageShape == [3, 32, 32] && data.classes == 10)
        #expect(data.labels == [7, 2])
        #expect(data.pixels[0] == 0 && data.pixels[1024] == 100 && data.pixels[2048] == 200 && data.pixels[3072] == 42)

        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("data_batch_1.bin"), b = dir.appendingPathComponent("data_batch_2.bin.gz")
        try Data(record).write(to: a)
        try Gzip.compress(Data(record.prefix(CIFAR10.recordBytes))).write(to: b)
        #expect(try CIFAR10.read([a, b]).labels == [7, 2, 7])

        #expect(errorMessage { try CIFAR10.parse(Data(record.dropLast(10)), source: "b.bin") }
                == "b.bin: file size: expected a multiple of 3073 bytes (1 label + 3072 pixels per record), found 6136 (1 records + 3063 bytes)")
        record[CIFAR10.recordBytes] = 10
        #expect(errorMessage { try CIFAR10.parse(Data(record), source: "b.bin") } == "b.bin: label of record 1: expected 0...9, found 10")
        #expect(CIFAR10.classNames.count == 10)
    }
}
