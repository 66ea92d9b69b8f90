#!/usr/bin/env bash
# Tests the upgrade path of the installed bel extension, from 0.1.0 (sql/bel--0.1.0.sql,
# installed by scripts/install-ext.sh) to the installed default version, on a private
# cluster (scripts/pg.sh; BEL_PG_PORT, default 54330; started if it is not running and then
# stopped again). Run by `bash scripts/test.sh upgrade`, after `install`.
#
#  1. fresh      CREATE EXTENSION bel (the current version): its catalog is the reference.
#  2. updated    CREATE EXTENSION bel VERSION '0.1.0', filled by tests/upgrade/fill.sql
#                (builds, partitions, job runs, delegation, invalidation, rollback holes,
#                JSON/text/protobuf/batch appends), pg_dump'ed (0.1.0), then ALTER EXTENSION
#                bel UPDATE: its catalog must equal the fresh one (tests/upgrade/catalog.sql:
#                functions with signatures, flags and SET options, tables, columns, indexes,
#                constraints, triggers, sequences, owners, comments, ACLs, pg_dump
#                registration), then pg_dump'ed again and checked by tests/upgrade/checks.sql
#                (data and projections intact, verify() empty, every function called, roles
#                and grants, the cursor, new appends continue the idx).
#  3. restored   pg_restore of the updated database's dump: same catalog, same checks.
#  4. restored-0.1.0   pg_restore of the 0.1.0 dump into the current version (a dump moved
#                to a server with the new bel): same catalog, same checks.
#  5. written-by-0.1.0  0.1.0 with the rows the 0.1.0 library itself wrote (and what it read
#                back), tests/upgrade/written-by-0.1.0.sql, updated: same catalog, same
#                checks (in 2-4 the current library wrote the rows, under 0.1.0's SQL).
# An SQL change without its step in the upgrade script shows as a catalog difference in 2.
#
# The databases are left in place (bel_upgrade_*) for inspection, and recreated next run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { bel_log upgrade "$*"; }
die() { bel_die upgrade "$*"; }

PORT="${BEL_PG_PORT:-54330}"
ROOT="${BEL_PG_ROOT:-/var/tmp/bel-$PORT}"
TESTS="$BEL_REPO_ROOT/tests/upgrade"
FROM_VERSION=0.1.0
WORK="$(mktemp -d /tmp/bel-upgrade.XXXXXX)"

pg() { BEL_PG_PORT="$PORT" BEL_PG_ROOT="$ROOT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }
STARTED=0
cleanup() {
  local rc=$?
  if [ "$STARTED" = 1 ]; then
    pg stop || true
  fi
  if [ "$rc" = 0 ]; then
    rm -rf "$WORK"
  else
    log "FAILED; outputs kept in $WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT

if ! pg status >/dev/null 2>&1; then
  STARTED=1
fi
pg start

export PGHOST="$ROOT/sock" PGPORT="$PORT" PGUSER=postgres
unset PGDATABASE PGSERVICE PGHOSTADDR
sql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# run_sql DB FILE LABEL: runs an SQL file, its output in $WORK/LABEL.log (shown on failure)
run_sql() {
  local db="$1" file="$2" label="$3"
  if ! sql -d "$db" -f "$file" >"$WORK/$label.log" 2>&1; then
    tail -n 30 "$WORK/$label.log" >&2
    die "$label: $(basename "$file") failed in database $db"
  fi
}
recreate_db() {
  sql -d postgres -c "set client_min_messages = warning" -c "drop database if exists $1 with (force)" \
    -c "create database $1"
}
catalog() { sql -d "$1" -At -f "$TESTS/catalog.sql" >"$WORK/catalog-$1.txt"; }
# same_catalog DB: the catalog of DB equals that of the fresh install
same_catalog() {
  catalog "$1"
  if ! diff -u "$WORK/catalog-bel_upgrade_fresh.txt" "$WORK/catalog-$1.txt" >"$WORK/catalog-$1.diff"; then
    cat "$WORK/catalog-$1.diff" >&2
    die "$1: the schema differs from a fresh install of bel $VERSION (- fresh, + $1); the upgrade script sql/bel--$FROM_VERSION--$VERSION.sql (or the install script) lacks these changes"
  fi
  log "$1: schema equals a fresh install ($(wc -l <"$WORK/catalog-$1.txt") catalog facts)"
}

VERSION="$(sql -d postgres -At -c "select default_version from pg_available_extensions where name = 'bel'")"
[ -n "$VERSION" ] || die "extension bel is not installed (run scripts/install-ext.sh)"
[ "$VERSION" != "$FROM_VERSION" ] || die "the installed default version is $FROM_VERSION itself: nothing to upgrade to"
path="$(sql -d postgres -At -c "select path from pg_extension_update_paths('bel')
                                where source = '$FROM_VERSION' and target = '$VERSION'")"
[ -n "$path" ] || die "no update path from $FROM_VERSION to $VERSION is installed (sql/bel--$FROM_VERSION--$VERSION.sql)"
log "upgrading $FROM_VERSION -> $VERSION (path $path)"

# 1. the reference
recreate_db bel_upgrade_fresh
sql -d bel_upgrade_fresh -c "create extension bel"
catalog bel_upgrade_fresh

# 2. 0.1.0, filled, dumped, updated
recreate_db bel_upgrade_updated
sql -d bel_upgrade_updated -c "create extension bel version '$FROM_VERSION'"
run_sql bel_upgrade_updated "$TESTS/fill.sql" fill
"$PG_BIN/pg_dump" -Fc -d bel_upgrade_updated -f "$WORK/dump-$FROM_VERSION.pgdump"
sql -d bel_upgrade_updated -c "alter extension bel update"
same_catalog bel_upgrade_updated
"$PG_BIN/pg_dump" -Fc -d bel_upgrade_updated -f "$WORK/dump-$VERSION.pgdump"
run_sql bel_upgrade_updated "$TESTS/checks.sql" checks-updated
log "bel_upgrade_updated: data, projections, functions, roles, cursor and new appends check out"

# 3. and 4. restores
for pair in "bel_upgrade_restored:$VERSION" "bel_upgrade_restored_old:$FROM_VERSION"; do
  db="${pair%%:*}"
  dump="$WORK/dump-${pair#*:}.pgdump"
  recreate_db "$db"
  if ! "$PG_BIN/pg_restore" --exit-on-error -d "$db" "$dump" >"$WORK/restore-$db.log" 2>&1; then
    cat "$WORK/restore-$db.log" >&2
    die "$db: pg_restore of $(basename "$dump") failed"
  fi
  same_catalog "$db"
  run_sql "$db" "$TESTS/checks.sql" "checks-$db"
  log "$db (from the ${pair#*:} dump): data, projections, functions, roles, cursor and new appends check out"
done

# 5. rows written by the 0.1.0 library
recreate_db bel_upgrade_written_by_old
sql -d bel_upgrade_written_by_old -c "create extension bel version '$FROM_VERSION'"
run_sql bel_upgrade_written_by_old "$TESTS/written-by-$FROM_VERSION.sql" load-written-by-old
sql -d bel_upgrade_written_by_old -c "alter extension bel update"
same_catalog bel_upgrade_written_by_old
run_sql bel_upgrade_written_by_old "$TESTS/checks.sql" checks-written-by-old
log "bel_upgrade_written_by_old (rows the $FROM_VERSION library wrote): the current library reads them as it did; checks out"
log "passed"
