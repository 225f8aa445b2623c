// TapsTrainingTests: `--path` (taps path): one run that walks the accuracy/storage trade-off.
import Foundation
import Testing
import TAPS
import TapsData
import TapsNN
import TapsTraining

@Suite("The trade-off in one run (--path)", .serialized)
struct PathTests {
    @Test("a path on fashion records distinct sets down to every gate off, each with an export that reproduces it")
    func pathRecordsSettledPoints() throws {
        var c = quickConfig("path", lambda: 0.1, epochs: 8, warmup: 1, trainLimit: 1280)
        c.path = PathSettings(growth: 2, raiseEvery: 8, settleSteps: 8)
        let (summary, store, trainer) = try train(c)
        #expect(summary.status == .done, "\(summary.message ?? "")")
        let points = try #require(summary.pathPoints)
        #expect(points.count >= 3, "\(points.map(\.activeLayers))")
        #expect(points.first?.activeLayers.count == 4, "the set after warm-up comes first")
        #expect(points.last?.activeLayers.isEmpty == true, "the path ends with every gate off")
        // After the search, each set but the every-gate-off one (the probe, no steps) trains for the settle steps.
        let trained = points.dropLast()
        #expect(zip(trained, trained.dropFirst()).allSatisfy { $1.step - $0.step == 8 }, "\(points.map(\.step))")
        #expect(points.last?.step == trained.last?.step, "the every-gate-off point re-fits as the probe, without steps")
        // The step total announced when the search ends is the run's: the dashboard's and progress lines' total.
        let snapshot = store.snapshot()
        #expect(snapshot.plannedSteps == summary.steps && summary.steps == points.last?.step, "\(snapshot.plannedSteps ?? -1)")
        #expect(Set(points.map(\.activeLayers)).count == points.count, "each set is recorded once")
        #expect(zip(points, points.dropFirst()).allSatisfy { $0.lambda <= $1.lambda && $0.step <= $1.step })
        #expect(zip(points, points.dropFirst()).allSatisfy { $0.fractionOfBackbone >= $1.fractionOfBackbone })
        let folder = URL(fileURLWithPath: c.outputDirectory)
        for name in ["path.csv", "path.md", "path.json", "tradeoff.svg"] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), "\(name)")
        }
        let decoded = try makeJSONDecoder().decode([PathPoint].self, from: Data(contentsOf: folder.appendingPathComponent("path.json")))
        #expect(decoded == points)
        // Each point's export holds exactly its set and reproduces its test accuracy.
        for p in points {
            let export = folder.appendingPathComponent(try #require(p.export))
            let (network, metadata) = try TaskExport.load(export, onto: trainer.base)
            #expect(metadata.testAccuracy == p.testAccuracy)
            let accuracy = try evaluate(network.network, on: trainer.data.test, normalization: trainer.base.normalization).accuracy
            #expect(accuracy == p.testAccuracy, "point \(p.index)")
            // The export's size, for the table `taps path` prints (path.csv and path.json carry it too).
            let size = try #require(try FileManager.default.attributesOfItem(atPath: export.path)[.size] as? Int)
            #expect(p.exportBytes == size && size > 0, "point \(p.index)")
        }
        let csv = try String(contentsOf: folder.appendingPathComponent("path.csv"), encoding: .utf8)
        #expect(csv.contains(",\(points[0].exportBytes ?? -1),"), "\(csv)")
        let notices = store.snapshot().notices.map(\.message)
        #expect(notices.contains { $0.hasPrefix("path point 0 at step") })
        #expect(notices.contains { $0.hasPrefix("path complete") })
        // The every-gate-off point is the probe: its head re-fits as --mode probe trains it (docs/method.md "Settle phase").
        #expect(notices.contains { $0.contains("every gate is off, so the head re-fits") })
        var probeConfig = quickConfig("path-probe", mode: .probe, epochs: 8, warmup: 1, trainLimit: 1280)
        probeConfig.lambda = c.lambda
        let (probe, _, _) = try train(probeConfig)
        let lastPoint = try SafeTensors.read(folder.appendingPathComponent(try #require(points.last?.export)))
        let probeExport = try SafeTensors.read(URL(fileURLWithPath: try #require(probe.export)))
        for name in ["fc_layers.2.weight", "fc_layers.2.bias"] {
            #expect(lastPoint.tensors.first { $0.name == name }?.tensor == probeExport.tensors.first { $0.name == name }?.tensor, "\(name)")
        }
        #expect(points.last?.testAccuracy == probe.testAccuracy)
        // The sweep table's rows, and a comparison against a sweep that holds the same points.
        let rows = points.map { $0.sweepRow(seed: 0) }
        let comparison = PathReport.compare(points, sweep: rows)
        #expect(comparison.count == points.count && comparison.allSatisfy { $0.differencePoints == 0 })
    }

    @Test("every set trains from the end of warm-up on the same batches, whatever the search did")
    func setsTrainFromTheEndOfWarmUp() throws {
        // Two searches that raise lambda at different speeds: different states when they end, the same sets early on.
        var slow = quickConfig("path-slow", lambda: 0.1, epochs: 8, warmup: 1, trainLimit: 640)
        slow.path = PathSettings(growth: 1.5, raiseEvery: 4, settleSteps: 12)
        var fast = slow
        fast.outputDirectory = temporaryRunFolder("path-fast")
        fast.path?.growth = 4
        let (a, _, _) = try train(slow)
        let (b, _, _) = try train(fast)
        let pointsA = try #require(a.pathPoints), pointsB = try #require(b.pathPoints)
        #expect(pointsA.map(\.step) != pointsB.map(\.step), "the searches differ")
        var compared = 0
        for p in pointsA where !p.activeLayers.isEmpty {
            guard let q = pointsB.first(where: { $0.activeLayers == p.activeLayers }) else { continue }
            let x = try SafeTensors.read(URL(fileURLWithPath: slow.outputDirectory).appendingPathComponent(try #require(p.export)))
            let y = try SafeTensors.read(URL(fileURLWithPath: fast.outputDirectory).appendingPathComponent(try #require(q.export)))
            #expect(x.tensors.map(\.name) == y.tensors.map(\.name))
            for (t, u) in zip(x.tensors, y.tensors) { #expect(t.tensor == u.tensor, "\(p.activeLayers): \(t.name)") }
            #expect(p.testAccuracy == q.testAccuracy)
            compared += 1
        }
        #expect(compared >= 2, "sets found by both searches: \(pointsA.map(\.activeLayers)) / \(pointsB.map(\.activeLayers))")
    }

    @Test("--steps ends a path in its search (the set held, untrained) or inside a set (recorded as far as it got)")
    func stepsLimitEndsThePathWhereItIs() throws {
        var c = quickConfig("path-steps-full", lambda: 0.1, epochs: 8, warmup: 1, trainLimit: 640)
        c.path = PathSettings(growth: 2, raiseEvery: 4, settleSteps: 8)
        let (full, _, _) = try train(c)
        let points = try #require(full.pathPoints)
        let first = try #require(points.first)
        #expect(points.count >= 3)
        // Inside set 1: set 0 is the full run's point 0 exactly; set 1 is recorded after 3 of its 8 steps.
        var inside = c
        inside.outputDirectory = temporaryRunFolder("path-steps-inside")
        inside.maxSteps = first.step + 3
        let (cut, store, _) = try train(inside)
        #expect(cut.status == .done, "\(cut.message ?? "")")
        let cutPoints = try #require(cut.pathPoints)
        #expect(cutPoints.count == 2 && cutPoints.first == first.withSeconds(cutPoints.first?.seconds ?? 0))
        #expect(cutPoints.last?.activeLayers == points[1].activeLayers && cutPoints.last?.step == first.step + 3)
        #expect(store.snapshot().notices.contains { $0.message.hasPrefix("the run ended after 3 of the 8 steps of path set 1") })
        // Inside the search: nothing is trained, and the set the search holds is recorded as it is.
        var search = c
        search.outputDirectory = temporaryRunFolder("path-steps-search")
        search.maxSteps = 640 / 32 + 3
        let (early, earlyStore, _) = try train(search)
        #expect(early.status == .done && early.steps == 640 / 32 + 3, "\(early.message ?? "")")
        #expect(early.pathPoints?.count == 1 && early.pathPoints?.first?.activeLayers.count == 4)
        let notices = earlyStore.snapshot().notices.map(\.message)
        #expect(notices.contains { $0.hasPrefix("--steps 23 ended the path's search") })
        #expect(notices.contains { $0.hasPrefix("the run ended before the search was over") })
    }

    @Test("--path is refused outside taps mode and with a budget; growth must exceed 1; step counts are bounded")
    func pathOptionsAreChecked() {
        var c = quickConfig("path-bad")
        c.path = PathSettings(growth: 1)
        #expect(throws: ConfigError.self) { try c.validate() }
        c.path = PathSettings()
        c.mode = .finetune
        #expect(throws: ConfigError.self) { try c.validate() }
        c.mode = .taps; c.budget = 0.2; c.penalty = .weighted
        #expect(throws: ConfigError.self) { try c.validate() }
        // Step counts beyond any run are refused (twice the settle steps once trapped on overflow).
        c.budget = nil
        c.path = PathSettings(settleSteps: 4_611_686_018_427_387_904)
        #expect(throws: ConfigError.invalid(option: "--path-settle-steps", expected: "steps in 0...1000000000",
                                            got: "4611686018427387904")) { try c.validate() }
        c.path = PathSettings(raiseEvery: Int.max)
        #expect(throws: ConfigError.self) { try c.validate() }
        c.path = PathSettings(raiseEvery: PathSettings.maximumSteps, settleSteps: PathSettings.maximumSteps)
        #expect(throws: Never.self) { try c.validate() }
    }
}

private extension PathPoint {
    /// The point with another `seconds` (wall time differs between runs; everything else must not).
    func withSeconds(_ seconds: Double) -> PathPoint {
        var p = self
        p.seconds = seconds
        return p
    }
}
