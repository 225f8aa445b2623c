#!/usr/bin/env python3
"""Golden 10-step TAPS trajectory of the embedded digitcnn base, computed by an independent PyTorch TAPS.

Dev-only (needs torch and numpy; run by hand, the output is committed):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy safetensors
    /tmp/torchvenv/bin/python scripts/make_golden_trajectory.py

Writes Tests/Fixtures/golden/taps_trajectory.json, which Tests/TapsTrainingTests/GoldenTrajectoryTests.swift
replays through taps' own `trainStep` (the run loop's step) and compares within 1e-4.

What one step is (docs/method.md "The gated layer", "Loss and the penalty update"):
  w_i = w0_i + 1[s_i >= tau] * dw_i, straight-through gradient for s_i (dL/ds_i = <dL/dw_i, dw_i>),
  L = CE + lambda * (1/N) sum_i |s_i|, SGD momentum 0.9 on deltas, scores and the head,
  then the proximal step s <- sign(s) max(|s| - lr * lambda / (N * (1 - momentum)), 0) (the optimizer's
  steady-state gain 1/(1 - momentum), so lambda means what it means in the subgradient form); cosine learning rate
  over the 10 steps.
  The gated layers' biases are frozen (the paper's code and taps' default, --train-biases off).
"""
import gzip
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK = os.path.join(ROOT, "Sources/TapsData/Resources/taps-pack")
OUT = os.path.join(ROOT, "Tests/Fixtures/golden/taps_trajectory.json")

SETTINGS = {
    "task": "fashion", "steps": 10, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "lambda": 0.15, "tau": 0.1,
    "initial_score": 0.15, "penalty": "mean", "penalty_update": "proximal", "mean": 0.1307, "std": 0.3081,
    "head_pattern": "scale * sin(1.7 * i + phase) in float64, rounded to float32; weight phase 0.3 scale 1/16, bias phase 0.7 scale 1/16",
}
GATED = ["conv_layers.0", "conv_layers.3", "conv_layers.6", "fc_layers.0"]


def read_idx(name):
    with gzip.open(os.path.join(PACK, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def pattern(shape, phase, scale):
    n = int(np.prod(shape))
    v = scale * np.sin(1.7 * np.arange(n, dtype=np.float64) + phase)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


class STEGate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, tau):
        return (s >= tau).to(s.dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None


def main():
    images = read_idx("fashion-train-images-idx3-ubyte.gz")
    labels = read_idx("fashion-train-labels-idx1-ubyte.gz")
    base = load_file(os.path.join(PACK, "digitcnn-base.safetensors"))
    s = SETTINGS
    # Fixed batches: every 37th image from 0, 8 per batch (deterministic, mixed classes).
    batches = [[(37 * (b * s["batch_size"] + k)) % len(labels) for k in range(s["batch_size"])] for b in range(s["steps"])]

    w0 = {n: base[n + ".weight"].float() for n in GATED}
    bias = {n: base[n + ".bias"].float().clone() for n in GATED}   # frozen
    delta = {n: torch.zeros_like(w0[n], requires_grad=True) for n in GATED}
    score = {n: torch.tensor([s["initial_score"]], dtype=torch.float32, requires_grad=True) for n in GATED}
    head_w = pattern((10, 256), 0.3, 1 / 16).requires_grad_(True)
    head_b = pattern((10,), 0.7, 1 / 16).requires_grad_(True)
    params = [p for n in GATED for p in (delta[n], score[n])] + [head_w, head_b]
    opt = torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"])

    def weight(n):
        return w0[n] + STEGate.apply(score[n], s["tau"]) * delta[n]

    def forward(x):
        h = x
        for n in GATED[:3]:
            h = F.max_pool2d(F.relu(F.conv2d(h, weight(n), bias[n], padding=1)), 2)
        h = F.relu(F.linear(h.reshape(h.shape[0], -1), weight("fc_layers.0"), bias["fc_layers.0"]))
        return F.linear(h, head_w, head_b)

    trajectory = []
    for step, idx in enumerate(batches):
        lr = s["lr"] * (1 + math.cos(math.pi * step / s["steps"])) / 2
        for group in opt.param_groups:
            group["lr"] = lr
        pixels = torch.from_numpy(images[idx].astype(np.float32))
        x = ((pixels / 255.0 - s["mean"]) / s["std"]).reshape(len(idx), 1, 28, 28)
        y = torch.from_numpy(labels[idx].astype(np.int64))
        opt.zero_grad()
        task_loss = F.cross_entropy(forward(x), y)
        penalty = sum(score[n].abs().sum() for n in GATED) / len(GATED)
        task_loss.backward()   # the proximal form: the penalty moves the scores after the SGD step
        opt.step()
        with torch.no_grad():
            for n in GATED:
                v = score[n]
                shrink = lr * s["lambda"] / (len(GATED) * (1 - s["momentum"]))
                v.copy_(torch.sign(v) * torch.clamp(v.abs() - shrink, min=0))
        trajectory.append({
            "step": step + 1, "learning_rate": lr, "task_loss": float(task_loss), "penalty": float(penalty),
            "loss": float(task_loss) + s["lambda"] * float(penalty),
            "scores": [float(score[n]) for n in GATED], "active": [bool(score[n] >= s["tau"]) for n in GATED],
            "head_weight_sum": float(head_w.detach().double().sum()),
        })
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"magic": "taps-golden-trajectory", "version": 1, "generator": "scripts/make_golden_trajectory.py",
                   "torch": torch.__version__, "settings": s, "gated_layers": GATED, "batches": batches,
                   "trajectory": trajectory}, f, indent=1)
    for t in trajectory:
        print(t["step"], round(t["loss"], 5), [round(v, 4) for v in t["scores"]], t["active"])


if __name__ == "__main__":
    main()
