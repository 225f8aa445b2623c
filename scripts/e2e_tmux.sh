#!/usr/bin/env bash
# End-to-end test of the taps-tui dashboard in a real terminal (tmux), run by `make test`.
# Usage: scripts/e2e_tmux.sh BIN_DIR      (BIN_DIR holds the taps-tui binary, e.g. .build/release)
#
# Waits for on-screen text by polling `tmux capture-pane` (never fixed sleeps); every check prints PASS or FAIL and
# the last line is "N passed, M failed". Exits non-zero on any failure.
set -uo pipefail

BIN_DIR=${1:?usage: e2e_tmux.sh BIN_DIR}
BIN="$(cd "$BIN_DIR" 2>/dev/null && pwd)/taps-tui"
[ -x "$BIN" ] || { echo "e2e: no taps-tui binary at $BIN (build with: swift build -c release)"; exit 2; }
command -v tmux >/dev/null || { echo "e2e: tmux is not installed (apt-get install tmux)"; exit 2; }
command -v python3 >/dev/null || { echo "e2e: python3 is needed to parse the exported JSON/CSV"; exit 2; }

SOCKET="taps-e2e-$$"
TM=(tmux -L "$SOCKET" -f /dev/null)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/taps-e2e.XXXXXX")"
PASSED=0
FAILED=0

cleanup() {
    "${TM[@]}" kill-server >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "PASS  $1"; }
fail() {
    FAILED=$((FAILED + 1)); echo "FAIL  $1"
    echo "----- screen of pane $PANE -----"; "${TM[@]}" capture-pane -p -t "$PANE" 2>/dev/null | sed 's/^/  | /'
    echo "--------------------------------"
}

# poll TIMEOUT_SECONDS COMMAND...: re-runs COMMAND every 0.1 s until it succeeds; false after the timeout.
poll() {
    local timeout=$1; shift
    local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s%N) >= deadline )) && return 1
        sleep 0.1
    done
}

screen() { "${TM[@]}" capture-pane -p -t "$PANE"; }
screen_has() { screen | grep -qF -- "$1"; }
screen_matches() { screen | grep -qE -- "$1"; }
screen_step() { screen | grep -oE 'step [0-9]+/' | head -1 | grep -oE '[0-9]+'; }
step_at_least() { local s; s=$(screen_step); [ -n "$s" ] && [ "$s" -ge "$1" ]; }
screen_width_is() {  # the gates panel's top border spans exactly $1 columns
    screen | python3 -c 'import sys; w=int(sys.argv[1]); sys.exit(0 if any(l.startswith("┌ gates") and len(l.rstrip()) == w for l in sys.stdin) else 1)' "$1"
}

# start_pane NAME COMMAND: a fresh 100x30 window running a clean shell, then COMMAND typed into it.
start_pane() {
    local name=$1 cmd=$2
    if "${TM[@]}" has-session -t e2e 2>/dev/null; then
        "${TM[@]}" new-window -t e2e -n "$name" "bash --norc --noprofile"
    else
        "${TM[@]}" new-session -d -s e2e -n "$name" -x 100 -y 30 "bash --norc --noprofile"
    fi
    PANE="e2e:$name"
    "${TM[@]}" resize-window -t "$PANE" -x 100 -y 30 >/dev/null 2>&1 || true
    "${TM[@]}" send-keys -t "$PANE" "export TERM=xterm-256color LANG=C.UTF-8 SWIFT_BACKTRACE=interactive=no PS1='$ '; unset LINES COLUMNS NO_COLOR; clear" Enter
    "${TM[@]}" send-keys -t "$PANE" "$cmd; echo \"EXIT=\$?\"" Enter
}

# The terminal in the pane is sane: canonical mode and echo back on.
terminal_sane() {
    "${TM[@]}" send-keys -t "$PANE" "clear; stty -a | tr ' ;' '\n\n' | grep -x -e echo -e icanon | sort | tr '\n' ' '; echo STTY-DONE" Enter
    # Wait for the output line (the typed command line also holds STTY-DONE but starts with the prompt), then check it.
    poll 10 screen_matches '^[a-z ]*STTY-DONE$' && screen | grep -q "^echo icanon STTY-DONE$"
}

jsonl_query() {  # python expression over `events` (the decoded metrics.jsonl of $1); prints the result
    python3 - "$1" "$2" <<'PY'
import json, sys
events = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line:
        try: events.append(json.loads(line))
        except json.JSONDecodeError: pass   # a line still being written
print(eval(sys.argv[2]))
PY
}

