#!/usr/bin/env bash
# The followers benchmark of bel (a script, not a test): subscriptions at scale, issue 13.
#
# Starts the private bench cluster (port 54414) and, for part 3, a streaming hot standby of it
# (port 54415, scripts/pg.sh standby-of), both with max_connections 200, and measures:
#
# 1. Writers under polling followers. 8 pgbench writers (one event per transaction) for
#    BENCH_SECONDS while 0, 32 and 128 followers (a second pgbench, one client each) poll the
#    tail with their own cursors: a page of up to 1000 events, again at once while the page
#    says there is more, else after BENCH_POLL_MS (20) ms:
#      bel    bel.bel_append(...) / bel.list_events_page(cursor, '{}', 1000)
#      naive  INSERT + pg_notify into bench.plain_events (LIKE bel.events INCLUDING ALL, its own
#             sequence) / "idx > cursor order by idx limit 1000", made into the same page jsonb
#      insert the naive log without pg_notify (a plain INSERT), the same followers: the writers
#             of a log whose commits NOTIFY does not serialize, to read the slowdowns against
#    in BENCH_ROUNDS interleaved rounds (bel 0, naive 0, insert 0, bel 32, ...), once per
#    no-loss horizon of BENCH_MODES, the cluster restarted in between: "slots" (bel in
#    shared_preload_libraries: readers scan the in-flight slots, no lock) and "fallback" (bel not
#    preloaded: readers take the allocation lock and copy the lock table). Prints, per mode, the
#    writers' tps (median over rounds), the followers' polls/s, and the slowdowns: bel N / bel 0
#    and naive N / naive 0 (tps with 0 followers over tps with N), and bel's slowdown over
#    naive's and over insert's (medians of the per-round ratios).
# 2. Wide globs. Two logs written by bel_append_batch (16-event builds of 2 partitions;
#    scripts/bench_followers.sql), 100k and 2M events, kept between runs: the 2M log ends with
#    200,000 partitions under data/s/, and both hold 50 partitions under data/g/ in their first
#    100k events. Server-side median / p95 of BENCH_QUERY_RUNS runs of:
#      list_events(<tail - 100>, '{"partitionPatterns":["data/s/*"]}', 100) vs the same page
#      unfiltered, at 2M events (target: <= 2x);
#      list_events(0, '{"partitionPatterns":["data/g/*"]}', 100) at 100k and at 2M (target: as fast).
# 3. Followers on the standby (tests/standby/examples/bench_followers.rs, one program for both
#    sides): one follower catching up over BENCH_CATCHUP_PAGES pages of 1000 from idx 0 of the
#    2M log, on the primary vs on the standby (horizon from the primary, pages from the standby);
#    and 32 followers polling the tail every BENCH_POLL_MS ms on the primary vs on the standby
#    while the 8 bel writers append: writer tps, polls/s, horizon calls/s. The standby runs on
#    the same 2 cores here, so this shows what a standby follower costs the primary and what
#    it gets, not the capacity a standby on its own machine adds.
#
# Environment (defaults):
#   BENCH_SECONDS=10         duration of each writer run (BENCH_SECONDS=3 for a smoke run)
#   BENCH_ROUNDS=3           interleaved rounds of parts 1 and 3; medians are reported
#   BENCH_FOLLOWERS="0 32 128"  follower counts of part 1
#   BENCH_MODES="slots fallback"  the horizons of part 1 (parts 2 and 3 run with slots)
#   BENCH_POLL_MS=20         the followers' sleep when caught up
#   BENCH_QUERY_RUNS=100     runs of each part-2 query
#   BENCH_CATCHUP_PAGES=200  pages of the catch-up read of part 3
#   BENCH_PARTS="1 2 3"      which parts to run
#   BENCH_PORT=54414         port of the private bench cluster; BENCH_STANDBY_PORT=54415 its standby
#   BENCH_SKIP_INSTALL=0     1: do not run setup + install-ext (use the installed extension)
#   BENCH_KEEP_CLUSTER=0     1: leave the clusters running (default: stop the ones we started)
# The first run writes the 2M-event log (several minutes); later runs reuse it and take about
# 8 minutes with the defaults.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
read -r -a FOLLOWER_COUNTS <<<"${BENCH_FOLLOWERS:-0 32 128}"
POLL_MS="${BENCH_POLL_MS:-20}"
QUERY_RUNS="${BENCH_QUERY_RUNS:-100}"
CATCHUP_PAGES="${BENCH_CATCHUP_PAGES:-200}"
read -r -a PARTS <<<"${BENCH_PARTS:-1 2 3}"
read -r -a MODES <<<"${BENCH_MODES:-slots fallback}"
PORT="${BENCH_PORT:-54414}"
STANDBY_PORT="${BENCH_STANDBY_PORT:-54415}"
WRITERS=8
STANDBY_FOLLOWERS=32
DB=bel_bench_followers
SMALL_DB=bel_bench_glob_100k
BIG_DB=bel_bench_glob_2m
FOLLOWER_APP=bel-bench-followers
PGBENCH="$PG_BIN/pgbench"
BIN="${CARGO_TARGET_DIR:-$BEL_REPO_ROOT/target}/release/examples/bench_followers"

