// TapsTUI: colour themes in btop's format, `theme[key]="#rrggbb"` one per line (see themes/README in README.md).
import Foundation

/// The colour slots a theme can set. The raw value is the key in the theme file.
public enum ThemeKey: String, CaseIterable, Sendable {
    case mainFg = "main_fg", mainBg = "main_bg", title, highlight = "hi_fg", dimFg = "inactive_fg"
    case border = "div_line", statusFg = "status_fg", statusBg = "status_bg"
    case loss, taskLoss = "task_loss", penalty
    case trainAccuracy = "train_acc", validationAccuracy = "val_acc", stepAccuracy = "step_acc"
    case gateOff = "gate_off", gateLow = "gate_low", gateNear = "gate_near", gateOn = "gate_on", gateHigh = "gate_high"
    case active, inactive, running, paused, done, lambda, event, error

    /// One line of documentation per key (for the README and `themes/*.theme` headers).
    public var meaning: String {
        switch self {
        case .mainFg: "default text"
        case .mainBg: "background (\"\" keeps the terminal's own)"
        case .title: "panel titles"
        case .highlight: "key names and values in the status bar"
        case .dimFg: "axis labels, hints, secondary text"
        case .border: "panel borders"
        case .statusFg: "text of the top status line"
        case .statusBg: "background of the top status line"
        case .loss: "total loss line"
        case .taskLoss: "task (cross-entropy) loss line"
        case .penalty: "lambda * penalty line"
        case .trainAccuracy: "train accuracy per epoch"
        case .validationAccuracy: "validation accuracy per epoch"
        case .stepAccuracy: "running train accuracy per step"
        case .gateOff: "heatmap: score <= 0"
        case .gateLow: "heatmap: score below tau/2"
        case .gateNear: "heatmap: score in [tau/2, tau)"
        case .gateOn: "heatmap: score in [tau, 2 tau)"
        case .gateHigh: "heatmap: score >= 2 tau"
        case .active: "active (task-specific) layer mark"
        case .inactive: "inactive (shared) layer mark"
        case .running: "RUNNING badge"
        case .paused: "PAUSED badge"
        case .done: "DONE / STOPPED badge"
        case .lambda: "lambda value and its history"
        case .event: "event line"
        case .error: "errors and warnings"
        }
    }
}

/// A malformed theme file.
public struct ThemeError: Error, CustomStringConvertible, Equatable {
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}

/// A resolved colour theme: every key has a colour (possibly the terminal default).
public struct Theme: Sendable, Equatable {
    public var name: String
    public var colors: [ThemeKey: TermColor]

    public init(name: String, colors: [ThemeKey: TermColor]) {
        self.name = name; self.colors = colors
    }

    /// The colour of one key (terminal default when unset).
    public subscript(_ key: ThemeKey) -> TermColor { colors[key] ?? .terminalDefault }

    /// A style with `key` as foreground on the theme's background.
    public func style(_ key: ThemeKey, _ attrs: CellAttributes = []) -> Style {
        Style(fg: self[key], bg: self[.mainBg], attrs: attrs)
    }

    /// True when no key has a colour (the mono theme): widgets then lean on glyphs and attributes only.
    public var isMonochrome: Bool { colors.values.allSatisfy { $0 == .terminalDefault } }

    // MARK: - Parsing

    /// Parses btop-style theme text. `#` starts a comment line; `theme[key]="#rrggbb"`, `"#rgb"` or `""` (terminal
    /// default). Keys this dashboard does not use are ignored (so btop themes load); keys missing from the text keep
    /// the colour of `base`.
    /// - Throws: `ThemeError` naming the first line that is not a comment, blank, or a well-formed assignment.
    public static func parse(_ text: String, name: String, base: Theme? = nil) throws -> Theme {
        var colors = (base ?? .builtInDefault).colors
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.hasPrefix("theme["), let close = line.firstIndex(of: "]") else {
                throw ThemeError(line: number + 1, reason: "expected theme[key]=\"#rrggbb\", got '\(line)'")
            }
            let key = String(line[line.index(line.startIndex, offsetBy: 6)..<close])
            var rest = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
            guard rest.hasPrefix("=") else {
                throw ThemeError(line: number + 1, reason: "missing '=' after theme[\(key)]")
            }
            rest = rest.dropFirst().trimmingCharacters(in: .whitespaces)
            // "value", optionally followed by a # comment.
            guard rest.hasPrefix("\""), let closing = rest.dropFirst().firstIndex(of: "\"") else {
                throw ThemeError(line: number + 1, reason: "value of theme[\(key)] must be in double quotes")
            }
            let trailing = rest[rest.index(after: closing)...].trimmingCharacters(in: .whitespaces)
            guard trailing.isEmpty || trailing.hasPrefix("#") else {
                throw ThemeError(line: number + 1, reason: "unexpected '\(trailing)' after the value of theme[\(key)]")
            }
            let value = rest[rest.index(after: rest.startIndex)..<closing].trimmingCharacters(in: .whitespaces)
            let color: TermColor
            if value.isEmpty {
                color = .terminalDefault
            } else if let rgb = RGB(hex: value) {
                color = .rgb(rgb)
            } else {
                throw ThemeError(line: number + 1, reason: "'\(value)' is not a colour (#rrggbb, #rgb or \"\")")
            }
            if let themeKey = ThemeKey(rawValue: key) { colors[themeKey] = color }
        }
        return Theme(name: name, colors: colors)
    }

    /// Writes the theme back in the file format (every key, documented).
    public func serialized() -> String {
        var out = "# taps-tui theme '\(name)': theme[key]=\"#rrggbb\" (or \"\" for the terminal default)\n"
        for key in ThemeKey.allCases {
            let value: String
            switch self[key] {
            case .terminalDefault: value = ""
            case .rgb(let c): value = c.description
            }
            out += "theme[\(key.rawValue)]=\"\(value)\"".padding(toLength: 32, withPad: " ", startingAt: 0)
                + " # \(key.meaning)\n"
        }
        return out
    }
}

