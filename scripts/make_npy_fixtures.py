#!/usr/bin/env python3
"""Dev-only: writes tiny .npy fixtures with NumPy into Tests/Fixtures/npy/ (committed; tests need no Python).

Covers format versions 1.0/2.0/3.0, dtypes u1/f4/f8 with '<' and '|' byte order, and two arrays the reader
must reject (Fortran order, big-endian). The 224x224 coffee photo is copied separately from
shared/data/imagenet-base/coffee-224-rgb-uint8.npy (150 KB).
"""
import os
import numpy as np
from numpy.lib import format as npformat

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "npy")
os.makedirs(out, exist_ok=True)


def save(name, array, version):
    with open(os.path.join(out, name), "wb") as f:
        npformat.write_array(f, array, version=version, allow_pickle=False)


save("u1-v1.npy", np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10, (1, 0))
save("f4-v2.npy", (np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5) / 4, (2, 0))
save("f8-v3.npy", np.array([0.1, -1e300, 3.0]), (3, 0))
save("f4-scalar.npy", np.array(1.5, dtype=np.float32), (1, 0))
save("fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), (1, 0))
save("big-endian.npy", np.arange(3, dtype=">f4"), (1, 0))
print("wrote", sorted(os.listdir(out)))
