// TapsTUI: the off-screen cell grid every widget draws into; the curses backend copies it to the terminal.

// MARK: - Colours and attributes

/// A 24-bit colour as written in theme files (`#rrggbb`).
public struct RGB: Hashable, Sendable, CustomStringConvertible {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red; self.green = green; self.blue = blue
    }

    /// Parses `#rrggbb` or `#rgb` (the `#` is optional); nil for anything else.
    public init?(hex: String) {
        var digits = Substring(hex)
        if digits.hasPrefix("#") { digits = digits.dropFirst() }
        // ASCII hex digits only: `Character.isHexDigit` also accepts full-width forms (U+FF10...) that
        // `UInt8(_:radix:)` rejects.
        guard !digits.isEmpty, digits.unicodeScalars.allSatisfy({ $0.isASCII && Character($0).isHexDigit })
        else { return nil }
        if digits.count == 3 {
            let v = digits.compactMap { UInt8(String($0), radix: 16).map { $0 * 17 } }
            guard v.count == 3 else { return nil }
            self.init(v[0], v[1], v[2])
        } else if digits.count == 6, let v = UInt32(digits, radix: 16) {
            self.init(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
        } else {
            return nil
        }
    }

    public var description: String {
        let h = String(Int(red) << 16 | Int(green) << 8 | Int(blue), radix: 16)
        return "#" + String(repeating: "0", count: 6 - h.count) + h
    }
}

/// A cell colour: the terminal's own default, or a theme colour (mapped to the terminal's depth at output).
public enum TermColor: Hashable, Sendable {
    case terminalDefault
    case rgb(RGB)
}

/// Text attributes that work without colour (and so in the mono theme).
public struct CellAttributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bold = CellAttributes(rawValue: 1)
    public static let dim = CellAttributes(rawValue: 2)
    public static let reverse = CellAttributes(rawValue: 4)
    public static let underline = CellAttributes(rawValue: 8)
}

/// One character cell. A two-cell (wide) character sits in its first cell; the cell after it holds
/// `Cell.continuationCharacter` and is drawn by the terminal as part of the wide character.
public struct Cell: Hashable, Sendable {
    /// Marks the second cell of a wide character (never drawn on its own, left out of `ScreenBuffer.lines`).
    public static let continuationCharacter: Unicode.Scalar = "\u{0}"

    public var character: Unicode.Scalar
    public var fg: TermColor
    public var bg: TermColor
    public var attrs: CellAttributes

    public init(_ character: Unicode.Scalar = " ", fg: TermColor = .terminalDefault, bg: TermColor = .terminalDefault,
                attrs: CellAttributes = []) {
        self.character = character; self.fg = fg; self.bg = bg; self.attrs = attrs
    }

    public static let blank = Cell()
}

/// The colours and attributes of a piece of text.
public struct Style: Hashable, Sendable {
    public var fg: TermColor
    public var bg: TermColor
    public var attrs: CellAttributes

    public init(fg: TermColor = .terminalDefault, bg: TermColor = .terminalDefault, attrs: CellAttributes = []) {
        self.fg = fg; self.bg = bg; self.attrs = attrs
    }

    /// The same style with extra attributes.
    public func with(_ extra: CellAttributes) -> Style { Style(fg: fg, bg: bg, attrs: attrs.union(extra)) }
}

// MARK: - Geometry

/// A terminal size in cells.
public struct Size: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)x\(height)" }
}

/// A rectangle of cells; `x`, `y` is the top-left corner.
public struct Rect: Hashable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    /// The rectangle shrunk by `d` cells on every side.
    public func inset(_ d: Int) -> Rect { Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }
}

// MARK: - The buffer

