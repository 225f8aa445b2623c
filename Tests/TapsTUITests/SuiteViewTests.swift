// TapsTUITests: the suite view — a tab line listing the tasks, and the `t` key in the one key table.
import Foundation
import Testing
import TapsTraining
import TapsTUI

@Suite struct SuiteViewTests {
    let caps = Capabilities(glyphs: .unicode, colorDepth: .none)

    func suiteState(viewing: Int, training: Int?, following: Bool) -> DashboardState {
        var s = Fixture.state(paused: false)
        s.suite = SuiteTabs(names: ["fashion", "ucidigits", "lfwfaces", "mnist-rot90"], viewing: viewing,
                            training: training, done: [true, false, false, false], following: following)
        return s
    }

    @Test func tKeySwitchesTasksAndIsInTheHelp() {
        #expect(Keymap.action(for: .character("t")) == .nextTask)
        let b = Keymap.binding(for: .character("t"))
        #expect(b?.steersTraining == false, "switching the view works when attached, too")
        #expect(Keymap.helpLines().contains { $0.hasPrefix("t ") && $0.contains("next task") })
    }

    @Test func suiteTabLineListsTheTasksAndMarksTheOneInTraining() {
        let text = render(suiteState(viewing: 1, training: 1, following: true), size: Size(width: 100, height: 30),
                          theme: .builtInMono, caps: caps).lines
        #expect(text[2].contains("fashion") && text[2].contains("ucidigits ▶") && text[2].contains("mnist-rot90"))
        #expect(text[2].contains("t: next task (follows training)"))
        #expect(text.last?.contains("t task") == true, "the hint line shows t in a suite")
        // The charts and the heatmap move one line down but are all still drawn.
        let all = text.joined(separator: "\n")
        #expect(all.contains("loss") && all.contains("accuracy") && all.contains("fc_layers.0"))
    }

    @Test func viewingByHandIsShown() {
        let text = render(suiteState(viewing: 3, training: 1, following: false), size: Size(width: 100, height: 30),
                          theme: .builtInMono, caps: caps).lines
        #expect(text[2].contains("(pinned)"))
    }

    @Test func singleRunHasNoTabLineAndNoTHint() {
        let text = render(Fixture.state(paused: false), size: Size(width: 120, height: 30), theme: .builtInMono,
                          caps: caps).lines
        #expect(!text[2].contains("tasks "))
        #expect(text.last?.contains("t task") == false)
    }

    @Test func suiteViewRendersAtEverySize() {
        let state = suiteState(viewing: 0, training: nil, following: true)
        for w in stride(from: 1, through: 160, by: 13) {
            for h in stride(from: 1, through: 50, by: 7) {
                let b = render(state, size: Size(width: w, height: h), theme: .builtInDefault, caps: caps)
                #expect(b.width == w && b.height == h)
            }
        }
    }
}
