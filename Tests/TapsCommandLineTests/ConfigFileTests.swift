// TapsCommandLineTests: --config files (TOML and a run's config.json), flags overriding them, and bad input.
import Foundation
import Testing
import TapsCommandLine
import TapsTraining

private func temporaryFile(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-cli-test-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url.path
}

/// The message of the error `body` throws (or "no error").
private func message(_ body: () throws -> Void) -> String {
    do { try body(); return "no error" } catch { return "\(error)" }
}

@Suite("config files")
struct ConfigFileTests {
    @Test("TOML: config.json keys and option names; unset keys keep the defaults; flags override the file")
    func tomlWithOverrides() throws {
        let path = try temporaryFile("run.toml", """
            # a quick fashion run
            task = "ucidigits"
            lambda = 0.5
            warmup-epochs = 1
            lr = 0.02
            train_limit = 300
            penalty = "weighted"
            """)
        let fromFile = try TrainingOptions.parse(["--config", path]).config()
        #expect(fromFile.task == "ucidigits" && fromFile.lambda == 0.5 && fromFile.warmupEpochs == 1)
        #expect(fromFile.learningRate == 0.02 && fromFile.trainLimit == 300 && fromFile.penalty == .weighted)
        #expect(fromFile.epochs == TrainingConfig().epochs && fromFile.batchSize == TrainingConfig().batchSize)
        #expect(fromFile.outputDirectory == "runs/ucidigits")

        let overridden = try TrainingOptions.parse(["--config", path, "--lambda", "3", "--task", "fashion", "--epochs", "2"]).config()
        #expect(overridden.lambda == 3 && overridden.task == "fashion" && overridden.epochs == 2)
        #expect(overridden.learningRate == 0.02, "settings not given on the command line still come from the file")
        #expect(overridden.outputDirectory == "runs/fashion")
        // A flag equal to the default still overrides the file (the parser knows it was given).
        #expect(try TrainingOptions.parse(["--config", path, "--lambda", "2"]).config().lambda == 2)
    }

    @Test("--budget and --budget-bytes: both on one command line is an error; either replaces a --config file's other")
    func budgetOptions() throws {
        #expect(throws: ConfigError.self) { try TrainingOptions.parse(["--budget", "20%", "--budget-bytes", "2MB"]).config() }
        // A budget is enforced at the settle: a run without one is refused.
        #expect(throws: ConfigError.self) { try TrainingOptions.parse(["--budget", "20%", "--epochs", "3"]).config() }
        #expect(throws: ConfigError.self) { try TrainingOptions.parse(["--budget", "20%", "--settle-epochs", "0"]).config() }
        #expect(try TrainingOptions.parse(["--budget", "20%", "--epochs", "4"]).config().budget == 0.2)
        // ... and so is one whose settle leaves no penalty epoch for the controller's search (4 = 2 warm-up + 2
        // settle), naming the option to change.
        func refusedOption(_ arguments: [String]) -> String? {
            do {
                _ = try TrainingOptions.parse(arguments).config()
                return nil
            } catch let ConfigError.invalid(option, _, _) {
                return option
            } catch {
                return "\(error)"
            }
        }
        #expect(refusedOption(["--budget", "20%", "--epochs", "4", "--settle-epochs", "2"]) == "--settle-epochs")
        #expect(refusedOption(["--budget", "20%", "--epochs", "3", "--settle-epochs", "1"]) == "--budget")
        #expect(refusedOption(["--budget", "20%", "--epochs", "3"]) == "--budget")
        #expect(try TrainingOptions.parse(["--budget", "20%", "--epochs", "5", "--settle-epochs", "2"]).config().budget == 0.2)
        let path = try temporaryFile("budget.toml", "budget = 0.2\n")
        let fromFile = try TrainingOptions.parse(["--config", path]).config()
        #expect(fromFile.budget == 0.2 && fromFile.budgetBytes == nil && fromFile.penalty == .weighted)
        let bytes = try TrainingOptions.parse(["--config", path, "--budget-bytes", "2MB"]).config()
        #expect(bytes.budget == nil && bytes.budgetBytes == 2_000_000)
    }