log() { bel_log bench-followers "$*"; }
die() { bel_die bench-followers "$*"; }
for v in SECONDS_PER_RUN ROUNDS POLL_MS QUERY_RUNS CATCHUP_PAGES; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
wants() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

# Both clusters: 128 followers + 8 writers + the script's own sessions fit in 200.
export BEL_PG_MAX_CONNECTIONS=200
pg_primary() { BEL_PG_PORT="$PORT" BEL_PG_ROOT="/var/tmp/bel-$PORT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }
# use_mode slots|fallback: restarts the primary with bel preloaded or not
use_mode() {
  local preload=1
  case "$1" in slots) ;; fallback) preload=0 ;; *) die "BENCH_MODES: unknown mode '$1' (slots, fallback)" ;; esac
  BEL_PG_PRELOAD="$preload" pg_primary restart >/dev/null
  [ "$(psql_db -At -c "load 'bel'" -c "show bel.in_flight_slots")" = "$([ "$preload" = 1 ] && echo on || echo off)" ] ||
    die "the primary did not come up in mode $1"
}
pg_standby() { BEL_PG_PORT="$STANDBY_PORT" BEL_PG_ROOT="/var/tmp/bel-$STANDBY_PORT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }
psql_db() { pg_primary psql -X -q -v ON_ERROR_STOP=1 -d "${PSQL_DB:-$DB}" "$@"; }
primary_dsn() { echo "host=/var/tmp/bel-$PORT/sock port=$PORT user=postgres dbname=$1"; }
standby_dsn() { echo "host=/var/tmp/bel-$STANDBY_PORT/sock port=$STANDBY_PORT user=postgres dbname=$1"; }

# --- cleanup: what we started -------------------------------------------------------------
WORK="$(mktemp -d /tmp/bel-bench-followers.XXXXXX)"
chmod 0755 "$WORK"
STARTED_PRIMARY=0
STARTED_STANDBY=0
BACKGROUND_PID=""
cleanup() {
  local rc=$?
  if [ -n "$BACKGROUND_PID" ] && kill -0 "$BACKGROUND_PID" 2>/dev/null; then
    kill "$BACKGROUND_PID" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP_CLUSTER:-0}" != 1 ]; then
    [ "$STARTED_STANDBY" = 0 ] || pg_standby stop || true
    [ "$STARTED_PRIMARY" = 0 ] || pg_primary stop || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prepare ------------------------------------------------------------------------------
bench_install_unless_skipped
[ -x "$PGBENCH" ] || die "$PGBENCH not found (run scripts/setup.sh)"
if wants 3; then
  log "building the standby followers' program (release)"
  (cd "$BEL_REPO_ROOT" && cargo build -q --release -p bel-standby-tests --example bench_followers)
fi
pg_primary status >/dev/null 2>&1 || STARTED_PRIMARY=1
pg_primary start

# run_pgbench OUT SCRIPT CLIENTS SECONDS [pgbench args...]: prints tps
run_pgbench() {
  local out="$1" script="$2" clients="$3" secs="$4" threads=2 tps
  shift 4
  [ "$clients" -ge 2 ] || threads=1
  if ! PGHOST="/var/tmp/bel-$PORT/sock" PGPORT="$PORT" PGUSER=postgres PGAPPNAME="${RUN_APP:-pgbench}" \
    "$PGBENCH" -n -M prepared -T "$secs" -c "$clients" -j "$threads" "$@" -f "$script" "${PSQL_DB:-$DB}" >"$out" 2>&1; then
    cat "$out" >&2
    die "pgbench $(basename "$script") failed"
  fi
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | tail -n 1)"
  [ -n "$tps" ] || {
    cat "$out" >&2
    die "pgbench $(basename "$script"): no tps"
  }
  echo "$tps"
}