echo "e2e: $BIN in tmux $(tmux -V | cut -d' ' -f2), work folder $WORK"

# MARK: - Run 1: the keys, on the embedded default task
RUN1="$WORK/run1"
start_pane keys "$BIN --seed 1 --epochs 20 --out $RUN1"
if poll 120 screen_has "RUNNING" && poll 120 step_at_least 3; then
    pass "first frame: RUNNING with steps advancing"
else
    fail "no first frame within 120 s"
fi
if screen_has "conv_layers.0" && screen_has "fc_layers.0" && screen_has "4/4 active"; then
    pass "gate heatmap lists the gated layers, 4/4 active at the start"
else
    fail "gate heatmap rows"
fi

# ] twice: lambda x 1.25^2 = x 1.5625 on screen and in the following step events.
START_LAMBDA=$(jsonl_query "$RUN1/metrics.jsonl" '[e for e in events if e["event"]=="start"][0]["lambda"]')
EXPECTED=$(python3 -c "print(round($START_LAMBDA * 1.5625, 10))")
SHOWN=$(python3 -c "print('%.4g' % $EXPECTED)")
"${TM[@]}" send-keys -t "$PANE" "]"
"${TM[@]}" send-keys -t "$PANE" "]"
if poll 10 screen_has "λ $SHOWN"; then pass "screen shows lambda $SHOWN (= $START_LAMBDA x 1.5625)"; else fail "screen lambda $SHOWN"; fi
lambda_in_jsonl() {
    [ "$(jsonl_query "$RUN1/metrics.jsonl" "any(e['event']=='notice' and e['kind']=='lambda' and abs(e['to']-$EXPECTED)<1e-9 for e in events) and any(e['event']=='step' and abs(e['lambda']-$EXPECTED)<1e-9 for e in events)")" = True ]
}
if poll 30 lambda_in_jsonl; then
    pass "metrics.jsonl: lambda notice to $EXPECTED and later steps use it"
else
    fail "metrics.jsonl has no lambda notice / step with lambda $EXPECTED"
fi

# Markers: the lambda change is drawn on the loss chart (┊) and under the heatmap (▲).
if poll 10 screen_has "┊" && poll 10 screen_has "▲"; then pass "lambda change marked on the charts (┊) and the heatmap axis (▲)"; else fail "no lambda marker"; fi
marker_step_ok() {  # the notice's step is where the event line says the change applies
    local s; s=$(jsonl_query "$RUN1/metrics.jsonl" "[e['step'] for e in events if e['event']=='notice' and e['kind']=='lambda'][-1]")
    [ -n "$s" ] && [ "$(jsonl_query "$RUN1/metrics.jsonl" "min([e['step'] for e in events if e['event']=='step' and abs(e['lambda']-$EXPECTED)<1e-9] or [0])")" = "$s" ]
}
if poll 30 marker_step_ok; then pass "the marked step is the first step that uses the new lambda"; else fail "marker step and first step with the new lambda differ"; fi

# = 0 Enter: exact lambda, 0 allowed, reaches the trainer.
"${TM[@]}" send-keys -t "$PANE" "="
if poll 10 screen_has "Enter sets, Esc cancels"; then pass "=: the lambda prompt shows its range"; else fail "=: no prompt"; fi
"${TM[@]}" send-keys -t "$PANE" "0" Enter
lambda_zero_in_jsonl() { [ "$(jsonl_query "$RUN1/metrics.jsonl" "any(e['event']=='step' and e['lambda']==0 for e in events)")" = True ]; }
if poll 10 screen_has "λ 0 " && poll 30 lambda_zero_in_jsonl; then pass "= 0 Enter: lambda 0 on screen and in the step events"; else fail "exact lambda 0"; fi
"${TM[@]}" send-keys -t "$PANE" "=" "1" "e" "9" Enter
if poll 10 screen_has "outside 0"; then pass "=: 1e9 is refused with the range"; else fail "=: 1e9 not refused"; fi

# j Enter: the layer panel of the second layer; Esc closes it.
"${TM[@]}" send-keys -t "$PANE" "j" Enter
if poll 10 screen_has "shape [64, 32, 3, 3]" && screen_has "flips"; then pass "Enter: layer panel (shape, flips) of conv_layers.3"; else fail "no layer panel"; fi
"${TM[@]}" send-keys -t "$PANE" Escape
poll 10 eval '! screen_has "flips "' || fail "Esc does not close the layer panel"

