// TapsTraining: an array that copies share their storage with as long as each only appends (the metrics history).
import Foundation

/// An array whose copies share one storage while it only grows: a copy of it is a reference and a count, and an
/// append writes past every copy's count instead of copying the elements. The first copy to append after another
/// one did (or past the storage's capacity) moves to storage of its own, as an `Array` would on every append after a
/// copy.
///
/// Why: the dashboard takes a snapshot of the run's metrics (4-10 a second) while the trainer appends a step event
/// after every step. With `[StepEvent]` and flat arrays of running score sums, the first append after each snapshot
/// copied the whole history: 20 000 steps of a 49-layer run took 5-14 ms of the training thread per snapshot
/// (measured with a test that appends after `MetricsStore.snapshot()`, on a loaded 2-core machine).
///
/// Reading is safe from any thread: elements below a copy's ``count`` were written before that copy was made and are
/// never written again; appends to the shared storage are serialised by its lock.
public struct AppendOnlyArray<Element>: RandomAccessCollection {
    /// Storage shared by copies: `capacity` slots, the first `count` initialised.
    private final class Storage {
        let base: UnsafeMutablePointer<Element>
        let capacity: Int
        var count = 0
        let lock = NSLock()

        init(capacity: Int) {
            precondition(capacity > 0, "AppendOnlyArray storage of \(capacity) elements")
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit {
            base.deinitialize(count: count)
            base.deallocate()
        }

        /// Appends `element` when the storage holds exactly `expected` elements (the caller's count: it is the copy
        /// at the end) and has room; false otherwise (the caller must move to storage of its own).
        func append(_ element: Element, ifCountIs expected: Int) -> Bool {
            lock.lock(); defer { lock.unlock() }
            guard count == expected, count < capacity else { return false }
            (base + count).initialize(to: element)
            count += 1
            return true
        }
    }

    private var storage: Storage? { didSet { base = storage?.base } }
    /// The storage's elements (nil without storage); kept beside it so that the subscript reads no class field.
    private var base: UnsafeMutablePointer<Element>?
    /// The elements this copy holds.
    public private(set) var count = 0

    /// An empty array.
    public init() {}

    /// An array of `elements`, in order.
    public init<S: Sequence>(_ elements: S) where S.Element == Element {
        for e in elements { append(e) }
    }

    /// 0.
    public var startIndex: Int { 0 }
    /// ``count``.
    public var endIndex: Int { count }

    /// Element `i` (`0..<count`; traps outside, as `Array` does). Read in place, as `Array` does: `steps[i].scores`
    /// retains the scores alone, not every array of the element.
    public subscript(i: Int) -> Element {
        unsafeAddress {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            return UnsafePointer(base.unsafelyUnwrapped.advanced(by: i))
        }
    }

    /// The elements as one contiguous buffer (`Array(_:)`, `elementsEqual` and other generic algorithms take it).
    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R? {
        try withUnsafeBufferPointer(body)
    }

    /// Appends `element`: into the shared storage when this copy is at its end and it has room; otherwise the
    /// elements move to new storage of twice the size (at least 64) first.
    public mutating func append(_ element: Element) {
        if let storage, storage.append(element, ifCountIs: count) {
            count += 1
            return
        }
        let moved = Storage(capacity: Swift.max(64, count * 2))
        if let storage, count > 0 { moved.base.initialize(from: storage.base, count: count) }
        moved.count = count
        _ = moved.append(element, ifCountIs: count)
        storage = moved
        count += 1
    }

    /// Whether this copy and `other` use one storage (the trainer's appends after a dashboard snapshot should not
    /// have moved it; tests check that).
    public func sharesStorage(with other: Self) -> Bool { storage != nil && storage === other.storage }

    /// Calls `body` with the elements as one contiguous buffer (valid only inside `body`).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage?.base, count: count))
    }
}

extension AppendOnlyArray: Equatable where Element: Equatable {
    /// Same count and elements (copies of one storage with one count are equal without a comparison, as for `Array`).
    public static func == (a: Self, b: Self) -> Bool {
        a.count == b.count && (a.storage === b.storage || a.elementsEqual(b))
    }
}

/// Unchecked: the storage is a class with a raw pointer. Safe because an element below a copy's count is never
/// written again and appends to a shared storage take its lock (see the type's comment).
extension AppendOnlyArray: @unchecked Sendable where Element: Sendable {}
