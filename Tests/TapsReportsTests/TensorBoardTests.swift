// TapsReportsTests: TensorBoard event files read back (step, tag, value), the CRC behind them, and PNG rendering.
import Foundation
import Testing
import TapsReports
import TapsTraining

private func temporaryFolder(_ label: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("taps-reports-\(label)-\(UUID().uuidString.prefix(8))").path
}

/// A small metrics stream: start, 3 steps, an epoch, a lambda notice, the end.
private func metricsStream() -> [MetricsEvent] {
    let layers = [LayerInfo(index: 0, name: "conv_layers.0", shape: [32, 1, 3, 3], parameters: 288),
                  LayerInfo(index: 1, name: "fc_layers.0", shape: [10, 32], parameters: 320)]
    var events: [MetricsEvent] = [.start(RunStartEvent(
        task: "fashion", mode: .taps, base: "digitcnn", lambda: 2, tau: 0.1, epochs: 1, warmupEpochs: 0, stepsPerEpoch: 3,
        batchSize: 32, seed: 0, layers: layers, backboneParameters: 608, runDirectory: "/tmp/x", time: 1_700_000_000))]
    for step in 1...3 {
        events.append(.step(StepEvent(step: step, epoch: 1, phase: .sparsify, loss: 1.0 / Double(step), taskLoss: 0.5, penalty: 0.25,
                                      lambda: step < 3 ? 2 : 2.5, accuracy: 0.5, learningRate: 0.01,
                                      scores: [0.2 - 0.05 * Double(step), 0.15], active: [step < 3, true],
                                      samplesPerSecond: 100, elapsed: Double(step))))
    }
    events.append(.epoch(EpochEvent(epoch: 1, step: 3, trainLoss: 0.6, trainAccuracy: 0.7, validationAccuracy: 0.75,
                                    activeLayers: 1, seconds: 3)))
    events.insert(.notice(NoticeEvent(kind: .lambda, step: 3, message: "lambda 2 -> 2.5 from step 3", from: 2, to: 2.5)), at: 3)
    events.append(.end(RunEndEvent(status: .done, step: 3, testAccuracy: 0.8125, bestValidationAccuracy: 0.75,
                                   activeLayers: ["fc_layers.0"], taskSpecificParameters: 330, seconds: 4, message: nil)))
    return events
}

/// (step, tag, value) of every scalar in `events`.
private func scalars(_ events: [TensorBoardEvent]) -> [(Int64, String, Float)] {
    events.flatMap { e in e.values.compactMap { v in if case .scalar(let x) = v.value { return (e.step, v.tag, x) } else { return nil } } }
}

@Suite("TensorBoard event files and PNG figures")
struct TensorBoardTests {
    @Test("CRC-32C check values (RFC 3720 B.4)")
    func crcCheckValues() {
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    }

    @Test("an exported event file reads back: file version, per-step scalars, one tag per layer, text notices")
    func exportReadsBack() throws {
        let dir = temporaryFolder("export")
        let url = try TensorBoardExport.write(events: metricsStream(), to: dir)
        #expect(url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        let events = try readTensorBoardEvents(url)
        #expect(events.first?.fileVersion == "brain.Event:2")
        let s = scalars(events)
        func value(_ step: Int64, _ tag: String) -> Float? { s.first { $0.0 == step && $0.1 == tag }?.2 }
        #expect(value(2, "loss/total") == 0.5)
        #expect(value(3, "lambda") == 2.5)
        #expect(value(1, "score/conv_layers.0") == Float(0.15))
        #expect(value(3, "score/fc_layers.0") == Float(0.15))
        #expect(value(3, "active_layers") == 1 && value(1, "active_layers") == 2)
        #expect(value(3, "accuracy/validation") == 0.75)
        #expect(value(3, "accuracy/test") == 0.8125)
        #expect(Set(s.map(\.1)).filter { $0.hasPrefix("score/") }.sorted() == ["score/conv_layers.0", "score/fc_layers.0"])
        let texts = events.flatMap { e in e.values.compactMap { v -> String? in if case .text(let t) = v.value { return v.tag + ": " + t } else { return nil } } }
        #expect(texts.contains("notices: [lambda] lambda 2 -> 2.5 from step 3"))
        #expect(events.dropFirst().allSatisfy { $0.wallTime >= 1_700_000_000 })
    }

