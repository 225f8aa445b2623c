// TapsTrainingTests: the control file (RUN/control.json) an attached dashboard writes — parsing, malformed input,
// the trainer's watcher, and a real run steered at its step boundary.
import Foundation
import Testing
import TapsTraining

private func controlJSON(_ fields: [String: Any]) -> Data {
    var all: [String: Any] = ["format": "taps-control", "version": 1]
    all.merge(fields) { $1 }
    return try! JSONSerialization.data(withJSONObject: all)
}

@Suite("Control file", .serialized)
struct ControlFileTests {
    @Test("a written request parses back; each request records the sequence of the write that made it")
    func roundTrip() throws {
        let dir = URL(fileURLWithPath: temporaryRunFolder("control-roundtrip"))
        let r = ControlRequest().requestingLambda(0.5).requestingPause(true).requestingCheckpoint().requestingSnapshot()
        #expect(r.sequence == 4 && r.lambdaSequence == 1 && r.pausedSequence == 2 && r.checkpointSequence == 3
                && r.snapshotSequence == 4)
        try r.write(in: dir)
        let back = try ControlRequest.parse(try Data(contentsOf: ControlRequest.url(in: dir)), name: "control.json")
        #expect(back == r)
        let text = try String(contentsOf: ControlRequest.url(in: dir), encoding: .utf8)
        #expect(text.contains("\"lambda_sequence\":1") && text.contains("\"format\":\"taps-control\""))
    }

    @Test("malformed files give one line naming the file, the field and the expectation", arguments: [
        (Data("not json".utf8), "control.json: expected a JSON object"),
        (controlJSON(["format": "other", "sequence": 1]), "field format: expected \"taps-control\", got \"other\""),
        (controlJSON(["version": 2, "sequence": 1]), "field version: expected 1, got 2"),
        (controlJSON(["sequence": "x"]), "field sequence: expected a whole number >= 0, got \"x\""),
        (controlJSON([:]), "field sequence: expected a whole number >= 0, got nothing"),
        (controlJSON(["sequence": 1.5]), "field sequence: expected a whole number >= 0, got 1.5"),
        (controlJSON(["sequence": 1, "lambda": -1, "lambda_sequence": 1]), "field lambda: expected a number >= 0, got -1"),
        (controlJSON(["sequence": 1, "lambda": true, "lambda_sequence": 1]), "field lambda: expected a number >= 0, got true"),
        (controlJSON(["sequence": 1, "paused": "yes", "paused_sequence": 1]), "field paused: expected true or false, got \"yes\""),
        (controlJSON(["sequence": 1, "paused": 1, "paused_sequence": 1]), "field paused: expected true or false, got 1"),
        (controlJSON(["sequence": 1, "checkpoint_sequence": 2]), "field checkpoint_sequence: expected a number <= sequence (1), got 2"),
        (controlJSON(["sequence": 1, "lambda_sequence": 1]), "field lambda: expected a number >= 0 (lambda_sequence is set)"),
        (controlJSON(["sequence": 1, "snapshot_sequence": [1]]), "field snapshot_sequence: expected a whole number >= 0, got an array"),
    ])
    func malformed(data: Data, expected: String) {
        do {
            _ = try ControlRequest.parse(data, name: "control.json")
            Issue.record("accepted a malformed control file; expected: \(expected)")
        } catch let error as ControlFileError {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(error.description.hasPrefix("control.json: ") && !error.description.contains("\n"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("the watcher takes a file found at start as applied, applies newer requests once, reports a bad file once")
    func watcher() throws {
        let dir = URL(fileURLWithPath: temporaryRunFolder("control-watcher"))
        let old = ControlRequest().requestingLambda(7).requestingPause(true)
        try old.write(in: dir)
        let control = TrainingControl(lambda: 1)
        let watcher = ControlFileWatcher(directory: dir, control: control, minimumInterval: 0)
        #expect(watcher.poll(step: 0) == .unchanged, "a previous process's file is not applied")
        #expect(control.lambda == 1 && !control.isPaused)

        var next = old.requestingLambda(50_000).requestingCheckpoint().requestingSnapshot()
        try next.write(in: dir)
        #expect(watcher.poll(step: 3) == .applied(next))
        #expect(control.lambda == TrainingControl.maximumLambda, "clamped to the ceiling")
        #expect(!control.isPaused, "the pause request is older than the last applied file")
        #expect(control.takeCheckpointRequest() && control.takeSnapshotRequests() == 1)
        #expect(ControlAcknowledgement.read(in: dir) == ControlAcknowledgement(sequence: next.sequence, step: 3))
        #expect(watcher.poll(step: 4) == .unchanged)

        try Data("{\"format\": \"taps-control\"".utf8).write(to: ControlRequest.url(in: dir))
        guard case .problem(let message) = watcher.poll(step: 5) else { Issue.record("no problem reported"); return }
        #expect(message.contains("control.json: expected a JSON object"))
        #expect(watcher.poll(step: 6) == .unchanged, "the same bad file is reported once")
        #expect(control.lambda == TrainingControl.maximumLambda)

        next = next.requestingPause(false).requestingLambda(0.25)
        try next.write(in: dir)
        #expect(watcher.poll(step: 7) == .applied(next))
        #expect(control.lambda == 0.25)
    }

    @Test("the watcher looks at the file at most once per interval")
    func throttled() throws {
        let dir = URL(fileURLWithPath: temporaryRunFolder("control-throttle"))
        let control = TrainingControl(lambda: 1)
        let watcher = ControlFileWatcher(directory: dir, control: control, minimumInterval: 60)
        #expect(watcher.poll(step: 0) == .unchanged)  // the first look
        try ControlRequest().requestingLambda(3).write(in: dir)
        #expect(watcher.poll(step: 1) == .unchanged && control.lambda == 1, "not due yet")
        #expect(watcher.poll(step: 1, force: true) != .unchanged && control.lambda == 3)
    }

    @Test("a paused trainer keeps polling, so a resume written to the file ends the pause")
    func resumeWhilePaused() throws {
        let dir = URL(fileURLWithPath: temporaryRunFolder("control-pause"))
        let control = TrainingControl(lambda: 1)
        let watcher = ControlFileWatcher(directory: dir, control: control, minimumInterval: 0)
        let paused = ControlRequest().requestingPause(true)
        try paused.write(in: dir)
        #expect(watcher.poll(step: 1) == .applied(paused) && control.isPaused)
        let resume = paused.requestingPause(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { try? resume.write(in: dir) }
        let t0 = Date()
        control.waitWhilePaused(poll: { _ = watcher.poll(step: 1) })
        #expect(!control.isPaused && Date().timeIntervalSince(t0) < 5)
    }

    @Test("a real run picks up lambda, checkpoint and snapshot requests at a step boundary, with the same notices as the keys")
    func steersARun() throws {
        let config = quickConfig("control-run", lambda: 0.3)
        let dir = URL(fileURLWithPath: config.outputDirectory)
        let request = ControlRequest().requestingLambda(0.9).requestingCheckpoint().requestingSnapshot()
        let store = MetricsStore()
        // Written when the run has started (after the watcher took its baseline): picked up at the first boundary.
        store.onEvent { event in if case .start = event { try? request.write(in: dir) } }
        let trainer = try Trainer(config: config, store: store, control: TrainingControl(lambda: config.lambda))
        let summary = trainer.run()
        #expect(summary.status == .done)
        let m = store.snapshot()
        let lambdaNotices = m.notices.filter { $0.kind == .lambda }
        #expect(lambdaNotices.first?.from == 0.3 && lambdaNotices.first?.to == 0.9, "\(lambdaNotices)")
        #expect(m.steps.first?.lambda == 0.9 && m.steps.last?.lambda == 0.9)
        #expect(m.notices.contains { $0.kind == .checkpoint } && m.notices.contains { $0.kind == .snapshot })
        #expect(!m.notices.contains { $0.kind == .error })
        #expect(ControlAcknowledgement.read(in: dir)?.sequence == request.sequence)
    }

    @Test("a malformed control file gives one error notice and the run goes on")
    func malformedDuringRun() throws {
        let config = quickConfig("control-bad", lambda: 0.3)
        let dir = URL(fileURLWithPath: config.outputDirectory)
        let store = MetricsStore()
        store.onEvent { event in
            if case .start = event { try? Data("{\"format\":\"taps-control\",\"version\":1,\"sequence\":-3}".utf8)
                .write(to: ControlRequest.url(in: dir)) }
        }
        let trainer = try Trainer(config: config, store: store, control: TrainingControl(lambda: config.lambda))
        #expect(trainer.run().status == .done)
        let errors = store.snapshot().notices.filter { $0.kind == .error }
        #expect(errors.count == 1 && errors[0].message.contains("field sequence: expected a whole number >= 0, got -3"),
                "\(errors.map(\.message))")
        #expect(store.snapshot().steps.allSatisfy { $0.lambda == 0.3 })
    }
}