// MARK: - Built-in themes (the same as themes/*.theme, so the binary works from any folder)

extension Theme {
    private static func make(_ name: String, _ pairs: [ThemeKey: String]) -> Theme {
        var colors: [ThemeKey: TermColor] = [:]
        for key in ThemeKey.allCases {
            colors[key] = pairs[key].flatMap(RGB.init(hex:)).map(TermColor.rgb) ?? .terminalDefault
        }
        return Theme(name: name, colors: colors)
    }

    /// Dark-friendly colours on the terminal's own background.
    public static let builtInDefault = make("default", [
        .mainFg: "#d0d0d0", .title: "#5fafff", .highlight: "#ffffff", .dimFg: "#808080", .border: "#4e4e4e",
        .statusFg: "#ffffff", .statusBg: "#303030",
        .loss: "#ff8700", .taskLoss: "#5fafff", .penalty: "#d75fd7",
        .trainAccuracy: "#87d75f", .validationAccuracy: "#ffd700", .stepAccuracy: "#5f8700",
        .gateOff: "#3a3a3a", .gateLow: "#005f87", .gateNear: "#0087af", .gateOn: "#d78700", .gateHigh: "#ffaf00",
        .active: "#ffaf00", .inactive: "#5f87af", .running: "#87d75f", .paused: "#ffd700", .done: "#5fafff",
        .lambda: "#ff87d7", .event: "#bcbcbc", .error: "#ff5f5f",
    ])

    /// Saturated, bright colours on black for low-vision users and washed-out screens.
    public static let builtInHighContrast = make("high-contrast", [
        .mainFg: "#ffffff", .mainBg: "#000000", .title: "#00ffff", .highlight: "#ffff00", .dimFg: "#c0c0c0",
        .border: "#ffffff", .statusFg: "#000000", .statusBg: "#ffffff",
        .loss: "#ff0000", .taskLoss: "#00ffff", .penalty: "#ff00ff",
        .trainAccuracy: "#00ff00", .validationAccuracy: "#ffff00", .stepAccuracy: "#008000",
        .gateOff: "#000080", .gateLow: "#0000ff", .gateNear: "#00ffff", .gateOn: "#ffff00", .gateHigh: "#ff0000",
        .active: "#ffff00", .inactive: "#00ffff", .running: "#00ff00", .paused: "#ffff00", .done: "#00ffff",
        .lambda: "#ff00ff", .event: "#ffffff", .error: "#ff0000",
    ])

    /// No colours at all (NO_COLOR, terminals without colour): shade glyphs and bold/reverse carry the meaning.
    public static let builtInMono = make("mono", [:])

    /// The built-in themes by name.
    public static let builtIn: [String: Theme] = [
        "default": builtInDefault, "high-contrast": builtInHighContrast, "mono": builtInMono,
    ]
}

// MARK: - Finding a theme at run time

/// The outcome of looking up `--theme`: the theme to use and, if something went wrong, a message for the user.
public struct ThemeResolution: Sendable {
    public var theme: Theme
    public var warning: String?
}

extension Theme {
    /// Folders searched for `NAME.theme`: `$TAPS_THEMES`, `./themes`, and `themes` next to or above the executable
    /// (covers `.build/release/taps-tui` run from anywhere).
    public static func searchDirectories(executable: String = CommandLine.arguments.first ?? "") -> [URL] {
        var dirs: [URL] = []
        if let env = ProcessInfo.processInfo.environment["TAPS_THEMES"], !env.isEmpty {
            dirs.append(URL(fileURLWithPath: env))
        }
        dirs.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("themes"))
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            dirs.append(dir.appendingPathComponent("themes"))
            dir.deleteLastPathComponent()
        }
        return dirs
    }

    /// Resolves `--theme NAME|PATH`: a path (contains `/` or ends in `.theme`) is read directly; a name is looked up
    /// in `directories`, then among the built-in themes. A missing or malformed theme gives the default theme and a
    /// warning; this never throws.
    public static func resolve(_ request: String, directories: [URL]) -> ThemeResolution {
        let isPath = request.contains("/") || request.hasSuffix(".theme")
        let name = isPath ? URL(fileURLWithPath: request).deletingPathExtension().lastPathComponent : request
        let candidates = isPath
            ? [URL(fileURLWithPath: request)]
            : directories.map { $0.appendingPathComponent("\(request).theme") }
        for url in candidates where FileManager.default.fileExists(atPath: url.path) {
            do {
                let text = try String(contentsOf: url, encoding: .utf8)
                return ThemeResolution(theme: try parse(text, name: name), warning: nil)
            } catch let error as ThemeError {
                return ThemeResolution(theme: builtInDefault,
                                       warning: "theme \(url.path) \(error); using default")
            } catch {
                return ThemeResolution(theme: builtInDefault,
                                       warning: "cannot read theme \(url.path): \(error.localizedDescription); using default")
            }
        }
        if let theme = builtIn[name] { return ThemeResolution(theme: theme, warning: nil) }
        return ThemeResolution(theme: builtInDefault,
                               warning: "theme '\(request)' not found (built in: \(builtIn.keys.sorted().joined(separator: ", "))); using default")
    }
}