# space: PAUSED, and the step count stops advancing.
"${TM[@]}" send-keys -t "$PANE" " "
paused_in_jsonl() { [ "$(jsonl_query "$RUN1/metrics.jsonl" "any(e['event']=='notice' and e['kind']=='paused' for e in events)")" = True ]; }
if poll 10 screen_has "PAUSED" && poll 30 paused_in_jsonl; then pass "space: PAUSED on screen and a paused notice"; else fail "pause"; fi
last_step() { jsonl_query "$RUN1/metrics.jsonl" "max([e['step'] for e in events if e['event']=='step'] or [0])"; }
STEP_AT_PAUSE=$(last_step)
step_moved() { [ "$(last_step)" != "$STEP_AT_PAUSE" ]; }
if poll 2 step_moved; then fail "steps still advance while paused ($STEP_AT_PAUSE -> $(last_step))"; else pass "no step while paused (stays at $STEP_AT_PAUSE for 2 s)"; fi

# e: snapshot JSON and CSV exist and parse.
"${TM[@]}" send-keys -t "$PANE" "e"
snapshot_files() { ls "$RUN1"/snapshot-step*.json "$RUN1"/snapshot-step*.csv >/dev/null 2>&1; }
if poll 30 snapshot_files && poll 10 screen_has "snapshot written"; then
    JSON=$(ls "$RUN1"/snapshot-step*.json | head -1); CSV=$(ls "$RUN1"/snapshot-step*.csv | head -1)
    if python3 - "$JSON" "$CSV" <<'PY'
import csv, json, sys
snap = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
assert rows, "CSV has no rows"
text = json.dumps(snap)
assert "conv_layers.0" in text and "fc_layers.0" in text, "layers missing from the JSON"
assert any("conv_layers.0" in ",".join(r.values()) for r in rows), "layers missing from the CSV"
PY
    then pass "e: $(basename "$JSON") and $(basename "$CSV") exist and parse"
    else fail "snapshot files do not parse"; fi
else
    fail "e: no snapshot written"
fi

# ?: the help overlay, then close it.
"${TM[@]}" send-keys -t "$PANE" "?"
if poll 10 screen_has "Esc closes this help"; then pass "?: help overlay"; else fail "help overlay"; fi
"${TM[@]}" send-keys -t "$PANE" "?"
poll 10 eval '! screen_has "Esc closes this help"' || fail "help overlay does not close"

# Resize: relayout to 60 columns (and back).
"${TM[@]}" resize-window -t "$PANE" -x 60 -y 20
if poll 10 screen_width_is 60 && screen_has "PAUSED"; then pass "resize to 60x20: relayout"; else fail "no relayout at 60x20"; fi
"${TM[@]}" resize-window -t "$PANE" -x 100 -y 30
if poll 10 screen_width_is 100; then pass "resize back to 100x30: relayout"; else fail "no relayout at 100x30"; fi

# q: the trainer stops at a step boundary, the run folder is complete, the process exits, the terminal is sane.
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 120 screen_matches "^EXIT=0$"; then pass "q: taps-tui exited with status 0"; else fail "q: taps-tui did not exit"; fi
if [ -f "$RUN1/summary.json" ] && [ "$(jsonl_query "$RUN1/metrics.jsonl" "events[-1]['event'] + ':' + events[-1]['status']")" = "end:stopped" ]; then
    pass "run folder complete (summary.json, metrics end event 'stopped')"
else
    fail "run folder incomplete after q"
fi
if terminal_sane; then pass "terminal sane after q (stty: echo icanon)"; else fail "terminal not restored after q"; fi

# MARK: - Attach: view run 1's metrics.jsonl read-only
start_pane attach "$BIN --attach $RUN1/metrics.jsonl"
if poll 30 screen_has "attached (read-only)" && poll 10 screen_has "STOPPED" && poll 10 screen_has "conv_layers.0"; then
    pass "--attach replays the finished run (STOPPED, heatmap rows)"
else
    fail "--attach did not show the run"
fi
"${TM[@]}" send-keys -t "$PANE" "]"
if poll 10 screen_has "read-only: attached"; then pass "--attach: steering keys are refused"; else fail "--attach accepted a steering key"; fi
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 30 screen_matches "^EXIT=0$"; then pass "--attach quits at once"; else fail "--attach did not quit"; fi

