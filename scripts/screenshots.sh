#!/usr/bin/env bash
# Makes the dashboard screenshots of the README (docs/screenshots/*.png): starts a private
# cluster (port 54335 unless BEL_SCREENSHOT_PORT says otherwise), and runs the screenshots
# program of tests/browser, which fills a fresh database (bel_screenshots) with demo builds,
# starts bel serve in-process and photographs every page in headless Chromium. Needs the
# extension installed (scripts/install-ext.sh) and chromium + chromium-driver
# (scripts/setup.sh). The cluster is stopped afterwards if this script started it.
#
#   bash scripts/screenshots.sh [output directory, default docs/screenshots]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export BEL_PG_PORT="${BEL_SCREENSHOT_PORT:-54335}"
export BEL_PG_ROOT="/var/tmp/bel-$BEL_PG_PORT"
OUT="$(realpath -m "${1:-$BEL_REPO_ROOT/docs/screenshots}")"
PG="$BEL_SCRIPTS/pg.sh"

cd "$BEL_REPO_ROOT"
started=0
if ! bash "$PG" status >/dev/null 2>&1; then
  started=1
fi
cleanup() {
  if [ "$started" = 1 ]; then
    bash "$PG" stop || true
  fi
}
trap cleanup EXIT
bash "$PG" start
BEL_TEST_DSN="$(bash "$PG" dsn postgres)" cargo run -q -p bel-browser-tests --bin screenshots -- "$OUT"
