// TapsNN: Vision Transformer (ViT-B/16 and small variants) with torchvision's module names.
// Notation inside kernels: N batch, D hidden width, Gh Gw patch grid, P = Gh*Gw patches, S = P + 1 tokens.
import TapsTensor

/// Shape of a Vision Transformer (torchvision `VisionTransformer(image_size, patch_size, num_layers, num_heads,
/// hidden_dim, mlp_dim)`).
///
/// ```
/// x: [N, C, H, W]   (H, W divisible by patchSize)
/// conv_proj: Conv2d(C → D, kernel = stride = patchSize)          [N, D, Gh, Gw] → tokens [N, P, D]
/// prepend class_token [1, 1, D]                                  [N, S, D],  S = P + 1
/// encoder: + pos_embedding [1, S, D] → dropout → layers → ln     [N, S, D]
///   encoder_layer_i:  h = x + dropout(self_attention(ln_1(x)));   y = h + mlp(ln_2(h))
///   mlp: 0 Linear(D → mlpDim), 1 GELU, 2 Dropout, 3 Linear(mlpDim → D), 4 Dropout
/// token 0 → heads.head Linear(D → classes)                        [N, classes]
/// ```
/// LayerNorms use `eps = 1e-6`. The position embedding is not interpolated: build the model for the image
/// size you feed it. ViT-B/16 at 224: D 768, 12 layers, 12 heads, mlp 3072, 86,567,656 parameters (1000 classes).
/// References: Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021; torchvision `models/vision_transformer.py`.
public struct ViTConfig: Sendable, Equatable {
    /// Square input side (H = W); must be divisible by `patchSize`.
    public var imageSize: Int
    /// Patch side (kernel and stride of `conv_proj`).
    public var patchSize: Int
    /// Encoder blocks, attention heads, hidden width `D` and MLP width.
    public var layers: Int, heads: Int, hiddenDim: Int, mlpDim: Int
    /// Classes of `heads.head`.
    public var classes: Int
    /// Dropout after the position embedding, attention and inside the MLP (torchvision default 0).
    public var dropout: Float
    /// Input channels (3 for RGB).
    public var inputChannels: Int

    /// A configuration; `hiddenDim % heads == 0` and `imageSize % patchSize == 0` are required.
    public init(imageSize: Int, patchSize: Int, layers: Int, heads: Int, hiddenDim: Int, mlpDim: Int,
                classes: Int = 1000, dropout: Float = 0, inputChannels: Int = 3) {
        self.imageSize = imageSize; self.patchSize = patchSize; self.layers = layers; self.heads = heads
        self.hiddenDim = hiddenDim; self.mlpDim = mlpDim; self.classes = classes; self.dropout = dropout
        self.inputChannels = inputChannels
    }

    /// ViT-B/16: patch 16, 12 layers, 12 heads, D 768, mlp 3072 (default 224 px).
    public static func vitB16(imageSize: Int = 224, classes: Int = 1000) -> ViTConfig {
        .init(imageSize: imageSize, patchSize: 16, layers: 12, heads: 12, hiddenDim: 768, mlpDim: 3072, classes: classes)
    }

    /// A DeiT-Tiny-sized ViT: 12 layers, 3 heads, D 192, mlp 768, patch 16 (or 8 for images below 128 px).
    public static func tiny(imageSize: Int = 64, classes: Int = 10) -> ViTConfig {
        .init(imageSize: imageSize, patchSize: imageSize < 128 ? 8 : 16, layers: 12, heads: 3, hiddenDim: 192,
              mlpDim: 768, classes: classes)
    }

    /// Number of tokens `S = (imageSize / patchSize)² + 1`.
    public var sequenceLength: Int { (imageSize / patchSize) * (imageSize / patchSize) + 1 }
}

/// One transformer encoder block (torchvision `EncoderBlock`), pre-norm:
///
/// ```
/// x: [N, S, D]    h = x + dropout(self_attention(ln_1(x)))    y = h + mlp(ln_2(h))
/// backward: dh = dy + ln_2'(mlp'(dy));   dx = dh + ln_1'(attention'(dropout'(dh)))
/// ```
/// Children in state_dict order: `ln_1`, `self_attention`, `dropout`, `ln_2`, `mlp`.
public final class EncoderBlock: Layer {
    /// `ln_1`, `self_attention`, `dropout`, `ln_2`, `mlp` (a ``Sequential`` with torchvision indices).
    public private(set) var ln1: any Layer, attention: any Layer, dropout: any Layer, ln2: any Layer, mlp: any Layer

