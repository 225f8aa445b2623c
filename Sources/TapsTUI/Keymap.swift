// TapsTUI: the one key table; the help overlay, the hint line and the README section are generated from it.
import TapsTraining

/// A key press as the dashboard sees it.
public enum Key: Hashable, Sendable {
    case character(Character)
    case control(Character)
    case function(Int)
    case escape
    case resize
    case up, down, left, right, pageUp, pageDown
    case enter, backspace
    /// A left click (or, `double`, a double click) on cell (x, y).
    case mouse(x: Int, y: Int, double: Bool)

    /// How the key is written in the help overlay.
    public var label: String {
        switch self {
        case .character(" "): "space"
        case .character(let c): String(c)
        case .control(let c): "Ctrl-\(c.uppercased())"
        case .function(let n): "F\(n)"
        case .escape: "Esc"
        case .resize: "resize"
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .enter: "Enter"
        case .backspace: "Backspace"
        case .mouse: "click"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        }
    }
}

/// What a key does.
public enum Action: Hashable, Sendable {
    case lambdaDivide(Double)
    case lambdaMultiply(Double)
    case lambdaReset
    case togglePause
    /// Write a checkpoint of the whole training state at the next step boundary (`--resume` continues from it).
    case checkpoint
    case exportSnapshot
    case toggleHelp
    case toggleGlyphs
    case closeOverlay
    case nextTask
    /// Move the heatmap's layer cursor by this many rows (negative: up), scrolling to keep it visible;
    /// `Int.max`/`Int.min` move by a page of visible rows.
    case scrollLayers(Int)
    /// Open a prompt for an exact lambda value.
    case lambdaPrompt
    /// Cycle the smoothing of per-step curves: off, 0.6, 0.9, 0.99.
    case cycleSmoothing
    /// Logarithmic y axis on the loss chart (on/off).
    case toggleLogY
    /// The scrollable event log (every notice of the run) on/off.
    case toggleEventLog
    /// The layer panel of the layer under the cursor on/off.
    case toggleLayerPanel
    /// After a run has ended: start a new run with the current lambda.
    case newRun
    /// After a run has ended: a prompt for the new run's options (those of `taps train`).
    case newRunWithOptions
    case quit
}

/// One row of the key table.
public struct KeyBinding: Sendable {
    public var keys: [Key]
    public var action: Action
    /// Short text for the help overlay and README.
    public var help: String
    /// Short text for the bottom hint line (nil: not shown there).
    public var hint: String?
    /// Whether the key steers training (disabled when attached read-only to a file).
    public var steersTraining: Bool
    /// Whether the hint is shown only while a suite (several tasks) runs.
    public var suiteOnly: Bool

    public init(_ keys: [Key], _ action: Action, _ help: String, hint: String? = nil, steersTraining: Bool = false,
                suiteOnly: Bool = false) {
        self.keys = keys; self.action = action; self.help = help; self.hint = hint; self.steersTraining = steersTraining
        self.suiteOnly = suiteOnly
    }

    /// The keys, as shown in the help overlay: `? F1 h`.
    public var keyLabel: String { keys.map(\.label).joined(separator: " ") }
}

/// The dashboard's key table.
public enum Keymap {
    /// Every binding, in the order of the help overlay.
    public static let bindings: [KeyBinding] = [
        KeyBinding([.character("]")], .lambdaMultiply(TrainingControl.lambdaStep), "lambda x 1.25 (fewer active layers)", hint: "] λ×1.25",
                   steersTraining: true),
        KeyBinding([.character("[")], .lambdaDivide(TrainingControl.lambdaStep), "lambda / 1.25 (more active layers)", hint: "[ λ÷1.25",
                   steersTraining: true),
        KeyBinding([.character("}")], .lambdaMultiply(10), "lambda x 10", steersTraining: true),
        KeyBinding([.character("{")], .lambdaDivide(10), "lambda / 10", steersTraining: true),
        KeyBinding([.character("0")], .lambdaReset, "lambda back to its start value", steersTraining: true),
        KeyBinding([.character("=")], .lambdaPrompt, "type an exact lambda (0 ... 10000; Enter sets, Esc cancels)",
                   hint: "= λ", steersTraining: true),
        KeyBinding([.character(" "), .character("Z")], .togglePause, "pause / resume training", hint: "space pause",
                   steersTraining: true),
        KeyBinding([.character("c")], .checkpoint, "checkpoint now (the run can be continued with --resume)",
                   steersTraining: true),
        KeyBinding([.character("e")], .exportSnapshot,
                   "export a snapshot (JSON, CSV, SVG; after the run / attached: scalars, screen, SVG)",
                   hint: "e export"),
        KeyBinding([.character("r")], .newRun, "after a run ends: a new run with the current lambda (OUT-2, ...)",
                   steersTraining: true),
        KeyBinding([.character("R")], .newRunWithOptions,
                   "after a run ends: a new run with options typed at a prompt (--seed 2, --budget off)",
                   steersTraining: true),
        KeyBinding([.character("s")], .cycleSmoothing, "smoothing of per-step curves: off, 0.6, 0.9, 0.99",
                   hint: "s smooth"),
        KeyBinding([.character("L")], .toggleLogY, "log scale for the loss chart (points <= 0 skipped, counted)",
                   hint: "L log-y"),
        KeyBinding([.character("l")], .toggleEventLog, "event log: every notice of the run (j/k scroll)",
                   hint: "l events"),
        KeyBinding([.character("t")], .nextTask, "suite: show the next task (training goes on)", hint: "t task",
                   suiteOnly: true),
        KeyBinding([.character("j"), .down], .scrollLayers(1), "gate heatmap: layer cursor down (scrolls)"),
        KeyBinding([.character("k"), .up], .scrollLayers(-1), "gate heatmap: layer cursor up"),
        KeyBinding([.character("J"), .pageDown], .scrollLayers(Int.max), "gate heatmap: next page of layers"),
        KeyBinding([.character("K"), .pageUp], .scrollLayers(Int.min), "gate heatmap: previous page of layers"),
        KeyBinding([.enter], .toggleLayerPanel, "layer panel of the layer under the cursor (Enter again closes)",
                   hint: "Enter layer"),
        KeyBinding([.character("g")], .toggleGlyphs, "glyphs: braille / ASCII"),
        KeyBinding([.character("?"), .function(1), .character("h")], .toggleHelp, "this help", hint: "? help"),
        KeyBinding([.escape], .closeOverlay, "close the help, log, layer panel or prompt"),
        KeyBinding([.character("q"), .function(10), .control("c")], .quit,
                   "quit (finishes the step, writes the run folder)", hint: "q quit"),
    ]

    /// The action bound to `key`, if any.
    public static func action(for key: Key) -> Action? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// The binding of `key`, if any.
    public static func binding(for key: Key) -> KeyBinding? {
        bindings.first { $0.keys.contains(key) }
    }

    /// The help text as lines of `keys  description` (what the overlay draws).
    public static func helpLines(readOnly: Bool = false) -> [String] {
        let keyWidth = bindings.map(\.keyLabel.count).max() ?? 0
        return bindings.map { b in
            let note = readOnly && b.steersTraining ? " (off: attached)" : ""
            return b.keyLabel.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  " + b.help + note
        }
    }

    /// The key table as a Markdown table (the README's dashboard section).
    public static func markdownTable() -> String {
        var out = "| keys | action |\n|---|---|\n"
        for b in bindings {
            let keys = b.keys.map { "`\($0.label == "`" ? "` ` `" : $0.label)`" }.joined(separator: " ")
            out += "| \(keys) | \(b.help) |\n"
        }
        return out
    }
}
