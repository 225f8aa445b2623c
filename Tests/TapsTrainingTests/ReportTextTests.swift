// TapsTrainingTests: the tables and figures of path runs and budget sweeps and suites (no training in the first two).
import Foundation
import Testing
import TAPS
import TapsTraining

/// Three points of a path on a four-layer network; points 1 and 2 were found at the same lambda.
private func samplePoints() -> [PathPoint] {
    func point(_ i: Int, lambda: Double, active: [String], percent: Double, test: Double, seconds: Double) -> PathPoint {
        PathPoint(index: i, step: 100 + 10 * i, lambda: lambda, activeLayers: active, gatedLayers: 4,
                  taskSpecificParameters: Int(percent * 1000), backboneParameters: 100_000, fractionOfBackbone: percent / 100,
                  validationAccuracy: test, testAccuracy: test, export: String(format: "points/point-%02d.safetensors", i),
                  seconds: seconds, exportBytes: 4000 + i)
    }
    return [point(0, lambda: 0.01, active: ["a", "b", "c", "d"], percent: 100.7, test: 0.85, seconds: 30),
            point(1, lambda: 5.12, active: ["a"], percent: 0.9, test: 0.79, seconds: 40),
            point(2, lambda: 5.12, active: [], percent: 0.3, test: 0.74, seconds: 42.5)]
}

@Suite("Report tables and figures")
struct ReportTextTests {
    @Test("a path's table labels each point distinctly, gives its export's size and its own seconds")
    func pathTableLabelsPointsAndGivesTheirBytes() throws {
        let points = samplePoints()
        let table = PathReport.table(points)
        #expect(table.contains("point 1 (1/4 active)") && table.contains("point 2 (0/4 active)"), "\(table)")
        #expect(table.contains("4,001") && table.contains("4,002"), "export bytes: \(table)")
        #expect(table.contains("10.0") && table.contains("2.5"), "seconds per point: \(table)")
        let rows = PathReport.rows(points, seed: 0)
        #expect(rows.map(\.exportBytes) == [4000, 4001, 4002])
        #expect(rows.map(\.seconds) == [30, 10, 2.5])
        #expect(Set(rows.map(\.setting)).count == 3)
        // The end of `taps path`: what the points are and which file is what, not a single run's summary.
        let end = PathReport.endText(points, task: "fashion", status: "done", seconds: 43, folder: "/tmp/p",
                                     files: ["path.md", "tradeoff.png"])
        #expect(end.contains("path (done): task fashion, 3 points"), "\(end)")
        #expect(end.contains("/tmp/p/points/point-NN.safetensors") && end.contains("tradeoff.png"))
        #expect(end.contains("task.safetensors in the run folder is the last point's network (point 2, 0/4 active)"))
        #expect(end.contains("seconds: each point's own time"))
        #expect(!end.contains("summary (") && !end.contains("test accuracy "))
    }

    @Test("path.md describes the search and the sets trained from the end of warm-up; its figure shows only points")
    func pathMarkdownAndFigureSayWhatAPathIs() throws {
        let points = samplePoints()
        let md = PathReport.markdown(points, task: "fashion", seed: 1)
        #expect(md.contains("trained from the state at the end of warm-up with its gates fixed"), "\(md)")
        #expect(!md.contains("changed and settled"))
        #expect(md.contains("| 1 | 5.12 | 1/4 (a) |") && md.contains("| 2 | 5.12 | 0/4 |"), "\(md)")
        #expect(md.contains("| `points/point-01.safetensors` | 4,001 | 10.0 |"), "\(md)")
        let svg = PathReport.tradeoffSVG(points, task: "fashion", seed: 1)
        #expect(!svg.contains("one run per setting") && svg.contains("one path run (seed 1)"))
        #expect(!svg.contains(">fine-tune<") && !svg.contains(">probe<"), "the legend lists only what is drawn")
        #expect(svg.contains(">p1 λ=5.12<") && svg.contains(">p2 λ=5.12<"))
        // A sweep's figure keeps its reference markers in the legend.
        let sweep = SVGPlot.tradeoff(title: "t", points: [.init(percent: 1, accuracy: 0.8, label: "λ=1", kind: "taps"),
                                                          .init(percent: 100, accuracy: 0.9, label: "finetune", kind: "finetune")])
        #expect(sweep.contains(">fine-tune<") && !sweep.contains(">probe<"))
    }

