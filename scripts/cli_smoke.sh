#!/usr/bin/env bash
# End-to-end checks of the headless `taps` binary as a user runs it, including broken input files.
# Usage: scripts/cli_smoke.sh BIN_DIR   (run by `make test`)
set -uo pipefail
BIN=${1:-.build/release}
source "$(dirname "$0")/checks.sh"

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
    # A budget run says what its budget counts (the deltas), so 5.6% task-specific against 4.8% of deltas reads right.
    "$TAPS" train --task ucidigits --epochs 3 --warmup-epochs 1 --train-limit 320 --seed 3 --budget 20% -q \
        --out "$WORK/budget" >"$WORK/budget.out" 2>&1 \
        && grep -qE '^  budget +deltas [0-9.]+%, within the 20% budget \(head, norms, biases \+[0-9.]+%, not counted\)$' "$WORK/budget.out" \
        && python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); a=s["accounting"]; assert s["budget"] == 0.2 and a["active_delta_parameters"] <= 0.2*s["backbone_parameters"]' "$WORK/budget/summary.json" \
        && ok "taps train --budget 20%: the summary's budget line and summary.json's budget" || fail "budget summary: $(tail -4 "$WORK/budget.out")"
    "$TAPS" eval --export "$WORK/run/task.safetensors" >"$WORK/eval" 2>&1 && grep -q 'matches the training summary' "$WORK/eval" \
        && ok "taps eval reproduces the training accuracy from the export" || fail "taps eval: $(cat "$WORK/eval")"
    "$TAPS" inspect "$WORK/run/task.safetensors" >"$WORK/inspect" 2>&1 && grep -q 'metadata format: taps-task/1' "$WORK/inspect" \
        && ok "taps inspect shows the export" || fail "taps inspect: $(cat "$WORK/inspect")"
    python3 - "$WORK/digit1.npy" <<'PY'
import struct, sys
header = "{'descr': '|u1', 'fortran_order': False, 'shape': (28, 28), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes((i * 7) % 256 for i in range(784)))
PY
    "$TAPS" tasks --json >"$WORK/j.tasks" 2>&1 && "$TAPS" eval --export "$WORK/run/task.safetensors" --json >"$WORK/j.eval" 2>&1 \
        && "$TAPS" inspect "$WORK/run/task.safetensors" --json >"$WORK/j.inspect" 2>&1 \
        && "$TAPS" inspect --model digitcnn --json >"$WORK/j.model" 2>&1 \
        && "$TAPS" predict "$WORK/digit1.npy" --base digitcnn --export "$WORK/run/task.safetensors" --top 3 --json >"$WORK/j.predict" 2>&1 \
        && "$TAPS" bench --arch densenet-small --image-size 32 --batch-size 2 --steps 1 --json >"$WORK/j.bench" 2>&1 \
        && python3 - "$WORK" <<'PY' && ok "--json of tasks, eval, inspect (file and model), predict, bench parses with the documented fields" || fail "--json outputs: $(head -c 300 "$WORK"/j.*)"
import json, sys
w = sys.argv[1]
load = lambda n: json.load(open(w + "/j." + n))
t = load("tasks"); assert t["schema"] == "taps.tasks/1" and "fashion" in [x["name"] for x in t["tasks"]]
assert all(x["classes"] > 1 and x["train_images"] > 0 and x["test_images"] > 0 for x in t["tasks"])
e = load("eval"); assert e["task"] == "ucidigits" and e["matches_recorded"] is True and e["test_accuracy"] == e["recorded_test_accuracy"]
assert e["correct"] == round(e["test_accuracy"] * e["test_images"]) and e["gated_layers"] == 4
i = load("inspect"); assert i["metadata"]["format"] == "taps-task/1" and i["total_values"] == sum(x["values"] for x in i["tensors"])
m = load("model"); assert [x["name"] for x in m["gated_layers"]] == ["conv_layers.0", "conv_layers.3", "conv_layers.6", "fc_layers.0"]
p = load("predict"); assert len(p["predictions"]) == 3 and abs(sum(x["probability"] for x in p["predictions"])) <= 1.0 + 1e-9
assert p["predictions"][0]["probability"] >= p["predictions"][1]["probability"] and p["input_size"] == [1, 28, 28]
b = load("bench"); assert b["schema"] == "taps.bench/1" and b["architecture"]["images_per_second"] > 0 and b["cores"] >= 1
PY
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
expect_usage_error "unknown task" "unknown task 'nope'" "$TAPS" train --task nope --out "$WORK/w"
expect_usage_error "negative lambda" 'lambda' "$TAPS" train --lambda=-1 --out "$WORK/v"
expect_usage_error "--image-size reaches the base (efficientnet-lite0 needs >= 32 px)" 'image-size' "$TAPS" train --base efficientnet-lite0 --image-size 16 --out "$WORK/u"
expect_usage_error "--arch reaches the base" "arch" "$TAPS" train --base "$PACK/digitcnn-base.safetensors" --arch resnet999 --out "$WORK/t"
expect_error "export of another kind" 'not a taps task export' "$TAPS" eval --export "$PACK/digitcnn-base.safetensors"


