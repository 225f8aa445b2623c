#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures for TapsNN under Tests/Fixtures/golden/ (dev-only).

Usage (never needed by `make test`; the JSON files are committed):
    pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl numpy
    pip install --no-deps torchvision   # only its pure-Python model definitions are used (see load_torchvision_models)
    python3 scripts/make_golden.py

Every file is {"magic": "taps-golden", "version": N, "torch": "<version>", "cases": [...]}. Tensors are
{"shape": [...], "data": [...]} in row-major order, float32 values written with their shortest exact decimal.
Backward passes use a stored upstream gradient "dout" (a fixed random projection), so Swift can replay them.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

VERSION = 1
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "golden")
torch.manual_seed(20240611)
torch.set_num_threads(1)


def t(x):
    """Tensor → JSON: shape plus shortest-repr float32 data."""
    a = x.detach().to(torch.float32).contiguous().numpy()
    return {"shape": list(a.shape), "data": [float(str(v)) for v in a.reshape(-1)]}


def rand(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).to(torch.float32)


def write(name, cases):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump({"magic": "taps-golden", "version": VERSION, "torch": torch.__version__, "cases": cases},
                  f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


def linear_cases():
    cases = []
    for name, (n, i, o, bias) in {"bias": (4, 6, 5, True), "no_bias": (3, 5, 2, False)}.items():
        x = rand(n, i).requires_grad_()
        w = rand(o, i, scale=0.5).requires_grad_()
        b = rand(o).requires_grad_() if bias else None
        y = F.linear(x, w, b)
        dout = rand(*y.shape)
        y.backward(dout)
        case = {"name": name, "x": t(x), "weight": t(w), "y": t(y), "dout": t(dout), "dx": t(x.grad), "dweight": t(w.grad)}
        if bias:
            case.update({"bias": t(b), "dbias": t(b.grad)})
        cases.append(case)
    return cases


def conv_cases():
    cases = []
    configs = [
        ("stride2_pad1", dict(n=2, c=3, h=7, w=6, o=4, k=3, stride=2, padding=1, groups=1)),
        ("stride1_pad0", dict(n=2, c=2, h=5, w=5, o=3, k=3, stride=1, padding=0, groups=1)),
        ("groups2_pad1", dict(n=2, c=4, h=5, w=5, o=6, k=3, stride=1, padding=1, groups=2)),
        ("depthwise_stride2", dict(n=1, c=3, h=6, w=6, o=3, k=3, stride=2, padding=1, groups=3)),
    ]
    for name, cfg in configs:
        x = rand(cfg["n"], cfg["c"], cfg["h"], cfg["w"]).requires_grad_()
        w = rand(cfg["o"], cfg["c"] // cfg["groups"], cfg["k"], cfg["k"], scale=0.4).requires_grad_()
        b = rand(cfg["o"]).requires_grad_()
        y = F.conv2d(x, w, b, stride=cfg["stride"], padding=cfg["padding"], groups=cfg["groups"])
        dout = rand(*y.shape)
        y.backward(dout)
        cases.append({"name": name, "stride": cfg["stride"], "padding": cfg["padding"], "groups": cfg["groups"],
                      "x": t(x), "weight": t(w), "bias": t(b), "y": t(y), "dout": t(dout),
                      "dx": t(x.grad), "dweight": t(w.grad), "dbias": t(b.grad)})
    return cases


def batchnorm_cases():
    cases = []
    c = 3
    # Training: batch statistics, running stats after one step (momentum 0.1, unbiased running_var).
    bn = torch.nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.weight.copy_(rand(c, scale=0.3) + 1)
        bn.bias.copy_(rand(c))
    weight0, bias0 = bn.weight.detach().clone(), bn.bias.detach().clone()
    x = (rand(4, c, 3, 3, scale=2) + 0.5).requires_grad_()
    bn.train()
    y = bn(x)
    dout = rand(*y.shape)
    y.backward(dout)
    cases.append({"name": "train", "x": t(x), "weight": t(weight0), "bias": t(bias0), "y": t(y), "dout": t(dout),
                  "dx": t(x.grad), "dweight": t(bn.weight.grad), "dbias": t(bn.bias.grad),
                  "running_mean": t(bn.running_mean), "running_var": t(bn.running_var),
                  "num_batches_tracked": int(bn.num_batches_tracked)})
    # Inference: running statistics (set to non-trivial values), gradient with constant statistics.
    bn2 = torch.nn.BatchNorm2d(c)
    with torch.no_grad():
        bn2.weight.copy_(rand(c, scale=0.3) + 1)
        bn2.bias.copy_(rand(c))
        bn2.running_mean.copy_(rand(c))
        bn2.running_var.copy_(torch.rand(c) + 0.5)
    bn2.eval()
    x2 = rand(2, c, 4, 3).requires_grad_()
    y2 = bn2(x2)
    dout2 = rand(*y2.shape)
    y2.backward(dout2)
    cases.append({"name": "eval", "x": t(x2), "weight": t(bn2.weight), "bias": t(bn2.bias),
                  "running_mean": t(bn2.running_mean), "running_var": t(bn2.running_var),
                  "y": t(y2), "dout": t(dout2), "dx": t(x2.grad), "dweight": t(bn2.weight.grad),
                  "dbias": t(bn2.bias.grad)})
    return cases


def maxpool_cases():
    cases = []
    for name, (k, s, p, shape) in {"k2": (2, 2, 0, (2, 2, 7, 7)), "k3_s2_p1": (3, 2, 1, (1, 3, 6, 5))}.items():
        x = rand(*shape).requires_grad_()
        y = F.max_pool2d(x, k, s, p)
        dout = rand(*y.shape)
        y.backward(dout)
        cases.append({"name": name, "kernel": k, "stride": s, "padding": p, "x": t(x), "y": t(y),
                      "dout": t(dout), "dx": t(x.grad)})
    return cases


def cross_entropy_cases():
    logits = rand(6, 5, scale=2).requires_grad_()
    labels = torch.tensor([0, 4, 2, 2, 1, 3])
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    correct = int((logits.argmax(1) == labels).sum())
    return [{"name": "mean", "logits": t(logits), "labels": labels.tolist(), "loss": float(loss.detach()),
             "dlogits": t(logits.grad), "correct": correct}]


def optimizer_cases():
    cases = []
    p0 = rand(3, 4)
    grads = [rand(3, 4) for _ in range(3)]
    lrs = [0.1, 0.05, 0.02]
    configs = [
        ("sgd_momentum", "sgd", dict(momentum=0.9, weight_decay=0.0, nesterov=False)),
        ("sgd_nesterov_wd", "sgd", dict(momentum=0.9, weight_decay=0.01, nesterov=True)),
        ("adamw", "adamw", dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
    ]
    for name, kind, cfg in configs:
        p = torch.nn.Parameter(p0.clone())
        opt = torch.optim.SGD([p], lr=lrs[0], **cfg) if kind == "sgd" else torch.optim.AdamW([p], lr=lrs[0], **cfg)
        after = []
        for g, lr in zip(grads, lrs):
            for group in opt.param_groups:
                group["lr"] = lr
            p.grad = g.clone()
            opt.step()
            after.append(t(p))
        case = {"name": name, "optimizer": kind, "p0": t(p0), "grads": [t(g) for g in grads], "lrs": lrs,
                "after": after}
        case.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()})
        cases.append(case)
    # Cosine annealing (eta_min 0), T_max = 10, lr at steps 0..10.
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)
    values = []
    for _ in range(11):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    cases.append({"name": "cosine", "optimizer": "cosine", "peak": 0.01, "total_steps": 10, "lrs": values})
    return cases


