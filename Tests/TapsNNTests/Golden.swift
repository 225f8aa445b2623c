// TapsNNTests: loading the PyTorch golden fixtures written by scripts/make_golden.py.
import Foundation
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

/// One golden JSON file (`{"magic": "taps-golden", "version": 1, "cases": [...]}`), found relative to this
/// source file so tests need neither resources nor PyTorch.
struct GoldenFile {
    static let supportedVersion = 1
    let cases: [[String: Any]]

    init(_ name: String, filePath: String = #filePath) throws {
        let url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/golden/\(name)").standardized
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let root = object as? [String: Any], root["magic"] as? String == "taps-golden",
              root["version"] as? Int == Self.supportedVersion, let cases = root["cases"] as? [[String: Any]] else {
            throw GoldenError.badHeader(name)
        }
        self.cases = cases
    }

    func `case`(_ name: String) throws -> [String: Any] {
        guard let c = cases.first(where: { $0["name"] as? String == name }) else { throw GoldenError.missing(name) }
        return c
    }
}

enum GoldenError: Error { case badHeader(String), missing(String) }

extension Dictionary where Key == String, Value == Any {
    /// The tensor stored under `key` as `{"shape": [...], "data": [...]}`.
    func tensor(_ key: String) throws -> Tensor {
        guard let t = self[key] as? [String: Any], let shape = t["shape"] as? [Int],
              let data = t["data"] as? [Double] ?? (t["data"] as? [NSNumber])?.map(\.doubleValue) else {
            throw GoldenError.missing(key)
        }
        return Tensor(shape: shape, storage: data.map(Float.init))
    }
    func int(_ key: String) throws -> Int {
        guard let v = self[key] as? Int else { throw GoldenError.missing(key) }
        return v
    }
    func double(_ key: String) throws -> Double {
        guard let v = self[key] as? Double ?? (self[key] as? NSNumber)?.doubleValue else { throw GoldenError.missing(key) }
        return v
    }
}

/// Expects `actual ≈ expected` (shape equal, `|a - e| <= atol + rtol·|e|`); on failure the message shows
/// the first values side by side.
func expectClose(_ actual: Tensor, _ expected: Tensor, rtol: Double = 1e-5, atol: Double = 1e-4, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.shape == expected.shape else {
        Issue.record("\(label): shape \(actual.shape) vs expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    let r = compareClose(actual, expected, rtol: rtol, atol: atol)
    #expect(r.isClose, "\(label): \(r)", sourceLocation: sourceLocation)
}