# wait_for_sessions APP N: until N sessions named APP are connected to the primary
wait_for_sessions() {
  local i
  for i in $(seq 1 600); do
    [ "$(PSQL_DB=postgres psql_db -At -c "select count(*) from pg_stat_activity where application_name = '$1'")" -ge "$2" ] && return 0
    kill -0 "$BACKGROUND_PID" 2>/dev/null || die "the followers exited early: $(cat "$WORK/followers.out")"
    sleep 0.05
  done
  die "$2 followers did not connect within 30 s"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A RESULT # "<series>|<round>" -> value

# --- part 1: writers under polling followers ---------------------------------------------
# log_table_of SYSTEM: the table a system's writers append to (bel, or the baselines' table)
log_table_of() {
  if [ "$1" = bel ]; then echo bel.events; else echo bench.plain_events; fi
}

part1() {
  log "part 1: recreating database $DB with the extension and the naive log"
  PSQL_DB=postgres psql_db -c "set client_min_messages = warning" -c "drop database if exists $DB with (force)" \
    -c "create database $DB"
  psql_db -f "$BEL_SCRIPTS/bench_baseline.sql" -c "create sequence bench.ids cache 1"
  # Writers: as in scripts/bench-append.sh, a BUILD_REQUEST_RECEIVED event of a fresh build.
  local event="jsonb_build_object('eventId', 'bench-' || n, 'buildRequestId', 'b-' || n,
    'buildRequest', jsonb_build_object('status', 'BUILD_REQUEST_RECEIVED',
                                       'requestedPartitions', jsonb_build_array('data/bench/' || n)))"
  cat >"$WORK/bel-writer.sql" <<SQL
select bel.bel_append($event) from (select nextval('bench.ids') as n) s;
SQL
  cat >"$WORK/naive-writer.sql" <<SQL
with ins as (insert into bench.plain_events (event_type, schema_version, event_id, build_request_id, payload)
  select 'build_request', 1, 'bench-' || n, 'b-' || n, $event from (select nextval('bench.ids') as n) s
  returning idx)
select pg_notify('bench', idx::text) from ins;
SQL
  cat >"$WORK/insert-writer.sql" <<SQL
insert into bench.plain_events (event_type, schema_version, event_id, build_request_id, payload)
  select 'build_request', 1, 'bench-' || n, 'b-' || n, $event from (select nextval('bench.ids') as n) s;
SQL
  # Followers: one page per transaction, the cursor kept in a pgbench variable.
  cat >"$WORK/bel-follower.sql" <<SQL
select (p->>'nextIdx')::bigint as cur, (p->>'hasMore')::boolean::int as more
  from (select bel.list_events_page(:cur, '{}'::jsonb, 1000) as p) s \gset
\if :more = 0
\sleep $POLL_MS ms
\endif
SQL
  cat >"$WORK/naive-follower.sql" <<SQL
select coalesce((p->>'nextIdx')::bigint, :cur) as cur, (p->>'hasMore')::boolean::int as more
  from (select jsonb_build_object('events', coalesce(jsonb_agg(e.payload order by e.idx), '[]'),
                                  'nextIdx', max(e.idx)::text, 'hasMore', count(*) = 1000) as p
        from (select idx, payload from bench.plain_events where idx > :cur order by idx limit 1000) e) s \gset
\if :more = 0
\sleep $POLL_MS ms
\endif
SQL
  cp "$WORK/naive-follower.sql" "$WORK/insert-follower.sql"
  local round mode n sys table tps polls
  for round in $(seq 1 "$ROUNDS"); do
    for mode in "${MODES[@]}"; do
      use_mode "$mode"
      for n in "${FOLLOWER_COUNTS[@]}"; do
        for sys in bel naive insert; do
          table="$(log_table_of "$sys")"
          psql_db -c checkpoint
          log "part 1, round $round/$ROUNDS, $mode: $sys, $WRITERS writers, $n followers, $SECONDS_PER_RUN s"
          if [ "$n" -gt 0 ]; then
            local tail
            tail="$(psql_db -At -c "select coalesce(max(idx), 0) from $table")"
            RUN_APP="$FOLLOWER_APP" run_pgbench "$WORK/followers.out" "$WORK/$sys-follower.sql" "$n" "$SECONDS_PER_RUN" \
              -D cur="$tail" >"$WORK/followers.tps" &
            BACKGROUND_PID=$!
            wait_for_sessions "$FOLLOWER_APP" "$n"
          fi
          tps="$(run_pgbench "$WORK/writers.out" "$WORK/$sys-writer.sql" "$WRITERS" "$SECONDS_PER_RUN")"
          RESULT["$mode/$sys-$n-tps|$round"]="$tps"
          if [ "$n" -gt 0 ]; then
            wait "$BACKGROUND_PID" || die "the followers failed: $(cat "$WORK/followers.out")"
            BACKGROUND_PID=""
            polls="$(cat "$WORK/followers.tps")"
            RESULT["$mode/$sys-$n-polls|$round"]="$polls"
          fi
        done
      done
    done
  done
  # parts 2 and 3 run with the slots
  [ "${MODES[-1]}" = slots ] || use_mode slots
  poll_costs
}

