// TapsTUITests: attaching to runs trained elsewhere — a suite folder's tabs (detection, waiting/running/done), and
// the dashboard's side of the control file (the run's lambda and pause state from its metrics, pending requests).
import Foundation
import Testing
import TapsTraining
import TapsTUI

private func temporaryFolder(_ label: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("taps-attach-\(label)-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private let startEvent = MetricsEvent.start(RunStartEvent(
    task: "fashion", mode: .taps, base: "digitcnn", lambda: 0.3, tau: 0.1, epochs: 2, warmupEpochs: 1,
    stepsPerEpoch: 10, batchSize: 32, seed: 0, layers: Fixture.layers, backboneParameters: 388_416,
    runDirectory: "x", time: 0))

/// Writes a run's metrics.jsonl into `folder` with the given events.
private func writeRun(_ folder: URL, _ events: [MetricsEvent]) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let store = MetricsStore()
    try store.mirror(to: folder.appendingPathComponent("metrics.jsonl"))
    for e in events { store.append(e) }
    store.closeMirror()
}

private let endEvent = MetricsEvent.end(RunEndEvent(status: .done, step: 20, testAccuracy: 0.8, bestValidationAccuracy: 0.8,
                                                    activeLayers: [], taskSpecificParameters: 0, seconds: 1, message: nil))

@Suite struct AttachedSuiteTests {
    @Test("a folder with suite-config.json is a suite: its tasks in order, whether or not they have started")
    func detectsByConfig() throws {
        let dir = temporaryFolder("suite-config")
        let config = SuiteConfig(tasks: ["fashion", "ucidigits", "lfwfaces"], outputDirectory: dir.path)
        try makeJSONEncoder().encode(config).write(to: dir.appendingPathComponent(SuiteRunner.configFileName))
        try writeRun(dir.appendingPathComponent("ucidigits"), [startEvent])
        try writeRun(dir.appendingPathComponent("fashion"), [startEvent, endEvent])
        let suite = try #require(try AttachedSuite.detect(dir))
        #expect(suite.names == ["fashion", "ucidigits", "lfwfaces"] && suite.fromConfig)
        suite.poll(viewing: 0)
        #expect(suite.done == [true, false, false])
        #expect(suite.running == [false, true, false])
        #expect(suite.waiting == [false, false, true])
        #expect(suite.defaultView == 1, "the task in training is shown first")
        let tabs = suite.tabs(viewing: 2, following: false)
        #expect(tabs.names == suite.names && tabs.viewing == 2 && tabs.running == [false, true, false])

        let text = render({ var s = Fixture.state(paused: false); s.suite = tabs; return s }(),
                          size: Size(width: 100, height: 30), theme: .builtInMono,
                          caps: Capabilities(glyphs: .unicode, colorDepth: .none)).lines
        #expect(text[2].contains("fashion ") && text[2].contains("ucidigits ▶") && text[2].contains("lfwfaces…"),
                "tab line: \(text[2])")
    }

    @Test("the first frame of an attached suite already shows the first unfinished task, not the first tab")
    func firstFrameShowsTheWaitingTask() throws {
        let dir = temporaryFolder("suite-first-frame")
        let config = SuiteConfig(tasks: ["fashion", "ucidigits", "lfwfaces"], outputDirectory: dir.path)
        try makeJSONEncoder().encode(config).write(to: dir.appendingPathComponent(SuiteRunner.configFileName))
        try writeRun(dir.appendingPathComponent("fashion"), [startEvent, endEvent])
        try writeRun(dir.appendingPathComponent("lfwfaces"), [startEvent, endEvent])
        let suite = try #require(try AttachedSuite.detect(dir))
        #expect(suite.update(chosen: nil).view == 1, "ucidigits (waiting) before anything was read")
        #expect(suite.update(chosen: 2).view == 2, "a tab picked with t stays")
    }

    @Test("without suite-config.json, subfolders holding metrics.jsonl make a suite (stage1 first); a run folder does not")
    func detectsBySubfolders() throws {
        let dir = temporaryFolder("suite-sub")
        try writeRun(dir.appendingPathComponent("ucidigits"), [startEvent])
        try writeRun(dir.appendingPathComponent("stage1"), [startEvent])
        try writeRun(dir.appendingPathComponent("fashion"), [startEvent])
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let suite = try #require(try AttachedSuite.detect(dir))
        #expect(suite.names == ["stage1", "fashion", "ucidigits"] && !suite.fromConfig)

        #expect(try AttachedSuite.detect(dir.appendingPathComponent("fashion")) == nil, "a run folder")
        #expect(try AttachedSuite.detect(dir.appendingPathComponent("empty")) == nil, "nothing to follow")
        #expect(try AttachedSuite.detect(dir.appendingPathComponent("missing")) == nil, "waited for as a run")
    }

    @Test("an unreadable suite-config.json is an error naming the file")
    func badConfig() throws {
        let dir = temporaryFolder("suite-bad")
        try Data("{\"tasks\": 3}".utf8).write(to: dir.appendingPathComponent(SuiteRunner.configFileName))
        #expect { _ = try AttachedSuite.detect(dir) } throws: { "\($0)".contains("suite-config.json: not a suite configuration") }
    }
}

@Suite struct RemoteControlTests {
    @Test("the run's lambda comes from its metrics: a change announced after the last step counts (a paused run)")
    func runLambdaAndPause() {
        var m = Fixture.metrics(steps: 200)
        #expect(RemoteControl.runLambda(m) == 0.375)
        m.apply(.notice(NoticeEvent(kind: .lambda, step: 201, message: "lambda 0.375 -> 1", from: 0.375, to: 1)))
        #expect(RemoteControl.runLambda(m) == 1)
        #expect(!RemoteControl.runPaused(m))
        m.apply(.notice(NoticeEvent(kind: .paused, step: 200, message: "paused at step 200")))
        #expect(RemoteControl.runPaused(m))
        m.apply(.notice(NoticeEvent(kind: .resumed, step: 200, message: "resumed at step 200")))
        #expect(!RemoteControl.runPaused(m))
    }

    @Test("requests are pending until the trainer's acknowledgement reaches their sequence; an old file is continued")
    func pendingUntilAcknowledged() throws {
        let dir = temporaryFolder("remote")
        try ControlRequest().requestingLambda(2).write(in: dir)  // an earlier dashboard's request, already applied
        try makeJSONEncoder().encode(ControlAcknowledgement(sequence: 1, step: 5))
            .write(to: dir.appendingPathComponent(ControlAcknowledgement.fileName))
        let remote = RemoteControl(directory: dir)
        #expect(remote.request.sequence == 1 && remote.pendingRequests.isEmpty && remote.status == "attached: steering")
        try remote.send(remote.request.requestingLambda(2.5))
        try remote.send(remote.request.requestingCheckpoint())
        #expect(remote.request.sequence == 3)
        #expect(remote.status == "not picked up yet: lambda 2.5, checkpoint")
        // The trainer picks up sequence 3.
        let control = TrainingControl(lambda: 2)
        let watcher = ControlFileWatcher(directory: dir, control: control, minimumInterval: 0)
        try remote.send(remote.request.requestingPause(true))
        #expect(watcher.poll(step: 9) != .unchanged && control.isPaused && control.lambda == 2,
                "the earlier requests were in the file when the watcher started")
        remote.refreshAcknowledgement(interval: 0)
        #expect(remote.pendingRequests.isEmpty, "\(remote.pendingRequests)")
    }
}
