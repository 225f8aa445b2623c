// TapsDataTests: paths and scratch files shared by the data tests.
import Foundation

/// `Tests/Fixtures`, found from this source file so tests need no bundle resources.
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures", isDirectory: true)

/// A fresh temporary folder for one test.
func makeScratchDirectory(_ label: String = #function) throws -> URL {
    let name = "taps-data-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Captures the thrown error's one-line description (or `nil` when nothing is thrown).
func errorMessage<T>(_ body: () throws -> T) -> String? {
    do { _ = try body(); return nil } catch { return String(describing: error) }
}