# The CPU of one poll, without writers: one follower (pgbench -c 1) reading the same page again
# and again, at the tail and behind it, bel (slots) vs the naive follower's page; 2 interleaved
# runs of 3 s each, the median of the two. The naive page is the "idx > cursor" query the naive
# followers run.
POLL_BEHIND=(0 20 1000)
poll_costs() {
  local behind sys rep table tail
  # The followers' page statements, without their \gset and \sleep.
  sed -n '1,2p' "$WORK/bel-follower.sql" | sed 's/ \\gset$/;/' >"$WORK/bel-poll.sql"
  sed -n '1,4p' "$WORK/naive-follower.sql" | sed 's/ \\gset$/;/' >"$WORK/naive-poll.sql"
  for behind in "${POLL_BEHIND[@]}"; do
    for rep in 1 2; do
      for sys in bel naive; do
        table="$(log_table_of "$sys")"
        tail="$(psql_db -At -c "select coalesce(max(idx), 0) - $behind from $table")"
        log "part 1, one poll's cost: $sys, $behind events behind the tail, run $rep"
        RESULT["poll/$sys-$behind|$rep"]="$(run_pgbench "$WORK/poll.out" "$WORK/$sys-poll.sql" 1 3 -D cur="$tail")"
      done
    done
  done
}

# values SERIES: the value of every round, one per line
values() {
  local r
  for r in $(seq 1 "$ROUNDS"); do
    [ -z "${RESULT["$1|$r"]:-}" ] || echo "${RESULT["$1|$r"]}"
  done
}
# slowdowns SYS N: tps with 0 followers / tps with N, per round
slowdowns() {
  paste <(values "$1-0-tps") <(values "$1-$2-tps") | awk '$2 > 0 { print $1 / $2 }'
}

report1() {
  echo
  echo "1. writers under polling followers: $WRITERS pgbench writers (-M prepared, one event per transaction), $SECONDS_PER_RUN s,"
  echo "   followers polling every $POLL_MS ms with their own cursors (pages of up to 1000); $ROUNDS interleaved round(s);"
  echo "   tps and polls/s: medians over rounds; slowdown = tps with 0 followers / tps with N (median of the per-round ratios);"
  echo "   horizon: slots = bel preloaded (in-flight slots, no lock), fallback = not preloaded (allocation lock + lock table)"
  report1_against naive "the naive log (INSERT + pg_notify)"
  report1_against insert "the naive log without pg_notify (a plain INSERT; NOTIFY no longer serializes its commits)"
  echo
  echo "   one poll's cost, no writers (one follower, pgbench -c 1, the same page read again and again; median of 2 runs):"
  printf '%26s %12s %12s %10s\n' "cursor" "bel us" "naive us" "bel/naive"
  local behind b n
  for behind in "${POLL_BEHIND[@]}"; do
    b="$(ROUNDS=2 values "poll/bel-$behind" | median)"
    n="$(ROUNDS=2 values "poll/naive-$behind" | median)"
    printf '%26s %12.1f %12.1f %9.2fx\n' "$behind events behind the tail" "$(awk -v t="$b" 'BEGIN { print 1e6 / t }')" \
      "$(awk -v t="$n" 'BEGIN { print 1e6 / t }')" "$(awk -v b="$b" -v n="$n" 'BEGIN { print n / b }')"
  done
}