# --version on every binary and subcommand (package version and git commit, or "commit unknown").
for cmd in "$TAPS --version" "$TAPS train --version" "$TAPS sweep --version" "$BIN/taps-tui --version"; do
    out=$($cmd 2>&1); rc=$?
    if [ "$rc" -eq 0 ] && echo "$out" | grep -qE '^taps(-tui)? [0-9]+\.[0-9]+\.[0-9]+ \(git '; then ok "$cmd: $out"
    else fail "$cmd (exit $rc): $out"; fi
done

# Errors in plain words: negative and malformed numbers, unwritable folders.
expect_usage_error "--lambda -3 is a value and out of range" '^taps: error: --lambda: expected a number in \[0, 10000\] \(>= 0, at most the ceiling\), got -3' "$TAPS" train --lambda -3 --out "$WORK/neg"
"$TAPS" train --lambda abc >"$WORK/out" 2>"$WORK/err"; rc=$?
[ "$rc" -eq 64 ] && grep -q "expected a number, got 'abc'" "$WORK/err" && ok "--lambda abc: usage error saying what was expected" \
    || fail "--lambda abc (exit $rc): $(cat "$WORK/err")"
touch "$WORK/afile"
expect_error "--out below a file: one plain line" '^taps: error: cannot create folder .*afile/run: .*afile is a file$' "$TAPS" train --out "$WORK/afile/run"
expect_error "--out that cannot be created: the OS reason, no Foundation error" '^taps: error: cannot create folder /proc/taps-x: no such file or directory$' "$TAPS" train --out /proc/taps-x
expect_error "missing export: plain words" 'no such (file|folder)$' "$TAPS" eval --export "$WORK/nope/task.safetensors"
printf 'lamda = 0.3\n' >"$WORK/bad.toml"
expect_usage_error "config file with an unknown key" "bad\.toml: unknown setting 'lamda'" "$TAPS" train --config "$WORK/bad.toml"
printf 'epochs = 6.5\n' >"$WORK/p.toml"
expect_usage_error "a decimal for a whole-number key names the key" 'p\.toml: epochs: expected a whole number >= 0, got 6\.5$' "$TAPS" train --config "$WORK/p.toml"

# Usage errors: one line and exit 64, whatever rejects them (the parser, a value's own check, the run's validation).
expect_usage_error "--budget abc: one line, not the parser's help and usage" \
    "^taps: error: --budget: expected a percentage like 20% \(or a fraction like 0\.2\), got 'abc'$" "$TAPS" train --budget abc
expect_usage_error "--budget -5%: a negative budget, not a missing value" '^taps: error: --budget: expected a share >= 0 .*, got -5%$' "$TAPS" train --budget -5%
expect_usage_error "--budget 20: the percentage hint" 'got 20 \(did you mean 20%\?\)$' "$TAPS" train --budget 20
expect_usage_error "--budget-bytes 2XB" "^taps: error: --budget-bytes: expected a size like .*, got '2XB'$" "$TAPS" train --budget-bytes 2XB
expect_usage_error "unknown option" "^taps: error: Unknown option '--bogus'" "$TAPS" train --bogus
expect_usage_error "--settle-epochs 99 with a budget: the budget's real limit" '^taps: error: --settle-epochs: expected at most 3 with --budget' \
    "$TAPS" train --task ucidigits --epochs 6 --settle-epochs 99 --budget 20%
expect_usage_error "--mode finetune --budget 20% is refused" '^taps: error: --budget: expected --mode taps \(finetune stores every layer; probe none\)' \
    "$TAPS" train --mode finetune --budget 20%
