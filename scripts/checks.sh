# Shared by the end-to-end check scripts (cli_smoke.sh, hostile_inputs.sh): a scratch folder removed on exit, the
# ok/fail counters, expect_error and expect_usage_error. Source it after setting BIN: `source "$(dirname "$0")/checks.sh"`.
TAPS="$BIN/taps"
PACK="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/Sources/TapsData/Resources/taps-pack"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
passed=0; failed=0
ok()   { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }

# expect_exit CODE NAME PATTERN CMD...: exit CODE (not a crash signal), stderr is one line matching PATTERN.
expect_exit() {
    local code=$1 name=$2 pattern=$3; shift 3
    "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
    local lines; lines=$(grep -c . "$WORK/err")
    if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pattern" "$WORK/err"; then ok "$name"
    else fail "$name (exit $rc, $lines stderr lines): $(head -c 400 "$WORK/err")"; fi
}

# expect_error NAME PATTERN CMD...: a failure, exit 1.
expect_error() { expect_exit 1 "$@"; }

# expect_usage_error NAME PATTERN CMD...: a usage error, exit 64.
expect_usage_error() { expect_exit 64 "$@"; }
