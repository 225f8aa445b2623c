// TapsTUITests: following a growing metrics.jsonl (`--attach`), including a half-written last line.
import Foundation
import Testing
import TapsTraining
import TapsTUI

@Suite struct MetricsFollowerTests {
    @Test func followsAGrowingFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("taps-follow-\(getpid()).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let store = MetricsStore()
        try store.mirror(to: url)
        let follower = MetricsFollower(url: url)
        #expect(try follower.poll() == false)

        let start = Fixture.metrics(steps: 1).start!
        store.append(.start(start))
        store.append(.notice(NoticeEvent(kind: .lambda, step: 2, message: "lambda 0.3 -> 0.375", from: 0.3, to: 0.375)))
        store.flush()
        #expect(try follower.poll() == true)
        #expect(follower.snapshot.start == start)
        #expect(follower.snapshot.notices.count == 1)

        // A line still being written is kept until its newline arrives.
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        handle.write(Data(#"{"event":"notice","kind":"info","message":"half"#.utf8))
        #expect(try follower.poll() == false)
        handle.write(Data(#"","step":3}"#.utf8 + [0x0A]))
        try handle.close()
        #expect(try follower.poll() == true)
        #expect(follower.snapshot.notices.last?.message == "half")
        #expect(follower.problem == nil)

        let state = DashboardState(metrics: follower.snapshot, readOnly: true)
        let text = render(state, size: Size(width: 80, height: 24), theme: .builtInMono, caps: Capabilities()).text
        #expect(text.contains("attached (read-only)"))
        #expect(!text.contains("space pause"))  // steering keys are not offered
    }

    @Test func reportsAMalformedLineWithoutStopping() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("taps-follow-bad-\(getpid()).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("not json\n{\"event\":\"notice\",\"kind\":\"info\",\"message\":\"ok\",\"step\":1}\n".utf8).write(to: url)
        let follower = MetricsFollower(url: url)
        #expect(try follower.poll() == true)
        #expect(follower.problem?.contains(":1:") == true)
        #expect(follower.snapshot.notices.count == 1)
    }
}
