#!/usr/bin/env python3
"""Writes the small seed files of `make fuzz` (fuzz/seeds/<target>/), standard library only.

Targets whose seeds already exist as test fixtures (safetensors, image, npy, theme) take those too (scripts/fuzz.sh).
The metrics seeds (fuzz/seeds/metrics, also the dashboard's) are cut from a real run instead:
  taps train --task fashion --mode taps --epochs 2 --warmup-epochs 1 --train-limit 128 --seed 1 --out R
  cp R/metrics.jsonl run-fashion-2-epochs.jsonl; head -c 3000 R/metrics.jsonl > live-cut-mid-line.jsonl
  grep -v '"event":"step"\|"event":"progress"' R/metrics.jsonl > events-without-steps.jsonl
Run from the repository root: python3 scripts/make_fuzz_seeds.py
"""
import gzip
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds")


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_images(count, rows, cols):
    pixels = bytes((i * 37) % 256 for i in range(count * rows * cols))
    return struct.pack(">IIII", 0x803, count, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def npy(descr, shape, payload, version=1):
    shape_text = "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    preamble = 10 if version == 1 else 12
    header += " " * ((64 - (preamble + len(header) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode("latin1") + payload


def safetensors(entries, metadata=None):
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main():
    # IDX, raw and gzip (one member and two), images and labels.
    write("idx", "images-3x4x4", idx_images(3, 4, 4))
    write("idx", "images-2x28x28.gz", gz(idx_images(2, 28, 28)))
    write("idx", "labels-5", idx_labels([0, 1, 2, 9, 4]))
    write("idx", "labels-5.gz", gz(idx_labels([0, 1, 2, 9, 4])))
    whole = idx_labels([3, 1, 4, 1])
    write("idx", "labels-two-members.gz", gz(whole[:6]) + gz(whole[6:]))

    # NPY: uint8 images (HWC and NHWC), floats in versions 1-3.
    write("npy", "u1-image-3x2x3.npy", npy("|u1", [3, 2, 3], bytes(range(18))))
    write("npy", "u1-batch-2x2x2x1.npy", npy("|u1", [2, 2, 2, 1], bytes(range(8))))
    write("npy", "f4-2x2.npy", npy("<f4", [2, 2], struct.pack("<4f", 1.5, -2.0, 0.0, 3.25)))
    write("npy", "f8-3-v2.npy", npy("<f8", [3], struct.pack("<3d", 1e-3, 2.0, -1.0), version=2))
    write("npy", "f4-scalar-v3.npy", npy("<f4", [], struct.pack("<f", 7.0), version=3))

    # CSV of 2x2 grey images: label first with a header, label last, CRLF, "12.0" pixels.
    write("csv", "label-first.csv", b"label,p0,p1,p2,p3\n3,0,255,12,7\n1,1,2,3,4\n")
    write("csv", "label-last-crlf.csv", b"0,10,20,30,2\r\n255,254,253,252,0\r\n")
    write("csv", "floats-blank-lines.csv", b"\n5, 1.0, 2.0 ,3,\"4\"\n\n7,0,0,0,0\n")

    # CIFAR-10 binary: one and two records.
    record = lambda label: bytes([label]) + bytes((i * 7 + label) % 256 for i in range(3072))
    write("cifar", "one-record.bin", record(3))
    write("cifar", "two-records.bin", record(0) + record(9))

    # safetensors: metadata, several dtypes, a scalar, an empty tensor.
    write("safetensors", "dtypes.safetensors", safetensors([
        ("a.weight", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
        ("b.half", "F16", [2], struct.pack("<2H", 0x3C00, 0x8001)),
        ("c.bf16", "BF16", [1], struct.pack("<H", 0x3F80)),
        ("d.count", "I64", [], struct.pack("<q", 12)),
        ("e.mask", "BOOL", [3], bytes([1, 0, 1])),
        ("f.empty", "F64", [0, 4], b""),
    ], metadata={"architecture": "digitcnn", "format": "pt"}))
    write("safetensors", "no-metadata.safetensors", safetensors([("x", "U8", [4], bytes([1, 2, 3, 4]))]))

    # Datasets as --data opens them: .npz archives (Keras layout; stored and deflated, int64 labels, a test split)
    # and a CIFAR-100 record (coarse label, fine label, 3072 pixels). CSV seeds come from fuzz/seeds/csv.
    import io
    import zipfile
    for name, compression, labels in [("keras-stored.npz", zipfile.ZIP_STORED, "|u1"),
                                      ("keras-deflated-i8-test.npz", zipfile.ZIP_DEFLATED, "<i8")]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression) as z:
            member = lambda n, d: z.writestr(zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0)), d, compress_type=compression)
            member("x_train.npy", npy("|u1", [4, 2, 2], bytes(range(16))))
            y = bytes([0, 1, 0, 1]) if labels == "|u1" else struct.pack("<4q", 0, 1, 0, 1)
            member("y_train.npy", npy(labels, [4], y))
            if labels == "<i8":
                member("x_test.npy", npy("|u1", [2, 2, 2], bytes(range(8))))
                member("y_test.npy", npy(labels, [2], struct.pack("<2q", 1, 0)))
        write("dataset", name, buffer.getvalue())
    # A regression input: the first member claims 4 GB in its central directory entry (a 4 GB reserve before the fix).
    claim = bytearray(open(os.path.join(ROOT, "dataset", "keras-stored.npz"), "rb").read())
    struct.pack_into("<I", claim, claim.find(b"PK\x01\x02") + 24, 0xFFFFFFF0)
    write("dataset", "regression-claims-4gb.npz", bytes(claim))
    write("dataset", "cifar100-one-record.bin", bytes([4, 77]) + bytes((i * 5) % 256 for i in range(3072)))

    # Image: a tiny uint8 .npy image (PNG and JPEG come from Tests/Fixtures/images).
    write("image", "grey-3x4.npy", npy("|u1", [3, 4], bytes(range(12))))
    write("image", "rgb-2x2x3.npy", npy("|u1", [2, 2, 3], bytes(range(0, 240, 20))))


if __name__ == "__main__":
    main()