expect_usage_error "taps path takes no --budget" "Unknown option '--budget'" "$TAPS" path --budget 20%
expect_usage_error "taps-tui: one line too" "^taps-tui: error: --budget: expected a percentage" "$BIN/taps-tui" --budget abc --headless
COLUMNS=1000 "$TAPS" path --help >"$WORK/path-help" 2>&1 && grep -q '(default 0.01 here)' "$WORK/path-help" && grep -q '(default 12 here)' "$WORK/path-help" \
    && ! grep -qE -- '--(budget|resume|checkpoint-every|mode) ' "$WORK/path-help" \
    && ok "taps path --help: the path's defaults, no options it ignores" || fail "taps path --help: $(grep -E -- 'lambda|budget|resume' "$WORK/path-help")"
"$TAPS" train --task ucidigits --epochs 3 --warmup-epochs 1 --train-limit 320 --budget 0% -q --out "$WORK/budget0" >"$WORK/budget0.out" 2>"$WORK/budget0.err" \
    && grep -q '^taps: warning: the budget (0% of the backbone) holds no gated layer' "$WORK/budget0.err" \
    && ok "--budget 0%: a warning that every gate ends off" || fail "--budget 0%: $(cat "$WORK/budget0.err")"

# --config: a run's config.json repeats it byte for byte; a changed seed does not (the check can fail).
if "$TAPS" train --steps 20 --train-limit 300 --out "$WORK/cfg-a" -q >"$WORK/cfg-a.out" 2>&1 \
    && "$TAPS" train --config "$WORK/cfg-a/config.json" --out "$WORK/cfg-b" -q >"$WORK/cfg-b.out" 2>&1 \
    && "$TAPS" train --config "$WORK/cfg-a/config.json" --seed 1 --out "$WORK/cfg-c" -q >"$WORK/cfg-c.out" 2>&1; then
    cmp -s "$WORK/cfg-a/task.safetensors" "$WORK/cfg-b/task.safetensors" && ! cmp -s "$WORK/cfg-a/task.safetensors" "$WORK/cfg-c/task.safetensors" \
        && ok "train --config RUN/config.json --out NEW: byte-identical export (and --seed 1 over it differs)" \
        || fail "--config did not reproduce the export byte for byte"
    ! grep -q 'step 20/20' "$WORK/cfg-a.out" && grep -q 'test accuracy' "$WORK/cfg-a.out" \
        && ok "--quiet: no progress lines, the summary still printed" || fail "--quiet: $(head -3 "$WORK/cfg-a.out")"
    python3 - "$WORK/cfg-a" <<'PY' && ok "run.json: version, command line, cores, BLAS threads" || fail "run.json"
import json, sys
r = json.load(open(sys.argv[1] + "/run.json"))
assert r["version"] and r["arguments"][1:3] == ["train", "--steps"] and "--train-limit 300" in r["command_line"]
assert r["cores"] >= 1 and r["blas_threads"] >= 1 and r["started"].endswith("Z")
PY
else
    fail "taps train for --config: $(tail -3 "$WORK/cfg-a.out" "$WORK/cfg-b.out")"
fi

# Progress: plain k/N lines with ETA when stdout is a file, a live status line on a terminal.
"$TAPS" train --steps 50 --train-limit 300 --out "$WORK/prog" >"$WORK/prog.out" 2>&1 \
    && grep -qE '^epoch [0-9] step 25/50 \(50%\).* img/s  ETA [0-9]+s$' "$WORK/prog.out" && ! grep -q $'\r' "$WORK/prog.out" \
    && ok "progress lines (not a terminal): k/N, %, img/s, ETA" || fail "plain progress: $(head -3 "$WORK/prog.out")"
TERM=xterm script -qec "$TAPS train --steps 50 --train-limit 300 --out $WORK/prog-tty" /dev/null >"$WORK/tty.out" 2>&1 \
    && grep -q $'\r\e\[Kstep [0-9]*/50 ' "$WORK/tty.out" && grep -q 'ETA' "$WORK/tty.out" \
    && ok "progress on a terminal: one status line rewritten in place" || fail "tty progress: $(head -c 300 "$WORK/tty.out" | cat -v)"

