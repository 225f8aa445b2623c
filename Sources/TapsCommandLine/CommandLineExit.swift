// TapsCommandLine: how `taps` and `taps-tui` end on an error — one line on stderr, exit 64 for usage errors, 1 for
// failures (README "Errors") — instead of the argument parser's four lines (error, help, usage, see).
import ArgumentParser
import Foundation
import TapsTraining

/// The `main()` of `taps` and `taps-tui`: parses the command line, runs the command and turns any error into one
/// line on stderr (`taps: error: --budget: expected ..., got 'abc'`) with the README's exit codes: 64 (`EX_USAGE`)
/// for what the parser or a command's `validate()` rejects, for a `--config` file that cannot be used and for
/// options out of range; 1 for failures; the code of an `ExitCode` a command throws after printing its own line.
/// `--help` and `--version` print as ArgumentParser prints them (stdout, exit 0).
public enum CommandLineExit {
    /// Runs `root` (the `@main` command) on the process's arguments and exits.
    /// - Parameters:
    ///   - root: the root command type.
    ///   - program: the name that starts each error line (`taps`, `taps-tui`).
    public static func main<Root: ParsableCommand>(_ root: Root.Type, program: String) -> Never {
        do {
            var command = try root.parseAsRoot()
            try command.run()
            exit(0)
        } catch {
            let code = exitCode(for: error, root: root)
            if code == ExitCode.success.rawValue { root.exit(withError: error) }   // --help, --version
            let text = oneLine(root.message(for: error))
            if !text.isEmpty { FileHandle.standardError.write(Data("\(program): error: \(text)\n".utf8)) }
            exit(code)
        }
    }

    /// The exit code for `error` escaping a command: 64 for errors in the options (see ``isUsageError(_:)``),
    /// otherwise what ArgumentParser gives it (64 for parse and validation errors, 0 for help and version, an
    /// `ExitCode`'s own code, 1 for anything else).
    public static func exitCode<Root: ParsableCommand>(for error: any Error, root: Root.Type) -> Int32 {
        isUsageError(error) ? ExitCode.validationFailure.rawValue : root.exitCode(for: error).rawValue
    }

    /// Whether `error` is about what the user asked for rather than a failure while doing it: a `ValidationError`,
    /// a `--config` file that cannot be used (`ConfigFileError`), or an option out of range or contradicting another
    /// (`ConfigError`, which `TrainingConfig.validate()` throws).
    public static func isUsageError(_ error: any Error) -> Bool {
        error is ValidationError || error is ConfigFileError || error is ConfigError
    }

    /// ArgumentParser's message as one line: a value a transform rejected gives the transform's own message
    /// (`--lambda: expected a number, got 'x'`) without the parser's `The value 'x' is invalid for '--lambda
    /// <lambda>': ` before it; a value outside a list reads the same way (`--mode: expected one of 'taps',
    /// 'finetune' or 'probe', got 'fast'`); line breaks (the parser's "or:" alternatives) become `; `.
    public static func oneLine(_ message: String) -> String {
        var text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("The value '"), let marker = text.range(of: ">': ") ?? text.range(of: "': ") {
            let own = text[marker.upperBound...]
            if own.hasPrefix("--") { text = String(own) }
        }
        // "The value 'fast' is invalid for '--mode <mode>'. Please provide one of 'taps', 'finetune' or 'probe'."
        if text.hasPrefix("The value '"), let invalid = text.range(of: "' is invalid for '"),
           let list = text.range(of: "'. Please provide one of ", range: invalid.upperBound..<text.endIndex) {
            let value = text[text.index(text.startIndex, offsetBy: 11)..<invalid.lowerBound]
            let option = text[invalid.upperBound..<list.lowerBound].split(separator: " ").first.map(String.init) ?? ""
            let choices = text[list.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "."))
            if option.hasPrefix("-") { text = "\(option): expected one of \(choices), got '\(value)'" }
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
