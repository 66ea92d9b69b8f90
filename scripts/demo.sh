#!/usr/bin/env bash
# The bel demo, the seed's cross-graph story:
#   - installs what is missing, builds and installs the extension, starts the private demo
#     cluster (port 54329) and recreates database bel_demo with the extension;
#   - starts `bel serve` (the HTTP service and the dashboard) on 127.0.0.1:8080;
#   - runs two graph processes (crates/bel-client/examples): the upstream graph builds
#     data/users/<date> for several days over SQL (some job runs fail and are retried);
#     the downstream graph, a separate process following data/users/* over HTTP with long
#     polls, builds reports/<date> as soon as each input is AVAILABLE; both print progress;
#   - ends with scripts/demo.sql: a refused append, both graphs' partition status, the
#     failed job runs and their retries, recent builds, one partition's log, bel.verify().
#
# Safe to run again and again: the demo database is recreated and a bel serve left by an
# earlier run is replaced. The cluster and bel serve keep running afterwards so you can
# look around (stop: scripts/demo.sh stop).
#
# Environment: BEL_DEMO_PORT (54329), BEL_DEMO_ROOT (/var/tmp/bel-$BEL_DEMO_PORT),
# BEL_DEMO_HTTP (127.0.0.1:8080), BEL_DEMO_DAYS (6).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export BEL_PG_PORT="${BEL_DEMO_PORT:-54329}"
export BEL_PG_ROOT="${BEL_DEMO_ROOT:-/var/tmp/bel-$BEL_PG_PORT}"
HTTP="${BEL_DEMO_HTTP:-127.0.0.1:8080}"
DAYS="${BEL_DEMO_DAYS:-6}"
DB=bel_demo
PG="$BEL_SCRIPTS/pg.sh"
SERVE_PID="$BEL_PG_ROOT/bel-serve.pid"
SERVE_LOG="$BEL_PG_ROOT/bel-serve.log"
BIN="$BEL_REPO_ROOT/target/debug"

step() { bel_log demo "$*"; }

stop_serve() {
  if [ -f "$SERVE_PID" ] && kill -0 "$(cat "$SERVE_PID")" 2>/dev/null; then
    kill "$(cat "$SERVE_PID")" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$(cat "$SERVE_PID")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$SERVE_PID"
}

if [ "${1:-}" = stop ]; then
  stop_serve
  bash "$PG" stop
  exit 0
fi
[[ "$DAYS" =~ ^[1-9][0-9]*$ ]] || bel_die demo "BEL_DEMO_DAYS must be a positive integer"

step "1/7 setup: system packages, cargo-pgrx, pgrx init (skips what is present)"
bash "$BEL_SCRIPTS/setup.sh"

step "2/7 build and install the extension (cargo pgrx package --release)"
BEL_SKIP_SETUP=1 bash "$BEL_SCRIPTS/install-ext.sh"

step "3/7 build the bel CLI and the two demo graphs"
cargo build -q -p bel-cli -p bel-client --bins --examples

step "4/7 (re)start the private demo cluster on port $BEL_PG_PORT and recreate database $DB"
stop_serve # it would hold connections to the database we drop
# Restarted, so that it preloads the extension just installed (scripts/pg.sh, BEL_PG_PRELOAD).
bash "$PG" restart
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
  -c "drop database if exists $DB with (force)" \
  -c "create database $DB"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "create extension bel"
dsn="$(bash "$PG" dsn "$DB")"

step "5/7 start bel serve on http://$HTTP (log: $SERVE_LOG)"
nohup "$BIN/bel" --dsn "$dsn" serve --listen "$HTTP" >"$SERVE_LOG" 2>&1 &
echo $! >"$SERVE_PID"
for _ in $(seq 100); do
  if curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1; then break; fi
  kill -0 "$(cat "$SERVE_PID")" 2>/dev/null || { cat "$SERVE_LOG" >&2; bel_die demo "bel serve exited"; }
  sleep 0.1
done
curl -fsS "http://$HTTP/healthz" >/dev/null || bel_die demo "bel serve does not answer on $HTTP (log: $SERVE_LOG)"

step "6/7 the two graphs: upstream builds data/users/* over SQL, downstream follows it over HTTP"
echo
"$BIN/examples/downstream_graph" "http://$HTTP" "$dsn" "$DAYS" &
downstream=$!
sleep 0.5 # let it start following before the first build (it would catch up anyway)
"$BIN/examples/upstream_graph" "$dsn" "$DAYS"
if ! wait "$downstream"; then bel_die demo "the downstream graph failed"; fi
echo

step "7/7 scripts/demo.sql: a refused append and the state both graphs left"
# stderr into stdout so that psql's error report appears in order with the queries
bash "$PG" psql -X -v ON_ERROR_STOP=1 -d "$DB" -f "$BEL_SCRIPTS/demo.sql" 2>&1
echo

env_prefix=""
if [ "$BEL_PG_PORT" != 54329 ] || [ "$BEL_PG_ROOT" != "/var/tmp/bel-$BEL_PG_PORT" ]; then
  env_prefix="BEL_DEMO_PORT=$BEL_PG_PORT BEL_DEMO_ROOT=$BEL_PG_ROOT "
fi
step "done. Still running:"
echo "    the dashboard:   http://$HTTP/   (partitions, builds, live tail, state diagrams)"
echo "    the HTTP API:    curl 'http://$HTTP/v1/events?since_idx=0&partition_pattern=reports/*'"
echo "    the database:    ${env_prefix}bash scripts/pg.sh psql -d $DB   or   psql \"$dsn\""
echo "    the CLI:         $BIN/bel --dsn \"$dsn\" status 'data/users/*'"
echo "    stop both with:  ${env_prefix}bash scripts/demo.sh stop"
