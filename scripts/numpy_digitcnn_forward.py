#!/usr/bin/env python3
"""NumPy forward of a merged digitcnn (taps merge output): an independent check that the merged file is the
adapted network. Usage: numpy_digitcnn_forward.py MERGED.safetensors INPUT.npy OUT.npy
INPUT is float32 [N, 1, 28, 28] (already normalised); OUT gets the logits [N, classes] as float32."""
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] in ("F32", "I64"), (name, info["dtype"])
        a, b = info["data_offsets"]
        dtype = np.float32 if info["dtype"] == "F32" else np.int64
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dtype).reshape(info["shape"])
    return out


def conv3x3(x, w, b):
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, i:i + h, j:j + wd] for i in range(3) for j in range(3)], axis=2)  # [N, C, 9, H, W]
    cols = cols.reshape(n, c * 9, h * wd).astype(np.float64)
    out = np.einsum("ok,nkp->nop", w.reshape(w.shape[0], -1).astype(np.float64), cols)
    return out.reshape(n, w.shape[0], h, wd) + b.reshape(1, -1, 1, 1)


def maxpool2(x):
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, :, :h2 * 2, :w2 * 2].reshape(n, c, h2, 2, w2, 2).max(axis=(3, 5))


def main():
    sd = load_safetensors(sys.argv[1])
    x = np.load(sys.argv[2]).astype(np.float64)
    for k in ("0", "3", "6"):
        x = maxpool2(np.maximum(conv3x3(x, sd[f"conv_layers.{k}.weight"], sd[f"conv_layers.{k}.bias"]), 0))
    x = x.reshape(x.shape[0], -1)
    x = np.maximum(x @ sd["fc_layers.0.weight"].T.astype(np.float64) + sd["fc_layers.0.bias"], 0)
    x = x @ sd["fc_layers.2.weight"].T.astype(np.float64) + sd["fc_layers.2.bias"]
    np.save(sys.argv[3], x.astype(np.float32))


if __name__ == "__main__":
    main()
