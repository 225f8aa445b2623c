// TapsTraining: the processes of a data-parallel run as the training loop sees them. The transport (MPI) lives in
// TapsDistributed; this module only states what it needs, so TapsTraining never links MPI.
import Foundation
import TapsNN

/// The processes ("ranks") of one data-parallel run (docs/scaling.md): every rank runs the same loop on its shard
/// of each global batch; rank 0 writes the run folder and relays control.
///
/// Every collective (all-reduce, broadcast) must be called by every rank in the same order with arrays of the same
/// length; results are identical on every rank.
public protocol ProcessGroup: BatchStatisticsReducer {
    /// This process's index, `0..<size`.
    var rank: Int { get }
    /// Number of processes (1: a plain run).
    var size: Int { get }
    /// Replaces `values` by their element-wise sum over every rank (`MPI_Allreduce`, `MPI_SUM`).
    func allReduceSum(_ values: inout [Float])
    /// Replaces `values` on every rank by rank `root`'s `values` (`MPI_Bcast`).
    func broadcast(_ values: inout [Double], from root: Int)
    /// Ends every rank of the run with exit status `code` (`MPI_Abort`): for a failure one rank meets alone inside a
    /// step (an unreadable image of its shard), where the others would otherwise wait in the next collective forever.
    func abort(code: Int32) -> Never
}

extension ProcessGroup {
    /// Whether this rank writes files, metrics and progress (rank 0).
    public var isWriter: Bool { rank == 0 }
}

/// The data-parallel side of one run: which part of a global batch this rank trains on, and the one all-reduce of
/// the gradients per step (docs/scaling.md "What is exchanged").
public final class DataParallel {
    public let group: any ProcessGroup
    /// Reused flat buffer of every trainable gradient (one all-reduce per step).
    private var buffer: [Float] = []

    public init(group: any ProcessGroup) { self.group = group }

    /// This rank's contiguous slice of a global batch of `count` examples: `[rank*count/size, (rank+1)*count/size)`,
    /// so the ranks' slices, in rank order, are the global batch in its order.
    public static func shard(count: Int, rank: Int, size: Int) -> Range<Int> {
        guard size > 1, rank >= 0, rank < size else { return 0..<count }
        return (rank * count / size)..<((rank + 1) * count / size)
    }

    /// This rank's slice of `indices` (see ``shard(count:rank:size:)``).
    public func shard(_ indices: [Int]) -> [Int] {
        Array(indices[Self.shard(count: indices.count, rank: group.rank, size: group.size)])
    }

    /// Sums the gradients of `parameters` (those that `requiresGrad`, in order) over every rank in one flat
    /// `MPI_Allreduce`. Each rank's gradients must already be its share of the global-batch mean (its loss gradient
    /// scaled by `n_rank / n_global`), so the sum is the gradient of the global batch's mean loss.
    public func allReduceGradients(_ parameters: [Parameter]) {
        let training = parameters.filter(\.requiresGrad)
        let total = training.reduce(0) { $0 + $1.grad.count }
        // Every rank must sum buffers of the same length: a rank that froze other parameters would make MPI read
        // past its buffer. The length goes first, exact in two floats (total = high * 4096 + low, below 2^36).
        var length: [Float] = [Float(total / 4096), Float(total % 4096)]
        group.allReduceSum(&length)
        if length != [Float(group.size * (total / 4096)), Float(group.size * (total % 4096))] {
            FileHandle.standardError.write(Data(("error: rank \(group.rank): the ranks train different parameters "
                + "(\(total) gradient values here); every rank must freeze the same layers\n").utf8))
            group.abort(code: 1)
        }
        if buffer.count != total { buffer = [Float](repeating: 0, count: total) }
        var offset = 0
        buffer.withUnsafeMutableBufferPointer { flat in
            for p in training {
                p.grad.withBuffer { g in
                    if let src = g.baseAddress, let dst = flat.baseAddress { (dst + offset).update(from: src, count: g.count) }
                }
                offset += p.grad.count
            }
        }
        group.allReduceSum(&buffer)
        offset = 0
        for p in training {
            let n = p.grad.count
            buffer.withUnsafeBufferPointer { flat in
                p.grad.withMutableBuffer { g in
                    if let src = flat.baseAddress, let dst = g.baseAddress { dst.update(from: src + offset, count: n) }
                }
            }
            offset += n
        }
    }

    /// Bytes one step all-reduces for `parameters` (Float32 gradients of those that `requiresGrad`).
    public static func gradientBytes(_ parameters: [Parameter]) -> Int {
        parameters.filter(\.requiresGrad).reduce(0) { $0 + 4 * $1.grad.count }
    }
}