# TensorBoard: live event file and export from metrics.jsonl; read back with Python's tensorboard when installed.
if "$TAPS" train --steps 30 --train-limit 300 --lambda 3 --warmup-epochs 0 --out "$WORK/tbrun" --tensorboard "$WORK/tb-live" -q >"$WORK/tb.out" 2>&1 \
    && "$TAPS" export tensorboard "$WORK/tbrun" --out "$WORK/tb-export" >"$WORK/tbx.out" 2>&1; then
    ls "$WORK"/tb-live/events.out.tfevents.* "$WORK"/tb-export/tbrun/events.out.tfevents.* >/dev/null 2>&1 \
        && ok "--tensorboard and taps export tensorboard write event files" || fail "event files missing: $(cat "$WORK/tbx.out")"
    if python3 -c 'import tensorboard' 2>/dev/null; then
        python3 - "$WORK/tb-live" "$WORK/tb-export/tbrun" <<'PY' && ok "TensorBoard's own reader loads the event files (scalars per layer, text notices)" || fail "tensorboard read-back"
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
for d in sys.argv[1:]:
    acc = EventAccumulator(d, size_guidance={"scalars": 0, "tensors": 0}); acc.Reload()
    tags = acc.Tags()
    scalars = set(tags["scalars"]) | set(tags.get("tensors", []))
    for t in ["loss/total", "lambda", "active_layers", "accuracy/validation", "accuracy/test", "score/conv_layers.0", "score/fc_layers.0"]:
        assert t in scalars, (d, t, sorted(scalars))
    steps = [e.step for e in (acc.Scalars("loss/total") if "loss/total" in tags["scalars"] else acc.Tensors("loss/total"))]
    assert steps == list(range(1, 31)), steps
    assert "notices" in tags["tensors"] and "run" in tags["tensors"], tags["tensors"]
    notices = [t.tensor_proto.string_val[0].decode() for t in acc.Tensors("notices")]
    assert any(n.startswith("[selected]") for n in notices), notices
PY
    else
        echo "skip - Python tensorboard not installed (the Swift reader in TapsReportsTests covers the format)"
    fi
else
    fail "taps train --tensorboard / export: $(tail -3 "$WORK/tb.out" "$WORK/tbx.out")"
fi

# Suites, sweeps and comparisons (tiny settings: ~15 s in release).
SMALL="--train-limit 160 --epochs 2 --warmup-epochs 1 --seed 0"
if "$TAPS" suite --tasks ucidigits,lfwfaces --mode incremental $SMALL --out "$WORK/suite" >"$WORK/suite.out" 2>&1; then
    grep -q 'multiple of one backbone for all 2 tasks' "$WORK/suite.out" && grep -q 'full fine-tuning: 2x' "$WORK/suite.out" \
        && grep -q 'exports bit-identical and reproduce' "$WORK/suite.out" \
        && ok "taps suite prints the per-task table and the multiple of one backbone" || fail "taps suite table: $(tail -8 "$WORK/suite.out")"
    python3 - "$WORK/suite" <<'PY' && ok "suite.json: per-task and total accounting in parameters and bytes" || fail "suite.json"
import json, sys
s = json.load(open(sys.argv[1] + "/suite.json"))
assert s["mode"] == "incremental" and s["tasks"] == ["ucidigits", "lfwfaces"]
for k in ["backbone_multiple", "backbone_multiple_bytes", "full_fine_tune_multiple", "total_task_specific_parameters", "base_bytes"]:
    assert k in s, k
assert s["full_fine_tune_multiple"] == 2 and s["backbone_multiple"] > 1 and s["backbone_multiple_bytes"] > 1
assert s["source_base_hash"] == s["source_base_hash_at_end"]
for r in s["results"]:
    assert r["export_bytes"] > 0 and r["reproduced_test_accuracy"] == r["summary"]["test_accuracy"], r["task"]
PY
else
    fail "taps suite exited non-zero: $(tail -5 "$WORK/suite.out")"
fi
if "$TAPS" suite --tasks ucidigits,lfwfaces --mode fully-joint $SMALL --out "$WORK/fj" --json >"$WORK/fj.out" 2>"$WORK/fj.err"; then
    python3 - "$WORK/fj.out" <<'PY' && ok "taps suite --json prints suite.json's content (and only it) on stdout" || fail "suite --json: $(head -c 300 "$WORK/fj.out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["mode"] == "fully-joint" and [r["task"] for r in s["results"]] == ["ucidigits", "lfwfaces"], s
