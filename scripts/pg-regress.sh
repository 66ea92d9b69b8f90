#!/usr/bin/env bash
# Runs PostgreSQL's own test drivers against the installed extension, in a fresh database
# on a private cluster:
#
#   scripts/pg-regress.sh isolation [spec...]   concurrency specs, tests/isolation/specs/*.spec,
#                                               with pg_isolation_regress (port 54340)
#   scripts/pg-regress.sh regress [test...]     golden outputs of the SQL surface's refusals,
#                                               tests/regress/sql/*.sql, with pg_regress (port 54341)
#
# Without names, every spec / test of the suite runs (alphabetical order). Each output is
# compared with tests/<suite>/expected/<name>.out; on a difference the script prints the
# diff and exits non-zero. To accept a reviewed change, copy the new output over the
# expected one: the results stay in $BEL_PG_ROOT/<suite>-results/results/ (printed).
#
# The database (bel_isolation / bel_regress) is dropped and recreated on every run; the
# cluster is started if it is not running and stopped again at the end if this script
# started it. Needs the extension installed (scripts/install-ext.sh).
#
# Environment: BEL_ISOLATION_PORT (54340), BEL_REGRESS_PORT (54341),
# PGISOLATIONTIMEOUT (seconds a step may wait before isolationtester cancels it; 60),
# BEL_PG_PRELOAD (1: bel in shared_preload_libraries, the no-loss horizon's in-flight slots; 0:
# the lock-based fallback; scripts/pg.sh). The script checks the running cluster uses the one
# asked for.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE="${1:-}"
[ $# -gt 0 ] && shift
PGXS_DIR="$("$PG_CONFIG" --pkglibdir)/pgxs"
case "$SUITE" in
  isolation)
    PORT="${BEL_ISOLATION_PORT:-54340}"
    DRIVER="$PGXS_DIR/src/test/isolation/pg_isolation_regress"
    INPUTS=specs
    SUFFIX=spec
    ;;
  regress)
    PORT="${BEL_REGRESS_PORT:-54341}"
    DRIVER="$PGXS_DIR/src/test/regress/pg_regress"
    INPUTS=sql
    SUFFIX=sql
    ;;
  *) bel_die pg-regress "usage: $0 isolation|regress [name...]" ;;
esac
[ -x "$DRIVER" ] || bel_die pg-regress "$DRIVER not found (postgresql-server-dev-$PG_MAJOR; run scripts/setup.sh)"

TAG="$SUITE"
DB="bel_$SUITE"
SUITE_DIR="$BEL_REPO_ROOT/tests/$SUITE"
export BEL_PG_PORT="$PORT" BEL_PG_ROOT="/var/tmp/bel-$PORT"
OUT="$BEL_PG_ROOT/$SUITE-results"
log() { bel_log "$TAG" "$*"; }
pg() { bash "$BEL_SCRIPTS/pg.sh" "$@"; }

if [ $# -gt 0 ]; then
  NAMES=("$@")
else
  NAMES=()
  for f in "$SUITE_DIR/$INPUTS"/*."$SUFFIX"; do
    NAMES+=("$(basename "$f" ".$SUFFIX")")
  done
fi
[ ${#NAMES[@]} -gt 0 ] || bel_die "$TAG" "no tests in $SUITE_DIR/$INPUTS"

STARTED=0
cleanup() {
  local rc=$?
  if [ "$STARTED" = 1 ]; then
    log "stopping the cluster on port $PORT"
    pg stop || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg status >/dev/null 2>&1 || STARTED=1
pg start

log "recreating database $DB"
pg psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
  -c "drop database if exists $DB with (force)" -c "create database $DB"
# The horizon this run tests: in-flight slots (bel preloaded) or the lock-based fallback.
want_slots=on
[ "${BEL_PG_PRELOAD:-1}" != 0 ] || want_slots=off
have_slots="$(pg psql -X -q -At -d "$DB" -c "load 'bel'" -c "show bel.in_flight_slots")"
[ "$have_slots" = "$want_slots" ] ||
  bel_die "$TAG" "bel.in_flight_slots is '$have_slots' on port $PORT, BEL_PG_PRELOAD asks for '$want_slots': restart that cluster (scripts/pg.sh restart)"
log "no-loss horizon: $([ "$have_slots" = on ] && echo "in-flight slots (bel preloaded)" || echo "lock-based fallback (bel not preloaded)")"
if [ -f "$SUITE_DIR/helpers.sql" ]; then
  pg psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$SUITE_DIR/helpers.sql"
fi

# The results directory is written by this script's user; the drivers connect over the
# cluster's socket as the postgres superuser.
rm -rf "$OUT"
mkdir -p "$OUT"
ARGS=(--use-existing --host="$BEL_PG_ROOT/sock" --port="$PORT" --user=postgres --dbname="$DB"
  --inputdir="$SUITE_DIR" --outputdir="$OUT")
if [ "$SUITE" = regress ]; then
  # psql through a filter that drops LOCATION lines (source file and line of an error,
  # shown by VERBOSITY verbose): they change with every edit of the source, not the contract.
  ARGS+=(--bindir="$PG_BIN" --launcher="$BEL_SCRIPTS/psql-no-location.sh")
fi
export PGISOLATIONTIMEOUT="${PGISOLATIONTIMEOUT:-60}"
log "${#NAMES[@]} test(s): ${NAMES[*]}"
rc=0
"$DRIVER" "${ARGS[@]}" "${NAMES[@]}" || rc=$?
if [ "$rc" != 0 ]; then
  if [ -s "$OUT/regression.diffs" ]; then
    log "differences from the expected outputs ($OUT/regression.diffs):"
    cat "$OUT/regression.diffs" >&2
  fi
  log "FAILED; outputs of this run in $OUT/results/ (copy one over tests/$SUITE/expected/ once reviewed)"
  exit 1
fi
log "all ${#NAMES[@]} passed"