/// A width x height grid of cells, row-major. Writes outside the grid are clipped.
public struct ScreenBuffer: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, fill: Cell = .blank) {
        self.width = max(0, width); self.height = max(0, height)
        cells = Array(repeating: fill, count: self.width * self.height)
    }

    public init(size: Size, fill: Cell = .blank) { self.init(width: size.width, height: size.height, fill: fill) }

    public var size: Size { Size(width: width, height: height) }
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Whether (x, y) lies on the grid.
    public func contains(x: Int, y: Int) -> Bool { x >= 0 && y >= 0 && x < width && y < height }

    /// Sets one cell (a one-cell character) if it is on the grid. Overwriting either half of a wide character
    /// blanks its other half, so no half character is ever left on screen.
    public mutating func set(_ x: Int, _ y: Int, _ character: Unicode.Scalar, _ style: Style) {
        guard contains(x: x, y: y) else { return }
        clearWideNeighbours(x, y)
        cells[y * width + x] = Cell(Self.printable(character), fg: style.fg, bg: style.bg, attrs: style.attrs)
    }

    /// Writes `text` from (x, y) to the right, clipped to `maxWidth` cells (and the grid), measuring each character
    /// in terminal cells (`TextWidth`): a wide character that does not fit whole is left out, never cut in half.
    /// Control characters are shown as `?` (a name in a metrics file cannot reach the terminal as an escape).
    /// Returns the cells used.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style = Style(), maxWidth: Int? = nil) -> Int {
        let limit = min(maxWidth ?? (width - x), width - x)
        var used = 0
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {  // fast path: printable ASCII, one cell each
            for byte in text.utf8 {
                if used >= limit { break }
                set(x + used, y, Unicode.Scalar(byte), style)
                used += 1
            }
            return max(0, used)
        }
        for character in text {
            let w = TextWidth.cells(character)
            guard w > 0 else { continue }
            if used + w > limit { break }
            let scalar = character.unicodeScalars.first ?? " "
            if w == 2 {
                guard contains(x: x + used, y: y), contains(x: x + used + 1, y: y) else { used += w; continue }
                clearWideNeighbours(x + used, y)
                clearWideNeighbours(x + used + 1, y)
                cells[y * width + x + used] = Cell(scalar, fg: style.fg, bg: style.bg, attrs: style.attrs)
                cells[y * width + x + used + 1] = Cell(Cell.continuationCharacter, fg: style.fg, bg: style.bg,
                                                       attrs: style.attrs)
            } else {
                set(x + used, y, scalar, style)
            }
            used += w
        }
        return max(0, used)
    }

    /// Whether the cell at (x, y) is the first half of a wide character.
    public func isWideLead(_ x: Int, _ y: Int) -> Bool {
        contains(x: x + 1, y: y) && contains(x: x, y: y)
            && self[x + 1, y].character == Cell.continuationCharacter
            && self[x, y].character != Cell.continuationCharacter
    }

    private mutating func clearWideNeighbours(_ x: Int, _ y: Int) {
        let i = y * width + x
        if cells[i].character == Cell.continuationCharacter, x > 0 { cells[i - 1].character = " " }
        if x + 1 < width, cells[i + 1].character == Cell.continuationCharacter { cells[i + 1].character = " " }
    }

    private static func printable(_ s: Unicode.Scalar) -> Unicode.Scalar {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value) ? "?" : s
    }

    /// Fills a rectangle with one character and style.
    public mutating func fill(_ rect: Rect, _ character: Unicode.Scalar = " ", style: Style = Style()) {
        guard !rect.isEmpty else { return }
        for y in max(0, rect.y)..<max(max(0, rect.y), min(height, rect.maxY)) {
            for x in max(0, rect.x)..<max(max(0, rect.x), min(width, rect.maxX)) { set(x, y, character, style) }
        }
    }

    /// The characters of each row, trailing spaces removed (what text snapshot tests compare).
    public var lines: [String] {
        (0..<height).map { y in
            var s = String.UnicodeScalarView()
            for x in 0..<width where self[x, y].character != Cell.continuationCharacter { s.append(self[x, y].character) }
            var line = String(s)
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// All rows joined with newlines.
    public var text: String { lines.joined(separator: "\n") }
}
