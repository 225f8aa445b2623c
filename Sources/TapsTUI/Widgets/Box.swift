// TapsTUI: a bordered panel with a title on its top edge and an optional note on its bottom edge.

/// A piece of coloured text (for titles and legends).
struct Span {
    var text: String
    var style: Style
}

enum Box {
    /// Draws the border of `rect` and writes the title spans into the top edge. Returns the inner rectangle.
    @discardableResult
    static func draw(_ buffer: inout ScreenBuffer, _ rect: Rect, title: [Span], footer: [Span] = [],
                     theme: Theme, glyphs: Glyphs) -> Rect {
        guard rect.width >= 2, rect.height >= 2 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
        let border = theme.style(.border)
        for x in rect.x + 1..<rect.maxX - 1 {
            buffer.set(x, rect.y, glyphs.horizontal, border)
            buffer.set(x, rect.maxY - 1, glyphs.horizontal, border)
        }
        for y in rect.y + 1..<rect.maxY - 1 {
            buffer.set(rect.x, y, glyphs.vertical, border)
            buffer.set(rect.maxX - 1, y, glyphs.vertical, border)
        }
        buffer.set(rect.x, rect.y, glyphs.topLeft, border)
        buffer.set(rect.maxX - 1, rect.y, glyphs.topRight, border)
        buffer.set(rect.x, rect.maxY - 1, glyphs.bottomLeft, border)
        buffer.set(rect.maxX - 1, rect.maxY - 1, glyphs.bottomRight, border)
        writeSpans(&buffer, title, x: rect.x + 1, y: rect.y, maxX: rect.maxX - 1, padded: true)
        writeSpans(&buffer, footer, x: rect.x + 1, y: rect.maxY - 1, maxX: rect.maxX - 1, padded: true)
        return rect.inset(1)
    }

    /// Writes spans left to right, separated by one space (and, when `padded`, with a space before and after),
    /// stopping at `maxX`; a span that does not fit whole is left out. Returns the x after the last cell.
    @discardableResult
    static func writeSpans(_ buffer: inout ScreenBuffer, _ spans: [Span], x: Int, y: Int, maxX: Int,
                           padded: Bool = false) -> Int {
        guard !spans.isEmpty else { return x }
        var cx = x
        let space = Style(fg: spans[0].style.fg, bg: spans[0].style.bg)
        if padded { cx += buffer.put(" ", x: cx, y: y, style: space) }
        for (i, span) in spans.enumerated() {
            let need = TextWidth.cells(span.text) + (i > 0 ? 1 : 0) + (padded ? 1 : 0)
            if cx + need > maxX { break }
            if i > 0 { cx += buffer.put(" ", x: cx, y: y, style: space) }
            cx += buffer.put(span.text, x: cx, y: y, style: span.style, maxWidth: maxX - cx)
        }
        if padded { cx += buffer.put(" ", x: cx, y: y, style: space) }
        return cx
    }

    /// Total cells the spans take when written with `writeSpans`.
    static func width(of spans: [Span]) -> Int {
        spans.reduce(0) { $0 + TextWidth.cells($1.text) } + max(0, spans.count - 1)
    }
}
