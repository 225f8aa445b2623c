// TapsCommandLine: progress of long commands (train, suite, sweep) — a live status line on a terminal, plain
// lines when the output is a file or a pipe, nothing with --quiet.
import ArgumentParser
import Foundation
import TapsTraining

/// `--quiet` for commands that print progress.
public struct ProgressOptions: ParsableArguments {
    @Flag(name: [.customShort("q"), .long], help: "Print no progress lines (errors and the final result only).")
    public var quiet = false
    public init() {}
}

/// Prints a run's progress from its metrics events.
///
/// - `live` (the stream is a terminal and `TERM` is not `dumb`): one status line with k/N steps, %, images/s and
///   ETA, rewritten in place at most 5 times a second; epoch lines and notices scroll above it.
/// - `plain` (a file or pipe): the lines of ``ProgressFormatter/line(for:totalSteps:)`` (a step line every 25 steps,
///   with k/N and ETA).
/// - `quiet`: nothing.
public final class ProgressPrinter: @unchecked Sendable {
    public enum Style: Sendable, Equatable { case live, plain, quiet }

    public let style: Style
    private let output: FileHandle
    private let lock = NSLock()
    private var hasStatus = false
    private var lastDraw = Date.distantPast
    private var totalSteps: Int?
    private var epochs: Int?
    private var stepsPerEpoch: Int?
    private var label = ""

    /// A printer writing to `output`; `quiet` wins, otherwise live when `output` is a terminal.
    public init(quiet: Bool, output: FileHandle = .standardOutput) {
        self.output = output
        if quiet { style = .quiet } else { style = Self.isTerminal(output) ? .live : .plain }
    }

    /// Whether `handle` is a terminal that understands `\r` and erase-line (`TERM` set and not `dumb`).
    public static func isTerminal(_ handle: FileHandle) -> Bool {
        guard isatty(handle.fileDescriptor) == 1 else { return false }
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        return !term.isEmpty && term != "dumb"
    }

    /// Prints `store`'s events from now on. `maxSteps` caps the step total (the run's `--steps`); `label` prefixes
    /// the live line (e.g. `[2/8 taps-lambda-0.3]`). `header` is printed first (e.g. `== fashion`) when not quiet.
    public func follow(_ store: MetricsStore, maxSteps: Int?, label: String = "", header: String? = nil) {
        store.onEvent { [self] event in
            if case .start(let s) = event {
                lock.lock()
                totalSteps = min(s.stepsPerEpoch * s.epochs, maxSteps ?? Int.max)
                epochs = s.epochs
                stepsPerEpoch = s.stepsPerEpoch
                self.label = label
                lock.unlock()
                if let header { message(header) }
                // Even with --quiet: a budget that cannot steer anything is worth a line (without --quiet, the run's
                // own warning notice prints it).
                if style == .quiet, let warning = BudgetWarning.message(for: s) {
                    FileHandle.standardError.write(Data("taps: warning: \(warning)\n".utf8))
                }
            }
            if case .notice(let n) = event, let planned = n.plannedSteps {   // a path run's total, once its search is over
                lock.lock()
                totalSteps = min(planned, maxSteps ?? Int.max)
                if let epochs, let perEpoch = stepsPerEpoch, perEpoch > 0, planned >= 0 {
                    self.epochs = max(epochs, planned / perEpoch + (planned % perEpoch == 0 ? 0 : 1))
                }
                lock.unlock()
            }
            handle(event)
        }
    }

    /// Prints one line (not a progress line) above the live status, unless quiet.
    public func message(_ line: String) {
        guard style != .quiet else { return }
        lock.lock(); defer { lock.unlock() }
        clearStatus()
        write(line + "\n")
    }

    /// Removes the live status line (before a final report is printed).
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        clearStatus()
    }

    private func handle(_ event: MetricsEvent) {
        switch style {
        case .quiet: return
        case .plain:
            lock.lock(); let total = totalSteps; lock.unlock()
            if let line = ProgressFormatter.line(for: event, totalSteps: total) { message(line) }
        case .live:
            if case .step(let e) = event {
                lock.lock(); defer { lock.unlock() }
                let total = totalSteps ?? e.step
                guard Date().timeIntervalSince(lastDraw) >= 0.2 || e.step == total else { return }
                lastDraw = Date()
                var text = (label.isEmpty ? "" : label + " ") + ProgressFormatter.statusLine(e, totalSteps: total, epochs: epochs)
                let width = Self.columns(output)
                if text.count > width - 1 { text = String(text.prefix(max(width - 1, 10))) }
                write("\r\u{1B}[K" + text)
                hasStatus = true
            } else if let line = ProgressFormatter.line(for: event) {
                message(line)
            }
        }
    }

    private func clearStatus() {
        if hasStatus { write("\r\u{1B}[K"); hasStatus = false }
    }

    private func write(_ text: String) { output.write(Data(text.utf8)) }

    /// Terminal width in columns (80 when unknown).
    static func columns(_ handle: FileHandle) -> Int {
        var size = winsize()
        if ioctl(handle.fileDescriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}
