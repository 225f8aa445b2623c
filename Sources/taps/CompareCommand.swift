// taps compare: several runs' active-layer maps side by side.
import ArgumentParser
import Foundation
import TapsReports
import TapsTraining

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which layers each run claims: active-layer maps side by side (rows = layers, columns = runs).")

    @Argument(help: "Run folders (with task.safetensors) or task exports.")
    var runs: [String]

    @Option(help: "Also write the grid as an SVG file.")
    var svg: String?

    @Option(help: "Also write the grid as a PNG file (rendered from the SVG by librsvg).")
    var png: String?

    @Flag(help: "ASCII marks (# active, . shared) instead of ● and ·.")
    var ascii = false

    @OptionGroup var output: JSONOption

    /// `taps compare --json` (docs/cli-json.md).
    struct Result: Codable {
        var schema = "taps.compare/1"
        var labels: [String]
        var layers: [String]
        /// `cells[layer][run]`: true active, false shared, null when the run has no such layer.
        var cells: [[Bool?]]
        var runs: [ActiveMap]
    }

    func run() throws {
        try reportingErrors {
            guard !runs.isEmpty else { throw ValidationError("give at least one run folder or export") }
            let comparison = ActiveMapComparison(try runs.map { try ActiveMap.load($0) })
            if output.json {
                try printJSON(Result(labels: comparison.labels, layers: comparison.rows, cells: comparison.cells, runs: comparison.maps))
            } else {
                print(comparison.text(ascii: ascii), terminator: "")
            }
            let figure = Data(comparison.svg().utf8)
            if let svg {
                try writeAtomically(figure, to: URL(fileURLWithPath: svg))
                if !output.json { print("wrote \(svg)") }
            }
            if let png {
                try writeAtomically(try PNGRenderer.png(svg: figure, source: "the comparison grid"), to: URL(fileURLWithPath: png))
                if !output.json { print("wrote \(png)") }
            }
        }
    }
}
