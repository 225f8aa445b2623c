// TapsDataTests: safetensors reader/writer (TapsNN) against the Python package, the real base and broken bytes.
import Foundation
import Testing
import TapsData
import TapsNN
import TapsTensor

/// Builds safetensors bytes from a header string and a data buffer (header length may be overridden).
private func safetensorsBytes(_ header: String, _ buffer: [UInt8] = [], length: UInt64? = nil) -> Data {
    var out = Data()
    let h = Array(header.utf8)
    withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: buffer)
    return out
}

private func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

@Suite("SafeTensors")
struct SafeTensorsTests {
    @Test("write then read returns the same tensors, order by name, and metadata")
    func roundTrip() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        var rng = SeededRNG(seed: 3)
        let tensors: [(String, Tensor)] = [
            ("fc.weight", .normal([3, 5], rng: &rng)), ("conv.weight", .normal([2, 1, 3, 3], rng: &rng)),
            ("scalar", Tensor(shape: [], storage: [4.5])), ("empty", Tensor(zeros: [0, 7])),
        ]
        let metadata = ["arch": "tiny \"quoted\" / ünïcode\n", "epoch": "3"]
        try SafeTensors.write(tensors, metadata: metadata, to: url)
        let file = try SafeTensors.read(url)
        #expect(file.names == ["conv.weight", "empty", "fc.weight", "scalar"])
        for (name, tensor) in tensors { #expect(file[name] == tensor, "\(name)") }
        #expect(file.metadata == metadata)
        #expect(file["missing"] == nil)
        // Header is padded so the data buffer starts 8-byte aligned; no temp file is left behind.
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        #expect(headerLength % 8 == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
        // A Data slice with a non-zero startIndex reads the same (regression: offsets were mixed up).
        let padded = Data([9, 9, 9]) + bytes
        let slice = try SafeTensors.read(data: padded.dropFirst(3), source: "slice")
        #expect(slice.names == file.names && slice["fc.weight"] == file["fc.weight"])
        // Overwrite in place (atomic rename over an existing file).
        try SafeTensors.write([("x", Tensor(repeating: 1, shape: [2]))], to: url)
        #expect(try SafeTensors.read(url).names == ["x"])
    }

    @Test("the embedded digit CNN base: names, shapes, 390,410 parameters, arch metadata")
    func embeddedBase() throws {
        let file = try SafeTensors.read(EmbeddedPack.baseWeightsURL)
        let expected: [String: [Int]] = [
            "conv_layers.0.weight": [32, 1, 3, 3], "conv_layers.0.bias": [32],
            "conv_layers.3.weight": [64, 32, 3, 3], "conv_layers.3.bias": [64],
            "conv_layers.6.weight": [128, 64, 3, 3], "conv_layers.6.bias": [128],
            "fc_layers.0.weight": [256, 1152], "fc_layers.0.bias": [256],
            "fc_layers.2.weight": [10, 256], "fc_layers.2.bias": [10],
        ]
        #expect(Set(file.names) == Set(expected.keys))
        for (name, shape) in expected { #expect(file[name]?.shape == shape, "\(name)") }
        #expect(file.elementCount == 390_410)
        #expect(file.metadata["arch"]?.contains("conv3x3(1->32") == true)
        #expect(file.storedDTypes.values.allSatisfy { $0 == "F32" })
        #expect(abs((file["conv_layers.0.bias"]?.storage[0] ?? 0) - (-0.08786723)) < 1e-7)
        #expect(file["fc_layers.2.weight"]?.isFinite == true)
    }

    @Test("a file written by the Python safetensors package: every dtype converts to Float")
    func pythonFixture() throws {
        let file = try SafeTensors.read(fixturesDirectory.appendingPathComponent("safetensors/python-tiny.safetensors"))
        #expect(file.metadata == ["arch": "tiny", "format": "np"])
        #expect(file["conv.weight"] == Tensor(shape: [2, 1, 2, 2], storage: (0..<8).map { Float($0) / 8 - 0.5 }))
        #expect(file["conv.bias"]?.storage == [0.25, -1.5])
        #expect(file["half"]?.storage == [1, -2.5, 65504, 0x1p-24])
        #expect(file["double"] == Tensor(shape: [1, 2], storage: [0.1, -3]))
        #expect(file["bn.num_batches_tracked"] == Tensor(shape: [], storage: [123_456]))
        #expect(file["mask"]?.storage == [1, 0, 1])
        #expect(file["bytes"]?.storage == [0, 7, 255])
        #expect(file["ints"]?.storage == [-7, 42])
        #expect(file.storedDTypes["bn.num_batches_tracked"] == "I64")
        #expect(file.storedDTypes["half"] == "F16")
    }

    @Test("the Swift writer reproduces the Python package's F32 file byte for byte")
    func byteIdenticalToPython() throws {
        let url = fixturesDirectory.appendingPathComponent("safetensors/python-f32.safetensors")
        let python = try Data(contentsOf: url)
        let file = try SafeTensors.read(url)
        let swift = try SafeTensors.serialize(file.tensors.map { ($0.name, $0.tensor) }, metadata: file.metadata)
        #expect(swift == python)
    }

    @Test("F16 and BF16 upcast exactly, including subnormals, infinities and NaN")
    func halfPrecision() throws {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0xFC00, 0x3555, 0x7E00]
        let bf16: [UInt16] = [0x3F80, 0xC049, 0x0001, 0x7F80, 0xFF80]
        let buffer = (f16 + bf16).flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let header = #"{"h":{"dtype":"F16","shape":[9],"data_offsets":[0,18]},"b":{"dtype":"BF16","shape":[5],"data_offsets":[18,28]}}"#
        let file = try SafeTensors.read(data: safetensorsBytes(header, buffer), source: "half.safetensors")
        let h = try #require(file["h"]?.storage)
        #expect(Array(h[0..<8]) == [1, -2, 65504, 0x1p-24, -0.0, .infinity, -.infinity, 0.333251953125])
        #expect(h[4].sign == .minus)
        #expect(h[8].isNaN)
        let b = try #require(file["b"]?.storage)
        #expect(b == [1, Float(bitPattern: 0xC049_0000), Float(bitPattern: 0x0001_0000), .infinity, -.infinity])
        #expect(file.names == ["h", "b"], "file order follows data offsets")
    }

