#!/usr/bin/env bash
# The following benchmark of bel (a script, not a test; not part of scripts/test.sh).
#
# Starts the private bench cluster (port 54420), recreates database bel_bench_follow with the
# extension and a baseline table, starts `bel serve` (release build) on it, and runs
# bel-bench-follow (benches/follow), which measures
#   1. append-to-follower latency p50/p90/p99/max: one appender appends BENCH_EVENTS events at
#      BENCH_RATE per second, each in its own transaction, while BENCH_WRITERS writers append
#      in the background (BENCH_WRITER_RATES: their total rates, one run each; 0 = as fast as
#      they can). Latency runs from the appender's COMMIT returning to a follower receiving the
#      event (one process, one monotonic clock; events matched by idx, eventId checked), for
#        - the client's SQL subscribe (PgGraphService: NOTIFY, bel.wait_for_append, polling),
#        - the client's HTTP subscribe (HttpGraphService long-polling this bel serve),
#        - a LISTEN-and-poll follower of bel.list_events_page (no in-flight wait),
#        - the baseline: a LISTEN-and-poll follower of a plain table (LIKE bel.events INCLUDING
#          ALL) that the appender and the writers fill with INSERT + pg_notify;
#      in BENCH_ROUNDS interleaved rounds (bel, baseline, bel, baseline, ...);
#   2. capacity: BENCH_POLLS concurrent idle long polls (wait_ms=30000, at the tail) held by the
#      bel serve, first all with one filter, then each with its own: the server's RSS (VmRSS),
#      its CPU over BENCH_IDLE_SECONDS while they wait (utime+stime from /proc), its database
#      connections (pg_stat_activity by application_name), and how long until every poll
#      answered after one event matching them all commits;
# and prints a table and the targets of issue 12 (p99 < 10 ms over SQL, < 25 ms over HTTP;
# < 64 MiB RSS, < 5% of a core idle, connections <= pool size + 1). Takes about 2-3 minutes.
#
# Environment (defaults):
#   BENCH_EVENTS=2000            measured events per round and phase
#   BENCH_RATE=200               measured events per second
#   BENCH_WRITERS=8              background writers
#   BENCH_WRITER_RATES=2000,0    their total events per second, comma-separated (0: full speed)
#   BENCH_ROUNDS=1               interleaved rounds per writer rate
#   BENCH_POLLS=500              idle long polls
#   BENCH_IDLE_SECONDS=10        CPU measurement while they wait (1..20)
#   BENCH_POOL_SIZE=8            bel serve --pool-size
#   BENCH_PORT=54420             port of the private bench cluster
#   BENCH_HTTP=127.0.0.1:18100   where bel serve listens
#   BENCH_SKIP_INSTALL=0         1: do not run setup + install-ext (use the installed extension)
#   BENCH_KEEP_CLUSTER=0         1: leave the bench cluster running (default: stop it if we started it)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export BEL_PG_PORT="${BENCH_PORT:-54420}"
export BEL_PG_ROOT="/var/tmp/bel-$BEL_PG_PORT"
HTTP="${BENCH_HTTP:-127.0.0.1:18100}"
POOL_SIZE="${BENCH_POOL_SIZE:-8}"
DB=bel_bench_follow
SERVE_APP=bel-bench-follow-serve
PG="$BEL_SCRIPTS/pg.sh"
BIN="${CARGO_TARGET_DIR:-$BEL_REPO_ROOT/target}/release"

log() { bel_log bench-follow "$*"; }
die() { bel_die bench-follow "$*"; }
[[ "$POOL_SIZE" =~ ^[1-9][0-9]*$ ]] || die "BENCH_POOL_SIZE must be a positive integer"

WORK="$(mktemp -d /tmp/bel-bench-follow.XXXXXX)"
STARTED_CLUSTER=0
SERVE_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  if [ "$STARTED_CLUSTER" = 1 ] && [ "${BENCH_KEEP_CLUSTER:-0}" != 1 ]; then
    log "stopping the bench cluster (BENCH_KEEP_CLUSTER=1 keeps it)"
    bash "$PG" stop || true
  fi
  if [ "$rc" != 0 ] && [ -s "$WORK/serve.log" ]; then
    log "bel serve's log:"
    tail -n 20 "$WORK/serve.log" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_install_unless_skipped

cd "$BEL_REPO_ROOT"
log "building bel and bel-bench-follow (release)"
cargo build --release -q -p bel-cli -p bel-bench-follow

if ! bash "$PG" status >/dev/null 2>&1; then
  STARTED_CLUSTER=1
fi
# Commit timestamps: the latency split's server-side floor (a cluster already running without
# them gets "-" there).
export BEL_PG_EXTRA_CONF="${BEL_PG_EXTRA_CONF:-}
track_commit_timestamp = on"
bash "$PG" start

log "recreating database $DB with the extension and the baseline table"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
  -c "drop database if exists $DB with (force)" \
  -c "create database $DB"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$BEL_SCRIPTS/bench_baseline.sql"
DSN="$(bash "$PG" dsn "$DB")"

log "starting bel serve on http://$HTTP (pool size $POOL_SIZE)"
"$BIN/bel" --dsn "$DSN application_name=$SERVE_APP" serve --listen "$HTTP" --pool-size "$POOL_SIZE" \
  >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do
  if curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1; then break; fi
  kill -0 "$SERVE_PID" 2>/dev/null || die "bel serve exited"
  sleep 0.1
done
curl -fsS "http://$HTTP/healthz" >/dev/null || die "bel serve does not answer on $HTTP"

"$BIN/bel-bench-follow" \
  --dsn "$DSN" \
  --http-url "http://$HTTP" \
  --serve-pid "$SERVE_PID" \
  --serve-application-name "$SERVE_APP" \
  --serve-pool-size "$POOL_SIZE" \
  --clock-ticks "$(getconf CLK_TCK)" \
  --events "${BENCH_EVENTS:-2000}" \
  --rate "${BENCH_RATE:-200}" \
  --writers "${BENCH_WRITERS:-8}" \
  --writer-rates "${BENCH_WRITER_RATES:-2000,0}" \
  --rounds "${BENCH_ROUNDS:-1}" \
  --polls "${BENCH_POLLS:-500}" \
  --idle-seconds "${BENCH_IDLE_SECONDS:-10}" \
  --run-tag "$(date +%s)"
