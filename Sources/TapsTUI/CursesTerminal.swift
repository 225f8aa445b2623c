// TapsTUI: the only file that talks to ncurses. Copies a ScreenBuffer to the terminal (diffing against the last
// frame), reads keys without blocking, and restores the terminal on close, on signals and on crashes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CNcursesw
import CTermGuard

/// `--color auto|always|never`.
public enum ColorMode: String, Sendable, CaseIterable {
    case auto, always, never
}

/// A curses session on the process's terminal. Main thread only.
public final class CursesTerminal {
    /// Capabilities found when the terminal opened (colour depth, glyphs the locale can show).
    public private(set) var capabilities: Capabilities
    /// The locale's character set is UTF-8 (braille and box drawing can be shown).
    public let isUTF8: Bool
    private var screen: OpaquePointer?
    private var previous: ScreenBuffer?
    private var pairs: [PairKey: Int16] = [:]
    private var pairsExhausted = false
    private var closed = false

    private struct PairKey: Hashable { var fg: Int; var bg: Int }

    /// Decides whether colour may be used, from `--color` and the environment (NO_COLOR, FORCE_COLOR,
    /// CLICOLOR_FORCE), before looking at what the terminal supports.
    public static func colorAllowed(_ mode: ColorMode, environment: [String: String]) -> Bool {
        switch mode {
        case .always: return true
        case .never: return false
        case .auto:
            func set(_ k: String) -> Bool { !(environment[k] ?? "").isEmpty }
            if set("FORCE_COLOR") && environment["FORCE_COLOR"] != "0" { return true }
            if set("CLICOLOR_FORCE") && environment["CLICOLOR_FORCE"] != "0" { return true }
            return !set("NO_COLOR")
        }
    }

    /// Sets the environment's locale (LC_ALL / LC_CTYPE / LANG) and reports whether its character set is UTF-8.
    /// A locale that is not UTF-8 (e.g. `LANG=C`, or none set) means the terminal may not show braille or box
    /// drawing, so the dashboard then draws ASCII only (a UTF-8 locale is never forced on the user's terminal).
    @discardableResult
    public static func setUTF8Locale() -> Bool {
        setlocale(LC_ALL, "")
        return isCodesetUTF8()
    }

    private static func isCodesetUTF8() -> Bool {
        guard let cs = taps_codeset() else { return false }
        let name = String(cString: cs).uppercased()
        return name == "UTF-8" || name == "UTF8"
    }

    /// Opens the terminal, or returns nil when it cannot be used as a full-screen UI (stdout is not a tty, TERM is
    /// missing, `dumb` or has no terminfo entry). Nothing is written to the terminal in that case.
    public init?(colorMode: ColorMode, forceASCII: Bool, environment: [String: String]) {
        guard isatty(STDOUT_FILENO) == 1, isatty(STDIN_FILENO) == 1 else { return nil }
        let term = environment["TERM"] ?? ""
        guard !term.isEmpty, term != "dumb", term != "unknown" else { return nil }
        isUTF8 = Self.setUTF8Locale()
        // Save termios before curses changes it, so the crash handler can put it back.
        _ = taps_term_guard_save(STDIN_FILENO)
        guard let s = taps_newterm() else {
            taps_term_guard_forget()
            return nil
        }
        screen = s
        _ = set_term(s)
        taps_term_guard_install_crash_handlers()
        taps_term_guard_install_stop_handlers()
        _ = cbreak()
        _ = noecho()
        _ = nonl()
        _ = keypad(taps_stdscr(), true)
        _ = curs_set(0)
        _ = set_escdelay(25)
        _ = leaveok(taps_stdscr(), true)
        taps_enable_mouse()
        // Keys typed before the dashboard was up (during `make run`'s build, say) are not meant for it: a `q` typed
        // while waiting would end the run before its first frame.
        _ = flushinp()

        var depth = ColorDepth.none
        if Self.colorAllowed(colorMode, environment: environment) && has_colors() {
            _ = start_color()
            _ = use_default_colors()
            let colors = taps_colors()
            depth = colors >= 256 ? .palette256 : colors >= 8 ? .eight : .none
        }
        capabilities = Capabilities(glyphs: forceASCII || !isUTF8 ? .ascii : .unicode, colorDepth: depth)
    }

    deinit { close() }

    /// The terminal size now (updated by ncurses after a resize).
    public var size: Size { Size(width: Int(taps_cols()), height: Int(taps_lines())) }

    /// Switches the glyph set (the `g` key); ASCII only when the locale cannot show Unicode.
    public func setGlyphs(_ glyphs: GlyphSet) {
        capabilities.glyphs = isUTF8 ? glyphs : .ascii
    }

    /// Forgets the last frame so the next `draw` repaints every cell (after a resize).
    public func invalidate() {
        previous = nil
        _ = clearok(taps_stdscr(), true)
    }

