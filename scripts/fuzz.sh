#!/usr/bin/env bash
# Runs the libFuzzer targets of taps-fuzz one after another, each for SECONDS, and prints a table of inputs and
# inputs/s per target (make fuzz; docs/fuzzing.md). Exit status 1 when any target found a crash, a leak or a hang.
#
#   scripts/fuzz.sh BINARY SECONDS [TARGET...]
#
# FUZZ_TIMEOUT (seconds, default 20) is libFuzzer's per-input limit; raise it on a loaded machine, where an AddressSanitizer
# build can take 30 s on an input that takes 0.1 s in a release build (docs/fuzzing.md).
#
# Each target grows its own corpus in .build-fuzz/corpus/TARGET (git-ignored), starting from fuzz/seeds/TARGET and the
# test fixtures listed below, with the libFuzzer dictionary fuzz/dict/TARGET.dict when there is one (dashboard: the
# metrics one); findings land in .build-fuzz/findings/TARGET-crash-... with the replay command printed.
set -u
BIN=${1:?usage: scripts/fuzz.sh BINARY SECONDS [TARGET...]}
SECONDS_EACH=${2:?usage: scripts/fuzz.sh BINARY SECONDS [TARGET...]}
shift 2
TARGETS=${*:-safetensors export idx npy csv cifar dataset image theme metrics dashboard}
WORK=.build-fuzz
mkdir -p "$WORK/corpus" "$WORK/findings" "$WORK/logs"
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# Seed folders per target (besides fuzz/seeds/TARGET) and the largest input libFuzzer may build.
seeds() {
    case $1 in
        safetensors | export) echo Tests/Fixtures/safetensors ;;
        npy) echo Tests/Fixtures/npy ;;
        image) echo Tests/Fixtures/images ;;
        theme) echo themes ;;
        dataset) echo fuzz/seeds/csv ;;
        dashboard) echo fuzz/seeds/metrics ;;
    esac
}
max_len() {
    case $1 in
        cifar | dataset) echo 8192 ;;
        image | metrics | dashboard | export) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

printf '%-12s %10s %8s %9s %8s  %s\n' target inputs seconds inputs/s corpus result
status=0
for t in $TARGETS; do
    corpus="$WORK/corpus/$t"
    mkdir -p "$corpus"
    dirs=("$corpus")
    for d in "fuzz/seeds/$t" $(seeds "$t"); do [ -d "$d" ] && dirs+=("$d"); done
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
    [ "$t" = dashboard ] && dict=(-dict=fuzz/dict/metrics.dict)
    log="$WORK/logs/$t.log"
    start=$(date +%s)
    "$BIN" "$t" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" -timeout="${FUZZ_TIMEOUT:-20}" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$WORK/findings/$t-" "${dict[@]}" "${dirs[@]}" > "$log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(ls "$corpus" | wc -l)
    if [ "$rc" = 0 ]; then
        result=ok
    else
        status=1
        finding=$(sed -n 's/^.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="FOUND (exit $rc): $finding; replay: $BIN $t $finding; log: $log"
    fi
    printf '%-12s %10s %8s %9s %8s  %s\n' "$t" "${runs:-?}" "$elapsed" "${rate:-?}" "$size" "$result"
done
exit $status
