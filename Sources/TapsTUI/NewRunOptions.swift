// TapsTUI: what `R` turns into: the first run's command line with the typed options after it (a budget typed
// replaces the first run's, `--budget off` removes it), and the run folder numbers `r` / `R` hand out.
import Foundation

/// The options of a run started with `R`: the first run's command line, then the options typed at the prompt.
public enum NewRunOptions {
    /// The two budget options; a run has at most one of them.
    static let budgetOptions = ["--budget", "--budget-bytes"]

    /// Values of a budget option that mean "no budget" at the `R` prompt.
    public static let offWords: Set<String> = ["off", "none"]

    /// The command line for `parseAsRoot` and whether the new run has no budget at all.
    public struct Merged: Sendable, Equatable {
        /// The first run's arguments (without its budget when one was typed), then the typed ones (without
        /// `--budget off`).
        public var arguments: [String]
        /// Whether `--budget off` (or `--budget-bytes off`) was typed last among the budget options: the new run
        /// has no budget, not even one from a `--config` file.
        public var dropsBudget: Bool
    }

    /// Combines the first run's `commandLine` with the options `typed` at the `R` prompt. Later values win, as
    /// everywhere on the prompt; for the budget this means: a typed `--budget` or `--budget-bytes` replaces the
    /// first run's budget of either kind (the two never stand together), and of several typed, the last counts.
    /// `--budget off` (or `none`, also after `--budget-bytes`) removes the budget.
    public static func merge(commandLine: [String], typed: [String]) -> Merged {
        let typedBudgets = budgetRanges(in: typed)
        guard let last = typedBudgets.last else { return Merged(arguments: commandLine + typed, dropsBudget: false) }
        let base = removing(budgetRanges(in: commandLine), from: commandLine)
        var kept = removing(typedBudgets.dropLast(), from: typed)
        // Indices in `kept` moved by what was removed before `last`.
        let shift = typedBudgets.dropLast().reduce(0) { $0 + $1.count }
        let lastRange = (last.lowerBound - shift)..<(last.upperBound - shift)
        let value = lastRange.count == 2 ? kept[lastRange.upperBound - 1] : String(kept[lastRange.lowerBound]
            .split(separator: "=", maxSplits: 1).last ?? "")
        let drops = offWords.contains(value.trimmingCharacters(in: .whitespaces).lowercased())
        if drops { kept.removeSubrange(lastRange) }
        return Merged(arguments: base + kept, dropsBudget: drops)
    }

    /// Where `--budget V`, `--budget=V`, `--budget-bytes V` and `--budget-bytes=V` stand in `args` (in order).
    static func budgetRanges(in args: [String]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if budgetOptions.contains(a) {
                let end = min(i + 2, args.count)
                ranges.append(i..<end)
                i = end
                continue
            }
            if budgetOptions.contains(where: { a.hasPrefix($0 + "=") }) { ranges.append(i..<(i + 1)) }
            i += 1
        }
        return ranges
    }

    private static func removing<C: Collection>(_ ranges: C, from args: [String]) -> [String] where C.Element == Range<Int> {
        var out = args
        for r in ranges.reversed() { out.removeSubrange(r) }
        return out
    }
}

/// Hands out fresh run folders for `r` / `R`: BASE-2, BASE-3, ... (skipping folders that exist). A number counts
/// as used only once a run took it (``taken(_:)``), so a refused `R` leaves no gap.
public final class RunFolders: @unchecked Sendable {
    private let lock = NSLock()
    private let base: String
    private var next = 2

    /// Folders `BASE-2`, `BASE-3`, ... next to `base`.
    public init(base: String) { self.base = base }

    /// The first folder from the next unused number on that does not exist (the number is not used up).
    public func candidate() -> String {
        lock.lock(); defer { lock.unlock() }
        var n = next
        while FileManager.default.fileExists(atPath: "\(base)-\(n)") { n += 1 }
        return "\(base)-\(n)"
    }

    /// Marks `folder` (a ``candidate()``) as used: later candidates come after it.
    public func taken(_ folder: String) {
        lock.lock(); defer { lock.unlock() }
        let prefix = base + "-"
        guard folder.hasPrefix(prefix), let n = Int(folder.dropFirst(prefix.count)) else { return }
        next = max(next, n + 1)
    }
}
