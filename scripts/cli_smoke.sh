#!/usr/bin/env bash
# End-to-end checks of the headless `taps` binary as a user runs it, including broken input files.
# Usage: scripts/cli_smoke.sh BIN_DIR   (run by `make test`)
set -uo pipefail
BIN=${1:-.build/release}
TAPS="$BIN/taps"
PACK="$(cd "$(dirname "$0")/.." && pwd)/Sources/TapsData/Resources/taps-pack"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
ok()   { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }

# expect_error NAME PATTERN CMD...: exits 1 (not a crash signal), stderr is one line matching PATTERN.
expect_error() {
    local name=$1 pattern=$2; shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
    local lines; lines=$(grep -c . "$WORK/err")
    if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && grep -qE "$pattern" "$WORK/err"; then ok "$name"
    else fail "$name (exit $rc, $lines stderr lines): $(head -c 400 "$WORK/err")"; fi
}

"$TAPS" tasks >"$WORK/tasks" 2>&1 && grep -q '^fashion ' "$WORK/tasks" && grep -q '^mnist-rot90 ' "$WORK/tasks" \
    && ok "taps tasks lists the embedded tasks" || fail "taps tasks: $(cat "$WORK/tasks")"

if "$TAPS" train --task ucidigits --epochs 2 --warmup-epochs 1 --lambda 2 --train-limit 320 --seed 3 \
        --out "$WORK/run" >"$WORK/train" 2>&1; then
    grep -q 'test accuracy' "$WORK/train" && grep -q 'active layers' "$WORK/train" && grep -q 'task-specific' "$WORK/train" \
        && ok "taps train prints a summary" || fail "taps train summary: $(tail -5 "$WORK/train")"
    for f in metrics.jsonl summary.json task.safetensors config.json; do
        [ -s "$WORK/run/$f" ] || fail "run folder lacks $f"
    done
    python3 - "$WORK/run" <<'PY' && ok "summary.json and metrics.jsonl parse" || fail "summary.json / metrics.jsonl"
import json, sys
run = sys.argv[1]
s = json.load(open(run + "/summary.json"))
for k in ["task", "mode", "lambda", "test_accuracy", "gated_layers", "active_layers",
          "task_specific_parameters", "backbone_parameters", "seconds"]:
    assert k in s, k
assert 0 <= s["test_accuracy"] <= 1
kinds = [json.loads(l)["event"] for l in open(run + "/metrics.jsonl")]
assert kinds[0] == "start" and kinds[-1] == "end" and "step" in kinds and "epoch" in kinds
PY
    "$TAPS" eval --export "$WORK/run/task.safetensors" >"$WORK/eval" 2>&1 && grep -q 'matches the training summary' "$WORK/eval" \
        && ok "taps eval reproduces the training accuracy from the export" || fail "taps eval: $(cat "$WORK/eval")"
    "$TAPS" inspect "$WORK/run/task.safetensors" >"$WORK/inspect" 2>&1 && grep -q 'metadata format: taps-task/1' "$WORK/inspect" \
        && ok "taps inspect shows the export" || fail "taps inspect: $(cat "$WORK/inspect")"
else
    fail "taps train exited non-zero: $(tail -5 "$WORK/train")"
fi

# Broken inputs: one-line errors naming the file, never a crash.
head -c 5000 "$PACK/digitcnn-base.safetensors" >"$WORK/truncated.safetensors"
expect_error "truncated safetensors" 'truncated\.safetensors' "$TAPS" inspect "$WORK/truncated.safetensors"
printf '\xff\xff\xff\xff\xff\xff\xff\x7fgarbage' >"$WORK/badheader.safetensors"
expect_error "absurd safetensors header length" 'badheader\.safetensors' "$TAPS" inspect "$WORK/badheader.safetensors"
expect_error "base that is not a safetensors file" "metrics.jsonl" "$TAPS" train --base "$WORK/run/metrics.jsonl" --task fashion --out "$WORK/x"
mkdir -p "$WORK/data"
for f in "$PACK"/fashion-*; do cp "$f" "$WORK/data/"; done
head -c 20000 "$PACK/fashion-train-images-idx3-ubyte.gz" >"$WORK/data/fashion-train-images-idx3-ubyte.gz"
expect_error "truncated gzip IDX" 'fashion-train-images-idx3-ubyte\.gz' "$TAPS" train --task fashion --data-dir "$WORK/data" --out "$WORK/y"
printf '\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02' >"$WORK/data/fashion-train-labels-idx1-ubyte"
rm "$WORK/data/fashion-train-labels-idx1-ubyte.gz"; cp "$PACK/fashion-train-images-idx3-ubyte.gz" "$WORK/data/"
expect_error "truncated raw IDX labels" 'fashion-train-labels-idx1-ubyte' "$TAPS" train --task fashion --data-dir "$WORK/data" --out "$WORK/z"
expect_error "unknown task" "unknown task 'nope'" "$TAPS" train --task nope --out "$WORK/w"
expect_error "negative lambda" 'lambda' "$TAPS" train --lambda=-1 --out "$WORK/v"
expect_error "export of another kind" 'not a taps task export' "$TAPS" eval --export "$PACK/digitcnn-base.safetensors"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