    @Test("TOML takes the command line's forms of the budget: budget = \"20%\", budget_bytes = \"2MB\"")
    func budgetStrings() throws {
        let percent = try temporaryFile("p.toml", "budget = \"20%\"\n")
        #expect(try ConfigFile.load(percent).config.budget == 0.2)
        let size = try temporaryFile("p.toml", "budget-bytes = \"2MB\"\n")
        #expect(try ConfigFile.load(size).config.budgetBytes == 2_000_000)
        let kibibytes = try temporaryFile("p.toml", "budget_bytes = \"100KiB\"\n")
        #expect(try ConfigFile.load(kibibytes).config.budgetBytes == 102_400)
        let bad = try temporaryFile("p.toml", "budget = \"abc\"\n")
        #expect(message { _ = try ConfigFile.load(bad) } == "\(bad): budget: expected a percentage like 20% (or a fraction like 0.2), got \"abc\"")
        let over = try temporaryFile("p.toml", "budget = \"150%\"\n")
        #expect(message { _ = try ConfigFile.load(over) } == "\(over): budget: expected a share of the backbone from 0% to 100% (or 0 to 1), got 150%")
    }

    @Test("a decimal where a whole number belongs names the key (TOML and config.json)")
    func decimalsForWholeNumbers() throws {
        for (key, text) in [("epochs", "epochs = 6.5"), ("budget_bytes", "budget_bytes = 1.5"), ("settle_epochs", "settle-epochs = 1.5"),
                            ("seed", "seed = -1")] {
            let file = try temporaryFile("p.toml", text + "\n")
            let value = text.components(separatedBy: " = ")[1]
            #expect(message { _ = try ConfigFile.load(file) } == "\(file): \(key): expected a whole number >= 0, got \(value)")
        }
        let json = try temporaryFile("config.json", #"{"epochs": 6.5}"#)
        #expect(message { _ = try ConfigFile.load(json) } == "\(json): epochs: expected a whole number >= 0, got 6.5")
        let whole = try temporaryFile("p.toml", "epochs = 6\nseed = 3\nmax_steps = 40\n")
        let c = try ConfigFile.load(whole).config
        #expect(c.epochs == 6 && c.seed == 3 && c.maxSteps == 40)
        // Every seed --seed takes, up to UInt64.max, round-trips through a run's config.json.
        for seed in [UInt64(9_100_000_000_000_000_000), UInt64.max] {
            var big = TrainingConfig()
            big.seed = seed
            let file = try temporaryFile("config.json", String(decoding: try makeJSONEncoder().encode(big), as: UTF8.self))
            #expect(try ConfigFile.load(file).config.seed == seed)
        }
    }

    @Test("a run's config.json decodes to exactly the configuration that wrote it")
    func configJSONRoundTrip() throws {
        var c = TrainingConfig()
        c.task = "lfwfaces"; c.lambda = 0.37; c.seed = 7; c.maxSteps = 20; c.trainLimit = 300; c.outputDirectory = "runs/a"
        c.penaltyUpdate = .subgradient
        let path = try temporaryFile("config.json", String(decoding: try makeJSONEncoder().encode(c), as: UTF8.self))
        #expect(try TrainingOptions.parse(["--config", path]).config() == c)
        var moved = c
        moved.outputDirectory = "runs/b"
        #expect(try TrainingOptions.parse(["--config", path, "--out", "runs/b"]).config() == moved)
    }

    @Test("an older taps's config.json of a proximal TAPS run is refused unless --lambda replaces its lambda; files without lambda_definition written by hand load")
    func olderLambdaDefinition() throws {
        var c = TrainingConfig()
        c.lambda = 0.3; c.outputDirectory = "runs/old"
        var json = try #require(try JSONSerialization.jsonObject(with: makeJSONEncoder().encode(c)) as? [String: Any])
        #expect(json.removeValue(forKey: "lambda_definition") as? Int == TrainingConfig.currentLambdaDefinition)
        let old = try temporaryFile("config.json", String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self))
        #expect(message { _ = try TrainingOptions.parse(["--config", old]).config() }
                    == "\(old): lambda_definition: missing: a run's config.json from an older taps, whose proximal lambda meant "
                    + "0.1x today's (1 - momentum); --config \(old) --lambda 0.03 repeats that run (docs/method.md \"Conversion\")")
        let converted = try TrainingOptions.parse(["--config", old, "--lambda", "0.03"]).config()
        #expect(converted.lambda == 0.03 && converted.lambdaDefinition == TrainingConfig.currentLambdaDefinition)
        #expect(converted.outputDirectory == "runs/old")
        // The subgradient form's lambda kept its meaning.
        json["penalty_update"] = "subgradient"
        let subgradient = try temporaryFile("config.json", String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self))
        #expect(try TrainingOptions.parse(["--config", subgradient]).config().lambda == 0.3)
        // Written by hand (some keys only), JSON or TOML: today's definition.
        let handJSON = try temporaryFile("mine.json", #"{"task": "fashion", "lambda": 0.5, "mode": "taps", "penalty_update": "proximal"}"#)
        let hand = try TrainingOptions.parse(["--config", handJSON]).config()
        #expect(hand.lambda == 0.5 && hand.lambdaDefinition == TrainingConfig.currentLambdaDefinition)
        let handTOML = try temporaryFile("mine.toml", "lambda = 0.5\nmode = \"taps\"\npenalty_update = \"proximal\"\n")
        #expect(try TrainingOptions.parse(["--config", handTOML]).config().lambdaDefinition == TrainingConfig.currentLambdaDefinition)
    }

    @Test("bad config files: one line naming the file and what was wrong")
    func badFiles() throws {
        let unknown = try temporaryFile("a.toml", "lamda = 0.3\n")
        #expect(message { _ = try ConfigFile.load(unknown) }.hasPrefix("\(unknown): unknown setting 'lamda'"))
        let wrongType = try temporaryFile("b.toml", "epochs = \"ten\"\n")
        #expect(message { _ = try ConfigFile.load(wrongType) } == "\(wrongType): epochs: expected a whole number >= 0, got \"ten\"")
        let badMode = try temporaryFile("c.toml", "mode = \"fast\"\n")
        #expect(message { _ = try ConfigFile.load(badMode) } == "\(badMode): mode: expected one of taps, finetune, probe, got \"fast\"")
        let syntax = try temporaryFile("d.toml", "lambda = 0.3\nepochs = = 3\n")
        #expect(message { _ = try ConfigFile.load(syntax) }.hasPrefix("\(syntax):2:"))
        let negative = try temporaryFile("e.toml", "lambda = -3\n")
        #expect(message { _ = try TrainingOptions.parse(["--config", negative]).config() }
                    .hasPrefix("--lambda: expected a number in [0, 10000] (>= 0, at most the ceiling), got -3.0 (from the command line or \(negative))"))
        #expect(message { _ = try ConfigFile.load("/nonexistent/x.toml") }.hasPrefix("/nonexistent/x.toml: cannot read"))
        let json = try temporaryFile("f.json", "[1, 2]")
        #expect(message { _ = try ConfigFile.load(json) }.contains("not a JSON object"))
    }

    @Test("negative and malformed numbers on the command line say what was expected")
    func numbers() throws {
        // `--lambda -3` is a value, not an unknown option: validation then says what was wrong.
        let c = try TrainingOptions.parse(["--lambda", "-3"])
        #expect(c.shared.lambda == -3)
        #expect(message { _ = try c.config() } == "--lambda: expected a number in [0, 10000] (>= 0, at most the ceiling), got -3.0")
        #expect(try TrainingOptions.parse(["--tau", "-0.5"]).config().tau == -0.5)
        #expect(message { _ = try TrainingOptions.parse(["--epochs", "three"]) }.contains("--epochs: expected a whole number, got 'three'"))
        #expect(message { _ = try TrainingOptions.parse(["--seed", "-1"]) }.contains("--seed: expected a whole number >= 0, got '-1'"))
    }
}
