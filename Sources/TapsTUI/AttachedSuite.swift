// TapsTUI: a suite folder trained elsewhere (`taps suite --out DIR`, or the processes of a job array
// `taps suite --array-index I`), followed for `taps-tui --attach DIR`: one tab per task, each following its
// `DIR/<task>/metrics.jsonl`.
import Foundation
import TapsTraining

/// The tasks of a suite folder and a follower of each task's metrics.
public final class AttachedSuite {
    /// The suite folder.
    public let folder: URL
    /// One name per view (`stage1` first in joint mode, then the tasks), i.e. the run subfolders.
    public private(set) var names: [String]
    /// One follower per view, reading `folder/<name>/metrics.jsonl`.
    public private(set) var followers: [MetricsFollower]
    /// Whether the task list came from `suite-config.json` (else from the subfolders found, rescanned as they appear).
    public let fromConfig: Bool
    private var lastScan = -Double.infinity

    /// The suite in `folder`, or nil when `folder` is not a suite folder: a folder that holds `metrics.jsonl` itself
    /// is a run folder; a suite folder has `suite-config.json` (job arrays) or, failing that, subfolders that hold
    /// `metrics.jsonl`.
    /// - Throws: when `suite-config.json` exists but cannot be used (the message names the file).
    public static func detect(_ folder: URL) throws -> AttachedSuite? {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue,
              !fm.fileExists(atPath: folder.appendingPathComponent("metrics.jsonl").path) else { return nil }
        if fm.fileExists(atPath: folder.appendingPathComponent(SuiteRunner.configFileName).path) {
            let config = try SuiteRunner.recordedConfig(in: folder)
            return AttachedSuite(folder: folder, names: SuiteRunner.viewFolderNames(config: config), fromConfig: true)
        }
        let found = runSubfolders(of: folder)
        return found.isEmpty ? nil : AttachedSuite(folder: folder, names: found, fromConfig: false)
    }

    /// Subfolders of `folder` that hold `metrics.jsonl`, `stage1` first, the others by name.
    static func runSubfolders(of folder: URL) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let runs = entries.filter {
            !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: folder.appendingPathComponent($0)
                .appendingPathComponent("metrics.jsonl").path)
        }.sorted()
        return runs.filter { $0 == "stage1" } + runs.filter { $0 != "stage1" }
    }

    /// - Parameter names: the run subfolders, in tab order.
    public init(folder: URL, names: [String], fromConfig: Bool) {
        self.folder = folder
        self.names = names
        self.fromConfig = fromConfig
        followers = names.map { MetricsFollower(url: folder.appendingPathComponent($0).appendingPathComponent("metrics.jsonl")) }
    }

    /// Reads what every task's file gained; returns the first problem (unreadable file, malformed line) of the view
    /// `viewing`. Without `suite-config.json`, new run subfolders are added (at most one scan every 2 s).
    @discardableResult
    public func poll(viewing: Int) -> String? {
        if !fromConfig {
            let now = ProcessInfo.processInfo.systemUptime
            if now - lastScan >= 2 {
                lastScan = now
                for name in Self.runSubfolders(of: folder) where !names.contains(name) {
                    names.append(name)
                    followers.append(MetricsFollower(url: folder.appendingPathComponent(name).appendingPathComponent("metrics.jsonl")))
                }
            }
        }
        var problem: String?
        for (i, f) in followers.enumerated() {
            do { try f.poll() } catch {
                if i == viewing { problem = "cannot read \(f.url.path): \(error.localizedDescription)" }
            }
            if i == viewing, problem == nil { problem = f.problem }
        }
        return problem
    }

    /// One frame's poll: reads every task's file, then picks the view to show: `chosen` (a tab picked with `t`) or,
    /// from what was just read, ``defaultView`` (so the very first frame already shows the task in training or the
    /// first one waiting, not the first tab). Returns the view and its problem, if any.
    public func update(chosen: Int?) -> (view: Int, problem: String?) {
        let guess = min(chosen ?? defaultView, max(0, names.count - 1))
        var problem = poll(viewing: guess)
        let view = min(chosen ?? defaultView, max(0, names.count - 1))
        if view != guess { problem = followers.indices.contains(view) ? followers[view].problem : nil }
        return (view, problem)
    }

    /// Whether each view's run has ended (an end event).
    public var done: [Bool] { followers.map { $0.snapshot.end != nil } }
    /// Whether each view's run has started and not ended.
    public var running: [Bool] { followers.map { $0.fileExists && $0.snapshot.start != nil && $0.snapshot.end == nil } }
    /// Whether each view's metrics file does not exist yet (the task has not started).
    public var waiting: [Bool] { followers.map { !$0.fileExists } }

    /// The view to show when none was chosen: the first task in training, else the first not finished, else the last.
    public var defaultView: Int {
        running.firstIndex(of: true) ?? done.firstIndex(of: false) ?? max(0, names.count - 1)
    }

    /// The tab line for view `viewing` (`following`: no view was chosen with `t`).
    public func tabs(viewing: Int, following: Bool) -> SuiteTabs {
        var t = SuiteTabs(names: names, viewing: viewing, training: nil, done: done, following: following)
        t.running = running
        t.waiting = waiting
        return t
    }
}