    // MARK: - Malformed files: one line naming the file and the problem

    private static let ok = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test("malformed files throw one-line errors naming the file and the problem",
          arguments: [
            ("short", Data([1, 2, 3]), "shorter than the 8-byte"),
            ("beyond", safetensorsBytes(ok, f32Bytes([1, 2]), length: 1000), "header length 1000"),
            ("absurd", safetensorsBytes(ok, f32Bytes([1, 2]), length: 200_000_000_000), "larger than"),
            ("notjson", safetensorsBytes("{\"w\": [1, 2", f32Bytes([1, 2])), "not a valid JSON"),
            ("notobject", safetensorsBytes("[1, 2]  ", []), "top level is not an object"),
            ("notutf8", safetensorsBytes(String(decoding: [0x7B, 0x7D], as: UTF8.self)).replacingHeaderByte(1, with: 0xFF), "not UTF-8"),
            ("nooffsets", safetensorsBytes(#"{"w":{"dtype":"F32","shape":[2]}}"#, f32Bytes([1, 2])), "missing field 'data_offsets'"),
            ("noshape", safetensorsBytes(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, f32Bytes([1, 2])), "field 'shape'"),
            ("nodtype", safetensorsBytes(#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, f32Bytes([1, 2])), "missing field 'dtype'"),
            ("dtype", safetensorsBytes(#"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, [1, 2]), "unknown dtype 'F8_E4M3'; supported: F64, F32, F16, BF16"),
            ("size", safetensorsBytes(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, f32Bytes([1, 2])), "tensor 'w' shape [3] F32 needs 12 bytes but its data_offsets span 8"),
            ("range", safetensorsBytes(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, f32Bytes([1])), "'w' data_offsets [0, 8] are out of range of the 4-byte"),
            ("overlap", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, f32Bytes([1])), "begin at 0, expected 4"),
            ("gap", safetensorsBytes(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, f32Bytes([1, 2, 3])), "'b' data_offsets begin at 8, expected 4"),
            ("tail", safetensorsBytes(ok, f32Bytes([1, 2, 3])), "begin at 8, expected 12"),
            ("metadata", safetensorsBytes(#"{"__metadata__":{"epoch":3},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, f32Bytes([1, 2])), "__metadata__ value for 'epoch' is not a string"),
          ])
    func malformed(label: String, bytes: Data, problem: String) {
        let source = "bad-\(label).safetensors"
        let message = errorMessage { try SafeTensors.read(data: bytes, source: source) }
        #expect(message?.hasPrefix(source + ": ") == true, "\(message ?? "no error")")
        #expect(message?.contains(problem) == true, "\(label): \(message ?? "no error")")
        #expect(message?.contains("\n") == false)
    }

    @Test("a missing file reports its path")
    func missingFile() {
        let message = errorMessage { try SafeTensors.read(URL(fileURLWithPath: "/nonexistent/x.safetensors")) }
        #expect(message?.hasPrefix("/nonexistent/x.safetensors: cannot read") == true, "\(message ?? "")")
    }

    @Test("the writer rejects duplicate and reserved names")
    func writerNames() {
        let t = Tensor(zeros: [1])
        #expect(errorMessage { try SafeTensors.serialize([("a", t), ("a", t)]) }?.contains("'a': duplicate") == true)
        #expect(errorMessage { try SafeTensors.serialize([("__metadata__", t)]) }?.contains("reserved") == true)
    }
}

private extension Data {
    /// A copy with header byte `i` (counted after the 8-byte length) replaced.
    func replacingHeaderByte(_ i: Int, with byte: UInt8) -> Data {
        var copy = self
        copy[copy.startIndex + 8 + i] = byte
        return copy
    }
}
