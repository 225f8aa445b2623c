#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures for TapsNN under Tests/Fixtures/golden/ (dev-only).

Usage (never needed by `make test`; the JSON files are committed):
    pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl numpy
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


if __name__ == "__main__":
    write("linear.json", linear_cases())
    write("conv2d.json", conv_cases())
    write("batchnorm2d.json", batchnorm_cases())
    write("maxpool2d.json", maxpool_cases())
    write("cross_entropy.json", cross_entropy_cases())
    write("optimizers.json", optimizer_cases())
    write("digitcnn.json", digitcnn_case())
