// TapsCommandLineTests: option values (--budget, --budget-bytes), their one-line errors and exit codes, range
// messages in plain words, the budget warnings and `taps path`'s own options.
import ArgumentParser
import Foundation
import Testing
import TapsCommandLine
import TapsTraining

/// The one line `taps` prints for what the parser rejects in `arguments` (or "no error").
private func parseError(_ arguments: [String]) -> String {
    do { _ = try TrainingOptions.parse(arguments); return "no error" } catch {
        return CommandLineExit.oneLine(TrainingOptions.message(for: error))
    }
}

/// The message of the error `body` throws (or "no error").
private func message(_ body: () throws -> Void) -> String {
    do { try body(); return "no error" } catch { return "\(error)" }
}

/// A root command for the exit-code checks.
private struct Root: ParsableCommand {}

@Suite("option parsing")
struct OptionParsingTests {
    @Test("what the parser rejects is one line saying what was expected, with the value as given")
    func parseErrorsAreOneLine() {
        let percentage = "--budget: expected a percentage like 20% (or a fraction like 0.2), got"
        #expect(parseError(["--budget", "abc"]) == "\(percentage) 'abc'")
        #expect(parseError(["--budget", "nan"]) == "\(percentage) 'nan'")
        #expect(parseError(["--budget", "150%"]) == "--budget: expected a share of the backbone from 0% to 100% (or 0 to 1), got 150%")
        #expect(parseError(["--budget", "20"]) == "--budget: expected a share of the backbone from 0% to 100% (or 0 to 1), got 20 (did you mean 20%?)")
        // A leading dash is a value here, not an option: the message names the real problem.
        #expect(parseError(["--budget", "-5%"]) == "--budget: expected a share >= 0 of the backbone from 0% to 100% (or 0 to 1), got -5%")
        #expect(parseError(["--budget-bytes", "-3"]) == "--budget-bytes: expected a size >= 0 (e.g. 2MB), got -3")
        #expect(parseError(["--budget-bytes", "2XB"]) == "--budget-bytes: expected a size like 2MB, 500kB, 1.5GiB or 123456 (bytes), got '2XB'")
        #expect(parseError(["--lambda", "abc"]) == "--lambda: expected a number, got 'abc'")
        #expect(parseError(["--mode", "fast"]) == "--mode: expected one of 'taps', 'finetune' or 'probe', got 'fast'")
        #expect(parseError(["--budget", "0.2", "--budget-bytes", "2MB"]) == "no error")
    }

    @Test("exit codes: 64 for parse errors and for options out of range or a bad --config file, 1 for failures, 0 for --help")
    func exitCodes() {
        let range = ConfigError.invalid(option: "--epochs", expected: "a whole number from 1 to 1000000", got: "0")
        #expect(CommandLineExit.exitCode(for: range, root: Root.self) == 64)
        #expect(CommandLineExit.exitCode(for: ConfigFileError(file: "a.toml", message: "epochs: ..."), root: Root.self) == 64)
        #expect(CommandLineExit.exitCode(for: ValidationError("x"), root: Root.self) == 64)
        #expect(CommandLineExit.exitCode(for: FileError(action: "write", path: "x", reason: "no space"), root: Root.self) == 1)
        #expect(CommandLineExit.exitCode(for: ExitCode(130), root: Root.self) == 130)
        do {
            _ = try TrainingOptions.parse(["--budget", "abc"])
            Issue.record("--budget abc was accepted")
        } catch {
            #expect(CommandLineExit.exitCode(for: error, root: Root.self) == 64)
        }
        #expect(CommandLineExit.exitCode(for: CleanExit.helpRequest(), root: Root.self) == 0)
    }

    @Test("sizes: kB, MB, GB are powers of 1000 (as the dashboard shows them), KiB, MiB, GiB powers of 1024")
    func byteSizes() throws {
        #expect(try ByteSize("100kB").bytes == 100_000)
        #expect(try ByteSize("100KB").bytes == 100_000)
        #expect(try ByteSize("2MB").bytes == 2_000_000)
        #expect(try ByteSize("1.5GB").bytes == 1_500_000_000)
        #expect(try ByteSize("100KiB").bytes == 102_400)
        #expect(try ByteSize("2MiB").bytes == 2 << 20)
        #expect(try ByteSize("1GiB").bytes == 1 << 30)
        #expect(try ByteSize("123456").bytes == 123_456)
        #expect(try ByteSize("7B").bytes == 7)
        #expect(try TrainingOptions.parse(["--budget-bytes", "100kB"]).config().budgetBytes == 100_000)
    }

