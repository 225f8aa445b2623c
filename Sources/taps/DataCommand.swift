// taps data: look at a dataset before training on it (`inspect`), and write example datasets (`example`).
import ArgumentParser
import Foundation
import TapsData
import TapsTraining

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect a dataset for --data, or write an example dataset.",
        subcommands: [DataInspect.self, DataExample.self])
}

struct DataInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a dataset's format, classes, images per class and split, image sizes and channels.")

    @Argument(help: "A dataset folder or file, as given to --data.")
    var path: String

    @Option(help: "Force the format: \(DataFormat.names).")
    var format: String?

    func run() throws {
        try reportingErrors {
            var forced: DataFormat?
            if let format {
                guard let f = DataFormat(rawValue: format) else {
                    throw ConfigError.invalid(option: "--format", expected: DataFormat.names, got: format)
                }
                forced = f
            }
            let d = try Dataset.open(URL(fileURLWithPath: path), format: forced)
            print("format     \(d.format.rawValue)\(forced == nil ? " (detected)" : " (forced)")")
            print("path       \(d.path)")
            print("layout     \(d.layout)")
            let shown = d.classNames.prefix(20).joined(separator: ", ") + (d.classes > 20 ? ", ..." : "")
            print("classes    \(d.classes): \(shown)")
            print("train      \(d.train.count) images")
            print("test       \(d.test.count) images (\(d.testSource))")
            print("per class  " + "class".padding(toLength: 24, withPad: " ", startingAt: 0) + "   train    test")
            let train = counts(d.train.labels, d.classes), test = counts(d.test.labels, d.classes)
            for (k, name) in d.classNames.enumerated() {
                print("           " + String(name.prefix(24)).padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(format: " %7d %7d", train[k], test[k]))
            }
            for (label, split) in [("train", d.train), ("test", d.test)] { print("\(label) images  " + describeImages(split)) }
            for note in d.notes { print("note       \(note)") }
        }
    }

    private func counts(_ labels: [Int], _ k: Int) -> [Int] {
        var c = [Int](repeating: 0, count: k)
        for y in labels where y >= 0 && y < k { c[y] += 1 }
        return c
    }

    /// Sizes and channels of a split: exact for arrays; read from every file's header for ImageFolder.
    private func describeImages(_ split: DatasetSplit) -> String {
        switch split {
        case let .memory(m):
            return "\(m.height)x\(m.width) (HxW), \(m.channels) channel\(m.channels == 1 ? " (grey)" : "s (RGB)")"
        case let .files(list):
            var sizes: [String: Int] = [:], grey = 0, colour = 0, bad: [String] = []
            var minSide = Int.max, maxSide = 0
            for file in list.files {
                do {
                    let h = try ImageFile.header(URL(fileURLWithPath: file))
                    sizes["\(h.height)x\(h.width)", default: 0] += 1
                    if h.channels == 1 { grey += 1 } else { colour += 1 }
                    minSide = min(minSide, min(h.height, h.width)); maxSide = max(maxSide, max(h.height, h.width))
                } catch { bad.append("\(error)") }
            }
            let common = sizes.sorted { $0.value > $1.value }.prefix(3).map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
            var text = "\(sizes.count) distinct sizes (HxW; most common \(common)), sides \(minSide == Int.max ? 0 : minSide)...\(maxSide) px; \(colour) colour, \(grey) grey"
            if !bad.isEmpty { text += "; \(bad.count) unreadable headers (first: \(bad[0]))" }
            return text
        }
    }
}

struct DataExample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example",
        abstract: "Write an example dataset made from an embedded task (tinted per class): imagefolder, cifar10, npz or csv.")

    @Argument(help: "Output folder (imagefolder, cifar10) or file (npz, csv).")
    var out: String

    @Option(help: "imagefolder, imagefolder-flat (one folder of classes, no split), cifar10, npz or csv.")
    var kind: String = "imagefolder"

    @Option(help: "Embedded task to draw from.")
    var task: String = "fashion"

    @Option(name: .customLong("per-class"), help: "Training images per class.")
    var perClass: Int = 20

    @Option(name: .customLong("test-per-class"), help: "Test images per class.")
    var testPerClass: Int = 5

    @Option(help: "Image side in pixels (imagefolder, npz, csv).")
    var size: Int = 96

    @Flag(name: .customLong("odd-sizes"), help: "ImageFolder: give every image its own size around --size.")
    var oddSizes = false

    func run() throws {
        try reportingErrors {
            guard perClass >= 1, testPerClass >= 0, size >= 8, size <= 1024 else {
                throw ConfigError.invalid(option: "--per-class/--test-per-class/--size", expected: ">= 1, >= 0, 8...1024",
                                          got: "\(perClass), \(testPerClass), \(size)")
            }
            let data = try loadTask(task)
            let url = URL(fileURLWithPath: out)
            switch kind {
            case "imagefolder", "imagefolder-flat":
                let n = try ExampleDatasets.writeImageFolder(data, to: url, perClass: perClass, testPerClass: testPerClass,
                                                             size: size, oddSizes: oddSizes, split: kind == "imagefolder")
                print("wrote \(n) images to \(out)")
            case "cifar10": try ExampleDatasets.writeCIFAR10(data, to: url, perClass: perClass, testPerClass: testPerClass)
            case "npz": try ExampleDatasets.writeNPZ(data, to: url, perClass: perClass, testPerClass: testPerClass, size: size)
            case "csv": try ExampleDatasets.writeCSV(data, to: url, perClass: perClass, size: size)
            default: throw ConfigError.invalid(option: "--kind", expected: "imagefolder, imagefolder-flat, cifar10, npz or csv", got: kind)
            }
            if kind != "imagefolder" && kind != "imagefolder-flat" { print("wrote \(out)") }
        }
    }
}
