// TapsTUITests: texts cut at a box edge show it (event line, event log), and the ASCII stand-in for `…` reads as
// "cut", not as "about".
import Foundation
import Testing
import TapsTraining
import TapsTUI

@Suite struct CutTextTests {
    /// The fixture with a notice far wider than the screen.
    static func longNoticeState() -> DashboardState {
        var state = Fixture.state()
        state.metrics.apply(.notice(NoticeEvent(kind: .info, step: 290, message: "budget: "
            + String(repeating: "the active set still costs more than the budget allows ", count: 3) + "END")))
        return state
    }

    @Test func eventLineEndsInAnEllipsisWhenCut() {
        let size = Size(width: 80, height: 24)
        let unicode = render(Self.longNoticeState(), size: size, theme: .builtInMono,
                             caps: Capabilities(glyphs: .unicode, colorDepth: .none)).lines
        let line = unicode.first { $0.contains("budget: the active set") } ?? ""
        #expect(line.trimmingCharacters(in: .whitespaces).hasSuffix("…"), "cut event line: \(line)")
        let ascii = render(Self.longNoticeState(), size: size, theme: .builtInMono,
                           caps: Capabilities(glyphs: .ascii, colorDepth: .none)).lines
        let asciiLine = ascii.first { $0.contains("budget: the active set") } ?? ""
        #expect(asciiLine.trimmingCharacters(in: .whitespaces).hasSuffix(".."), "cut event line: \(asciiLine)")
        #expect(!asciiLine.contains("~"))
    }

    @Test func eventLogOverlayLinesEndInAnEllipsisWhenCut() {
        var state = Self.longNoticeState()
        state.showEventLog = true
        let lines = render(state, size: Size(width: 80, height: 24), theme: .builtInMono,
                           caps: Capabilities(glyphs: .unicode, colorDepth: .none)).lines
        let line = lines.first { $0.contains("step 290  budget: the active set") } ?? ""
        // The overlay's box border follows the text: the cut mark stands right before it.
        #expect(line.contains("…│"), "cut log line: \(line)")
    }

    @Test func asciiLambdaHistoryCutReadsAsCutNotAsAbout() {
        var state = Fixture.state()
        for (i, to) in [3.0, 0.3, 3.0, 0.3, 0.5].enumerated() {
            state.metrics.apply(.notice(NoticeEvent(kind: .lambda, step: 291 + i, message: "lambda", from: 0.3, to: to)))
        }
        state.lambda = 0.5
        let ascii = render(state, size: Size(width: 100, height: 30), theme: .builtInMono,
                           caps: Capabilities(glyphs: .ascii, colorDepth: .none)).lines
        let line = ascii.first { $0.contains("lambda0.5") || $0.contains("lambda 0.5") } ?? ascii[1]
        #expect(line.contains("(..0.3>3>0.3>0.5)"), "status line: \(line)")
        #expect(!line.contains("(~"))
    }
}
