// taps-tui: the live dashboard's command line. Parses the options of `taps train` and dispatches by mode: a live run
// (Live.swift), attaching to runs started elsewhere (Attach.swift), a suite (Suite.swift) or a sweep (Sweep.swift). Without a usable
// terminal every mode prints the progress lines of `taps train` instead.
import ArgumentParser
import Foundation
import TapsCommandLine
import TapsTraining
import TapsTUI
import TapsVersion

@main
struct TapsTUICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taps-tui",
        abstract: "Live dashboard: train a TAPS task and steer its sparsity weight lambda while you watch.",
        discussion: "Keys:\n" + Keymap.helpLines().map { "  " + $0 }.joined(separator: "\n")
            + "\n\nWithout a terminal (stdout redirected, TERM=dumb or unknown) or with --headless it prints the"
            + " progress lines of `taps train` instead.",
        version: "taps-tui \(TapsVersion.description)")

    /// Errors as one line with the README's exit codes (`CommandLineExit`), not ArgumentParser's four lines.
    static func main() { CommandLineExit.main(TapsTUICommand.self, program: "taps-tui") }

    @Argument(help: ArgumentHelp("`sweep`: run a lambda sweep (as `taps sweep`) with one tab per setting.",
                                 valueName: "sweep"))
    var command: String?

    @OptionGroup var training: TrainingOptions

    @OptionGroup var sweep: SweepDashboardOptions

    @OptionGroup var suite: SuiteOptions

    @Flag(help: "Print progress lines instead of the dashboard (automatic when stdout is not a terminal).")
    var headless = false

    @Flag(help: "ASCII glyphs only (automatic when the locale is not UTF-8).")
    var ascii = false

    @Option(help: "Colour: auto (honours NO_COLOR / FORCE_COLOR), always or never.")
    var color: String = "auto"

    @Option(help: "Theme name (themes/NAME.theme, or built in: default, high-contrast, mono) or a .theme file.")
    var theme: String = "default"

    @Option(help: ArgumentHelp(
        "View a run started elsewhere by following its metrics.jsonl or run folder, or a suite folder (one tab per task).",
        discussion: "While the run has not ended, the steering keys write its control.json (docs/method.md \"Control file\")."
            + " Repeat to compare runs: the first is the main run (the one steered), the others are overlaid and their"
            + " heatmaps shown beside it. A file that does not exist yet is waited for."))
    var attach: [String] = []

    @Option(help: ArgumentHelp("Frames per second of the dashboard (1-30); after 3 s without a key it draws at most 4"
                               + " per second, so the trainer keeps its cores (any key restores the full rate)."))
    var fps: Double = 10

    @Flag(name: .customLong("crash-test"), help: .hidden)
    var crashTest = false

    func validate() throws {
        guard ColorMode(rawValue: color) != nil else {
            throw ValidationError("--color: expected auto, always or never, got '\(color)'")
        }
        guard fps >= 1, fps <= 30 else { throw ValidationError("--fps: expected 1...30, got \(fps)") }
        if let command, command != "sweep" {
            throw ValidationError("unknown command '\(command)': the only command is `sweep` (options go after it)")
        }
    }

    func run() throws {
        let resolution = Theme.resolve(theme, directories: Theme.searchDirectories())
        let options = DashboardOptions(theme: resolution.theme, startupMessage: resolution.warning,
                                       colorMode: ColorMode(rawValue: color) ?? .auto, forceASCII: ascii,
                                       framesPerSecond: fps, crashTest: crashTest)
        if !attach.isEmpty { return try runAttached(attach.map { URL(fileURLWithPath: $0) }, options: options) }
        if command == "sweep" { return try runSweep(options: options) }
        if suite.tasks != nil { return try runSuite(options: options) }
        if let w = resolution.warning, !headless { FileHandle.standardError.write(Data("taps-tui: \(w)\n".utf8)) }
        try runLive(options: options)
    }
}