# report1_against BASE TITLE: bel's writers and followers against those of baseline BASE
report1_against() {
  local base="$1" mode n
  echo
  echo "   bel vs $2"
  printf '%9s %9s %10s %10s %13s %15s %19s %12s %14s\n' horizon followers "bel tps" "$base tps" "bel slowdown" \
    "$base slowdown" "bel/$base slowdown" "bel polls/s" "$base polls/s"
  for mode in "${MODES[@]}"; do
    for n in "${FOLLOWER_COUNTS[@]}"; do
      local bs ns rel
      bs="$(slowdowns "$mode/bel" "$n" | median)"
      ns="$(slowdowns "$mode/$base" "$n" | median)"
      rel="$(paste <(slowdowns "$mode/bel" "$n") <(slowdowns "$mode/$base" "$n") | awk '$2 > 0 { print $1 / $2 }' | median)"
      printf '%9s %9s %10.0f %10.0f %12.2fx %14.2fx %18.2fx %12s %14s\n' "$mode" "$n" \
        "$(values "$mode/bel-$n-tps" | median)" "$(values "$mode/$base-$n-tps" | median)" "$bs" "$ns" "$rel" \
        "$(values "$mode/bel-$n-polls" | median | awk '$1 != "-" { printf "%.0f", $1 } $1 == "-" { print "-" }')" \
        "$(values "$mode/$base-$n-polls" | median | awk '$1 != "-" { printf "%.0f", $1 } $1 == "-" { print "-" }')"
    done
  done
  for mode in "${MODES[@]}"; do
    echo "   per round, $mode (writer tps): $(for n in "${FOLLOWER_COUNTS[@]}"; do printf 'bel %s [%s] %s %s [%s]; ' "$n" "$(values "$mode/bel-$n-tps" | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }')" "$base" "$n" "$(values "$mode/$base-$n-tps" | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }')"; done)"
  done
}

# --- part 2: wide globs -------------------------------------------------------------------
# ensure_log DB BUILDS: a log of BUILDS 16-event builds (kept between runs; an interrupted
# generation carries on: batches are atomic and in order)
ensure_log() {
  local db="$1" builds="$2" have batch=1000 first last started=$SECONDS
  have="$(PSQL_DB="$db" psql_db -At -c "select count(*) from bel.events" 2>/dev/null || echo -1)"
  if [ "$have" = $((builds * 16)) ]; then
    log "$db: reusing its $have events"
    return
  fi
  local from=1
  if [ "$have" -gt 0 ] && [ $((have % 16)) = 0 ] && [ "$have" -lt $((builds * 16)) ]; then
    from=$((have / 16 + 1))
    log "$db: carrying on an interrupted generation at $have events"
  else
    log "$db: writing $((builds * 16)) events with bel_append_batch (kept for later runs)"
    PSQL_DB=postgres psql_db -c "set client_min_messages = warning" -c "drop database if exists $db with (force)" \
      -c "create database $db"
    PSQL_DB="$db" psql_db -c "create extension bel"
  fi
  for ((first = from; first <= builds; first += batch)); do
    last=$((first + batch - 1))
    [ "$last" -le "$builds" ] || last=$builds
    PSQL_DB="$db" psql_db -At -f "$BEL_SCRIPTS/bench_queries.sql" -f "$BEL_SCRIPTS/bench_followers.sql" \
      -c "select pg_temp.append_glob_builds($first, $last)" >/dev/null
    if (((first / batch) % 20 == 0)); then log "$db: $((last * 16)) events ($((SECONDS - started)) s)"; fi
  done
  PSQL_DB="$db" psql_db -c "vacuum analyze"
}

# time_query DB SQL: "median p95 rows" of QUERY_RUNS server-side runs
time_query() {
  local sql_lit="${2//\'/\'\'}"
  PSQL_DB="$1" psql_db -At -F ' ' -f "$BEL_SCRIPTS/bench_queries.sql" \
    -c "select * from pg_temp.bench('$sql_lit', $QUERY_RUNS)" | tail -n 1
}