    @Test("a budget sweep's table leads with the budget, marks each run fits or OVER and drops the monotonicity line")
    func budgetSweepTables() throws {
        func row(_ lambda: Double?, mode: String = "taps", active: Int, deltas: Int?) -> SweepRow {
            SweepRow(setting: lambda.map { "taps-lambda-\($0)" } ?? mode, mode: mode, lambda: lambda, testAccuracy: 0.9,
                     bestValidationAccuracy: 0.9, activeLayers: active, gatedLayers: 4, activeLayerNames: [],
                     taskSpecificParameters: (deltas ?? 0) + 100, backboneParameters: 10_000, fractionOfBackbone: 0.01,
                     exportBytes: 10, seconds: 1, reused: false, budget: deltas == nil ? nil : 0.2,
                     activeDeltaParameters: deltas)
        }
        // λ=3 keeps more than λ=0.1: with a budget lambda is only the controller's starting value.
        let rows = [row(0.1, active: 1, deltas: 561), row(3, active: 2, deltas: 2100), row(nil, mode: "probe", active: 0, deltas: nil)]
        let table = SweepRunner.table(rows)
        #expect(table.hasPrefix("  budget 20% of the backbone"), "\(table)")
        #expect(table.contains("\n  lambda is each run's starting value") && table.contains("within it 1 of 2 TAPS runs\n"), "\(table)")
        #expect(table.contains("5.61% fits") && table.contains("21.00% OVER"), "\(table)")
        let md = SweepRunner.markdown(rows, task: "ucidigits", monotone: false)
        #expect(md.contains("Budget 20%") && md.contains("| 5.61% fits |") && !md.contains("monoton"), "\(md)")
        let csv = SweepRunner.csv(rows).split(separator: "\n")
        #expect(csv[0].hasSuffix(",budget_percent,delta_percent,fits_budget") && csv[1].hasSuffix(",20.00,5.61,yes")
                && csv[3].hasSuffix(",,,"), "\(csv)")
        // Without a budget: no budget line or column, and the monotonicity line as before.
        let plain = rows.map { r in var r = r; r.budget = nil; r.activeDeltaParameters = nil; return r }
        #expect(!SweepRunner.table(plain).contains("budget"))
        #expect(SweepRunner.markdown(plain, task: "ucidigits", monotone: false).contains("do NOT decrease monotonically"))
    }

    // About 10 s in release: a one-task suite and a one-lambda sweep, each a 4-epoch budget run on 512 images.
    @Test("a budget suite and a budget sweep record the budget and whether each run fits it")
    func budgetSuiteAndSweepSayWhetherRunsFit() throws {
        var training = suiteTraining(trainLimit: 512, lambda: 0.1)
        training.epochs = 4
        training.budget = 0.2
        training.penalty = .weighted
        let suiteOut = temporaryRunFolder("budget-suite")
        let suite = try SuiteRunner(config: SuiteConfig(tasks: ["ucidigits"], training: training, outputDirectory: suiteOut),
                                    control: TrainingControl(lambda: 0.1)).run()
        #expect(suite.status == .done)
        let suiteMd = try String(contentsOfFile: suiteOut + "/suite.md", encoding: .utf8)
        #expect(suiteMd.contains("Budget 20% of the backbone for each task's active deltas") && suiteMd.contains("within it 1 of 1 task;"),
                "\(suiteMd)")
        #expect(suiteMd.contains("deltas vs budget") && suiteMd.contains("% fits |"), "\(suiteMd)")
        #expect(suite.table.contains("  budget 20%"), "\(suite.table)")

        training.task = "ucidigits"
        let sweepOut = temporaryRunFolder("budget-sweep")
        let sweep = try SweepRunner(config: SweepConfig(task: "ucidigits", lambdas: [0.1], modes: [.taps], training: training,
                                                        outputDirectory: sweepOut)).run()
        let row = try #require(sweep.rows.first)
        #expect(row.budget == 0.2 && row.activeDeltaParameters != nil && row.fitsBudget == true, "\(row)")
        let sweepMd = try String(contentsOfFile: sweepOut + "/sweep.md", encoding: .utf8)
        #expect(sweepMd.contains("Budget 20%") && !sweepMd.contains("Active layers never increase"), "\(sweepMd)")
    }
}
