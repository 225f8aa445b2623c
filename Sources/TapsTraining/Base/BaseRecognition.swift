// TapsTraining: recognising a base checkpoint's architecture from its parameter names (torchvision and timm), and
// refusing PyTorch pickles with the line that converts them.
import Foundation
import TapsData
import TapsNN
import TapsTensor

extension BaseModel {
    /// The architecture of a state_dict recognised from characteristic names and block counts, or nil:
    /// DigitCNN; EfficientNet-Lite0 (the shipped lukemelas names, or timm's `efficientnet_lite0`); torchvision/timm
    /// ResNet-18/34/50/101 (blocks per stage 2-2-2-2, 3-4-6-3 basic, 3-4-6-3 and 3-4-23-3 bottleneck); DenseNet-121
    /// (6-12-24-16 dense layers) and our small DenseNet; torchvision ViT-B/16 (12 layers, width 768) and our ViT-Tiny.
    public static func recognise(_ weights: [String: Tensor]) -> String? {
        func has(_ key: String) -> Bool { weights[key] != nil }
        if has("conv_layers.0.weight") && has("fc_layers.2.weight") { return "digitcnn" }
        if has("_conv_stem.weight") && has("_blocks.15._project_conv.weight") { return "efficientnet-lite0" }
        if has("conv_stem.weight") && has("blocks.6.0.conv_pwl.weight") && has("blocks.5.3.conv_pwl.weight") && !has("blocks.1.0.se.conv_reduce.weight") {
            return "efficientnet-lite0"
        }
        if has("conv1.weight") && has("layer4.0.conv1.weight") {
            let blocks = (1...4).map { stage in
                Set(weights.keys.compactMap { key -> Int? in
                    guard key.hasPrefix("layer\(stage).") else { return nil }
                    return Int(key.dropFirst("layer\(stage).".count).prefix { $0.isNumber })
                }).count
            }
            let bottleneck = has("layer1.0.conv3.weight")
            switch (blocks, bottleneck) {
            case ([2, 2, 2, 2], false): return "resnet18"
            case ([3, 4, 6, 3], false): return "resnet34"
            case ([3, 4, 6, 3], true): return "resnet50"
            case ([3, 4, 23, 3], true): return "resnet101"
            default: return nil
            }
        }
        if has("features.conv0.weight") {
            let layers = (1...4).map { b in
                Set(weights.keys.compactMap { key -> Int? in
                    guard key.hasPrefix("features.denseblock\(b).denselayer") else { return nil }
                    return Int(key.dropFirst("features.denseblock\(b).denselayer".count).prefix { $0.isNumber })
                }).count
            }
            if layers == [6, 12, 24, 16] { return "densenet121" }
            if layers == [2, 2, 2, 0] { return "densenet-small" }
            return nil
        }
        if has("conv_proj.weight"), let cls = weights["class_token"], let width = cls.shape.last {
            let depth = Set(weights.keys.compactMap { key -> Int? in
                guard key.hasPrefix("encoder.layers.encoder_layer_") else { return nil }
                return Int(key.dropFirst("encoder.layers.encoder_layer_".count).prefix { $0.isNumber })
            }).count
            if depth == 12 && width == 768 { return "vit-b16" }
            if depth == 12 && width == 192 { return "vit-tiny" }
        }
        return nil
    }

    /// A ViT's input size from its position embedding `[1, (S/p)² + 1, D]` and patch `conv_proj.weight [D, 3, p, p]`.
    public static func vitImageSize(_ weights: [String: Tensor]) -> Int? {
        guard let pos = weights["encoder.pos_embedding"], pos.rank == 3, let proj = weights["conv_proj.weight"], proj.rank == 4 else {
            return nil
        }
        let side = Int(Double(pos.shape[1] - 1).squareRoot().rounded())
        return side * side == pos.shape[1] - 1 ? side * proj.shape[3] : nil
    }

    /// timm's `efficientnet_lite0` names mapped to the shipped (lukemelas) names; other dictionaries unchanged.
    ///
    /// ```
    /// conv_stem -> _conv_stem, bn1 -> _bn0, conv_head -> _conv_head, bn2 -> _bn1, classifier -> _fc
    /// blocks.0.0.{conv_dw, bn1, conv_pw, bn2}              -> _blocks.0.{_depthwise_conv, _bn1, _project_conv, _bn2}
    /// blocks.S.B.{conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3} -> _blocks.K.{_expand_conv, _bn0, _depthwise_conv, _bn1, _project_conv, _bn2}
    /// ```
    /// where `K` counts blocks over the stages (1, 2, 2, 3, 3, 4, 1 blocks).
    public static func renameTimmEfficientNetLite(_ weights: [String: Tensor]) -> [String: Tensor] {
        guard weights["conv_stem.weight"] != nil else { return weights }
        let repeats = [1, 2, 2, 3, 3, 4, 1]
        var flat: [String: Int] = [:]
        var k = 0
        for (stage, n) in repeats.enumerated() { for b in 0..<n { flat["\(stage).\(b)"] = k; k += 1 } }
        let top = ["conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1", "classifier": "_fc"]
        var out: [String: Tensor] = [:]
        for (key, t) in weights {
            let parts = key.split(separator: ".").map(String.init)
            if parts.count >= 5, parts[0] == "blocks", let index = flat["\(parts[1]).\(parts[2])"] {
                let first = parts[1] == "0"
                let map = first ? ["conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"]
                                : ["conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
                                   "conv_pwl": "_project_conv", "bn3": "_bn2"]
                let module = map[parts[3]] ?? parts[3]
                out["_blocks.\(index).\(module).\(parts[4...].joined(separator: "."))"] = t
            } else if parts.count >= 2, let name = top[parts[0]] {
                out["\(name).\(parts[1...].joined(separator: "."))"] = t
            } else {
                out[key] = t
            }
        }
        return out
    }

    /// Refuses a PyTorch pickle (`torch.save`: a ZIP archive or a protocol-2+ pickle) with the exact Python line
    /// that converts it to safetensors.
    /// - Throws: `ConfigError.invalid` for `--base` naming the file.
    static func rejectPickle(_ url: URL) throws {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 4)) ?? Data())
        let zip = head.starts(with: [0x50, 0x4B, 0x03, 0x04]), pickle = head.first == 0x80
        guard zip || pickle else { return }
        let src = url.path, dst = url.deletingPathExtension().path + ".safetensors"
        let python = "python3 -c \"import torch; from safetensors.torch import save_file; sd = torch.load('\(src)', map_location='cpu'); "
            + "sd = sd.get('state_dict', sd) if isinstance(sd, dict) else sd.state_dict(); "
            + "save_file({k: v.contiguous() for k, v in sd.items()}, '\(dst)')\""
        throw ConfigError.invalid(option: "--base", expected: "a .safetensors file",
                                  got: "\(src), a PyTorch pickle (torch.save); convert it with: \(python)")
    }
}
