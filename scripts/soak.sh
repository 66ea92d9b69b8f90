#!/usr/bin/env bash
# A bounded soak of bel (a script, not a test; not part of scripts/test.sh).
#
# Starts the private soak cluster (port 54382), recreates database bel_soak with the
# extension, and runs bel-soak (tests/cluster/src/bin/bel-soak.rs) for SOAK_SECONDS: writers
# append whole build lifecycles, one event per transaction, while followers page through the
# log with the no-loss cursor. It prints
#   - throughput: appends/s over the run and per 30-s window (a decline shows as a trend);
#   - append latency p50/p95/p99/max (one bel_append round trip);
#   - follower lag p50/p95/p99/max: from an event's append (its timestamp, set by the
#     server) to a follower reading it;
#   - backend memory (VmRSS, RssAnon, RssShmem from /proc/<pid>/status) of every writer and
#     follower backend after a warm-up (a tenth of the run, 5..30 s) and at the end, under load;
# and fails (exit 1) if a follower missed, repeated or reordered an event, or if any backend's
# private memory (RssAnon) grew by more than SOAK_RSS_TOLERANCE_KB between the two samples.
# VmRSS also counts the shared buffers a backend has touched, which grows towards
# shared_buffers on any busy backend: it is printed, not asserted.
#
# Environment (defaults):
#   SOAK_SECONDS=300          length of the run (>= 20)
#   SOAK_WRITERS=8            writer connections
#   SOAK_FOLLOWERS=16         follower connections
#   SOAK_RSS_TOLERANCE_KB=4096  largest RssAnon growth of one backend that passes
#   SOAK_PORT=54382           port of the private soak cluster
#   SOAK_SKIP_INSTALL=0       1: do not run setup + install-ext (use the installed extension)
#   SOAK_KEEP_CLUSTER=0       1: leave the soak cluster running (default: stop it if we started it)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export BEL_PG_PORT="${SOAK_PORT:-54382}"
export BEL_PG_ROOT="/var/tmp/bel-$BEL_PG_PORT"
DB=bel_soak
PG="$BEL_SCRIPTS/pg.sh"

log() { bel_log soak "$*"; }
die() { bel_die soak "$*"; }
[[ "${SOAK_SECONDS:-300}" =~ ^[0-9]+$ ]] && [ "${SOAK_SECONDS:-300}" -ge 20 ] || die "SOAK_SECONDS must be an integer >= 20"

STARTED_CLUSTER=0
cleanup() {
  local rc=$?
  if [ "$STARTED_CLUSTER" = 1 ] && [ "${SOAK_KEEP_CLUSTER:-0}" != 1 ]; then
    log "stopping the soak cluster (SOAK_KEEP_CLUSTER=1 keeps it)"
    bash "$PG" stop || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${SOAK_SKIP_INSTALL:-0}" != 1 ]; then
  bash "$BEL_SCRIPTS/setup.sh"
  BEL_SKIP_SETUP=1 bash "$BEL_SCRIPTS/install-ext.sh"
fi

cd "$BEL_REPO_ROOT"
log "building bel-soak (release)"
cargo build --release -q -p bel-cluster-tests --bin bel-soak
SOAK_BIN="${CARGO_TARGET_DIR:-$BEL_REPO_ROOT/target}/release/bel-soak"

bash "$PG" status >/dev/null 2>&1 || STARTED_CLUSTER=1
# Restarted, so that it preloads the extension just installed (scripts/pg.sh, BEL_PG_PRELOAD).
bash "$PG" restart
log "recreating database $DB"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
  -c "drop database if exists $DB with (force)" -c "create database $DB"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "create extension bel"

SOAK_DSN="$(bash "$PG" dsn "$DB")" "$SOAK_BIN"
