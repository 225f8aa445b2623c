// TapsTrainingTests: how a data-parallel run splits each global batch over its ranks.
import Testing
import TapsTraining

@Suite("Data-parallel sharding")
struct DataParallelTests {
    @Test("The ranks' slices, in rank order, are the global batch in its order, sizes differing by at most 1")
    func shardsPartitionTheBatch() {
        for size in 1...5 {
            for count in 0...40 {
                let slices = (0..<size).map { DataParallel.shard(count: count, rank: $0, size: size) }
                #expect(slices.flatMap { Array($0) } == Array(0..<count), "count \(count), size \(size)")
                let sizes = slices.map(\.count)
                #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
            }
        }
        #expect(DataParallel.shard(count: 7, rank: 3, size: 2) == 0..<7)   // an invalid rank takes everything
    }
}