# MARK: - Hand-made metrics files: NaN replay, constant series, log axis with zeros, wide names, two runs
make_metrics() {  # make_metrics FILE KIND: writes a metrics.jsonl by hand (no trainer)
    python3 - "$1" "$2" <<'PY'
import json, math, sys
path, kind = sys.argv[1], sys.argv[2]
names = ["conv_layers.0", "conv_layers.3", "conv_layers.6", "fc_layers.0"]
task = "fashion"
if kind == "wide":
    names = ["卷积层.0.conv", "🔥block.1.conv", "a-very-long-layer-name-that-does-not-fit.weight", "fc"]
    task = "時尚🔥fashion"
layers = [{"index": i, "name": n, "shape": [8, 8], "parameters": 64} for i, n in enumerate(names)]
out = [{"event": "start", "task": task, "mode": "taps", "base": "digitcnn", "lambda": 0.3, "tau": 0.1, "epochs": 3,
        "warmup_epochs": 1, "steps_per_epoch": 20, "batch_size": 32, "seed": 1, "layers": layers,
        "backbone_parameters": 1000, "run_directory": "x", "time": 0}]
for i in range(1, 61):
    loss = 0.5 if kind == "constant" else 2 - i / 60
    if kind == "nan" and i in (30, 31, 32):
        loss = ["nan", "inf", "-inf"][i - 30]
    scores = [0.2, 0.05, 0.15, 0.3]
    if kind == "nan" and i == 31:
        scores[1] = "nan"
    phase = "warmup" if i <= 20 else "sparsify"
    out.append({"event": "step", "step": i, "epoch": (i - 1) // 20 + 1, "phase": phase, "loss": loss,
                "task_loss": loss, "penalty": 0.1, "lambda": 0.3, "accuracy": 0.5, "learning_rate": 0.01,
                "scores": scores, "active": [s != "nan" and s >= 0.1 for s in scores], "samples_per_second": 100,
                "elapsed": i})
    if i == 40:
        out.append({"event": "progress", "step": 40, "phase": "validating", "done": 120, "total": 400})
out.append({"event": "end", "status": "stopped", "step": 60, "active_layers": names[:1], "task_specific_parameters": 64,
            "seconds": 3})
with open(path, "w") as f:
    for e in out:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
PY
}
mkdir -p "$WORK/nan" "$WORK/constant" "$WORK/wide"
make_metrics "$WORK/nan/metrics.jsonl" nan
make_metrics "$WORK/constant/metrics.jsonl" constant
make_metrics "$WORK/wide/metrics.jsonl" wide

start_pane nan "$BIN --attach $WORK/nan/metrics.jsonl"
if poll 30 screen_has "NaN 3" && screen_has "×"; then pass "--attach of a hand-made NaN file: NaN glyph and counter 'NaN 3'"; else fail "NaN replay"; fi
"${TM[@]}" send-keys -t "$PANE" "L"
if poll 10 screen_has "loss (log)" && poll 10 screen_has "<=0 20 skipped"; then pass "L: log axis, the 20 warm-up zeros of lambda x P skipped and counted"; else fail "log axis with zeros"; fi
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 30 screen_matches "^EXIT=0$"; then pass "NaN replay quits cleanly (no crash)"; else fail "NaN replay did not exit 0"; fi

# A constant loss stays on one line of the chart at every smoothing setting.
loss_rows_with_dots() {  # rows of the loss chart (left half) holding braille dots
    screen | python3 -c '
import sys
lines = sys.stdin.read().split("\n")
half = len(lines[0]) // 2 if lines else 50
rows = [l for l in lines[3:14] if any(0x2801 <= ord(c) <= 0x28FF for c in l[:50])]
print(len(rows))'
}
start_pane constant "$BIN --attach $WORK/constant/metrics.jsonl"
poll 30 screen_has "STOPPED" || fail "constant run not shown"
ok=1
for setting in 1 2 3 4; do
    "${TM[@]}" send-keys -t "$PANE" "s"
    sleep 0.3
    [ "$(loss_rows_with_dots)" = "1" ] || ok=0
done
if [ $ok = 1 ]; then pass "s: a constant loss stays on one chart row at every smoothing (off, 0.6, 0.9, 0.99)"; else fail "smoothing moved a constant series"; fi
# A double click (SGR mouse reports, as xterm and tmux send them) on a heatmap row opens that layer's panel.
ROW=$(screen | grep -n "conv_layers.6" | head -1 | cut -d: -f1)
for _ in 1 2; do
    "${TM[@]}" send-keys -t "$PANE" -l $'\e[<0;6;'"$ROW"'M'
    "${TM[@]}" send-keys -t "$PANE" -l $'\e[<0;6;'"$ROW"'m'
    sleep 0.05
done
if [ -n "$ROW" ] && poll 10 screen_has "layer 3/4 conv_layers.6"; then pass "mouse: a double click on a heatmap row opens its layer panel"; else fail "mouse click on the heatmap"; fi
"${TM[@]}" send-keys -t "$PANE" "q"; poll 30 screen_matches "^EXIT=0$"