    /// A block named `name` (e.g. `encoder.layers.encoder_layer_0`).
    public init(name: String, heads: Int, hiddenDim: Int, mlpDim: Int, dropout p: Float, rng: inout SeededRNG) {
        ln1 = LayerNorm(name: "\(name).ln_1", width: hiddenDim, eps: 1e-6)
        attention = MultiheadAttention(name: "\(name).self_attention", embedDim: hiddenDim, heads: heads, rng: &rng)
        dropout = dropoutOrIdentity(p, rng: &rng)
        ln2 = LayerNorm(name: "\(name).ln_2", width: hiddenDim, eps: 1e-6)
        let fc1 = Linear(name: "\(name).mlp.0", inFeatures: hiddenDim, outFeatures: mlpDim, rng: &rng)
        let fc2 = Linear(name: "\(name).mlp.3", inFeatures: mlpDim, outFeatures: hiddenDim, rng: &rng)
        for fc in [fc1, fc2] {   // torchvision MLPBlock: xavier-uniform weights, N(0, 1e-6) biases
            let s = fc.weight.value.shape
            let bound = (6 / Float(s[0] + s[1])).squareRoot()
            fc.weight.value = .uniform(s, low: -bound, high: bound, rng: &rng)
            fc.bias?.value = .normal([s[0]], std: 1e-6, rng: &rng)
        }
        mlp = Sequential(name: "\(name).mlp", named: [("0", fc1), ("1", GELU()), ("2", dropoutOrIdentity(p, rng: &rng)),
                                                     ("3", fc2), ("4", dropoutOrIdentity(p, rng: &rng))])
    }

    /// `ln_1`, `self_attention`, `ln_2`, `mlp` parameters.
    public var parameters: [Parameter] { children.flatMap(\.parameters) }
    /// `[ln_1, self_attention, dropout, ln_2, mlp]`.
    public var children: [any Layer] { [ln1, attention, dropout, ln2, mlp] }
    /// Replaces each child by `transform(child)`.
    public func mapChildren(_ transform: (any Layer) -> any Layer) {
        ln1 = transform(ln1); attention = transform(attention); dropout = transform(dropout)
        ln2 = transform(ln2); mlp = transform(mlp)
    }

    /// `[N, S, D] → [N, S, D]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var h = dropout.forward(attention.forward(ln1.forward(x, mode: mode), mode: mode), mode: mode)
        h.add(x)
        var y = mlp.forward(ln2.forward(h, mode: mode), mode: mode)
        y.add(h)
        return y
    }

    /// Residual-aware backward (see the type's formula).
    public func backward(_ dOut: Tensor) -> Tensor {
        var dh = ln2.backward(mlp.backward(dOut))
        dh.add(dOut)
        var dx = ln1.backward(attention.backward(dropout.backward(dh)))
        dx.add(dh)
        return dx
    }
}

/// The transformer encoder (torchvision `Encoder`): `ln(layers(dropout(x + pos_embedding)))`.
///
/// ```
/// x: [N, S, D]    pos_embedding: [1, S, D]    layers: Sequential `encoder.layers.encoder_layer_{i}`    ln: LayerNorm
/// d pos_embedding += Σ_n dz[n]   (dz: gradient at x + pos_embedding)
/// ```
public final class ViTEncoder: Layer {
    /// `encoder.pos_embedding`, `[1, S, D]`, initialised `N(0, 0.02²)`.
    public let positionEmbedding: Parameter
    /// Dropout after adding the position embedding.
    public private(set) var dropout: any Layer
    /// The encoder blocks (a ``Sequential`` named `encoder.layers`).
    public private(set) var layers: any Layer
    /// Final `encoder.ln`.
    public private(set) var ln: any Layer

