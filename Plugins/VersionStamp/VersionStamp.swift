// VersionStamp: a build-tool plugin that records the git commit of the checkout being built (scripts/version-stamp.sh).
import Foundation
import PackagePlugin

/// Runs `scripts/version-stamp.sh` before every build; it writes `GitCommit.swift` (the commit, or nil outside a git
/// checkout or without git) and leaves the file untouched when nothing changed, so the target is not recompiled.
@main
struct VersionStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("Generated")
        let script = context.package.directoryURL.appendingPathComponent("scripts/version-stamp.sh")
        return [.prebuildCommand(displayName: "Recording the git commit for --version",
                                 executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: [script.path, context.package.directoryURL.path, output.path],
                                 outputFilesDirectory: output)]
    }
}
