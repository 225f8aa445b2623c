// TapsCommandLine: where a run came from — version, exact command line and machine — written as run.json into
// every run folder, so a result can be traced to the code and the command that made it.
import Foundation
import TapsTensor
import TapsTraining
import TapsVersion

/// What `run.json` holds (snake_case keys). Kept apart from `config.json` on purpose: nothing here changes a
/// run's results, and `taps train --config RUN/config.json` must repeat the run exactly.
public struct RunProvenance: Codable, Sendable, Equatable {
    /// Package version, e.g. `0.5.0`.
    public var version: String
    /// Short git commit of the build (`-dirty` when the checkout had changes), nil when built outside a checkout.
    public var gitCommit: String?
    /// The program's arguments exactly as received, `argv[0]` first.
    public var arguments: [String]
    /// The same as one shell-quoted line that can be pasted into a terminal.
    public var commandLine: String
    /// Working directory the command ran in (relative paths in `arguments` are relative to it).
    public var workingDirectory: String
    /// Host name of the machine.
    public var host: String
    /// Operating system as reported by Foundation.
    public var operatingSystem: String
    /// Logical cores the process may use.
    public var cores: Int
    /// OpenBLAS worker threads when the run started.
    public var blasThreads: Int
    /// Start of the run, ISO 8601 in UTC.
    public var started: String

    /// The provenance of this process now.
    public static func current(arguments: [String] = CommandLine.arguments) -> RunProvenance {
        let formatter = ISO8601DateFormatter()
        return RunProvenance(
            version: TapsVersion.package, gitCommit: TapsVersion.commit, arguments: arguments,
            commandLine: arguments.map(shellQuoted).joined(separator: " "),
            workingDirectory: FileManager.default.currentDirectoryPath, host: ProcessInfo.processInfo.hostName,
            operatingSystem: ProcessInfo.processInfo.operatingSystemVersionString,
            cores: ProcessInfo.processInfo.activeProcessorCount, blasThreads: BLASThreads.current,
            started: formatter.string(from: Date()))
    }

    /// Writes `run.json` into `directory` (atomically).
    /// - Throws: `FileError` when the folder is not writable, encoding errors never in practice.
    public func write(into directory: String) throws {
        try writeAtomically(try makeJSONEncoder().encode(self),
                            to: URL(fileURLWithPath: directory).appendingPathComponent("run.json"))
    }

    /// Makes every run reported to `store` write `run.json` into its folder when it starts (the `start` event names
    /// the folder; by then the trainer has set the BLAS threads). A failure is a warning on standard error.
    public static func record(on store: MetricsStore) {
        store.onEvent { event in
            guard case .start(let s) = event else { return }
            do { try RunProvenance.current().write(into: s.runDirectory) } catch {
                FileHandle.standardError.write(Data("taps: warning: \(plainDescription(of: error)) (run.json)\n".utf8))
            }
        }
    }
}

/// `word` quoted for a POSIX shell when it holds anything but letters, digits and `-_./=:,+@%`.
public func shellQuoted(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