# Wide names (CJK, emoji) at 50 and 80 columns: truncated with an ellipsis, every row exactly the pane's width.
rows_fit() {  # every heatmap row ends with the panel's right border at column $1
    screen | python3 -c '
import sys, unicodedata
w = int(sys.argv[1])
def cells(s):
    n = 0
    for c in s:
        if unicodedata.combining(c): continue
        n += 2 if unicodedata.east_asian_width(c) in "WF" else 1
    return n
rows = [l.rstrip() for l in sys.stdin.read().split("\n") if (" on" in l or " off" in l) and "│" in l]
sys.exit(0 if rows and all(cells(r) == w and r.endswith("│") for r in rows) else 1)' "$1"
}
for width in 50 80; do
    start_pane "wide$width" "$BIN --attach $WORK/wide/metrics.jsonl"
    "${TM[@]}" resize-window -t "$PANE" -x $width -y 24
    if poll 30 screen_has "…" && poll 10 rows_fit $width; then
        pass "wide CJK/emoji names at $width columns: ellipsis, rows exactly $width cells"
    else
        fail "wide names at $width columns"
    fi
    "${TM[@]}" send-keys -t "$PANE" "q"; poll 30 screen_matches "^EXIT=0$"
done

# Two runs attached: both named, both heatmaps.
start_pane two "$BIN --attach $WORK/nan --attach $WORK/constant/metrics.jsonl"
two_runs_shown() { screen_has "━nan" && screen_has "╍constant" && screen_has "┌ nan 1/4 active" && screen_has "┌ constant 1/4 active"; }
if poll 30 two_runs_shown; then
    pass "two-run attach: both runs named, heatmaps side by side"
else
    fail "two-run attach"
fi
"${TM[@]}" send-keys -t "$PANE" "q"; poll 30 screen_matches "^EXIT=0$"

# The README's attach one-liner: the file does not exist yet; the dashboard waits, then shows the run.
LATE="$WORK/late"
start_pane late "$BIN --attach $LATE/metrics.jsonl"
if poll 30 screen_has "waiting for $LATE/metrics.jsonl"; then pass "--attach on a missing file waits with a message"; else fail "--attach missing file"; fi
if [ -x "$(dirname "$BIN")/taps" ]; then
    "$(dirname "$BIN")/taps" train --epochs 1 --steps 30 --out "$LATE" > /dev/null 2>&1 &
else
    mkdir -p "$LATE"; cp "$WORK/constant/metrics.jsonl" "$LATE/metrics.jsonl"
fi
if poll 120 screen_has "conv_layers.0" && ! screen_has "waiting for $LATE"; then pass "the run appears once its file does"; else fail "the late file is not picked up"; fi
"${TM[@]}" send-keys -t "$PANE" "q"; poll 30 screen_matches "^EXIT=0$"
wait

