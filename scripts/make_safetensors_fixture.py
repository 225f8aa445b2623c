#!/usr/bin/env python3
"""Dev-only: writes Tests/Fixtures/safetensors/python-tiny.safetensors with the PyPI `safetensors` package.

Run once (`pip install safetensors numpy`), commit the output; `make test` never needs Python.
The Swift test reads it and checks names, shapes, dtypes, values and metadata below, and that the Swift
writer reproduces the F32-only part byte for byte (python-f32.safetensors).
"""
import os
import numpy as np
from safetensors.numpy import save_file

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "safetensors")
os.makedirs(out, exist_ok=True)

mixed = {
    "conv.weight": np.arange(2 * 1 * 2 * 2, dtype=np.float32).reshape(2, 1, 2, 2) / 8 - 0.5,
    "conv.bias": np.array([0.25, -1.5], dtype=np.float32),
    "half": np.array([1.0, -2.5, 65504.0, 2.0 ** -24], dtype=np.float16),
    "double": np.array([[0.1, -3.0]], dtype=np.float64),
    "bn.num_batches_tracked": np.array(123456, dtype=np.int64),
    "mask": np.array([True, False, True]),
    "bytes": np.array([0, 7, 255], dtype=np.uint8),
    "ints": np.array([-7, 42], dtype=np.int32),
}
save_file(mixed, os.path.join(out, "python-tiny.safetensors"), metadata={"arch": "tiny", "format": "np"})

f32 = {
    "b": np.array([1.0, 2.0, 3.0], dtype=np.float32),
    "a.weight": np.array([[0.5, -0.25], [4.0, 8.0]], dtype=np.float32),
    "z": np.zeros((0, 3), dtype=np.float32),
}
# One metadata key: the Python package writes a multi-key map in hash order.
save_file(f32, os.path.join(out, "python-f32.safetensors"), metadata={"arch": "f32-only"})
print("wrote", sorted(os.listdir(out)))
