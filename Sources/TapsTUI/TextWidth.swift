// TapsTUI: text measured in terminal cells (wide CJK and emoji take two, combining marks none), and truncation
// with an ellipsis that never cuts a character in half.

/// Terminal cell widths of characters and strings, decided without asking the terminal (so rendering stays pure).
///
/// A grapheme cluster is two cells wide when any of its scalars is East Asian Wide/Fullwidth or has emoji
/// presentation (or it carries the emoji variation selector U+FE0F), zero cells when it is only a combining mark,
/// else one cell. This matches what xterm, tmux and the Linux console draw for the names the dashboard shows
/// (layer names, task names, file names); the rare disagreements cost a cell of padding, never an overwrite.
public enum TextWidth {
    /// Cells a scalar takes on its own: 0 (combining mark, joiner, variation selector), 1 or 2.
    public static func cells(_ s: Unicode.Scalar) -> Int {
        let v = s.value
        if v == 0x200D || (0xFE00...0xFE0F).contains(v) || (0xE0100...0xE01EF).contains(v) || v == 0x200B { return 0 }
        switch s.properties.generalCategory {
        case .nonspacingMark, .enclosingMark: return 0
        default: break
        }
        if isWide(v) || s.properties.isEmojiPresentation { return 2 }
        return 1
    }

    /// Cells a grapheme cluster takes (see the type's rule).
    public static func cells(_ c: Character) -> Int {
        if c.isASCII { return 1 }  // fast path: ASCII (controls are drawn as one `?`)
        var width = 0
        for s in c.unicodeScalars {
            if s.value == 0xFE0F { return 2 }
            width = max(width, cells(s))
        }
        return width
    }

    /// Cells a string takes.
    public static func cells(_ text: String) -> Int {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text.utf8.count }  // fast path: ASCII
        return text.reduce(0) { $0 + cells($1) }
    }

    /// `text` cut to at most `width` cells from the left, ending in `ellipsis` when something was cut.
    public static func truncated(_ text: String, toCells width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if cells(text) <= width { return text }
        let room = width - cells(ellipsis)
        guard room >= 0 else { return "" }
        var out = "", used = 0
        for c in text {
            let w = cells(c)
            if used + w > room { break }
            out.append(c); used += w
        }
        return out + ellipsis
    }

    /// `text` cut to at most `width` cells keeping its end (layer names end in their most telling part),
    /// starting with `ellipsis` when something was cut.
    public static func truncatedKeepingEnd(_ text: String, toCells width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if cells(text) <= width { return text }
        let room = width - cells(ellipsis)
        guard room >= 0 else { return "" }
        var out: [Character] = [], used = 0
        for c in text.reversed() {
            let w = cells(c)
            if used + w > room { break }
            out.append(c); used += w
        }
        return ellipsis + String(out.reversed())
    }

    /// `text` padded with spaces on the left to `width` cells (cut with an ellipsis when longer).
    static func rightAligned(_ text: String, toCells width: Int, ellipsis: String = "…") -> String {
        let t = truncated(text, toCells: width, ellipsis: ellipsis)
        return String(repeating: " ", count: max(0, width - cells(t))) + t
    }

    /// East Asian Wide and Fullwidth ranges (Unicode 15 EastAsianWidth.txt, W and F, coarsely merged); emoji are
    /// decided by their Emoji_Presentation property instead.
    private static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
             0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
             0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18CFF,
             0x1B000...0x1B2FF, 0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }
}
