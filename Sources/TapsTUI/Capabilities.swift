// TapsTUI: what the terminal can draw, decided once and passed to render (widgets never probe the terminal).

/// The characters the widgets draw with.
public enum GlyphSet: String, Sendable, CaseIterable {
    /// Braille line charts, box drawing, shade blocks (needs a UTF-8 locale).
    case unicode
    /// Plain ASCII everywhere (non-UTF-8 locales, `--ascii`, the `g` key).
    case ascii
}

/// Terminal capabilities as the renderer sees them.
public struct Capabilities: Sendable, Equatable {
    public var glyphs: GlyphSet
    public var colorDepth: ColorDepth

    public init(glyphs: GlyphSet = .unicode, colorDepth: ColorDepth = .palette256) {
        self.glyphs = glyphs; self.colorDepth = colorDepth
    }
}

/// The concrete characters of a glyph set.
struct Glyphs: Sendable {
    var horizontal: Unicode.Scalar, vertical: Unicode.Scalar
    var topLeft: Unicode.Scalar, topRight: Unicode.Scalar, bottomLeft: Unicode.Scalar, bottomRight: Unicode.Scalar
    /// Heatmap shades: score <= 0, < tau/2, < tau, < 2 tau, >= 2 tau.
    var shades: [Unicode.Scalar]
    /// Heatmap cell of a NaN/Inf score.
    var nanShade: Unicode.Scalar
    var activeMark: String, inactiveMark: String
    /// `ellipsis` marks text that was cut (`…`; `..` in ASCII, where `~` would read as "about").
    var lambda: String, tau: String, arrow: String, separator: String, ellipsis: String, dot: String
    /// Legend marker of a chart series.
    var seriesMark: Unicode.Scalar
    /// ASCII chart markers per series (unused with braille).
    var asciiMarkers: [Unicode.Scalar]
    var usesBraille: Bool

    static let unicode = Glyphs(
        horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘",
        shades: ["·", "░", "▒", "▓", "█"], nanShade: "×", activeMark: "● on ", inactiveMark: "○ off",
        lambda: "λ", tau: "τ", arrow: "→", separator: "│", ellipsis: "…", dot: "·", seriesMark: "━",
        asciiMarkers: ["*", "+", "."], usesBraille: true)

    static let ascii = Glyphs(
        horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
        shades: [".", "-", "=", "#", "@"], nanShade: "!", activeMark: "* on ", inactiveMark: "- off",
        lambda: "lambda", tau: "tau", arrow: ">", separator: "|", ellipsis: "..", dot: "/", seriesMark: "*",
        asciiMarkers: ["*", "+", "o"], usesBraille: false)

    static func of(_ set: GlyphSet) -> Glyphs { set == .unicode ? .unicode : .ascii }

    /// One-for-one ASCII stand-ins for the few non-ASCII characters in fixed texts (key hints, notices).
    static func asciiFallback(_ s: Unicode.Scalar) -> Unicode.Scalar {
        if s.isASCII { return s }
        switch s {
        case "λ": return "L"
        case "τ": return "t"
        case "×": return "x"
        case "÷": return "/"
        case "→": return ">"
        case "…": return "."  // one cell; widgets cut with `ellipsis` (".."), never "~" (reads as "about")
        case "·": return "."
        case "▲": return "^"
        case "△": return "'"
        case "━": return "-"
        case "╍", "┄": return "."
        case "█": return "#"
        case "░": return "."
        default: return "?"
        }
    }
}
