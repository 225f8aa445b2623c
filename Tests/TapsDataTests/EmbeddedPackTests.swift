// TapsDataTests: the embedded benchmark loads with the counts its manifest promises; derived tasks.
import Foundation
import Testing
import TapsData

/// The subset of `manifest.json` the tests compare against.
struct PackManifest: Decodable {
    struct Task: Decodable {
        var classes: Int
        var n_train: Int
        var n_test: Int
        var train_class_counts: [Int]
        var test_class_counts: [Int]
    }
    var tasks: [String: Task]
}

@Suite("Embedded pack")
struct EmbeddedPackTests {
    static let manifest: PackManifest? = try? JSONDecoder().decode(PackManifest.self, from: Data(contentsOf: EmbeddedPack.manifestURL))

    @Test("every stored task loads with the manifest's counts, classes and class counts",
          arguments: ["mnist5k", "cvdigits", "ucidigits", "fashion", "lfwfaces"])
    func storedTask(name: String) throws {
        let expected = try #require(Self.manifest?.tasks[name])
        let task = try EmbeddedPack.load(name)
        #expect(task.name == name)
        #expect(task.classes == expected.classes)
        #expect(task.train.count == expected.n_train)
        #expect(task.test.count == expected.n_test)
        #expect(task.train.classCounts == expected.train_class_counts)
        #expect(task.test.classCounts == expected.test_class_counts)
        #expect(task.train.imageShape == [1, 28, 28])
        #expect(!task.description.isEmpty)
    }

    @Test("spot-check counts quoted in the brief")
    func quotedCounts() throws {
        let fashion = try EmbeddedPack.load("fashion"), uci = try EmbeddedPack.load("ucidigits")
        let lfw = try EmbeddedPack.load("lfwfaces")
        #expect((fashion.train.count, fashion.test.count) == (3000, 1000))
        #expect((uci.train.count, uci.test.count) == (1400, 397))
        #expect((lfw.train.count, lfw.test.count, lfw.classes) == (150, 50, 2))
        #expect(Set(Self.manifest?.tasks.keys.map { $0 } ?? []) == Set(EmbeddedPack.taskNames.prefix(5)))
    }

    @Test("mnist-rot90 is mnist5k rotated counter-clockwise with the same labels")
    func rot90() throws {
        let base = try EmbeddedPack.load("mnist5k"), rot = try EmbeddedPack.load("mnist-rot90")
        #expect(rot.train.labels == base.train.labels && rot.test.labels == base.test.labels)
        #expect(rot.train == base.train.rotated90CounterClockwise())
        #expect(rot.train != base.train)
        // Four rotations are the identity.
        let back = rot.test.rotated90CounterClockwise().rotated90CounterClockwise().rotated90CounterClockwise()
        #expect(back == base.test)
    }

    @Test("mnist-parity has label % 2 and two classes")
    func parity() throws {
        let base = try EmbeddedPack.load("mnist5k"), parity = try EmbeddedPack.load("mnist-parity")
        #expect(parity.classes == 2)
        #expect(parity.train.labels == base.train.labels.map { $0 % 2 })
        #expect(parity.test.labels == base.test.labels.map { $0 % 2 })
        #expect(parity.train.pixels == base.train.pixels)
        #expect(parity.train.classCounts == [2000, 2000])
    }

    @Test("unknown task names list the known ones")
    func unknownTask() {
        #expect(errorMessage { try EmbeddedPack.load("cifar100") }
                == "unknown task 'cifar100'; known tasks: mnist5k, cvdigits, ucidigits, fashion, lfwfaces, mnist-rot90, mnist-parity")
    }

    @Test("concurrent loads return equal cached tasks")
    func concurrentLoads() async throws {
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 { group.addTask { try EmbeddedPack.load("lfwfaces").train.count } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts == [150, 150, 150, 150])
    }

    @Test("base weights and golden logits ship with the pack")
    func resources() {
        #expect(FileManager.default.fileExists(atPath: EmbeddedPack.baseWeightsURL.path))
        #expect(FileManager.default.fileExists(atPath: EmbeddedPack.goldenLogitsURL.path))
    }
}