assert s["full_fine_tune_multiple"] == 2 and 0 <= s["results"][0]["summary"]["test_accuracy"] <= 1
PY
    expect_error "eval refuses an export made for another base" 'made for base fully-joint-base\.safetensors' \
        "$TAPS" eval --export "$WORK/fj/ucidigits/task.safetensors"
    python3 - "$WORK/digit.npy" <<'PY'
import struct, sys
header = "{'descr': '|u1', 'fortran_order': False, 'shape': (28, 28), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes((i * 7) % 256 for i in range(784)))
PY
    expect_error "predict refuses an export made for another base" 'made for base fully-joint-base\.safetensors' \
        "$TAPS" predict "$WORK/digit.npy" --base digitcnn --export "$WORK/fj/ucidigits/task.safetensors"
    "$TAPS" eval --export "$WORK/fj/ucidigits/task.safetensors" --base "$WORK/fj/fully-joint-base.safetensors" >"$WORK/fjeval" 2>&1 \
        && grep -q 'matches the training summary' "$WORK/fjeval" \
        && ok "a fully joint export reproduces on its own base" || fail "eval on the fully joint base: $(cat "$WORK/fjeval")"
else
    fail "taps suite --mode fully-joint exited non-zero: $(tail -5 "$WORK/fj.out")"
fi
if "$TAPS" sweep --task fashion --lambdas 0,20 --modes taps,probe $SMALL --out "$WORK/sweep" >"$WORK/sweep.out" 2>&1; then
    grep -q '3 trained, 0 reused' "$WORK/sweep.out" && ok "taps sweep trains every setting" || fail "taps sweep: $(tail -6 "$WORK/sweep.out")"
    "$TAPS" sweep --task fashion --lambdas 0,20 --modes taps,probe $SMALL --out "$WORK/sweep" >"$WORK/sweep2.out" 2>&1 \
        && grep -q '0 trained, 3 reused' "$WORK/sweep2.out" \
        && ok "taps sweep is resumable (a rerun trains nothing)" || fail "taps sweep rerun: $(tail -6 "$WORK/sweep2.out")"
    "$TAPS" sweep --task fashion --lambdas 0,20 --modes taps,probe $SMALL --out "$WORK/sweep" --json >"$WORK/sweep.json.out" 2>/dev/null \
        && python3 - "$WORK/sweep.json.out" <<'PY' && ok "taps sweep --json: rows, aggregates, files (PNG figures among them)" || fail "sweep --json: $(head -c 300 "$WORK/sweep.json.out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["schema"] == "taps.sweep/1" and s["task"] == "fashion" and s["reused"] == ["taps-lambda-0", "taps-lambda-20", "probe"]
assert [r["setting"] for r in s["rows"]] == s["reused"] and all(0 <= r["test_accuracy"] <= 1 for r in s["rows"])
assert [a["setting"] for a in s["aggregates"]] == s["reused"] and s["aggregates"][0]["seeds"] == [0]
pngs = [f for f in s["files"] if f.endswith(".png")]
assert len(pngs) == 2, s["files"]
for f in pngs:
    assert open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n", f
PY
    "$TAPS" compare "$WORK/sweep/taps-lambda-0" "$WORK/sweep/probe" --json >"$WORK/compare.json" 2>&1 \
        && python3 - "$WORK/compare.json" <<'PY' && ok "taps compare --json: labels, layers, cells" || fail "compare --json: $(head -c 300 "$WORK/compare.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["schema"] == "taps.compare/1" and s["labels"] == ["taps-lambda-0", "probe"]
assert "fc_layers.0" in s["layers"] and all(row[1] is False for row in s["cells"]), s["cells"]
assert all(row[0] is True for row in s["cells"])
PY
    "$TAPS" compare "$WORK/sweep/taps-lambda-0" "$WORK/sweep/probe" --svg "$WORK/compare.svg" >"$WORK/compare.out" 2>&1 \
        && grep -q '●' "$WORK/compare.out" && grep -q 'fc_layers.0' "$WORK/compare.out" \
        && ok "taps compare prints the maps side by side" || fail "taps compare: $(cat "$WORK/compare.out")"
    python3 - "$WORK" <<'PY' && ok "sweep.csv parses; tradeoff.svg, layers.svg and compare.svg are well-formed XML" || fail "sweep files"
