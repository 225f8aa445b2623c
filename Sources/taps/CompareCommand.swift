// taps compare: several runs' active-layer maps side by side.
import ArgumentParser
import Foundation
import TapsTraining

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which layers each run claims: active-layer maps side by side (rows = layers, columns = runs).")

    @Argument(help: "Run folders (with task.safetensors) or task exports.")
    var runs: [String]

    @Option(help: "Also write the grid as an SVG file.")
    var svg: String?

    @Flag(help: "ASCII marks (# active, . shared) instead of ● and ·.")
    var ascii = false

    func run() throws {
        try reportingErrors {
            guard !runs.isEmpty else { throw ValidationError("give at least one run folder or export") }
            let comparison = ActiveMapComparison(try runs.map { try ActiveMap.load($0) })
            print(comparison.text(ascii: ascii), terminator: "")
            if let svg {
                try writeAtomically(Data(comparison.svg().utf8), to: URL(fileURLWithPath: svg))
                print("wrote \(svg)")
            }
        }
    }
}
