// TapsDistributed: the MPI world of a data-parallel run (Open MPI through the CMPI shim). The only module that
// imports CMPI; the training loop sees it as a `ProcessGroup` (TapsTraining/Distributed/ProcessGroup.swift).
import CMPI
import Foundation
import TapsTraining

/// The processes started together by `mpirun -np R taps train ...` (MPI's `MPI_COMM_WORLD`), with the collectives
/// the training loop needs: all-reduce sums of `[Float]` / `[Double]` and broadcast, plus a barrier.
///
/// Without a launcher nothing here runs: ``world()`` returns nil and MPI is never initialised, so a plain
/// `taps train` behaves exactly as before (docs/scaling.md). MPI is initialised with `MPI_THREAD_SERIALIZED`
/// because training runs on a background queue, not the main thread; one thread at a time calls it.
///
/// References: MPI 3.1 standard, §5.9 (`MPI_Allreduce`), §5.4 (`MPI_Bcast`), §12.4 (threads); Open MPI 4.1.
public final class Communicator: ProcessGroup, @unchecked Sendable {
    /// This process's rank in `MPI_COMM_WORLD`, `0..<size`.
    public let rank: Int
    /// Number of processes in `MPI_COMM_WORLD`.
    public let size: Int
    private let comm: MPI_Comm
    /// Largest element count handed to one MPI call (MPI counts are `Int32`); longer arrays go in chunks.
    private static let maximumChunk = 1 << 30

    private init(comm: MPI_Comm, rank: Int, size: Int) {
        self.comm = comm; self.rank = rank; self.size = size
    }

    /// Whether a launcher started this process as one of several (`mpirun` / `mpiexec` set
    /// `OMPI_COMM_WORLD_SIZE`; PMI-based launchers such as `srun --mpi=pmix` set `PMIX_RANK` / `PMI_SIZE`).
    public static func launchedAsOneOfSeveral(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if let n = environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] { return (Int(n) ?? 1) > 1 }
        return environment["PMIX_RANK"] != nil
    }

    private static let shared = LockedWorld()

    /// The MPI world when this process runs under a launcher with more than one process, else nil (MPI stays
    /// uninitialised). The first call initialises MPI; later calls return the same communicator.
    /// - Throws: ``CommunicatorError/threadSupport(provided:)`` when the MPI library cannot serve calls from a
    ///   thread other than the main one.
    public static func world() throws -> Communicator? {
        guard launchedAsOneOfSeveral() else { return nil }
        return try shared.get {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided)
            guard provided >= cmpi_thread_serialized() else { throw CommunicatorError.threadSupport(provided: Int(provided)) }
            guard let comm = cmpi_comm_world() else { throw CommunicatorError.noWorld }
            var rank: Int32 = 0, size: Int32 = 0
            MPI_Comm_rank(comm, &rank)
            MPI_Comm_size(comm, &size)
            let world = Communicator(comm: comm, rank: Int(rank), size: Int(size))
            return world.size > 1 ? world : nil
        }
    }

    /// Ends MPI (`MPI_Finalize`) when ``world()`` initialised it; a no-op otherwise. Call once, on every rank, after
    /// the last collective: a rank that exits without it makes `mpirun` report the job as failed.
    public static func finalize() {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initialized != 0 && finalized == 0 { MPI_Finalize() }
    }

    // MARK: - Collectives

    /// Element-wise sum over every rank, in place (`MPI_Allreduce` with `MPI_IN_PLACE`, `MPI_SUM`, `MPI_FLOAT`).
    public func allReduceSum(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { b in
            forEachChunk(b.count) { start, n in
                _ = MPI_Allreduce(cmpi_in_place(), b.baseAddress.map { UnsafeMutableRawPointer($0 + start) }, Int32(n),
                                  cmpi_float(), cmpi_sum(), comm)
            }
        }
    }

    /// Element-wise sum over every rank, in place (`MPI_DOUBLE`).
    public func allReduceSum(_ values: inout [Double]) {
        values.withUnsafeMutableBufferPointer { b in
            forEachChunk(b.count) { start, n in
                _ = MPI_Allreduce(cmpi_in_place(), b.baseAddress.map { UnsafeMutableRawPointer($0 + start) }, Int32(n),
                                  cmpi_double(), cmpi_sum(), comm)
            }
        }
    }

    /// Rank `root`'s `values` on every rank (`MPI_Bcast`); every rank passes an array of the same length.
    public func broadcast(_ values: inout [Double], from root: Int) {
        values.withUnsafeMutableBufferPointer { b in
            forEachChunk(b.count) { start, n in
                _ = MPI_Bcast(b.baseAddress.map { UnsafeMutableRawPointer($0 + start) }, Int32(n), cmpi_double(), Int32(root), comm)
            }
        }
    }

    /// Ends every rank with exit status `code` (`MPI_Abort`).
    public func abort(code: Int32) -> Never {
        _ = MPI_Abort(comm, code)
        exit(code)
    }

    /// Waits until every rank has called it (`MPI_Barrier`).
    public func barrier() { _ = MPI_Barrier(comm) }

    private func forEachChunk(_ count: Int, _ body: (Int, Int) -> Void) {
        var start = 0
        repeat {
            let n = min(Self.maximumChunk, count - start)
            body(start, n)
            start += n
        } while start < count
    }
}

/// Why MPI could not be used.
public enum CommunicatorError: Error, CustomStringConvertible, Equatable {
    /// The MPI library offers less than `MPI_THREAD_SERIALIZED`.
    case threadSupport(provided: Int)
    /// `MPI_COMM_WORLD` is null after `MPI_Init_thread` (a broken MPI installation).
    case noWorld

    public var description: String {
        switch self {
        case .threadSupport(let provided):
            return "the MPI library provides thread level \(provided), taps needs MPI_THREAD_SERIALIZED "
                + "(\(cmpi_thread_serialized())); use Open MPI from Debian (apt-get install libopenmpi-dev openmpi-bin)"
        case .noWorld:
            return "MPI_COMM_WORLD is null after MPI_Init_thread; reinstall Open MPI (apt-get install --reinstall libopenmpi-dev openmpi-bin)"
        }
    }
}

/// The one world communicator of the process, created at most once.
private final class LockedWorld: @unchecked Sendable {
    private let lock = NSLock()
    private var made = false
    private var world: Communicator?

    func get(_ make: () throws -> Communicator?) throws -> Communicator? {
        lock.lock(); defer { lock.unlock() }
        if !made { world = try make(); made = true }
        return world
    }
}
