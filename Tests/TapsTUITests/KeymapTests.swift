// TapsTUITests: the key table is the single source of the help overlay and the hint line.
import Foundation
import Testing
import TapsTUI

@Suite struct KeymapTests {
    @Test func noKeyIsBoundTwice() {
        let keys = Keymap.bindings.flatMap(\.keys)
        #expect(Set(keys).count == keys.count)
    }

    @Test func issueKeysAreBound() {
        #expect(Keymap.action(for: .character("]")) == .lambdaMultiply(1.25))
        #expect(Keymap.action(for: .character("[")) == .lambdaDivide(1.25))
        #expect(Keymap.action(for: .character("}")) == .lambdaMultiply(10))
        #expect(Keymap.action(for: .character("{")) == .lambdaDivide(10))
        #expect(Keymap.action(for: .character("0")) == .lambdaReset)
        #expect(Keymap.action(for: .character(" ")) == .togglePause)
        #expect(Keymap.action(for: .character("e")) == .exportSnapshot)
        #expect(Keymap.action(for: .character("?")) == .toggleHelp)
        #expect(Keymap.action(for: .character("q")) == .quit)
        #expect(Keymap.action(for: .control("c")) == .quit)
        #expect(Keymap.action(for: .character("x")) == nil)
    }

    @Test func helpOverlayListsEveryBinding() {
        let state = DashboardState(showHelp: true)
        let text = render(state, size: Size(width: 100, height: 30), theme: .builtInMono,
                          caps: Capabilities(glyphs: .unicode, colorDepth: .none)).text
        for b in Keymap.bindings {
            #expect(text.contains(b.keyLabel), "help misses keys \(b.keyLabel)")
            #expect(text.contains(b.help), "help misses \(b.help)")
        }
        #expect(Keymap.helpLines().count == Keymap.bindings.count)
    }

    @Test func readOnlyHelpMarksSteeringKeys() {
        let lines = Keymap.helpLines(readOnly: true)
        for (line, b) in zip(lines, Keymap.bindings) {
            #expect(line.contains("(off: attached)") == b.steersTraining)
        }
    }

    @Test func hintLineComesFromTheTable() {
        let text = render(DashboardState(), size: Size(width: 120, height: 30), theme: .builtInMono,
                          caps: Capabilities()).lines.last ?? ""
        for b in Keymap.bindings {
            if let hint = b.hint, !b.suiteOnly { #expect(text.contains(hint), "hint line misses \(hint)") }
        }
    }

    @Test func markdownTableHasARowPerBinding() {
        let table = Keymap.markdownTable()
        #expect(table.split(separator: "\n").count == Keymap.bindings.count + 2)
    }
}

@Suite struct ReadmeTests {
    @Test func readmeKeyTableIsTheGeneratedOne() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        #expect(text.contains(Keymap.markdownTable()), "README's key table is stale: paste Keymap.markdownTable()")
        for key in ThemeKey.allCases { #expect(text.contains("`\(key.rawValue)`"), "README misses theme key \(key)") }
    }
}
