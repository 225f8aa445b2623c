#!/usr/bin/env bash
# Hostile inputs through the real binaries (issue 9, "no crash on any input"): each ends with exit 1 and one line
# naming the file, never a trap (exit 132/134), and without the memory the file asks for.
# Usage: scripts/hostile_inputs.sh BIN_DIR   (run by `make test`; needs python3 and GNU time for the RSS check)
set -uo pipefail
BIN=${1:-.build/release}
source "$(dirname "$0")/checks.sh"

python3 - "$WORK" "$PACK/digitcnn-base.safetensors" <<'PY'
import gzip, io, json, struct, sys, zipfile
work, base = sys.argv[1], sys.argv[2]
# An IDX gzip bomb: a header for 10 images of 28x28, then 256 MB of zeros (about 250 KB on disk).
def images(n): return struct.pack(">IIII", 0x803, n, 28, 28) + bytes(n * 784)
def labels(n): return struct.pack(">II", 0x801, n) + bytes(n)
with gzip.open(work + "/bomb-train-images-idx3-ubyte.gz", "wb", compresslevel=6) as f:
    f.write(images(10))
    for _ in range(256): f.write(bytes(1 << 20))
for part, data in [("train-labels-idx1", labels(10)), ("test-images-idx3", images(10)), ("test-labels-idx1", labels(10))]:
    open("%s/bomb-%s-ubyte" % (work, part), "wb").write(data)
# A .npz whose first member claims 4 GB (central directory size field) in a file of a few hundred bytes.
def npy(descr, shape, payload):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
    z.writestr("x_train.npy", npy("|u1", [4, 2, 2], bytes(range(16))))
    z.writestr("y_train.npy", npy("|u1", [4], bytes([0, 1, 0, 1])))
b = bytearray(buffer.getvalue())
struct.pack_into("<I", b, b.find(b"PK\x01\x02") + 24, 0xFFFFFFF0)
open(work + "/claims-4gb.npz", "wb").write(b)
# The digit CNN saved through DataParallel (every name prefixed with module.).
raw = open(base, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = {("module." + k): v for k, v in json.loads(raw[8:8 + n]).items() if k != "__metadata__"}
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(work + "/dataparallel.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY

# 1. The gzip bomb stops at what its header declares: one line, and far from the 256 MB it inflates to.
expect_error "IDX gzip bomb: one line naming the file" "bomb-train-images-idx3-ubyte.gz: decompressed data: expected 7856 bytes as its header declares" \
    "$TAPS" train --data-dir "$WORK" --task bomb --epochs 1 --out "$WORK/bomb-run"
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$WORK/rss" "$TAPS" train --data-dir "$WORK" --task bomb --epochs 1 --out "$WORK/bomb-run2" >/dev/null 2>&1
    rss=$(tail -1 "$WORK/rss")
    [ "$rss" -lt 200000 ] && ok "IDX gzip bomb: peak RSS ${rss} KB (< 200 MB)" || fail "IDX gzip bomb: peak RSS ${rss} KB"
else
    echo "skip - IDX gzip bomb RSS (no /usr/bin/time)"
fi

# 2. A .npz member's size claim is not believed: 4 GB is not reserved, even in a 2 GB address space.
expect_error ".npz claiming a 4 GB member, ulimit -v 2 GB" "claims-4gb.npz\[x_train.npy\]" \
    bash -c 'ulimit -v 2000000; exec "$0" data inspect "$1"' "$TAPS" "$WORK/claims-4gb.npz"

# 3. Sizes that would ask for terabytes are refused before allocating.
expect_usage_error "--image-size 1600000 (vit-tiny)" "--image-size: .*at most 1024 px" \
    "$TAPS" train --arch vit-tiny --image-size 1600000 --epochs 1 --out "$WORK/vit-run"

# 4. A DataParallel checkpoint trains, with a notice; --arch that does not fit says what the file looks like.
"$TAPS" train --base "$WORK/dataparallel.safetensors" --epochs 1 --train-limit 64 --out "$WORK/dp-run" >"$WORK/dp" 2>&1 \
    && grep -q "removed the 'module.' prefix of all 10 tensor names" "$WORK/dp" \
    && ok "DataParallel base: trains with a notice" || fail "DataParallel base: $(tail -3 "$WORK/dp")"
expect_error "base of another architecture: counts and a hint" \
    "does not match the model: 245 tensors missing .*is --arch right\? \(it is efficientnet-lite0; the file looks like digitcnn\)" \
    "$TAPS" train --base "$WORK/dataparallel.safetensors" --arch efficientnet-lite0 --image-size 32 --epochs 1 --out "$WORK/arch-run"

echo "hostile inputs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