# MARK: - Steering a headless run from an attached dashboard (RUN/control.json), and a suite folder of job-array tasks
TAPS="$(dirname "$BIN")/taps"
if [ -x "$TAPS" ]; then
    STEER="$WORK/steer"
    "$TAPS" train --epochs 200 --lambda 2 --out "$STEER" > "$WORK/steer.out" 2>&1 &
    STEER_PID=$!
    start_pane steer "$BIN --attach $STEER"
    if poll 120 screen_has "attached: steering" && poll 60 step_at_least 2; then
        pass "--attach of a running headless taps train: steering (not read-only)"
    else
        fail "--attach of a running run is not steerable"
    fi
    "${TM[@]}" send-keys -t "$PANE" "]"
    if poll 30 grep -q '"from":2,"kind":"lambda".*"to":2.5' "$STEER/metrics.jsonl"; then
        pass "] in the attached dashboard: lambda 2 -> 2.5 notice in the run's metrics.jsonl"
    else
        fail "] did not reach the headless run: $(cat "$STEER/control.json" 2>/dev/null)"
    fi
    if poll 30 screen_has "(2→2.5)" && poll 10 screen_has "attached: steering"; then
        pass "the dashboard shows the run's new lambda; the request is picked up"
    else
        fail "the attached dashboard does not show lambda 2.5"
    fi
    "${TM[@]}" send-keys -t "$PANE" " "
    if poll 30 screen_has "PAUSED" && grep -q '"kind":"paused"' "$STEER/metrics.jsonl"; then pass "space pauses the headless run"; else fail "space did not pause the run"; fi
    "${TM[@]}" send-keys -t "$PANE" "c"
    "${TM[@]}" send-keys -t "$PANE" " "
    if poll 30 grep -q '"kind":"resumed"' "$STEER/metrics.jsonl" && poll 30 grep -q '"kind":"checkpoint"' "$STEER/metrics.jsonl"; then
        pass "c and space while paused: checkpoint written, run resumed"
    else
        fail "checkpoint/resume through the control file"
    fi
    echo '{"format":"taps-control","version":1,"sequence":"many"}' > "$STEER/control.json"
    if poll 30 grep -q 'field sequence: expected a whole number' "$STEER/metrics.jsonl" && kill -0 "$STEER_PID"; then
        pass "a malformed control.json: one error notice, the run goes on"
    else
        fail "malformed control.json"
    fi
    "${TM[@]}" send-keys -t "$PANE" "q"; poll 30 screen_matches "^EXIT=0$"
    kill -INT "$STEER_PID"; wait "$STEER_PID"
    start_pane steerdone "$BIN --attach $STEER"
    # Keys typed before the dashboard is up are dropped (the type-ahead check below): wait for it first.
    poll 30 screen_has "attached (read-only)"
    "${TM[@]}" send-keys -t "$PANE" "]"
    if poll 10 screen_has "read-only: attached"; then
        pass "--attach of the finished run: read-only"
    else
        fail "a finished run is steerable"
    fi
    "${TM[@]}" send-keys -t "$PANE" "q"; poll 30 screen_matches "^EXIT=0$"

    SUITE="$WORK/suite"
    "$TAPS" suite --tasks fashion,ucidigits,lfwfaces --epochs 1 --steps 20 --array-index 0 --out "$SUITE" > "$WORK/suite0.out" 2>&1
    "$TAPS" suite --tasks fashion,ucidigits,lfwfaces --epochs 1 --steps 20 --array-index 2 --out "$SUITE" > "$WORK/suite2.out" 2>&1
    start_pane suite "$BIN --attach $SUITE"
    if poll 60 screen_has "fashion" && screen_has "ucidigits…" && screen_has "lfwfaces" && screen_has "t: next task"; then
        pass "--attach SUITE_DIR (job-array tasks 0 and 2): one tab per task, task 1 waiting"
    else
        fail "--attach SUITE_DIR shows no tabs"
    fi
    if screen_has "ucidigits: waiting for $SUITE/ucidigits/metrics.jsonl"; then
        pass "the suite view starts on the first unfinished task (waiting)"
    else
        fail "the suite view does not start on the waiting task"
    fi
    "${TM[@]}" send-keys -t "$PANE" "t"
    if poll 10 screen_has "viewing lfwfaces: done" && poll 10 screen_has "DONE"; then pass "t cycles to the next task (done)"; else fail "t in an attached suite"; fi
    "${TM[@]}" send-keys -t "$PANE" "q"
    if poll 30 screen_matches "^EXIT=0$"; then pass "attached suite quits"; else fail "attached suite did not quit"; fi
else
    fail "no taps binary next to taps-tui: cannot test steering or suite folders"
fi

# MARK: - Run 2: NO_COLOR=1 emits no colour
start_pane nocolor "NO_COLOR=1 $BIN --seed 2 --epochs 20 --out $WORK/run2"
if poll 120 screen_has "RUNNING" && poll 60 step_at_least 2; then
    if "${TM[@]}" capture-pane -p -e -t "$PANE" | python3 -c '
import re, sys
bad = set()
for params in re.findall(r"\x1b\[([0-9;:]*)m", sys.stdin.read()):
    codes = [int(p) for p in re.split("[;:]", params) if p]
    for c in codes:
        if 30 <= c <= 38 or 40 <= c <= 48 or 90 <= c <= 97 or 100 <= c <= 107: bad.add(params)
sys.exit(1 if bad else 0)'; then
        pass "NO_COLOR=1: no colour SGR codes on screen (capture-pane -e)"
    else
        fail "NO_COLOR=1 screen has colour escapes"
    fi
else
    fail "NO_COLOR run: no first frame"
fi
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 120 screen_matches "^EXIT=0$" && terminal_sane; then pass "NO_COLOR run quits cleanly"; else fail "NO_COLOR run did not quit cleanly"; fi

# MARK: - Run 3: a crash under curses leaves the terminal sane
start_pane crash "$BIN --seed 3 --out $WORK/run3 --crash-test 2>$WORK/crash.err"
if poll 120 screen_matches "^EXIT=[0-9]+$"; then
    if screen_matches "^EXIT=0$"; then fail "--crash-test exited 0 (no crash?)"; else pass "--crash-test crashed ($(screen | grep -oE '^EXIT=[0-9]+' | tail -1))"; fi
