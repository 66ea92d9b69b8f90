#!/usr/bin/env bash
# Read-path and view benchmark (a script, not a test). Builds two logs with the real write
# path (bel_append_batch of valid 16-event builds) — 100k events and BENCH_BIG_EVENTS
# (default 10M) — on a private cluster (port 54332), then times, server-side, the median
# and p95 of:
#   list_events for one partition ref / a glob under a prefix (from 0 and from the end),
#   the tail of the log with the empty filter, partition_status for one partition and for
#   a 10k-partition glob, and build_summary.
# The first 5000 builds of each log write data/hot/ (10k partitions), so every query has
# the same result at both sizes: only the size of the log differs. Logs are kept and reused.
#   BENCH_BIG_EVENTS=1000000 bash scripts/bench-queries.sh   # a quicker run
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${BENCH_PORT:-54332}"
BIG="${BENCH_BIG_EVENTS:-10000000}"
RUNS="${BENCH_RUNS:-200}"
PG() { BEL_PG_PORT="$PORT" BEL_PG_ROOT="/var/tmp/bel-$PORT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }
log() { bel_log bench "$*"; }

[ "${BENCH_SKIP_INSTALL:-0}" = 1 ] || BEL_SKIP_SETUP=0 bash "$BEL_SCRIPTS/install-ext.sh"
PG start

events_per_build=16
ensure_log() { # db events
  local db="$1" events="$2" have builds batch=1000 first
  have="$(PG psql -X -At -d "$db" -c "select count(*) from bel.events" 2>/dev/null || echo -1)"
  if [ "$have" = "$events" ]; then
    log "$db: reusing its $events events"
    return
  fi
  builds=$((events / events_per_build))
  local resume_from=1
  # Batches are atomic and run in order, so a partial log of whole builds (an interrupted
  # run) holds exactly builds 1..have/16: carry on from there.
  if [ "$have" -gt 0 ] && [ $((have % events_per_build)) = 0 ] && [ "$have" -lt "$events" ]; then
    resume_from=$((have / events_per_build + 1))
    log "$db: resuming an interrupted generation at $have of $events events"
  else
    log "$db: generating $events events"
    PG psql -X -q -c "drop database if exists $db with (force)" -c "create database $db"
    PG psql -X -q -d "$db" -c "create extension bel"
  fi
  local started=$SECONDS
  for ((first = resume_from; first <= builds; first += batch)); do
    local last=$((first + batch - 1))
    [ "$last" -le "$builds" ] || last=$builds
    PG psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -f "$BEL_SCRIPTS/bench_queries.sql" \
      -c "select pg_temp.append_builds($first, $last)" >/dev/null
    if (( (first / batch) % 50 == 0 )); then log "$db: $((last * events_per_build)) events ($((SECONDS - started)) s)"; fi
  done
  log "$db: $events events in $((SECONDS - started)) s; vacuum analyze"
  PG psql -X -q -d "$db" -c "vacuum analyze"
}

small_db=bel_q_100k
big_db="bel_q_$BIG"
ensure_log "$small_db" 100000
ensure_log "$big_db" "$BIG"

queries=(
  "list_events, one partition ref, from 0|select count(*) from bel.list_events(0, '{\"partitionRefs\":[\"data/hot/p77a\"]}', 100)"
  "list_events, glob data/hot/p1*, from 0|select count(*) from bel.list_events(0, '{\"partitionPatterns\":[\"data/hot/p1*\"]}', 100)"
  "list_events, glob data/hot/p1*, from the end|select count(*) from bel.list_events((select max(idx) from bel.events) - 1000, '{\"partitionPatterns\":[\"data/hot/p1*\"]}', 100)"
  "list_events_page, tail (last 100), empty filter|select jsonb_array_length(bel.list_events_page((select max(idx) from bel.events) - 100, '{}', 1000)->'events')"
  "partition_status, one partition|select count(*) from bel.partition_status(array['data/hot/p77a'])"
  "partition_status, 10k-partition glob|select count(*) from bel.partition_status(array['data/hot/*'])"
  "build_summary|select (bel.build_summary('gen-77')->>'eventCount')::bigint"
)

declare -A result
for db in "$small_db" "$big_db"; do
  for q in "${queries[@]}"; do
    name="${q%%|*}"
    sql="${q#*|}"
    n=$RUNS
    case "$name" in *10k*) n=$((RUNS / 10 + 1)) ;; esac
    sql_lit="${sql//\'/\'\'}"
    line="$(PG psql -X -At -F ' ' -d "$db" -f "$BEL_SCRIPTS/bench_queries.sql" \
      -c "select * from pg_temp.bench('$sql_lit', $n)" | tail -n 1)"
    result["$db|$name"]="$line"
  done
done

printf '\nbel read path and views: median / p95 of server-side execution (ms), %s runs each\n' "$RUNS"
printf '(2 cores, PostgreSQL 15; logs of 100k and %s events, same result sets)\n\n' "$BIG"
printf '%-48s %8s %16s %16s %10s\n' "query" "rows" "100k med/p95" "big med/p95" "big/100k"
for q in "${queries[@]}"; do
  name="${q%%|*}"
  read -r s_med s_p95 s_rows <<<"${result["$small_db|$name"]}"
  read -r b_med b_p95 b_rows <<<"${result["$big_db|$name"]}"
  ratio="$(awk -v a="$s_med" -v b="$b_med" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')"
  printf '%-48s %8s %16s %16s %10s\n' "$name" "$b_rows" "$s_med/$s_p95" "$b_med/$b_p95" "$ratio"
  [ "$s_rows" = "$b_rows" ] || log "WARNING: $name returned $s_rows rows at 100k but $b_rows at $BIG"
done
[ "${BENCH_KEEP_CLUSTER:-1}" = 1 ] || PG stop
