// TapsCommandLine: what both executables need around a run — stop on signals, a background queue to train on.
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TapsTraining

/// Turns SIGINT, SIGTERM and SIGHUP into a stop request at the next step boundary (the run folder is still
/// written completely), and remembers which signal came first so the program can exit with `128 + signal`
/// (130, 143, 129) instead of 0.
///
/// ```swift
/// let signals = SignalStop(control)      // installs the handlers
/// ... run ...
/// signals.cancel()
/// if let code = signals.exitCode { throw ExitCode(code) }
/// ```
public final class SignalStop: @unchecked Sendable {
    /// The signals handled: interrupt (Ctrl-C), terminate, and hang-up (a closed SSH session).
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    private var sources: [any DispatchSourceSignal] = []
    private let received = Locked<Int32?>(nil)

    /// Installs the handlers. `onSignal` runs (on a global queue) after the stop was requested, e.g. to print
    /// "stopping at the next step boundary".
    public init(_ control: TrainingControl, onSignal: (@Sendable (Int32) -> Void)? = nil) {
        for sig in Self.signals {
            Glibc.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [received] in
                received.withLock { if $0 == nil { $0 = sig } }
                control.requestStop()
                onSignal?(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal received, if any.
    public var signal: Int32? { received.value }

    /// `128 + signal` when a signal stopped the run (130 SIGINT, 143 SIGTERM, 129 SIGHUP), else nil.
    public var exitCode: Int32? { received.value.map { 128 + $0 } }

    /// Removes the handlers (the default dispositions stay ignored until the process exits).
    public func cancel() {
        sources.forEach { $0.cancel() }
        sources.removeAll()
    }
}

/// Runs `body` on a background serial queue and blocks the calling thread until it returns, so the main
/// thread's signal sources stay responsive while a run trains.
/// - Throws: whatever `body` throws.
public func runOnBackgroundQueue<T>(label: String = "taps.run", _ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = Locked<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    DispatchQueue(label: label, qos: .userInitiated).async {
        box.value = Result { try body() }
        done.signal()
    }
    done.wait()
    guard let result = box.value else { preconditionFailure("the background run returned no result") }
    return try result.get()
}