    /// The encoder of `config`.
    public init(_ config: ViTConfig, rng: inout SeededRNG) {
        positionEmbedding = Parameter("encoder.pos_embedding",
                                      .normal([1, config.sequenceLength, config.hiddenDim], std: 0.02, rng: &rng))
        dropout = dropoutOrIdentity(config.dropout, rng: &rng)
        var blocks: [(String, any Layer)] = []
        for i in 0..<config.layers {
            blocks.append(("encoder_layer_\(i)", EncoderBlock(name: "encoder.layers.encoder_layer_\(i)", heads: config.heads,
                                                              hiddenDim: config.hiddenDim, mlpDim: config.mlpDim,
                                                              dropout: config.dropout, rng: &rng)))
        }
        layers = Sequential(name: "encoder.layers", named: blocks)
        ln = LayerNorm(name: "encoder.ln", width: config.hiddenDim, eps: 1e-6)
    }

    /// `pos_embedding`, then the blocks' and `ln`'s parameters.
    public var parameters: [Parameter] { [positionEmbedding] + children.flatMap(\.parameters) }
    /// `[dropout, layers, ln]`.
    public var children: [any Layer] { [dropout, layers, ln] }
    /// Replaces each child by `transform(child)`.
    public func mapChildren(_ transform: (any Layer) -> any Layer) {
        dropout = transform(dropout); layers = transform(layers); ln = transform(ln)
    }

    /// `[N, S, D] → [N, S, D]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let P = positionEmbedding.value
        precondition(x.rank == 3 && Array(x.shape.dropFirst()) == Array(P.shape.dropFirst()),
                     "ViTEncoder: tokens \(x.shape) do not match pos_embedding \(P.shape) (build the ViT for this image size)")
        var h = x
        let SD = P.count
        h.withMutableBuffer { hb in P.withBuffer { pb in
            for n in 0..<x.shape[0] { for i in 0..<SD { hb[n * SD + i] += pb[i] } }
        } }
        return ln.forward(layers.forward(dropout.forward(h, mode: mode), mode: mode), mode: mode)
    }

    /// Returns `dL/dx`; accumulates the position embedding's gradient.
    public func backward(_ dOut: Tensor) -> Tensor {
        let d = dropout.backward(layers.backward(ln.backward(dOut)))
        if positionEmbedding.requiresGrad {
            let SD = positionEmbedding.count
            positionEmbedding.grad.withMutableBuffer { g in d.withBuffer { db in
                for n in 0..<d.shape[0] { for i in 0..<SD { g[i] += db[n * SD + i] } }
            } }
        }
        return d
    }
}

/// A Vision Transformer whose `state_dict` keys equal torchvision's (`class_token`, `conv_proj.weight/bias`,
/// `encoder.pos_embedding`, `encoder.layers.encoder_layer_0.ln_1.*`, `.self_attention.in_proj_weight`,
/// `.self_attention.in_proj_bias`, `.self_attention.out_proj.*`, `.ln_2.*`, `.mlp.0.*`, `.mlp.3.*`,
/// `encoder.ln.*`, `heads.head.*`); see ``ViTConfig`` for the shapes.
///
/// Initialisation as torchvision: `conv_proj` `N(0, 1/fanIn)` (torchvision truncates at ±2, which these small
/// values never reach in practice), bias 0; class token 0; position embedding `N(0, 0.02²)`; MLP Xavier-uniform;
/// attention as ``MultiheadAttention``; `heads.head` zero (a new head starts at zero logits).
/// Under TAPS the patch projection and every encoder Linear are gated, in order `conv_proj`, then per block
/// `self_attention.in_proj`, `self_attention.out_proj`, `mlp.0`, `mlp.3`: ViT-B/16 has 1 + 4·12 = 49 gated layers.
///
/// ```swift
/// let vit = VisionTransformer(.tiny(imageSize: 32, classes: 10), rng: &rng)
/// let logits = vit.forward(Tensor(zeros: [4, 3, 32, 32]), mode: .inference)   // [4, 10]
/// ```
public final class VisionTransformer: Layer {
    /// Module name of the classifier head.
    public static let headName = "heads.head"
    /// The configuration it was built with.
    public let config: ViTConfig
    /// `class_token`, `[1, 1, D]`.
    public let classToken: Parameter
    /// Patch embedding `conv_proj`, `[N, C, H, W] → [N, D, Gh, Gw]`.
    public private(set) var convProjection: any Layer
    /// The encoder.
    public private(set) var encoder: any Layer
    /// `heads` (a ``Sequential`` holding `heads.head`).
    public private(set) var heads: any Layer

    private var grid: (Int, Int)?

