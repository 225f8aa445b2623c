// TapsTUITests: text snapshots of the whole dashboard at fixed sizes (RECORD=1 rewrites Snapshots/*.txt).
import Foundation
import Testing
import TapsTraining
import TapsTUI

@Suite struct RenderSnapshotTests {
    let theme = Theme.builtInDefault
    let unicode = Capabilities(glyphs: .unicode, colorDepth: .palette256)

    @Test func paused80x24() throws {
        let buffer = render(Fixture.state(), size: Size(width: 80, height: 24), theme: theme, caps: unicode)
        try assertSnapshot(buffer, named: "paused-80x24")
        #expect(buffer.text.contains("PAUSED"))
        #expect(buffer.text.contains("2/4 active"))
    }

    @Test func paused120x40() throws {
        let buffer = render(Fixture.state(), size: Size(width: 120, height: 40), theme: theme, caps: unicode)
        try assertSnapshot(buffer, named: "paused-120x40")
    }

    @Test func help80x24() throws {
        let buffer = render(Fixture.state(help: true), size: Size(width: 80, height: 24), theme: theme, caps: unicode)
        try assertSnapshot(buffer, named: "help-80x24")
    }

    @Test func ascii80x24() throws {
        let caps = Capabilities(glyphs: .ascii, colorDepth: .none)
        let buffer = render(Fixture.state(paused: false), size: Size(width: 80, height: 24), theme: .builtInMono,
                            caps: caps)
        try assertSnapshot(buffer, named: "running-ascii-80x24")
        #expect(buffer.cells.allSatisfy { $0.character.isASCII })
    }

    @Test func tooSmall() throws {
        let buffer = render(Fixture.state(), size: Size(width: 20, height: 6), theme: theme, caps: unicode)
        try assertSnapshot(buffer, named: "too-small-20x6")
        #expect(buffer.text.contains("too small"))
    }

    @Test func startingWithoutData() throws {
        let state = DashboardState(lambda: 0.3, initialLambda: 0.3)
        let buffer = render(state, size: Size(width: 80, height: 24), theme: theme, caps: unicode)
        try assertSnapshot(buffer, named: "starting-80x24")
        #expect(buffer.text.contains("STARTING"))
    }

    @Test func renderIsPure() {
        let state = Fixture.state()
        let size = Size(width: 100, height: 30)
        #expect(render(state, size: size, theme: theme, caps: unicode) == render(state, size: size, theme: theme,
                                                                                  caps: unicode))
    }

    @Test func everySizeFromTinyToHugeRendersWithoutTrapping() {
        let state = Fixture.state()
        for w in stride(from: 1, through: 200, by: 7) {
            for h in stride(from: 1, through: 60, by: 5) {
                let b = render(state, size: Size(width: w, height: h), theme: theme, caps: unicode)
                #expect(b.width == w && b.height == h)
            }
        }
    }

    @Test func largerTerminalsGetLargerChartsAndMoreEvents() {
        let small = DashboardLayout(size: Size(width: 80, height: 24), layerCount: 4)
        let large = DashboardLayout(size: Size(width: 160, height: 50), layerCount: 4)
        #expect(large.lossChart.height > small.lossChart.height)
        #expect(large.lossChart.width > small.lossChart.width)
        #expect(large.events.height > small.events.height)
        #expect(small.heatmap.height == 7)  // 4 layers, the step axis, borders
    }

    @Test func monoThemeEmitsNoColour() {
        let buffer = render(Fixture.state(), size: Size(width: 80, height: 24), theme: .builtInMono, caps: unicode)
        #expect(buffer.cells.allSatisfy { $0.fg == .terminalDefault && $0.bg == .terminalDefault })
        #expect(buffer.cells.contains { $0.attrs.contains(.reverse) })  // the status badge still stands out
    }

    @Test func heatmapShadesFollowTau() {
        let buffer = render(Fixture.state(), size: Size(width: 80, height: 24), theme: theme, caps: unicode)
        let lines = buffer.lines
        let row = { (name: String) in lines.first { $0.contains(name) } ?? "" }
        #expect(row("conv_layers.0").contains("● on"))
        #expect(row("conv_layers.3").contains("○ off"))
        #expect(row("conv_layers.6").hasSuffix("○ off     73.7k│") || row("conv_layers.6").contains("○ off"))
        #expect(row("conv_layers.6").contains("·"))  // decayed to zero at the end
        #expect(row("fc_layers.0").contains("█"))      // above 2 tau at the end
    }
}
