// TapsVersion: the version both executables report (`--version`) and every run folder records (run.json).

/// The release version of the package and the git commit it was built from.
///
/// The commit is stamped at build time by the `VersionStamp` plugin (scripts/version-stamp.sh): the short hash of
/// `HEAD`, with `-dirty` when tracked files differed from it; nil when the package was built outside a git
/// checkout or without git.
public enum TapsVersion {
    /// Semantic version of the package. Bump it with every release (and tag the commit `vX.Y.Z`).
    public static let package = "0.5.0"

    /// Short git commit of the build (e.g. `f856c36a1b2c` or `f856c36a1b2c-dirty`), nil when unknown.
    public static let commit: String? = generatedGitCommit

    /// One line for `--version`: `0.5.0 (git f856c36a1b2c)` or `0.5.0 (git commit unknown)`.
    public static var description: String {
        "\(package) (" + (commit.map { "git \($0)" } ?? "git commit unknown: built outside a git checkout") + ")"
    }
}