import csv, sys, xml.etree.ElementTree as ET
w = sys.argv[1]
rows = list(csv.DictReader(open(w + "/sweep/sweep.csv")))
assert [r["setting"] for r in rows] == ["taps-lambda-0", "taps-lambda-20", "probe"], rows
assert int(rows[0]["active_layers"]) >= int(rows[1]["active_layers"])
for f in ["/sweep/tradeoff.svg", "/sweep/layers.svg", "/compare.svg"]:
    assert ET.parse(w + f).getroot().tag.endswith("svg"), f
PY
else
    fail "taps sweep exited non-zero: $(tail -5 "$WORK/sweep.out")"
fi
# taps path: the search, then each set trained from the end of warm-up, compared with the sweep above.
if "$TAPS" path --task fashion --train-limit 320 --epochs 6 --warmup-epochs 1 --path-raise-every 2 --path-settle-steps 10 \
        --compare "$WORK/sweep" --out "$WORK/path" >"$WORK/path.out" 2>&1; then
    python3 - "$WORK" <<'PY' && ok "taps path keeps sets down to every gate off, trains each 10 steps, compares with the sweep" \
        || fail "taps path: $(tail -12 "$WORK/path.out")"
import json, sys
w = sys.argv[1]
points = json.load(open(w + "/path/path.json"))
assert len(points) >= 2 and len(points[0]["active_layers"]) == 4 and points[-1]["active_layers"] == [], points
trained = [p["step"] for p in points if p["active_layers"]]
assert all(b - a == 10 for a, b in zip(trained, trained[1:])), trained
out = open(w + "/path.out").read()
assert "path search over after" in out
assert "task.safetensors in the run folder is the last point's network" in out and "summary (" not in out, out[-1500:]
assert all(p["export_bytes"] > 0 for p in points), points
import os; assert os.path.getsize(w + "/path/tradeoff.png") > 0
assert "| taps-lambda-20 |" in open(w + "/path/path-vs-sweep.md").read()
PY
else
    fail "taps path exited non-zero: $(tail -5 "$WORK/path.out")"
fi
expect_usage_error "suite with an unknown task" "unknown task 'nope'" "$TAPS" suite --tasks ucidigits,nope --out "$WORK/bad"
expect_error "compare of a missing run" 'no such run folder' "$TAPS" compare "$WORK/missing"

# --data: the user's own datasets (generated here from the embedded pack, tinted per class), every format end to end.
D="$WORK/own"; mkdir -p "$D"
"$TAPS" data example "$D/folder" --per-class 5 --test-per-class 2 --size 96 --odd-sizes >/dev/null \
    && "$TAPS" data example "$D/cifar" --kind cifar10 --per-class 5 --test-per-class 2 >/dev/null \
    && "$TAPS" data example "$D/keras.npz" --kind npz --per-class 5 --test-per-class 2 --size 32 >/dev/null \
    && "$TAPS" data example "$D/rows.csv" --kind csv --per-class 6 --size 16 >/dev/null \
    && ok "taps data example writes an ImageFolder, CIFAR-10, .npz and CSV" || fail "taps data example"
