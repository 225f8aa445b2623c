// taps-tui, attach mode: follows one or more metrics.jsonl files (or run folders) written by other processes,
// read-only; the first is the main run, the others are overlaid. A file that does not exist yet is waited for.
import ArgumentParser
import Foundation
import TapsTraining
import TapsTUI

extension TapsTUICommand {
    func runAttached(_ urls: [URL], options: DashboardOptions) throws {
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
}