def pattern(shape, phase, scale):
    """Deterministic weights both sides can compute: scale * sin(1.7 * i + phase), rounded to float32."""
    n = int(np.prod(shape))
    v = scale * np.sin(1.7 * np.arange(n, dtype=np.float64) + phase)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def digitcnn_case():
    """Whole-model forward/backward of DigitCNN with pattern weights on a batch of 2 (summaries only)."""
    class DigitCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_layers = torch.nn.Sequential(
                torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(64, 128, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
            self.fc_layers = torch.nn.Sequential(torch.nn.Linear(1152, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))

        def forward(self, x):
            return self.fc_layers(self.conv_layers(x).view(x.shape[0], -1))

    model = DigitCNN()
    with torch.no_grad():
        for k, (name, prm) in enumerate(model.named_parameters()):
            fan_in = prm.shape[1] * (prm.shape[2] * prm.shape[3] if prm.dim() == 4 else 1) if prm.dim() > 1 else 64
            prm.copy_(pattern(tuple(prm.shape), phase=0.3 * k, scale=1.5 / math.sqrt(fan_in)))
    x = pattern((2, 1, 28, 28), phase=0.1, scale=1.0)
    labels = torch.tensor([3, 7])
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {name: {"sum": float(p.grad.double().sum()), "norm": float(p.grad.double().norm()),
                    "first": [float(str(v)) for v in p.grad.reshape(-1)[:8].numpy()]}
             for name, p in model.named_parameters()}
    return [{"name": "pattern_batch2", "pattern": "scale * sin(1.7 * i + phase); param k: phase 0.3k, scale 1.5/sqrt(fan_in) (bias: 1.5/8); x: phase 0.1, scale 1",
             "labels": labels.tolist(), "logits": t(logits), "loss": float(loss.detach()), "grads": grads}]



# MARK: - Layers and architectures of the ImageNet models (issue 4)

_TORCHVISION = []


def load_torchvision_models():
    """torchvision's model modules (resnet, densenet, vision_transformer) without its compiled ops.

    `pip install torchvision` may pull a wheel whose C++ ops do not match the installed torch (importing
    torchvision then fails in `torchvision::nms`). The model definitions are pure Python, so we load just
    them, stubbing the few helpers they import (weights metadata, PIL-based utils). Module and parameter
    names are then exactly torchvision's.
    """
    if _TORCHVISION:
        return _TORCHVISION[0]
    import collections.abc
    import importlib.util
    import itertools
    import sys
    import types
    try:
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, RuntimeError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torchvision is needed for the architecture fixtures: pip install --no-deps torchvision")
    path = list(spec.submodule_search_locations)[0]

    def stub(name, p=None, **attrs):
        m = types.ModuleType(name)
        if p:
            m.__path__ = [p]
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class ImageClassification:
        def __init__(self, *args, **kwargs):
            pass

    def make_ntuple(x, n):
        return tuple(x) if isinstance(x, collections.abc.Iterable) else tuple(itertools.repeat(x, n))

    stub("torchvision", path)
    stub("torchvision.models", path + "/models")
    stub("torchvision.transforms", path + "/transforms")
    stub("torchvision.transforms._presets", ImageClassification=ImageClassification,
         InterpolationMode=types.SimpleNamespace(BILINEAR=2, BICUBIC=3))
    stub("torchvision.utils", _log_api_usage_once=lambda *a, **k: None, _make_ntuple=make_ntuple)
    ops = stub("torchvision.ops", path + "/ops")
    from torchvision.ops import misc
    ops.MLP, ops.Conv2dNormActivation = misc.MLP, misc.Conv2dNormActivation
    from torchvision.models import densenet, resnet, vision_transformer
    _TORCHVISION.append((resnet, densenet, vision_transformer))
    return _TORCHVISION[0]


def small_layer_cases():
    cases = []
    x = rand(2, 3, 4, 5, scale=4)
    for name, fn in {"relu6": F.relu6, "gelu": F.gelu}.items():
        xi = x.clone().requires_grad_()
        y = fn(xi)
        dout = rand(*y.shape)
        y.backward(dout)
        cases.append({"name": name, "x": t(xi), "y": t(y), "dout": t(dout), "dx": t(xi.grad)})
    # LayerNorm over the last dim, eps 1e-6 (ViT) with non-trivial affine parameters.
    ln = torch.nn.LayerNorm(6, eps=1e-6)
    with torch.no_grad():
        ln.weight.copy_(rand(6, scale=0.3) + 1)
        ln.bias.copy_(rand(6))
    xi = (rand(2, 3, 6, scale=2) + 0.5).requires_grad_()
    y = ln(xi)
    dout = rand(*y.shape)
    y.backward(dout)
    cases.append({"name": "layernorm", "eps": 1e-6, "x": t(xi), "weight": t(ln.weight), "bias": t(ln.bias), "y": t(y),
                  "dout": t(dout), "dx": t(xi.grad), "dweight": t(ln.weight.grad), "dbias": t(ln.bias.grad)})
    for name, (k, s, p, shape) in {"avgpool_k2": (2, 2, 0, (2, 2, 5, 6)), "avgpool_k3_s2_p1": (3, 2, 1, (1, 2, 7, 6))}.items():
        xi = rand(*shape).requires_grad_()
        y = F.avg_pool2d(xi, k, s, p)
        dout = rand(*y.shape)
        y.backward(dout)
        cases.append({"name": name, "kernel": k, "stride": s, "padding": p, "x": t(xi), "y": t(y), "dout": t(dout),
                      "dx": t(xi.grad)})
    for name, (oh, ow, shape) in {"adaptive_1x1": (1, 1, (2, 3, 5, 4)), "adaptive_3x2": (3, 2, (1, 2, 7, 5))}.items():
        xi = rand(*shape).requires_grad_()
        y = F.adaptive_avg_pool2d(xi, (oh, ow))
        dout = rand(*y.shape)
        y.backward(dout)
        cases.append({"name": name, "output": [oh, ow], "x": t(xi), "y": t(y), "dout": t(dout), "dx": t(xi.grad)})
    # Multi-head self-attention, batch_first, packed in_proj, as torchvision's EncoderBlock calls it.
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.copy_(rand(24, scale=0.2))
        mha.out_proj.bias.copy_(rand(8, scale=0.2))
    xi = rand(2, 5, 8).requires_grad_()
    y, _ = mha(xi, xi, xi, need_weights=False)
    dout = rand(*y.shape)
    y.backward(dout)
    cases.append({"name": "mha", "heads": 2, "x": t(xi), "in_proj_weight": t(mha.in_proj_weight),
                  "in_proj_bias": t(mha.in_proj_bias), "out_proj_weight": t(mha.out_proj.weight),
                  "out_proj_bias": t(mha.out_proj.bias), "y": t(y), "dout": t(dout), "dx": t(xi.grad),
                  "din_proj_weight": t(mha.in_proj_weight.grad), "din_proj_bias": t(mha.in_proj_bias.grad),
                  "dout_proj_weight": t(mha.out_proj.weight.grad), "dout_proj_bias": t(mha.out_proj.bias.grad)})
    return cases


def name_seed(name):
    """Seed of a parameter's values from its name: h = (31·h + byte) mod 1000003 over the UTF-8 bytes."""
    h = 0
    for b in name.encode():
        h = (h * 31 + b) % 1000003
    return h


def hash_uniform(shape, seed, scale):
    """Deterministic pseudo-random values in [-scale, scale) both sides compute exactly (integer hash of the
    flat index, then float64 → float32): h = (i·2654435761 + seed·40503) mod 2³², h ^= h >> 15,
    h = h·2246822519 mod 2³², h ^= h >> 13, v = scale·(2h/2³² − 1)."""
    n = int(np.prod(shape))
    m = np.uint64(0xFFFFFFFF)
    h = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(seed * 40503)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(13)
    v = scale * (2.0 * h.astype(np.float64) / 4294967296.0 - 1.0)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def pattern_state(model):
    """Deterministic values for every float tensor of the state_dict (Swift mirrors this rule by name), with
    u = hash_uniform(shape, name_seed(name), 1): rank >= 2: sqrt(6/fan_in)·u (He-uniform, fan_in = prod(shape[1:]));
    running_var: 1 + 0.5·|u|; running_mean: 0.1·u; other '*weight' of rank 1: 1 + 0.2·u; other rank 1: 0.1·u."""
    with torch.no_grad():
        for name, v in model.state_dict().items():
            if not v.is_floating_point():
                continue
            shape, seed = tuple(v.shape), name_seed(name)
            u = hash_uniform(shape, seed, 1.0)
            if v.dim() >= 2:
                val = hash_uniform(shape, seed, math.sqrt(6.0 / int(np.prod(shape[1:]))))
            elif name.endswith("running_var"):
                val = 1 + hash_uniform(shape, seed, 0.5).abs()
            elif name.endswith("running_mean"):
                val = hash_uniform(shape, seed, 0.1)
            elif name.endswith("weight"):
                val = 1 + hash_uniform(shape, seed, 0.2)
            else:
                val = hash_uniform(shape, seed, 0.1)
            v.copy_(val)


def summary(g):
    g = g.detach()
    return {"sum": float(g.double().sum()), "norm": float(g.double().norm()),
            "first": [float(str(v)) for v in g.reshape(-1)[:6].numpy()]}


def architecture_cases():
    resnet, densenet, vt = load_torchvision_models()
    models = [
        ("resnet_basic_1111", resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1], num_classes=5), (4, 3, 64, 64),
         ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight", "layer4.0.bn2.bias", "fc.weight", "fc.bias"]),
        ("resnet_bottleneck_1111", resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], num_classes=5), (4, 3, 64, 64),
         ["conv1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer3.0.conv2.weight", "fc.weight"]),
        ("densenet_small", densenet.DenseNet(growth_rate=8, block_config=(2, 2, 2), num_init_features=16, bn_size=2,
                                             num_classes=5), (4, 3, 32, 32),
         ["features.conv0.weight", "features.denseblock1.denselayer1.conv1.weight", "features.denseblock2.denselayer2.conv2.weight",
          "features.transition1.conv.weight", "features.norm5.weight", "classifier.weight"]),
        ("vit_small", vt.VisionTransformer(image_size=16, patch_size=4, num_layers=2, num_heads=2, hidden_dim=16,
                                           mlp_dim=32, num_classes=5), (2, 3, 16, 16),
         ["class_token", "conv_proj.weight", "encoder.pos_embedding", "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
          "encoder.layers.encoder_layer_0.self_attention.out_proj.weight", "encoder.layers.encoder_layer_1.mlp.0.weight",
          "encoder.layers.encoder_layer_1.mlp.3.bias", "encoder.ln.weight", "heads.head.weight"]),
    ]
    cases = []
    for name, model, shape, selected in models:
        pattern_state(model)
        x = hash_uniform(shape, 12345, 1.0)
        labels = torch.tensor([i % 5 for i in range(shape[0])])
        model.eval()
        with torch.no_grad():
            eval_logits = model(x)
        model.train()
        xi = x.clone().requires_grad_()
        logits = model(xi)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        params = dict(model.named_parameters())
        cases.append({"name": name, "input_shape": list(shape), "labels": labels.tolist(),
                      "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
                      "eval_logits": t(eval_logits), "train_logits": t(logits), "loss": float(loss.detach()),
                      "dx": summary(xi.grad), "grads": {k: summary(params[k].grad) for k in selected}})
    return cases


def torchvision_name_cases():
    """state_dict keys and shapes of the full-size torchvision models (checked against the Swift builders)."""
    resnet, densenet, vt = load_torchvision_models()
    cases = []
    for name, make in [("resnet18", resnet.resnet18), ("resnet34", resnet.resnet34), ("resnet50", resnet.resnet50),
                       ("resnet101", resnet.resnet101), ("densenet121", densenet.densenet121), ("vit_b_16", vt.vit_b_16)]:
        sd = make().state_dict()
        cases.append({"name": name, "keys": list(sd.keys()), "shapes": [list(v.shape) for v in sd.values()],
                      "parameters": sum(p.numel() for p in make().parameters())})
    return cases


if __name__ == "__main__":
    write("linear.json", linear_cases())
    write("conv2d.json", conv_cases())
    write("batchnorm2d.json", batchnorm_cases())
    write("maxpool2d.json", maxpool_cases())
    write("cross_entropy.json", cross_entropy_cases())
    write("optimizers.json", optimizer_cases())
    write("digitcnn.json", digitcnn_case())
    write("layers_imagenet.json", small_layer_cases())
    write("architectures.json", architecture_cases())
    write("torchvision_names.json", torchvision_name_cases())