    /// A freshly initialised ViT.
    public init(_ config: ViTConfig, rng: inout SeededRNG) {
        precondition(config.imageSize % config.patchSize == 0 && config.hiddenDim % config.heads == 0,
                     "ViT: image size must be divisible by the patch and hidden width by the heads")
        self.config = config
        let D = config.hiddenDim, p = config.patchSize
        let conv = Conv2d(name: "conv_proj", inChannels: config.inputChannels, outChannels: D, kernelSize: p, stride: p, rng: &rng)
        conv.weight.value = .normal(conv.weight.value.shape, std: (1 / Float(config.inputChannels * p * p)).squareRoot(), rng: &rng)
        conv.bias?.value = Tensor(zeros: [D])
        convProjection = conv
        classToken = Parameter("class_token", Tensor(zeros: [1, 1, D]))
        encoder = ViTEncoder(config, rng: &rng)
        let head = Linear(name: Self.headName, inFeatures: D, outFeatures: config.classes, rng: &rng)
        head.weight.value = Tensor(zeros: [config.classes, D])
        head.bias?.value = Tensor(zeros: [config.classes])
        heads = Sequential(name: "heads", named: [("head", head)])
    }

    /// `class_token`, then `conv_proj`, `encoder` and `heads` parameters (torchvision state_dict order).
    public var parameters: [Parameter] { [classToken] + children.flatMap(\.parameters) }
    /// `[conv_proj, encoder, heads]`.
    public var children: [any Layer] { [convProjection, encoder, heads] }
    /// Replaces each child by `transform(child)`.
    public func mapChildren(_ transform: (any Layer) -> any Layer) {
        convProjection = transform(convProjection); encoder = transform(encoder); heads = transform(heads)
    }

    /// Logits `[N, classes]` for images `[N, C, imageSize, imageSize]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let patches = convProjection.forward(x, mode: mode)
        let N = patches.shape[0], D = patches.shape[1], Gh = patches.shape[2], Gw = patches.shape[3]
        let P = Gh * Gw, S = P + 1
        var tokens = Tensor(zeros: [N, S, D])
        tokens.withMutableBuffer { tb in patches.withBuffer { pb in classToken.value.withBuffer { cb in
            for n in 0..<N {
                (tb.baseAddress! + n * S * D).update(from: cb.baseAddress!, count: D)
                for d in 0..<D {
                    let src = pb.baseAddress! + (n * D + d) * P
                    for p in 0..<P { tb[(n * S + 1 + p) * D + d] = src[p] }
                }
            }
        } } }
        let encoded = encoder.forward(tokens, mode: mode)
        var first = Tensor(zeros: [N, D])
        first.withMutableBuffer { fb in encoded.withBuffer { eb in
            for n in 0..<N { (fb.baseAddress! + n * D).update(from: eb.baseAddress! + n * S * D, count: D) }
        } }
        if mode == .training { grid = (Gh, Gw) }
        return heads.forward(first, mode: mode)
    }

    /// Returns `dL/dx`; accumulates every parameter gradient including `class_token`'s.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let (Gh, Gw) = grid else { preconditionFailure("VisionTransformer: backward without a training-mode forward") }
        let dFirst = heads.backward(dOut)
        let N = dFirst.shape[0], D = dFirst.shape[1], P = Gh * Gw, S = P + 1
        var dEncoded = Tensor(zeros: [N, S, D])
        dEncoded.withMutableBuffer { eb in dFirst.withBuffer { fb in
            for n in 0..<N { (eb.baseAddress! + n * S * D).update(from: fb.baseAddress! + n * D, count: D) }
        } }
        let dTokens = encoder.backward(dEncoded)
        var dPatches = Tensor(zeros: [N, D, Gh, Gw])
        dPatches.withMutableBuffer { pb in dTokens.withBuffer { tb in
            for n in 0..<N {
                for d in 0..<D {
                    let dst = pb.baseAddress! + (n * D + d) * P
                    for p in 0..<P { dst[p] = tb[(n * S + 1 + p) * D + d] }
                }
            }
        } }
        if classToken.requiresGrad {
            classToken.grad.withMutableBuffer { g in dTokens.withBuffer { tb in
                for n in 0..<N { for d in 0..<D { g[d] += tb[n * S * D + d] } }
            } }
        }
        return convProjection.backward(dPatches)
    }
}
