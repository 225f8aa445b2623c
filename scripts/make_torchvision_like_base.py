#!/usr/bin/env python3
"""Writes a safetensors file with torchvision's exact state_dict names and shapes for one architecture (from
Tests/Fixtures/golden/torchvision_names.json, recorded from torchvision) and random values, without torch: a stand-in
for a real torchvision checkpoint in tests. Needs numpy. Usage: make_torchvision_like_base.py resnet18 OUT.safetensors"""
import ast
import json
import os
import struct
import sys

import numpy as np

name, out = sys.argv[1], sys.argv[2]
golden = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "golden", "torchvision_names.json")
case = next(c for c in json.load(open(golden))["cases"] if c["name"] == name)
def as_list(v):
    return v if isinstance(v, list) else ast.literal_eval(v)


keys, shapes = as_list(case["keys"]), as_list(case["shapes"])
rng = np.random.default_rng(0)
header, blobs, offset = {}, [], 0
for key, shape in zip(keys, shapes):
    if key.endswith("num_batches_tracked"):
        a = np.zeros(shape, dtype=np.int64)
    elif key.endswith("running_var") or (key.endswith(".weight") and len(shape) == 1):
        a = np.ones(shape, dtype=np.float32)
    elif key.endswith("running_mean") or key.endswith(".bias"):
        a = np.zeros(shape, dtype=np.float32)
    else:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    raw = a.tobytes()
    header[key] = {"dtype": "I64" if a.dtype == np.int64 else "F32", "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(out + ".tmp", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
os.replace(out + ".tmp", out)
print(f"wrote {out}: {len(keys)} tensors ({case['parameters']} parameters, torchvision {name} names)")
