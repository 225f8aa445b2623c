# Shared by the end-to-end check scripts (cli_smoke.sh, hostile_inputs.sh): a scratch folder removed on exit, the
# ok/fail counters, expect_error and expect_usage_error. Source it after setting BIN: `source "$(dirname "$0")/checks.sh"`.
TAPS="$BIN/taps"
PACK="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/Sources/TapsData/Resources/taps-pack"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
ok()   { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }

# expect_error NAME PATTERN CMD...: exit 1 (not a crash signal), stderr is one line matching PATTERN.
expect_error() {
    local name=$1 pattern=$2; shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
    local lines; lines=$(grep -c . "$WORK/err")
    if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && grep -qE -- "$pattern" "$WORK/err"; then ok "$name"
    else fail "$name (exit $rc, $lines stderr lines): $(head -c 400 "$WORK/err")"; fi
}

# expect_usage_error NAME PATTERN CMD...: exit 64 (a usage error), stderr is one line matching PATTERN.
expect_usage_error() {
    local name=$1 pattern=$2; shift 2
    "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
    local lines; lines=$(grep -c . "$WORK/err")
    if [ "$rc" -eq 64 ] && [ "$lines" -eq 1 ] && grep -qE -- "$pattern" "$WORK/err"; then ok "$name"
    else fail "$name (exit $rc, $lines stderr lines): $(head -c 400 "$WORK/err")"; fi
}