else
    fail "--crash-test run did not end"
fi
if terminal_sane; then pass "terminal sane after the crash (stty: echo icanon)"; else fail "terminal broken after the crash"; fi

# MARK: - Run 5: a deep base (EfficientNet-Lite0, 49 gated layers) — the heatmap scrolls at 100x30
start_pane deep "$BIN --base efficientnet-lite0 --task ucidigits --train-limit 64 --epochs 50 --seed 5 --out $WORK/run5"
if poll 180 screen_has "_conv_stem" && poll 30 screen_matches "layers 1-[0-9]+ of 49"; then
    pass "efficientnet-lite0: heatmap starts at _conv_stem and says which of the 49 layers it shows"
    "${TM[@]}" send-keys -t "$PANE" "J"
    # Poll for the scrolled range itself (layers 1-N also matched the old pattern, so the check raced the key).
    if poll 10 screen_matches "layers ([2-9]|[1-9][0-9])-[0-9]+ of 49" && ! screen_has "_conv_stem "; then
        pass "J pages the heatmap down"; else fail "J did not scroll the heatmap"; fi
    "${TM[@]}" send-keys -t "$PANE" "K"
    if poll 10 screen_has "_conv_stem"; then pass "K pages back up"; else fail "K did not scroll back"; fi
else
    fail "efficientnet-lite0 dashboard: no heatmap with a scroll line"
fi
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 120 screen_matches "^EXIT=0$"; then pass "efficientnet-lite0 run quits cleanly"; else fail "efficientnet-lite0 run did not quit"; fi

# MARK: - After a run: e writes the dashboard's snapshot, r starts a new run, the old one stays drawn
RUN6="$WORK/run6"
start_pane again "$BIN --seed 6 --steps 15 --out $RUN6"
if poll 120 screen_has "DONE"; then
    "${TM[@]}" send-keys -t "$PANE" "e"
    dashboard_snapshot() { ls "$RUN6"/dashboard-step*.csv "$RUN6"/dashboard-step*.txt "$RUN6"/dashboard-step*.svg >/dev/null 2>&1; }
    if poll 10 dashboard_snapshot && head -1 "$RUN6"/dashboard-step*.csv | grep -q "^step,epoch,phase,loss,task_loss,penalty,lambda_times_penalty,lambda,accuracy" \
        && grep -q "DONE" "$RUN6"/dashboard-step*.txt && grep -q 'fill="#ffffff"' "$RUN6"/dashboard-step*.svg; then
        pass "e after the run: scalars CSV, screen text and an opaque SVG in the run folder"
    else
        fail "e after the run"
    fi
    "${TM[@]}" send-keys -t "$PANE" "r"
    if poll 60 test -f "$RUN6-2/metrics.jsonl" && poll 60 screen_has "╍run6" && poll 120 screen_has "DONE"; then
        pass "r: a new run in $(basename "$RUN6")-2 with the earlier run drawn for comparison"
    else
        fail "r did not start a new run"
    fi
else
    fail "short run did not finish"
fi
"${TM[@]}" send-keys -t "$PANE" "R"
if poll 10 screen_has "new run options:"; then
    "${TM[@]}" send-keys -t "$PANE" -l -- "--seed 9"   # -l: literal (tmux would read "--seed" as its own flag)
    "${TM[@]}" send-keys -t "$PANE" Enter
    seed9() { [ -f "$RUN6-3/config.json" ] && grep -qE '"seed" *: *9' "$RUN6-3/config.json"; }
    if poll 60 seed9; then pass "R: a prompt for options; --seed 9 reached the new run ($(basename "$RUN6")-3)"; else fail "R options not applied"; fi
else
    fail "R: no options prompt"
fi
poll 120 screen_has "DONE"
# A refused R uses up no folder number: the next run that starts takes -4.
"${TM[@]}" send-keys -t "$PANE" "R"
poll 10 screen_has "new run options:"
"${TM[@]}" send-keys -t "$PANE" -l -- "--seed x"
"${TM[@]}" send-keys -t "$PANE" Enter
poll 10 screen_has "cannot start a new run"
"${TM[@]}" send-keys -t "$PANE" "R"
poll 10 screen_has "new run options:"
"${TM[@]}" send-keys -t "$PANE" -l -- "--seed 10"
"${TM[@]}" send-keys -t "$PANE" Enter
seed10() { [ -f "$RUN6-4/config.json" ] && grep -qE '"seed" *: *10' "$RUN6-4/config.json"; }
if poll 60 seed10 && [ ! -e "$RUN6-5" ]; then
    pass "R after a refused R: the new run takes $(basename "$RUN6")-4 (no number used up)"