part2() {
  log "part 2: the glob logs"
  ensure_log "$SMALL_DB" 6250
  ensure_log "$BIG_DB" 125000
  local tail partitions
  tail="$(PSQL_DB="$BIG_DB" psql_db -At -c "select max(idx) from bel.events")"
  partitions="$(PSQL_DB="$BIG_DB" psql_db -At -c "select count(*) from bel.known_partitions where partition_ref like 'data/s/%'")"
  log "part 2: timing ($QUERY_RUNS runs each)"
  GLOB_TAIL="$(time_query "$BIG_DB" "select count(*) from bel.list_events($((tail - 100)), '{\"partitionPatterns\":[\"data/s/*\"]}', 100)")"
  PLAIN_TAIL="$(time_query "$BIG_DB" "select count(*) from bel.list_events($((tail - 100)), '{}', 100)")"
  GLOB_SMALL="$(time_query "$SMALL_DB" "select count(*) from bel.list_events(0, '{\"partitionPatterns\":[\"data/g/*\"]}', 100)")"
  GLOB_BIG="$(time_query "$BIG_DB" "select count(*) from bel.list_events(0, '{\"partitionPatterns\":[\"data/g/*\"]}', 100)")"
  GLOB_PARTITIONS="$partitions"
}

report2() {
  echo
  echo "2. wide globs: server-side ms, median / p95 of $QUERY_RUNS runs (bel.list_events, limit 100)"
  echo
  printf '%-72s %6s %9s %9s\n' query rows median p95
  local line name
  for line in "tail - 100, glob data/s/* ($GLOB_PARTITIONS partitions), 2M events|$GLOB_TAIL" \
    "tail - 100, unfiltered, 2M events|$PLAIN_TAIL" \
    "from 0, glob data/g/* (50 partitions), 100k events|$GLOB_SMALL" \
    "from 0, glob data/g/* (50 partitions), 2M events|$GLOB_BIG"; do
    name="${line%%|*}"
    read -r med p95 rows <<<"${line#*|}"
    printf '%-72s %6s %9s %9s\n' "$name" "$rows" "$med" "$p95"
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
  echo "   glob tail page / unfiltered tail page: $(ratio "${GLOB_TAIL%% *}" "${PLAIN_TAIL%% *}") (target <= 2x)"
  echo "   glob page from 0, 2M / 100k events:    $(ratio "${GLOB_BIG%% *}" "${GLOB_SMALL%% *}") (target: as fast)"
}

# --- part 3: followers on the standby -----------------------------------------------------
ensure_standby() {
  if pg_standby status >/dev/null 2>&1; then
    return
  fi
  STARTED_STANDBY=1
  if [ -f "/var/tmp/bel-$STANDBY_PORT/data/PG_VERSION" ] && [ -f "/var/tmp/bel-$PORT/data/PG_VERSION" ] &&
    [ "$(as_pg_user "$PG_BIN/pg_controldata" "/var/tmp/bel-$STANDBY_PORT/data" | grep 'system identifier')" != \
      "$(as_pg_user "$PG_BIN/pg_controldata" "/var/tmp/bel-$PORT/data" | grep 'system identifier')" ]; then
    log "the standby on port $STANDBY_PORT belongs to another primary: making it afresh"
    pg_standby destroy
  fi
  pg_standby standby-of "$PORT"
}

