// TapsTUITests: what `R` makes of the typed options (budget switching, `--budget off`) and the run folder numbers
// of `r` / `R`.
import Foundation
import Testing
import TapsTUI

@Suite struct NewRunOptionsTests {
    let first = ["--task", "ucidigits", "--epochs", "6", "--budget", "20%"]

    @Test func typedBudgetBytesReplacesTheFirstRunsBudget() {
        let m = NewRunOptions.merge(commandLine: first, typed: ["--budget-bytes", "2MB"])
        #expect(m.arguments == ["--task", "ucidigits", "--epochs", "6", "--budget-bytes", "2MB"])
        #expect(!m.dropsBudget)
    }

    @Test func typedBudgetReplacesTheFirstRunsBudgetBytesInEitherSpelling() {
        let m = NewRunOptions.merge(commandLine: ["--task", "ucidigits", "--budget-bytes=2MB"], typed: ["--budget=10%"])
        #expect(m.arguments == ["--task", "ucidigits", "--budget=10%"])
    }

    @Test func budgetOffRemovesEveryBudget() {
        for word in ["off", "none", "OFF"] {
            let m = NewRunOptions.merge(commandLine: first, typed: ["--seed", "2", "--budget", word])
            #expect(m.arguments == ["--task", "ucidigits", "--epochs", "6", "--seed", "2"])
            #expect(m.dropsBudget)
        }
        #expect(NewRunOptions.merge(commandLine: first, typed: ["--budget-bytes=off"]).dropsBudget)
    }

    @Test func theLastTypedBudgetCounts() {
        let on = NewRunOptions.merge(commandLine: first, typed: ["--budget", "off", "--budget-bytes", "1MB"])
        #expect(on.arguments == ["--task", "ucidigits", "--epochs", "6", "--budget-bytes", "1MB"])
        #expect(!on.dropsBudget)
        let off = NewRunOptions.merge(commandLine: first, typed: ["--budget", "10%", "--budget", "off"])
        #expect(off.arguments == ["--task", "ucidigits", "--epochs", "6"])
        #expect(off.dropsBudget)
    }

    @Test func withoutATypedBudgetTheFirstRunsStays() {
        let m = NewRunOptions.merge(commandLine: first, typed: ["--seed", "2"])
        #expect(m.arguments == first + ["--seed", "2"])
        #expect(!m.dropsBudget)
        // A budget option without its value is left for the parser to refuse.
        #expect(NewRunOptions.merge(commandLine: first, typed: ["--budget"]).arguments.last == "--budget")
    }

    @Test func aRefusedRunUsesUpNoFolderNumber() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-folders-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = dir.appendingPathComponent("tui").path
        let folders = RunFolders(base: base)
        #expect(folders.candidate() == base + "-2")
        #expect(folders.candidate() == base + "-2", "asking again (a refused R) keeps the number")
        folders.taken(base + "-2")
        #expect(folders.candidate() == base + "-3")
        try FileManager.default.createDirectory(atPath: base + "-3", withIntermediateDirectories: false)
        #expect(folders.candidate() == base + "-4", "an existing folder is skipped")
        folders.taken("/elsewhere/out")  // an --out typed at R: not one of ours
        #expect(folders.candidate() == base + "-4")
    }
}
