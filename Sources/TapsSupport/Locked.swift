// TapsSupport: the one lock wrapper shared by the trainer, the CLI and the dashboard.
import Foundation

/// A value guarded by a lock, for state shared between the trainer's queue and the UI or signal handlers.
///
/// ```swift
/// let finished = Locked(false)
/// finished.value = true                  // from the trainer's queue
/// if finished.value { ... }              // from the UI thread
/// finished.withLock { $0.toggle() }      // read-modify-write in one critical section
/// ```
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    /// The current value (each get and set takes the lock once).
    public var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }

    /// Runs `body` with exclusive access to the value and returns its result.
    @discardableResult
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body(&stored)
    }
}
