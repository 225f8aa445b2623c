// TapsTensor: dense Float32 tensors in row-major (C) order; images are NCHW.

/// A dense, contiguous, row-major Float32 tensor with value semantics.
///
/// Images use NCHW layout (`[batch, channels, height, width]`); linear weights are `[out, in]` and
/// convolution weights `[out, in/groups, kh, kw]`, exactly as in PyTorch, so torchvision `state_dict`s
/// load by name. Storage is a Swift `Array`, so copies are copy-on-write.
///
/// ```swift
/// var x = Tensor(zeros: [2, 3])
/// x[1, 2] = 5
/// ```
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// Dimensions, outermost first, e.g. `[batch, channels, height, width]`.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]

    /// A tensor of the given shape filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of zeros with the given shape.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// Wraps existing elements; `storage.count` must equal the product of `shape`.
    public init(shape: [Int], storage: [Float]) {
        precondition(storage.count == shape.reduce(1, *),
                     "storage has \(storage.count) elements, shape \(shape) needs \(shape.reduce(1, *))")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor of the given shape whose every element `body` writes (no zero fill first: kernels that
    /// overwrite their whole output use this instead of `Tensor(zeros:)`). `body` must initialise all
    /// `shape.reduce(1, *)` elements.
    public init(shape: [Int], overwrittenBy body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let n = shape.reduce(1, *)
        self.shape = shape
        self.storage = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try body(UnsafeMutableBufferPointer(rebasing: buffer[0..<n]))
            initialized = n
        }
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// Reshapes in place; the element count must stay the same.
    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == storage.count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Element access by full index (slow path for tests and tools; kernels use the storage directly).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    public var description: String {
        let head = storage.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(storage.count > 8 ? ", ..." : "")]"
    }
}
