#!/usr/bin/env python3
"""Checks a `taps merge` output in PyTorch: loads it into torchvision's architecture with strict=True and compares
the logits with taps' own. Needs torch, torchvision, safetensors (not installed in CI; run by hand).

    B=.build/release
    $B/taps train --data DATA --base resnet18.safetensors --epochs 2 --out runs/r18     # a torchvision resnet18 file
    python3 -c "import numpy as np; np.save('x.npy', np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype('float32'))"
    $B/taps merge --base resnet18.safetensors --export runs/r18/task.safetensors --out merged.safetensors \\
        --logits-for x.npy --logits-out taps_logits.npy
    python3 scripts/check_merged_torchvision.py merged.safetensors x.npy taps_logits.npy resnet18
"""
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import load_file

merged, inputs, expected = sys.argv[1:4]
arch = sys.argv[4] if len(sys.argv) > 4 else "resnet18"
sd = load_file(merged)
head = {"resnet18": "fc", "resnet34": "fc", "resnet50": "fc", "resnet101": "fc", "densenet121": "classifier"}.get(arch, "heads.head")
classes = sd[head + ".weight"].shape[0]
model = getattr(torchvision.models, arch)(num_classes=classes)
sd = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in sd.items()}
model.load_state_dict(sd, strict=True)
model.eval()
with torch.no_grad():
    logits = model(torch.from_numpy(np.load(inputs))).numpy()
ref = np.load(expected)
diff = float(np.abs(logits - ref).max())
print(f"{arch}: loaded {merged} with strict=True; {classes} classes; max |torch - taps| = {diff:.3g} over {ref.size} logits")
sys.exit(0 if diff <= 1e-4 else 1)