for pair in "folder:imagefolder" "cifar:cifar10" "keras.npz:npz" "rows.csv:csv"; do
    p=${pair%%:*}; f=${pair##*:}
    "$TAPS" data inspect "$D/$p" >"$WORK/inspect-$p" 2>&1 && grep -q "^format     $f (detected)" "$WORK/inspect-$p" \
        && grep -q "^classes    10" "$WORK/inspect-$p" && ok "taps data inspect describes $p ($f)" || fail "inspect $p: $(head -5 "$WORK/inspect-$p")"
    if "$TAPS" train --data "$D/$p" --base efficientnet-lite0 --epochs 1 --warmup-epochs 0 --steps 2 --batch-size 8 \
            --out "$WORK/own-$p" >"$WORK/own-$p.out" 2>&1 && grep -q 'test accuracy' "$WORK/own-$p.out"; then
        "$TAPS" eval --data "$D/$p" --base efficientnet-lite0 --export "$WORK/own-$p/task.safetensors" >"$WORK/own-eval-$p" 2>&1 \
            && grep -q 'matches the training summary' "$WORK/own-eval-$p" \
            && ok "--data $p ($f) trains on efficientnet-lite0 and evaluates reproducibly" || fail "eval --data $p: $(cat "$WORK/own-eval-$p")"
    else
        fail "train --data $p: $(tail -3 "$WORK/own-$p.out")"
    fi
done
"$TAPS" train --data "$D/folder" --epochs 1 --warmup-epochs 0 --steps 2 --out "$WORK/own-grey" >"$WORK/own-grey.out" 2>&1 \
    && grep -q 'converted to grey' "$WORK/own-grey/metrics.jsonl" && ok "colour data on the grey digitcnn: converted, with a notice" \
    || fail "colour on digitcnn: $(tail -3 "$WORK/own-grey.out")"
if python3 -c 'import numpy' 2>/dev/null; then
    python3 "$(dirname "$0")/make_torchvision_like_base.py" resnet18 "$D/resnet18.safetensors" >/dev/null
    "$TAPS" train --data "$D/folder" --base "$D/resnet18.safetensors" --image-size 32 --epochs 1 --warmup-epochs 0 --steps 2 \
        --batch-size 8 --out "$WORK/own-r18" >"$WORK/own-r18.out" 2>&1 && grep -q 'base resnet18.safetensors' "$WORK/own-r18.out" \
        && ok "a torchvision-named resnet18 file trains without --arch" || fail "resnet18 without --arch: $(tail -3 "$WORK/own-r18.out")"
    "$TAPS" merge --base "$D/resnet18.safetensors" --export "$WORK/own-r18/task.safetensors" --out "$WORK/merged.safetensors" \
        >"$WORK/merge.out" 2>&1 && "$TAPS" inspect "$WORK/merged.safetensors" | grep -q 'metadata format: taps-merged/1' \
        && ok "taps merge writes a merged resnet18" || fail "taps merge: $(cat "$WORK/merge.out")"
fi
"$TAPS" suite --data "$D/cifar,$D/keras.npz" --base efficientnet-lite0 --epochs 1 --warmup-epochs 0 --steps 2 --batch-size 8 \
    --out "$WORK/own-suite" >"$WORK/own-suite.out" 2>&1 && [ -s "$WORK/own-suite/cifar/task.safetensors" ] \
    && [ -s "$WORK/own-suite/keras/task.safetensors" ] && ok "taps suite --data trains one task per dataset" \
    || fail "suite --data: $(tail -4 "$WORK/own-suite.out")"
"$TAPS" sweep --data "$D/rows.csv" --lambdas 0 --modes taps,probe --epochs 1 --warmup-epochs 0 --steps 1 \
    --out "$WORK/own-sweep" >"$WORK/own-sweep.out" 2>&1 && grep -q '2 trained, 0 reused' "$WORK/own-sweep.out" \
    && ok "taps sweep --data trains each setting on the dataset" || fail "sweep --data: $(tail -3 "$WORK/own-sweep.out")"
mkdir -p "$D/bad/train/a" "$D/bad/train/b" "$D/bad/val/a"
cp "$(ls "$D"/folder/train/class_00/*.jpg | head -1)" "$D/bad/train/a/x.jpg"
expect_error "empty class folder" 'bad/train/b: class folder: expected at least one' "$TAPS" data inspect "$D/bad"
printf 'PNGnot' >"$D/bad/train/b/fake.png"; head -c 300 "$D/bad/train/a/x.jpg" >"$D/bad/train/b/cut.jpg"
cp "$D/bad/train/a/x.jpg" "$D/bad/val/a/y.jpg"
expect_error "a truncated JPEG / a .png that is not a PNG" '(cut\.jpg|fake\.png)' "$TAPS" train --data "$D/bad" --steps 1 --out "$WORK/bad-run"
"$TAPS" train --data "$D/bad" --skip-bad --epochs 1 --steps 1 --out "$WORK/bad-skip" >"$WORK/bad-skip.out" 2>&1 \
    && grep -q 'skipped 2 of 3 training images' "$WORK/bad-skip/metrics.jsonl" \
    && ok "--skip-bad skips and counts undecodable images" || fail "--skip-bad: $(tail -3 "$WORK/bad-skip.out")"
printf '\x80\x02}q\x00.' >"$D/model.pth"
expect_usage_error ".pth as a base" "torch.load\\('$D/model.pth'" "$TAPS" train --base "$D/model.pth" --steps 1 --out "$WORK/pth"

python3 -c "import numpy as np; np.save('$WORK/zero.npy', np.zeros((0, 0, 3), dtype=np.uint8))" 2>/dev/null \
    && expect_usage_error "predict on a 0-pixel image" 'expected an image with at least 1x1 pixels' "$TAPS" predict "$WORK/zero.npy"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