    @Test("a corrupted record is reported with the file, not decoded")
    func corruptedRecord() throws {
        let dir = temporaryFolder("corrupt")
        let url = try TensorBoardExport.write(events: metricsStream(), to: dir)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 10] ^= 0xFF
        try bytes.write(to: url)
        #expect(throws: TensorBoardError.self) { try readTensorBoardEvents(url) }
    }

    @Test("metrics.jsonl with an unknown event kind (a newer taps) is read, the unknown lines skipped")
    func unknownKindsSkipped() throws {
        let dir = temporaryFolder("jsonl")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = makeJSONEncoder(pretty: false)
        var lines = try metricsStream().map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        lines.insert(#"{"event":"progress","step":2,"total_steps":3}"#, at: 2)
        let url = URL(fileURLWithPath: dir + "/metrics.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        #expect(try TensorBoardExport.readMetrics(url).count == metricsStream().count)
    }

    @Test("the live writer (taps train --tensorboard) produces the same scalars as the export")
    func liveWriterMatchesExport() throws {
        let store = MetricsStore()
        let writer = try TensorBoardWriter(directory: temporaryFolder("live"), wallTime: 1_700_000_000)
        writer.follow(store)
        for e in metricsStream() { store.append(e) }
        writer.close()
        let exported = try TensorBoardExport.write(events: metricsStream(), to: temporaryFolder("export2"))
        let live = scalars(try readTensorBoardEvents(writer.url)), offline = scalars(try readTensorBoardEvents(exported))
        #expect(live.count == offline.count && live.count > 30)
        #expect(zip(live, offline).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 })
    }

    @Test("SVG to PNG with librsvg: a PNG at twice the SVG's size, opaque")
    func pngRendering() throws {
        let svg = SVGPlot.tradeoff(title: "t", points: [
            .init(percent: 100, accuracy: 0.8, label: "λ=0", kind: "taps"),
            .init(percent: 100, accuracy: 0.8, label: "finetune", kind: "finetune"),
            .init(percent: 0.4, accuracy: 0.7, label: "probe", kind: "probe"),
        ])
        let png = try PNGRenderer.png(svg: Data(svg.utf8))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        let size = try #require(svg.firstMatch(of: /<svg [^>]*width="([0-9]+)" height="([0-9]+)"/))
        #expect(width == 2 * Int(size.1)! && height == 2 * Int(size.2)!)
        #expect(throws: PNGRenderer.RenderError.self) { try PNGRenderer.png(svg: Data("<svg".utf8), source: "broken.svg") }
    }

    @Test("trade-off plot: log x-axis, coincident markers moved apart")
    func tradeoffLayout() throws {
        let svg = SVGPlot.tradeoff(title: "t", points: [
            .init(percent: 100, accuracy: 0.8, label: "λ=0", kind: "taps"),
            .init(percent: 100, accuracy: 0.8, label: "finetune", kind: "finetune"),
        ])
        #expect(svg.contains(">0.1%<") && svg.contains(">1%<") && svg.contains(">10%<") && svg.contains(">100%<"))
        #expect(svg.contains("log scale"))
        // The circle (λ=0) and the square (fine-tune) at the same data point are drawn 12 px apart.
        let cx = try #require(svg.firstMatch(of: /<circle cx="([0-9.]+)" cy="[0-9.]+" r="5"/)).1
        let rx = try #require(svg.firstMatch(of: /<rect x="([0-9.]+)" y="[0-9.]+" width="11"/)).1
        #expect(abs((Double(rx)! + 5.5) - Double(cx)!) >= 11.9)
    }
}
