// TapsNNTests: the paper's network families give the same bits at 1, 2 and 3 worker threads (forward output, input
// gradient and every parameter gradient of one training step): every parallel split and reduction in the engine has
// boundaries and an order that do not depend on the thread count (issue 11, "results unchanged").
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Thread-count invariance of a training step")
struct ThreadInvarianceTests {
    /// Networks large enough that the elementwise kernels, convolutions and GEMMs split into several work items.
    static let networks = ["resnet", "densenet", "vit", "efficientnet"]

    private func network(_ name: String, rng: inout SeededRNG) -> (any Layer, [Int]) {
        switch name {
        case "resnet":
            return (ResNet.make(.init(block: .basic, layers: [1, 1, 1, 1], classes: 5, width: 16), rng: &rng), [8, 3, 32, 32])
        case "densenet":
            return (DenseNet.make(.init(growthRate: 8, blocks: [2, 2, 2], initialFeatures: 16, bnSize: 2, classes: 5), rng: &rng),
                    [8, 3, 32, 32])
        case "vit":
            // 65 tokens × 256 MLP features × 8 images: the GELU splits into 9 work items of 16 Ki elements.
            return (VisionTransformer(.init(imageSize: 32, patchSize: 4, layers: 2, heads: 2, hiddenDim: 64, mlpDim: 256, classes: 5),
                                      rng: &rng), [8, 3, 32, 32])
        default:
            let config = EfficientNetLiteConfig(stemChannels: 16, stages: [
                .init(expansion: 1, kernel: 3, stride: 1, outChannels: 16, repeats: 1),
                .init(expansion: 6, kernel: 5, stride: 2, outChannels: 24, repeats: 2),
            ], headChannels: 64, classes: 5, dropout: 0)
            return (EfficientNetLite.make(config, rng: &rng), [8, 3, 32, 32])
        }
    }

    /// Output, input gradient and parameter gradients of one training step at `threads` workers.
    private func step(_ name: String, threads: Int) -> [[Float]] {
        var rng = SeededRNG(seed: 11)
        let (model, inputShape) = network(name, rng: &rng)
        setPatternState(model)   // nonzero everywhere (ViT's head starts at zero, which would zero every gradient behind it)
        let x = Tensor.normal(inputShape, rng: &rng)
        // This thread's loops only: the other tests in the process keep their thread count.
        return Parallel.withThreads(threads) {
            #expect(Parallel.threads == threads)
            let y = model.forward(x, mode: .training)
            var g = SeededRNG(seed: 12)
            let dx = model.backward(Tensor.normal(y.shape, rng: &g))
            return [y.storage, dx.storage] + model.parameters.filter(\.requiresGrad).map { $0.grad.storage }
        }
    }

    @Test("forward, dL/dx and every dL/dW identical at 1, 2 and 3 threads", arguments: networks)
    func identicalBits(name: String) {
        let one = step(name, threads: 1)
        let gradients = one.dropFirst(2)
        #expect(!gradients.isEmpty && gradients.allSatisfy { !$0.isEmpty && $0.contains { $0 != 0 } },
                "\(name): every parameter has a nonzero gradient; without: \(gradients.indices.filter { gradients[$0].allSatisfy { $0 == 0 } })")
        for threads in [2, 3] {
            let other = step(name, threads: threads)
            #expect(other.count == one.count)
            for (i, (a, b)) in zip(one, other).enumerated() {
                let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(name) at \(threads) threads: tensor \(i) has \(differing) of \(a.count) values differing")
            }
        }
    }
}