# wait_replayed: until the standby replayed all the primary wrote so far
wait_replayed() {
  local lsn i
  lsn="$(PSQL_DB=postgres psql_db -At -c "select pg_current_wal_insert_lsn()")"
  for i in $(seq 1 6000); do
    [ "$(pg_standby psql -X -At -c "select pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
    sleep 0.1
  done
  die "the standby did not replay up to $lsn within 10 minutes"
}

# bench_followers WHERE ARGS...: runs the program on the primary, or with pages from the standby
bench_followers() {
  local where="$1" db="$2"
  shift 2
  local args=(--primary "$(primary_dsn "$db") application_name=$FOLLOWER_APP")
  [ "$where" = primary ] || args+=(--standby "$(standby_dsn "$db") application_name=$FOLLOWER_APP")
  "$BIN" "$@" "${args[@]}"
}

part3() {
  log "part 3: the standby"
  ensure_standby
  wait_replayed
  local round where line polls events horizons secs tps
  for round in $(seq 1 "$ROUNDS"); do
    for where in primary standby; do
      log "part 3, round $round/$ROUNDS: catch-up read on the $where ($CATCHUP_PAGES pages of 1000)"
      line="$(bench_followers "$where" "$BIG_DB" catch-up --pages "$CATCHUP_PAGES")"
      read -r _ polls _ events _ horizons _ secs <<<"$line"
      RESULT["catchup-$where|$round"]="$(awk -v e="$events" -v s="$secs" 'BEGIN { printf "%.0f", e / s }')"
    done
    for where in primary standby; do
      psql_db -c checkpoint
      log "part 3, round $round/$ROUNDS: $STANDBY_FOLLOWERS followers on the $where, $WRITERS bel writers, $SECONDS_PER_RUN s"
      bench_followers "$where" "$DB" tail --followers "$STANDBY_FOLLOWERS" --seconds "$SECONDS_PER_RUN" \
        --poll-ms "$POLL_MS" >"$WORK/followers.out" 2>&1 &
      BACKGROUND_PID=$!
      # Connected (on the standby too: each follower connects to the primary last).
      wait_for_sessions "$FOLLOWER_APP" "$STANDBY_FOLLOWERS"
      tps="$(run_pgbench "$WORK/writers.out" "$WORK/bel-writer.sql" "$WRITERS" "$SECONDS_PER_RUN")"
      wait "$BACKGROUND_PID" || die "the followers failed: $(cat "$WORK/followers.out")"
      BACKGROUND_PID=""
      read -r _ polls _ events _ horizons _ secs <<<"$(tail -n 1 "$WORK/followers.out")"
      RESULT["tail-$where-tps|$round"]="$tps"
      RESULT["tail-$where-polls|$round"]="$(awk -v p="$polls" -v s="$secs" 'BEGIN { printf "%.0f", p / s }')"
      RESULT["tail-$where-horizons|$round"]="$(awk -v p="$horizons" -v s="$secs" 'BEGIN { printf "%.0f", p / s }')"
    done
  done
}

report3() {
  echo
  echo "3. followers on a hot standby (streaming, same machine): $ROUNDS round(s), medians"
  echo
  local p s
  p="$(values catchup-primary | median)"
  s="$(values catchup-standby | median)"
  printf '   catch-up read, one follower, pages of 1000 from idx 0: primary %s events/s, standby %s events/s (standby/primary %s)\n' \
    "$p" "$s" "$(awk -v a="$s" -v b="$p" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
  printf '   %d followers polling the tail every %d ms while %d bel writers append:\n' "$STANDBY_FOLLOWERS" "$POLL_MS" "$WRITERS"
  printf '   %-22s %10s %10s %22s\n' followers "writer tps" "polls/s" "horizon calls/s (primary)"
  local where
  for where in primary standby; do
    printf '   %-22s %10.0f %10s %22s\n' "on the $where" "$(values "tail-$where-tps" | median)" \
      "$(values "tail-$where-polls" | median)" "$([ "$where" = primary ] && echo - || values "tail-$where-horizons" | median)"
  done
  printf '   writer tps with standby followers / with primary followers: %s\n' \
    "$(paste <(values tail-standby-tps) <(values tail-primary-tps) | awk '$2 > 0 { print $1 / $2 }' | median | awk '{ printf "%.2fx", $1 }')"
}

# --- run ----------------------------------------------------------------------------------
if wants 1 || wants 3; then part1_needed=1; else part1_needed=0; fi
if wants 1; then
  part1
elif [ "$part1_needed" = 1 ]; then
  die "part 3 uses part 1's database and writers: run BENCH_PARTS=\"1 3\" or all"
fi
if wants 2; then
  part2
elif wants 3; then
  ensure_log "$BIG_DB" 125000
fi
if wants 3; then part3; fi

echo
echo "bel followers benchmark ($(nproc) cores, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), shared_buffers $(psql_db -At -c 'show shared_buffers'), synchronous_commit $(psql_db -At -c 'show synchronous_commit'))"
if wants 1; then report1; fi
if wants 2; then report2; fi
if wants 3; then report3; fi
