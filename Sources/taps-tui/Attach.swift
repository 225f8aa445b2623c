// taps-tui, attach mode: follows one or more metrics.jsonl files (or run folders) written by other processes; the
// first is the main run, the others are overlaid. A file that does not exist yet is waited for. While the main run
// has not ended, the steering keys write its control file (docs/method.md "Control file"). A suite folder (written by
// `taps suite --out DIR`, or by job-array processes) is shown as a suite: one tab per task.
import ArgumentParser
import Foundation
import TapsTraining
import TapsTUI

extension TapsTUICommand {
    func runAttached(_ urls: [URL], options: DashboardOptions) throws {
        let suite: AttachedSuite?
        do { suite = try AttachedSuite.detect(urls[0]) } catch {
            throw ValidationError("--attach: \(plainDescription(of: error))")
        }
        if let suite {
            guard urls.count == 1 else {
                throw ValidationError("--attach: \(urls[0].path) is a suite folder; attach it alone (without other runs)")
            }
            return try runAttachedSuite(suite, options: options)
        }
        let followers = urls.map { MetricsFollower(url: $0) }
        for f in followers {
            do { try f.poll() } catch {
                throw ValidationError("--attach: cannot read \(f.url.path): \(error.localizedDescription)")
            }
        }
        if !headless {
            let app = DashboardApp(source: .attached(followers), options: options)
            if case .quit = app.run() { return }
        }
        // No terminal: print each file's progress so far.
        for f in followers {
            guard FileManager.default.fileExists(atPath: f.url.path) else {
                FileHandle.standardError.write(Data("taps-tui: --attach: \(f.url.path) does not exist yet\n".utf8))
                throw ExitCode.failure
            }
            if followers.count > 1 { print("== \(f.url.path)") }
            for event in try MetricsStore.readJSONL(f.url) {
                if let line = ProgressFormatter.line(for: event) { print(line) }
            }
        }
    }

    /// A suite folder: the suite view (one tab per task, `t` cycles); headless, each task's progress so far.
    private func runAttachedSuite(_ suite: AttachedSuite, options: DashboardOptions) throws {
        if !headless {
            let app = DashboardApp(source: .attachedSuite(suite), options: options)
            if case .quit = app.run() { return }
        }
        for (name, f) in zip(suite.names, suite.followers) {
            print("== \(name)")
            guard FileManager.default.fileExists(atPath: f.url.path) else {
                print("not started yet (no \(f.url.path))")
                continue
            }
            for event in try MetricsStore.readJSONL(f.url) {
                if let line = ProgressFormatter.line(for: event) { print(line) }
            }
        }
    }
}
