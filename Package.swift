// swift-tools-version: 6.0
// taps: Task Adaptive Parameter Sharing (Wallingford et al., CVPR 2022) in Swift, with a live terminal dashboard.
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "taps",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "taps", targets: ["taps"]),
        .executable(name: "taps-tui", targets: ["taps-tui"]),
        .library(name: "TAPS", targets: ["TapsSupport", "TapsTensor", "TapsNN", "TAPS", "TapsData", "TapsTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: - C shims (no public Swift API of their own)
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CTapsZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CImageCodecs", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev", "libturbojpeg0-dev"])]),
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncursesw5-dev"])]),
        .target(name: "CTermGuard"),
        // Vectorised exp/erf/GELU/softmax, compiled for AVX2+FMA and the baseline, chosen at run time (TapsTensor's VectorMath).
        .target(name: "CTapsKernels"),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CRsvg", pkgConfig: "librsvg-2.0", providers: [.apt(["librsvg2-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

        // MARK: - Libraries, in dependency order
        // Atomic file writes, the content hash and the lock wrapper (Foundation only; every layer uses them).
        .target(name: "TapsSupport", swiftSettings: strict),
        .target(name: "TapsTensor", dependencies: ["CBLAS", "CTapsKernels"], swiftSettings: strict),
        .target(name: "TapsNN", dependencies: ["TapsTensor", "TapsSupport"], swiftSettings: strict),
        .target(name: "TAPS", dependencies: ["TapsTensor", "TapsNN"], swiftSettings: strict),
        .target(name: "TapsData", dependencies: ["TapsTensor", "CTapsZlib", "CImageCodecs",
                                              .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                resources: [.copy("Resources/taps-pack"), .copy("Resources/imagenet-base")], swiftSettings: strict),
        .target(name: "TapsTraining", dependencies: ["TapsSupport", "TapsTensor", "TapsNN", "TAPS", "TapsData"],
                swiftSettings: strict),
        .target(name: "TapsTUI", dependencies: ["TapsTraining", "CNcursesw", "CTermGuard"],
                swiftSettings: strict),
        // TensorBoard event files (CRC32C from ISA-L) and PNG rendering of the SVG figures (librsvg).
        .target(name: "TapsReports", dependencies: ["TapsTraining", "CISAL", "CRsvg"], swiftSettings: strict),

        // Data-parallel training over MPI (`mpirun -np R taps train`; docs/scaling.md): the only importer of CMPI.
        .target(name: "TapsDistributed", dependencies: ["CMPI", "TapsTraining"], swiftSettings: strict),

        // The version (package version + git commit stamped at build time by the VersionStamp plugin).
        .plugin(name: "VersionStamp", capability: .buildTool()),
        .target(name: "TapsVersion", plugins: ["VersionStamp"]),

        // Command-line options shared by both executables (so `taps train` and `taps-tui` agree).
        .target(name: "TapsCommandLine", dependencies: [
            "TapsTraining", "TAPS", "TapsTensor", "TapsVersion",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ], swiftSettings: strict),

        // MARK: - Executables
        .executableTarget(name: "taps", dependencies: [
            "TapsTraining", "TapsCommandLine", "TapsReports", "TapsVersion", "TapsDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "taps-tui", dependencies: [
            "TapsTUI", "TapsTraining", "TapsCommandLine", "TapsVersion",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        // libFuzzer harness of every reader (`make fuzz`, docs/fuzzing.md); an ordinary build replays files.
        .executableTarget(name: "taps-fuzz", dependencies: ["TapsData", "TapsNN", "TapsTraining", "TapsTUI"],
                          swiftSettings: strict),

        // MARK: - Tests
        .target(name: "TapsTestSupport", dependencies: ["TapsTensor"], path: "Tests/TapsTestSupport",
                swiftSettings: strict),
        .testTarget(name: "TapsTensorTests", dependencies: ["TapsTensor", "TapsTestSupport"]),
        .testTarget(name: "TapsNNTests", dependencies: ["TapsNN", "TapsData", "TapsTestSupport"]),
        .testTarget(name: "TAPSTests", dependencies: ["TAPS", "TapsNN", "TapsData", "TapsTestSupport"]),
        .testTarget(name: "TapsDataTests", dependencies: ["TapsData", "TapsNN", "TapsTestSupport"]),
        .testTarget(name: "TapsTrainingTests", dependencies: ["TapsTraining", "TapsTestSupport"]),
        .testTarget(name: "TapsReportsTests", dependencies: ["TapsReports", "TapsTraining"]),
        .testTarget(name: "TapsCommandLineTests", dependencies: ["TapsCommandLine", "TapsTraining"]),
        .testTarget(name: "TapsTUITests", dependencies: ["TapsTUI", "TapsTestSupport"], exclude: ["Snapshots"]),
    ]
)
