#!/usr/bin/env bash
# The bel demo: installs what is missing, builds and installs the extension, starts the
# private demo cluster (port 54329), recreates database bel_demo and runs scripts/demo.sql
# in it: two builds, a delegation, an invalidation and one refused transition, then the log,
# a filtered read, partition status, a build summary and bel.verify().
#
# Safe to run again and again: the demo database is dropped and recreated each time.
# The cluster keeps running afterwards so you can look around (stop: scripts/pg.sh stop).
#
# Environment: BEL_DEMO_PORT (54329), BEL_DEMO_ROOT (/var/tmp/bel-$BEL_DEMO_PORT).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export BEL_PG_PORT="${BEL_DEMO_PORT:-54329}"
export BEL_PG_ROOT="${BEL_DEMO_ROOT:-/var/tmp/bel-$BEL_PG_PORT}"
DB=bel_demo
PG="$BEL_SCRIPTS/pg.sh"

step() { bel_log demo "$*"; }

step "1/5 setup: system packages, cargo-pgrx, pgrx init (skips what is present)"
bash "$BEL_SCRIPTS/setup.sh"

step "2/5 build and install the extension (cargo pgrx install --release)"
BEL_SKIP_SETUP=1 bash "$BEL_SCRIPTS/install-ext.sh"

step "3/5 start the private demo cluster on port $BEL_PG_PORT"
bash "$PG" start

step "4/5 recreate database $DB"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
  -c "drop database if exists $DB with (force)" \
  -c "create database $DB"

step "5/5 run scripts/demo.sql in $DB"
echo
# stderr into stdout so that psql's error report appears in order with the queries
bash "$PG" psql -X -v ON_ERROR_STOP=1 -d "$DB" -f "$BEL_SCRIPTS/demo.sql" 2>&1
echo

dsn="$(bash "$PG" dsn "$DB")"
env_prefix=""
if [ "$BEL_PG_PORT" != 54329 ] || [ "$BEL_PG_ROOT" != "/var/tmp/bel-$BEL_PG_PORT" ]; then
  env_prefix="BEL_PG_PORT=$BEL_PG_PORT BEL_PG_ROOT=$BEL_PG_ROOT "
fi
step "done. The demo cluster is still running; connect with:"
echo "    ${env_prefix}bash scripts/pg.sh psql -d $DB"
echo "    psql \"$dsn\""
echo "    (stop it with: ${env_prefix}bash scripts/pg.sh stop)"