    @Test("range messages name the real limit in plain words: the budget's settle limit, not the epochs'")
    func rangeMessages() {
        func refusal(_ arguments: [String]) -> String { message { _ = try TrainingOptions.parse(arguments).config() } }
        let common = ["--task", "ucidigits", "--epochs", "6"]
        #expect(refusal(common + ["--settle-epochs", "99", "--budget", "20%"])
                    == "--settle-epochs: expected at most 3 with --budget (--epochs minus --warmup-epochs minus 1: the budget's search needs a penalty epoch), got 99")
        #expect(refusal(common + ["--settle-epochs", "4", "--budget", "20%"]).hasPrefix("--settle-epochs: expected at most 3 with --budget"))
        #expect(refusal(common + ["--settle-epochs", "6"]) == "--settle-epochs: expected a number of epochs from 0 to 5 (fewer than --epochs), got 6")
        // A budget from a file: out of range, and a bare number that was probably meant as a percentage.
        var c = TrainingConfig()
        c.budget = 20
        #expect(message { try c.validate() } == "--budget: expected a share of the backbone from 0% to 100% (or 0 to 1), got 20 (did you mean 20%?)")
        c.budget = 150
        #expect(message { try c.validate() } == "--budget: expected a share of the backbone from 0% to 100% (or 0 to 1), got 150")
    }

    @Test("--budget and --budget-bytes apply to --mode taps: finetune and probe are refused with one line")
    func budgetNeedsTaps() throws {
        let common = ["--task", "ucidigits", "--epochs", "6"]
        for mode in ["finetune", "probe"] {
            #expect(message { _ = try TrainingOptions.parse(common + ["--mode", mode, "--budget", "20%"]).config() }
                        == "--budget: expected --mode taps (finetune stores every layer; probe none), got --mode \(mode)")
            #expect(message { _ = try TrainingOptions.parse(common + ["--mode", mode, "--budget-bytes", "2MB"]).config() }
                        .hasPrefix("--budget-bytes: expected --mode taps"))
        }
        #expect(try TrainingOptions.parse(common + ["--mode", "finetune"]).config().mode == .finetune)
        #expect(try TrainingOptions.parse(common + ["--budget", "20%"]).config().budget == 0.2)
    }

    @Test("a budget that holds no gated layer, or every one, gets a warning at the start")
    func budgetWarnings() {
        let layers = [LayerInfo(index: 0, name: "conv_layers.0", shape: [32, 1, 3, 3], parameters: 288),
                      LayerInfo(index: 1, name: "fc_layers.0", shape: [128, 800], parameters: 102_400)]
        func start(_ budget: Double?) -> RunStartEvent {
            RunStartEvent(task: "t", mode: .taps, base: "digitcnn", lambda: 0.3, tau: 0.1, epochs: 6, warmupEpochs: 2,
                          stepsPerEpoch: 10, batchSize: 32, seed: 0, layers: layers, backboneParameters: 200_000,
                          runDirectory: "runs/t", time: 0, budget: budget)
        }
        #expect(BudgetWarning.message(for: start(nil)) == nil)
        #expect(BudgetWarning.message(for: start(0.2)) == nil)
        #expect(BudgetWarning.message(for: start(0)) == "the budget (0% of the backbone) holds no gated layer (the smallest, "
                    + "conv_layers.0, takes 0.14%): every gate ends off, as in --mode probe")
        #expect(BudgetWarning.message(for: start(0.6)) == "the budget (60% of the backbone) holds every gated layer "
                    + "(together 51.34%): it constrains nothing")
    }

    @Test("taps path's options: its own defaults, and none it would ignore or refuse")
    func pathOptions() throws {
        let help = PathOptions.helpMessage(columns: 2000)
        #expect(help.contains("(default 0.01 here)") && help.contains("(default 12 here)"))
        #expect(!help.contains("(default 0.3)") && !help.contains("(default 5)"))
        for refused in ["--budget", "--resume", "--checkpoint-every", "--mode", "--settle-epochs", "--path "] {
            #expect(!help.contains(refused), "\(refused) in taps path --help")
        }
        let c = try PathOptions.parse(["--task", "ucidigits", "--lambda", "0.02", "--path-settle-steps", "10"]).config()
        #expect(c.lambda == 0.02 && c.epochs == 12 && c.path?.settleSteps == 10 && c.outputDirectory == "runs/ucidigits-path")
        // The path's own defaults count in its checks (a warm-up of 8 fits its 12 epochs), and a refusal is a usage error.
        let warm = try PathOptions.parse(["--warmup-epochs", "8"]).config()
        #expect(warm.lambda == 0.01 && warm.epochs == 12 && warm.warmupEpochs == 8)
        #expect(throws: ValidationError.self) { _ = try PathOptions.parse(["--epochs", "0"]).config() }
        #expect(TrainingOptions.helpMessage(columns: 2000).contains("probe (the head and normalisation layers"))
    }
}
