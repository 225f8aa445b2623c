#!/usr/bin/env bash
# End-to-end tests of the real binaries (filled in with the dashboard). Usage: e2e_tmux.sh BIN_DIR
set -euo pipefail
echo "e2e: no dashboard yet"
