// TapsTUITests: theme files (good, malformed, shipped) and colour mapping to 256 and 8 colours.
import Foundation
import Testing
import TapsTUI

@Suite struct ThemeTests {
    static let themesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("themes")

    @Test func parsesBtopStyleLines() throws {
        let text = """
            # a comment
            theme[main_fg]="#112233"
              theme[loss] = "#abc"
            theme[main_bg]=""
            theme[cpu_box]="#ffffff"
            """
        let theme = try Theme.parse(text, name: "t")
        #expect(theme[.mainFg] == .rgb(RGB(0x11, 0x22, 0x33)))
        #expect(theme[.loss] == .rgb(RGB(0xAA, 0xBB, 0xCC)))
        #expect(theme[.mainBg] == .terminalDefault)
        #expect(theme[.title] == Theme.builtInDefault[.title])  // missing keys come from the default
    }

    @Test(arguments: [
        ("theme[loss]=#ff0000", 1), ("theme[loss]=\"#ff00\"", 1), ("\ntheme[loss \"#ff0000\"", 2),
        ("loss=\"#ff0000\"", 1), ("theme[loss]\"#ff0000\"", 1), ("theme[loss]=\"red\"", 1),
    ])
    func rejectsMalformedLines(text: String, line: Int) {
        #expect(throws: ThemeError.self) { try Theme.parse(text, name: "bad") }
        do { _ = try Theme.parse(text, name: "bad") } catch let e as ThemeError { #expect(e.line == line) } catch {}
    }

    @Test func malformedFileFallsBackToDefaultWithAMessage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taps-theme-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("broken.theme")
        try "theme[loss]=\"#zzzzzz\"\n".write(to: file, atomically: true, encoding: .utf8)
        let byPath = Theme.resolve(file.path, directories: [])
        #expect(byPath.theme == .builtInDefault)
        #expect(byPath.warning?.contains("line 1") == true)
        let byName = Theme.resolve("broken", directories: [dir])
        #expect(byName.theme == .builtInDefault && byName.warning != nil)
        let missing = Theme.resolve("no-such-theme", directories: [dir])
        #expect(missing.theme == .builtInDefault && missing.warning?.contains("not found") == true)
        #expect(Theme.resolve("mono", directories: [dir]).theme.isMonochrome)
    }

    @Test(arguments: ["default", "high-contrast", "mono"])
    func shippedThemeFilesMatchTheCompiledInCopies(name: String) throws {
        let url = Self.themesFolder.appendingPathComponent("\(name).theme")
        let text = try String(contentsOf: url, encoding: .utf8)
        let parsed = try Theme.parse(text, name: name, base: .builtInMono)
        #expect(parsed == Theme.builtIn[name])
    }

    @Test func colourMappingTo256() {
        #expect(ColorMapping.to256(RGB(0, 0, 0)) == 16)
        #expect(ColorMapping.to256(RGB(255, 255, 255)) == 231)
        #expect(ColorMapping.to256(RGB(255, 0, 0)) == 196)
        #expect(ColorMapping.to256(RGB(0x5f, 0xaf, 0xff)) == 75)
        #expect(ColorMapping.to256(RGB(0x80, 0x80, 0x80)) == 244)  // grey ramp beats the cube
        #expect(ColorMapping.to256(RGB(0x30, 0x30, 0x30)) == 236)
    }

    @Test func colourMappingTo8() {
        #expect(ColorMapping.to8(RGB(0, 0, 0)) == 0)
        #expect(ColorMapping.to8(RGB(255, 40, 40)) == 1)
        #expect(ColorMapping.to8(RGB(0x20, 0xd0, 0x20)) == 2)
        #expect(ColorMapping.to8(RGB(255, 215, 0)) == 3)
        #expect(ColorMapping.to8(RGB(0x00, 0x5f, 0xff)) == 4)
        #expect(ColorMapping.to8(RGB(0, 255, 255)) == 6)
        #expect(ColorMapping.to8(RGB(0xd0, 0xd0, 0xd0)) == 7)
        #expect(ColorMapping.index(.terminalDefault, depth: .palette256) == nil)
        #expect(ColorMapping.index(.rgb(RGB(255, 0, 0)), depth: .none) == nil)
    }

    @Test func hexParsing() {
        #expect(RGB(hex: "#0a0B0c") == RGB(10, 11, 12))
        #expect(RGB(hex: "fff") == RGB(255, 255, 255))
        #expect(RGB(hex: "#12345") == nil)
        #expect(RGB(hex: "") == nil)
        #expect(RGB(10, 11, 12).description == "#0a0b0c")
    }
}
