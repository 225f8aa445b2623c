#!/usr/bin/env bash
# Runs that survive: kill -9 at random moments and resume to the same bytes, SIGINT/SIGTERM/SIGHUP exit codes,
# a full disk, a reused run folder. Usage: scripts/resilience.sh BIN_DIR   (run by `make test`)
set -uo pipefail
BIN=${1:-.build/release}
TAPS="$BIN/taps"
WORK=$(mktemp -d)
cleanup() { umount "$WORK/full" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
passed=0; failed=0; skipped=0
ok()   { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }
skip() { echo "skip - $1"; skipped=$((skipped + 1)); }

ARGS=(--task fashion --epochs 3 --warmup-epochs 1 --train-limit 960 --checkpoint-every 5 --seed 4)

# Everything but timing must match the uninterrupted run: the export's bytes, the summary, every step's loss/scores.
same_run() {
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = sys.argv[1], sys.argv[2]
assert open(a + "/task.safetensors", "rb").read() == open(b + "/task.safetensors", "rb").read(), "export bytes differ"
timing = {"seconds", "seconds_per_epoch", "samples_per_second", "export"}
sa, sb = json.load(open(a + "/summary.json")), json.load(open(b + "/summary.json"))
diff = {k: (sa[k], sb.get(k)) for k in sa if k not in timing and sa[k] != sb.get(k)}
assert not diff, diff
def steps(run):
    return [json.loads(l) for l in open(run + "/metrics.jsonl") if '"event":"step"' in l]
ra, rb = steps(a), steps(b)
assert [s["step"] for s in rb] == list(range(1, len(ra) + 1)), "steps missing or repeated after resume"
for x, y in zip(ra, rb):
    for k in ("loss", "task_loss", "penalty", "lambda", "accuracy", "learning_rate", "scores", "active"):
        assert x[k] == y[k], (x["step"], k, x[k], y[k])
epochs = lambda run: [json.loads(l)["validation_accuracy"] for l in open(run + "/metrics.jsonl") if '"event":"epoch"' in l]
assert epochs(a) == epochs(b), (epochs(a), epochs(b))
PY
}

if ! "$TAPS" train "${ARGS[@]}" --out "$WORK/ref" >"$WORK/ref.out" 2>&1; then
    fail "reference run: $(tail -3 "$WORK/ref.out")"
fi
[ -e "$WORK/ref/checkpoint.safetensors" ] && fail "a finished run keeps no checkpoint" || ok "a finished run removes its checkpoint"

# kill -9 at 10 random moments, resuming each time from the last checkpoint (or afresh before the first one).
RANDOM=7
kills=0
# (exec: in the background subshell, $! is then the taps process itself, which kill -9 must hit)
run_once() {
    if [ -f "$WORK/k/checkpoint.safetensors" ]; then exec "$TAPS" train --resume "$WORK/k"
    else exec "$TAPS" train "${ARGS[@]}" --out "$WORK/k" --force; fi
}
for i in $(seq 1 10); do
    run_once >"$WORK/k.$i.out" 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; wait "$pid" 2>/dev/null; kills=$((kills + 1))
    else wait "$pid"; break; fi
done
[ -f "$WORK/k/summary.json" ] && grep -q '"status" : "done"' "$WORK/k/summary.json" || (run_once >"$WORK/k.final.out" 2>&1)
if out=$(same_run "$WORK/ref" "$WORK/k" 2>&1); then
    ok "killed with -9 $kills times, resumed: same export bytes, summary and loss curve as the uninterrupted run"
else
    fail "resume after $kills kills differs: $(echo "$out" | tail -2)"
fi

# A graceful stop (each signal), then --resume: exit 128+signal, complete folder with a checkpoint, same result.
for sig in INT TERM HUP; do
    dir="$WORK/sig-$sig"
    "$TAPS" train "${ARGS[@]}" --out "$dir" >"$dir.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do grep -q '"event":"step"' "$dir/metrics.jsonl" 2>/dev/null && break; sleep 0.05; done
    kill -s "$sig" "$pid"; wait "$pid"; rc=$?
    want=$((128 + $(kill -l "$sig")))
    if [ "$rc" -eq "$want" ] && grep -q '"status" : "stopped"' "$dir/summary.json" && [ -f "$dir/checkpoint.safetensors" ] \
        && [ -f "$dir/task.safetensors" ]; then
        ok "SIG$sig stops at a step boundary: exit $rc, summary 'stopped', export and checkpoint written"
    else
        fail "SIG$sig: exit $rc (want $want); $(ls "$dir" | tr '\n' ' ')"
    fi
    "$TAPS" train --resume "$dir" >"$dir.resume" 2>&1 && same_run "$WORK/ref" "$dir" >/dev/null 2>&1 \
        && ok "SIG$sig run resumed to the uninterrupted result" || fail "SIG$sig resume: $(tail -2 "$dir.resume")"
done

# A budget run stopped after its set first fit (layers pinned off, lambda back down) resumes to the same result.
BARGS=(--task fashion --epochs 5 --warmup-epochs 1 --train-limit 960 --budget 20% --seed 4)
"$TAPS" train "${BARGS[@]}" --out "$WORK/bref" >"$WORK/bref.out" 2>&1 || fail "budget reference run: $(tail -2 "$WORK/bref.out")"
"$TAPS" train "${BARGS[@]}" --out "$WORK/bstop" >"$WORK/bstop.out" 2>&1 &
pid=$!
for _ in $(seq 1 400); do grep -q 'budget met at step' "$WORK/bstop/metrics.jsonl" 2>/dev/null && break; sleep 0.02; done
kill -s INT "$pid"; wait "$pid"
if grep -q 'budget met at step' "$WORK/bstop/metrics.jsonl" && grep -q '"status" : "stopped"' "$WORK/bstop/summary.json" \
    && "$TAPS" train --resume "$WORK/bstop" >"$WORK/bstop.resume" 2>&1 && out=$(same_run "$WORK/bref" "$WORK/bstop" 2>&1); then
    ok "a budget run stopped after its layers were pinned off resumed to the uninterrupted result"
else
    fail "budget resume after the pin: $(tail -1 "$WORK/bstop.resume" 2>/dev/null) $(echo "${out:-}" | tail -1)"
fi

# Two runs cannot share a folder: the second is refused while the first holds the folder's lock.
"$TAPS" train "${ARGS[@]}" --out "$WORK/busy" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$WORK/busy/metrics.jsonl" ] && break; sleep 0.05; done
"$TAPS" train "${ARGS[@]}" --out "$WORK/busy" --force >"$WORK/busy.out" 2>&1; rc=$?
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
[ "$rc" -eq 1 ] && grep -q 'in use by another taps process' "$WORK/busy.out" && ok "a second run into a busy folder is refused" \
    || fail "busy folder (exit $rc): $(cat "$WORK/busy.out")"

# A finished folder is refused, --force starts afresh, --resume of a finished run says so.
"$TAPS" train "${ARGS[@]}" --out "$WORK/ref" >"$WORK/again" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q 'holds a finished run' "$WORK/again" && [ "$(grep -c . "$WORK/again")" -eq 1 ] \
    && ok "re-running into a finished folder is refused" || fail "finished folder not refused (exit $rc): $(cat "$WORK/again")"
"$TAPS" train --resume "$WORK/ref" >"$WORK/again" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q 'already finished' "$WORK/again" && ok "--resume of a finished run is refused" \
    || fail "--resume finished (exit $rc): $(cat "$WORK/again")"
"$TAPS" train --task fashion --steps 3 --train-limit 96 --out "$WORK/ref" --force >"$WORK/again" 2>&1 \
    && grep -q '"steps" : 3' "$WORK/ref/summary.json" && ok "--force starts afresh in a finished folder" \
    || fail "--force: $(tail -2 "$WORK/again")"

# A full disk: one-line error, non-zero exit, no trap, no temp files left.
mkdir -p "$WORK/full"
if mount -t tmpfs -o size=400k tmpfs "$WORK/full" 2>/dev/null; then
    "$TAPS" train --task fashion --epochs 2 --warmup-epochs 1 --train-limit 320 --out "$WORK/full/run" \
        >"$WORK/full.out" 2>"$WORK/full.err"; rc=$?
    temps=$(find "$WORK/full" -name '*.tmp-*' | wc -l)
    if [ "$rc" -eq 1 ] && [ "$(grep -c . "$WORK/full.err")" -eq 1 ] && grep -q 'No space left on device' "$WORK/full.err" \
        && [ "$temps" -eq 0 ]; then
        ok "a full disk ends the run with one line and exit 1, no temp files: $(cut -c1-90 "$WORK/full.err")"
    else
        fail "full disk: exit $rc, $temps temp files, stderr: $(head -3 "$WORK/full.err")"
    fi
    umount "$WORK/full"
else
    skip "full disk (mounting a tmpfs needs root)"
fi

echo "resilience: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