    // MARK: - Output

    /// Draws `buffer`, touching only cells that changed since the last frame, then refreshes the screen.
    public func draw(_ buffer: ScreenBuffer) {
        let full = previous == nil || previous!.size != buffer.size
        if full { _ = werase(taps_stdscr()) }
        for y in 0..<buffer.height {
            for x in 0..<buffer.width {
                let cell = buffer[x, y]
                if cell.character == Cell.continuationCharacter { continue }  // drawn with its wide lead
                if !full, let p = previous, p[x, y] == cell,
                   !(buffer.isWideLead(x, y) && p[x + 1, y] != buffer[x + 1, y]) { continue }
                put(cell, x: x, y: y)
            }
        }
        previous = buffer
        _ = wrefresh(taps_stdscr())
    }

    private func put(_ cell: Cell, x: Int, y: Int) {
        var attrs = taps_attr_normal()
        if cell.attrs.contains(.bold) { attrs |= taps_attr_bold() }
        if cell.attrs.contains(.dim) { attrs |= taps_attr_dim() }
        if cell.attrs.contains(.reverse) { attrs |= taps_attr_reverse() }
        if cell.attrs.contains(.underline) { attrs |= taps_attr_underline() }
        var fg = ColorMapping.index(cell.fg, depth: capabilities.colorDepth) ?? -1
        let bg = ColorMapping.index(cell.bg, depth: capabilities.colorDepth) ?? -1
        // With 8 colours dark greys map to black; on the default background that would vanish.
        if capabilities.colorDepth == .eight && fg == 0 && bg <= 0 { fg = 7; attrs |= taps_attr_dim() }
        let pair = pairIndex(fg: fg, bg: bg)
        _ = taps_put_cell(Int32(y), Int32(x), wchar_t(bitPattern: cell.character.value), attrs, pair)
    }

    /// The colour pair for (fg, bg), created on first use; -1 is the terminal default. Pair 0 is default/default.
    private func pairIndex(fg: Int, bg: Int) -> Int16 {
        if fg < 0 && bg < 0 { return 0 }
        let key = PairKey(fg: fg, bg: bg)
        if let p = pairs[key] { return p }
        let next = pairs.count + 1
        guard !pairsExhausted, next < min(Int(taps_color_pairs()), Int(Int16.max)) else {
            pairsExhausted = true
            return 0
        }
        _ = init_pair(Int16(next), Int16(fg), Int16(bg))
        pairs[key] = Int16(next)
        return Int16(next)
    }

    // MARK: - Input

    /// Waits up to `milliseconds` (0: just polls) for a key; nil on timeout.
    public func readKey(timeoutMilliseconds milliseconds: Int) -> Key? {
        wtimeout(taps_stdscr(), Int32(max(0, milliseconds)))
        var ch: wint_t = 0
        let rc = wget_wch(taps_stdscr(), &ch)
        if rc == ERR { return nil }
        let code = Int32(bitPattern: UInt32(ch))
        if rc == taps_key_code_yes() {
            if code == taps_key_resize() { return .resize }
            if code == taps_key_mouse() {
                var x: Int32 = 0, y: Int32 = 0, kind: Int32 = 0
                guard taps_get_mouse(&x, &y, &kind) == 1, kind > 0 else { return nil }
                return .mouse(x: Int(x), y: Int(y), double: kind == 2)
            }
            for n in 1...12 where code == taps_key_f(Int32(n)) { return .function(n) }
            switch code {
            case taps_key_up(): return .up
            case taps_key_down(): return .down
            case taps_key_page_up(): return .pageUp
            case taps_key_page_down(): return .pageDown
            case taps_key_left(): return .left
            case taps_key_right(): return .right
            case taps_key_enter(): return .enter
            case taps_key_backspace(): return .backspace
            default: break
            }
            return nil
        }
        switch code {
        case 27: return .escape
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 1...26 where code != 9:
            return .control(Character(Unicode.Scalar(UInt8(96 + code))))
        default:
            guard let scalar = Unicode.Scalar(UInt32(ch)) else { return nil }
            return .character(Character(scalar))
        }
    }

    /// The signal (SIGINT/SIGTERM) that asked the program to stop, or nil.
    public var stopSignal: Int32? {
        let s = taps_term_guard_stop_signal()
        return s == 0 ? nil : s
    }

    // MARK: - Closing

    /// Leaves curses and restores the terminal; idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        _ = endwin()
        if let s = screen { delscreen(s) }
        screen = nil
        taps_term_guard_uninstall()
        taps_term_guard_forget()
    }

    /// For `--crash-test`: a real Swift trap (SIGILL) while curses owns the terminal, to show that the crash handler
    /// restores it.
    public func crashForTest() -> Never {
        fatalError("--crash-test: deliberate crash after the first frame")
    }
}
