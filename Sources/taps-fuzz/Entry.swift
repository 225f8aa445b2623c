// taps-fuzz: `taps-fuzz TARGET [libFuzzer options] [CORPUS...]`.
//
// Built with `-sanitize=fuzzer,address -D TAPS_FUZZ` (make fuzz), libFuzzer drives the target. SwiftPM links an
// executable with `--defsym main=taps_fuzz_main`, so that symbol is defined here and hands control to
// `LLVMFuzzerRunDriver` (libFuzzer's own `main` is never used). In an ordinary build the same binary replays
// files: `taps-fuzz TARGET FILE...` feeds each file to the target once (a crash reproducer, a seed corpus).
import Foundation

/// The usage line, naming every target.
let usage = "usage: taps-fuzz TARGET [libFuzzer options] [CORPUS_DIR...]; targets: "
    + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")

#if TAPS_FUZZ

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The target chosen on the command line (set once, before libFuzzer starts).
nonisolated(unsafe) private var selected = FuzzTarget.safetensors

/// libFuzzer's per-input entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    selected.run(data)
    return 0
}

/// The process entry point: takes the target name off the arguments and runs libFuzzer with the rest.
@_cdecl("taps_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    let arguments = (0..<Int(argc)).map { argv[$0].map { String(cString: $0) } ?? "" }
    guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        return 2
    }
    selected = target
    // argv without the target name: [program, libFuzzer options and corpus folders...]
    var rest: [UnsafeMutablePointer<CChar>?] = [argv[0]] + (2..<Int(argc)).map { argv[$0] } + [nil]
    var restCount = CInt(rest.count - 1)
    return rest.withUnsafeMutableBufferPointer { buffer in
        var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return runDriver(&restCount, &pointer) { bytes, count in fuzzOneInput(bytes, count) }
    }
}

#else

/// Replays files through a target without libFuzzer (an ordinary build).
@main
struct TapsFuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            exit(2)
        }
        var files: [URL] = []
        for path in arguments.dropFirst() where !path.hasPrefix("-") {
            let url = URL(fileURLWithPath: path)
            let inside = (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? [url]
            files += inside.sorted { $0.path < $1.path }
        }
        for url in files {
            guard let data = try? Data(contentsOf: url) else {
                FileHandle.standardError.write(Data("taps-fuzz: cannot read \(url.path)\n".utf8))
                exit(1)
            }
            target.run(data)
        }
        print("taps-fuzz \(target.rawValue): \(files.count) inputs replayed without a crash")
    }
}

#endif
