// taps-fuzz: the readers under fuzzing, one mode per file format (see docs/fuzzing.md).
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTUI
import TapsTraining

/// One reader under test. `run` feeds it one input; a thrown error is a correct answer to malformed input, only a
/// trap, a sanitizer report, a leak or a hang is a finding.
enum FuzzTarget: String, CaseIterable {
    /// `SafeTensors.read(data:source:)`: header JSON, dtypes, offsets.
    case safetensors
    /// A task export as `taps eval` reads it: `TaskExportFile` (typed metadata), loaded onto the digit CNN base.
    case export
    /// `IDX.parseImages` and `IDX.parseLabels` on raw or gzip-compressed bytes (the gzip bound included).
    case idx
    /// `NPY.parse`, then `NPYArray.images()` for uint8 arrays.
    case npy
    /// `CSVImages.parse` for 2x2 grey images, label first and label last.
    case csv
    /// `CIFAR10.parse` (records of 1 label + 3072 pixel bytes).
    case cifar
    /// A dataset file as `--data` opens it: `Dataset.open` (format detected from the content: a `.npz` through
    /// ZIPFoundation and the Keras array checks, or a CSV with header and shape inference), and `CIFAR10.read100`.
    case dataset
    /// `ImageFile.header` and `ImageFile.read` (PNG through libpng, JPEG through libjpeg-turbo, uint8 .npy), then crop
    /// and grey.
    case image
    /// `Theme.parse` of a btop-style theme file.
    case theme
    /// `MetricsStore.readJSONL` plus the snapshot and the headless progress lines of every event.
    case metrics
    /// A metrics file attached by the dashboard (`MetricsFollower.poll`), rendered off-screen by `render`.
    case dashboard

    /// Feeds one input to the reader.
    func run(_ data: Data) {
        switch self {
        case .safetensors:
            _ = try? SafeTensors.read(data: data, source: "fuzz.safetensors")
        case .export:
            guard let file = try? TaskExportFile(contentsOf: ScratchFile.holding(data)), let base = FuzzBase.digitCNN else { return }
            _ = try? file.load(onto: base)
        case .idx:
            _ = try? IDX.parseImages(data, source: "fuzz-images-idx3-ubyte")
            _ = try? IDX.parseLabels(data, source: "fuzz-labels-idx1-ubyte")
        case .npy:
            if let array = try? NPY.parse(data, source: "fuzz.npy") {
                _ = array.floats
                if case .uint8 = array.elements { _ = try? array.images(source: "fuzz.npy") }
            }
        case .csv:
            for column in [CSVImages.LabelColumn.first, .last] {
                _ = try? CSVImages.parse(data, source: "fuzz.csv", height: 2, width: 2, channels: 1, labelColumn: column)
            }
        case .cifar:
            _ = try? CIFAR10.parse(data, source: "fuzz.bin")
        case .dataset:
            let url = ScratchFile.holding(data)
            _ = try? Dataset.open(url)
            for coarse in [false, true] { _ = try? CIFAR10.read100(url, coarse: coarse) }
        case .image:
            let url = ScratchFile.holding(data)
            _ = try? ImageFile.header(url)
            if let image = try? ImageFile.read(url) {
                _ = image.centreSquare().grey().asLabeledImages()
            }
        case .theme:
            _ = try? Theme.parse(String(decoding: data, as: UTF8.self), name: "fuzz")
        case .metrics:
            guard let events = try? MetricsStore.readJSONL(ScratchFile.holding(data)) else { return }
            var snapshot = MetricsSnapshot()
            for event in events {
                snapshot.apply(event)
                _ = ProgressFormatter.line(for: event)
            }
        case .dashboard:
            let follower = MetricsFollower(url: ScratchFile.holding(data))
            _ = try? follower.poll()
            // One frame per input; the size and glyph set vary with the input's length so every layout is reached.
            let sizes = [Size(width: 80, height: 24), Size(width: 50, height: 16), Size(width: 200, height: 60),
                         Size(width: 20, height: 6), Size(width: 120, height: 40)]
            let caps = Capabilities(glyphs: data.count % 2 == 0 ? .unicode : .ascii)
            var state = DashboardState(metrics: follower.snapshot, readOnly: true)
            state.showHelp = data.count % 7 == 3
            _ = render(state, size: sizes[data.count % sizes.count], theme: .builtInDefault, caps: caps)
        }
    }
}

/// The base exports are loaded onto (loaded once per process).
enum FuzzBase {
    /// The embedded digit CNN.
    static let digitCNN = try? BaseModel.load("digitcnn")
}

/// The one scratch file a process writes its inputs to, for readers that only take a path.
enum ScratchFile {
    /// A per-process path in the temporary folder (`$TMPDIR`, else /tmp).
    static let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("taps-fuzz-\(ProcessInfo.processInfo.processIdentifier).input")

    /// Writes `data` to ``url`` and returns it.
    static func holding(_ data: Data) -> URL {
        try? data.write(to: url)
        return url
    }
}