else
    fail "a refused R used up a folder number"
fi
poll 120 screen_has "DONE"
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 60 screen_matches "^EXIT=0$"; then pass "quit after r and R"; else fail "no exit after r"; fi

# MARK: - Keys typed before the dashboard is up (during `make run`'s build) are dropped, not read as commands
start_pane typeahead "sleep 2; $BIN --seed 8 --steps 15 --out $WORK/run8"
"${TM[@]}" send-keys -t "$PANE" "q"      # typed while `sleep` runs: waits in the terminal's input queue
if poll 120 screen_has "DONE" && ! screen_matches "^EXIT="; then
    pass "a q typed before the dashboard started was dropped: the run ran to DONE"
else
    fail "type-ahead reached the dashboard"
fi
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 60 screen_matches "^EXIT=0$"; then pass "q after DONE quits"; else fail "no exit after q"; fi

# MARK: - taps-tui sweep: one tab per setting
start_pane sweep "$BIN sweep --lambdas 0,1 --modes taps --steps 5 --seed 7 --out $WORK/sweep"
if poll 120 screen_has "settings" && poll 10 screen_has "taps-lambda-0" && screen_has "taps-lambda-1"; then
    pass "sweep: a tab per setting"
else
    fail "sweep: no settings tab line"
fi
sweep_done() { [ -f "$WORK/sweep/sweep.csv" ]; }
if poll 180 sweep_done; then pass "sweep: both settings trained, sweep.csv written"; else fail "sweep did not finish"; fi
"${TM[@]}" send-keys -t "$PANE" "t"
if poll 10 screen_has "viewing taps-lambda-"; then pass "sweep: t switches the setting shown"; else fail "sweep: t"; fi
"${TM[@]}" send-keys -t "$PANE" "q"
if poll 60 screen_matches "^EXIT=0$"; then pass "sweep quits cleanly"; else fail "sweep did not quit"; fi

# MARK: - SIGHUP (a closed SSH session): terminal sane, run folder complete with a checkpoint, exit 129; then
# the dashboard continues the run with --resume, and `c` writes a checkpoint on request.
RUN9="$WORK/run9"
start_pane hup "$BIN --seed 9 --epochs 20 --train-limit 640 --out $RUN9"
if poll 120 step_at_least 3; then
    "${TM[@]}" send-keys -t "$PANE" "c"
    if poll 30 screen_has "checkpoint at step"; then pass "c writes a checkpoint on request"; else fail "c wrote no checkpoint"; fi
    pid=$(pgrep -f -- "--out $RUN9" | head -1)
    kill -HUP "$pid"
    if poll 60 screen_matches "^EXIT=129$"; then pass "SIGHUP: exit 129"; else fail "SIGHUP: no exit 129"; fi
    if terminal_sane; then pass "terminal sane after SIGHUP (stty: echo icanon)"; else fail "terminal broken after SIGHUP"; fi
    if [ -f "$RUN9/checkpoint.safetensors" ] && grep -q '"status" : "stopped"' "$RUN9/summary.json" && [ -f "$RUN9/task.safetensors" ]; then
        pass "SIGHUP: run folder complete (summary 'stopped', export, checkpoint)"
    else
        fail "SIGHUP: run folder incomplete: $(ls "$RUN9" | tr '\n' ' ')"
    fi
    "${TM[@]}" send-keys -t "$PANE" "clear; $BIN --resume $RUN9; echo \"EXIT=\$?\"" Enter
    if poll 120 screen_has "RUNNING" && grep -q 'resumed from the checkpoint' "$RUN9/metrics.jsonl"; then
        pass "taps-tui --resume continues the run (notice shown)"
    else
        fail "taps-tui --resume did not continue the run"
    fi
    "${TM[@]}" send-keys -t "$PANE" "q"
    poll 120 screen_matches "^EXIT=" >/dev/null
else
    fail "SIGHUP run did not start"
fi

# MARK: - Headless: a redirected stdout gets the progress lines, not escape codes
if "$BIN" --seed 1 --steps 3 --out "$WORK/run4" > "$WORK/headless.out" 2>&1 \
    && grep -q "^taps: task fashion" "$WORK/headless.out" && ! grep -q $'\x1b' "$WORK/headless.out"; then
    pass "headless when stdout is a file: progress lines, no escape codes"
else
    fail "headless run"; sed 's/^/  | /' "$WORK/headless.out" | head -20
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
