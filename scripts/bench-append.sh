#!/usr/bin/env bash
# The write-path benchmark of bel (a script, not a test).
#
# Starts the private bench cluster (port 54331), recreates database bel_bench with the
# extension, and runs pgbench (-n -M prepared, one event per transaction) for three
# workloads side by side, at 1 and 8 clients:
#   (a)    plain INSERT of the same row shape into bench.plain_events, a table created
#          LIKE bel.events INCLUDING ALL (same columns, defaults, constraints and indexes,
#          whatever sql/schema.sql defines), idx from its own sequence
#   (b)    the same INSERT plus pg_notify('bench', idx::text) in the same transaction
#   bel    select bel.bel_append(...) of a BUILD_REQUEST_RECEIVED event naming one
#          partition, with a fresh build id (and eventId) per transaction
#   (b)+f  (b) again, while a naive follower pages through bench.plain_events
#          ("idx > cursor order by idx limit 1000"), polling every 2 ms when caught up
#   bel+f  bel again, while a follower pages through the log with
#          bel.list_events_page(cursor, '{}', 1000), polling the same way
#   (b)L   (b) with the events of whole build lifecycles (bench.lifecycle_event: 12 events,
#          every kind: build request, partition and job run statuses), each client
#          appending its own builds' events in order
#   belL   bel_append of those events: the general path (row locks, projection updates)
# and, in bulk (one client, BENCH_BULK_BATCHES transactions of one batch each):
#   (m)    a plain multi-row INSERT of 1,000 lifecycle events (100 builds x their first 10
#          events: received, planning, requested, analyzed, analysis completed, job
#          scheduled, executing, partition building, job running, partition available)
#          into bench.plain_events, read from bench.batch_rows (columns already extracted)
#   belB   select bel.bel_append_batch(...) of the same 1,000 events (one jsonb array, read
#          from bench.batches), validated, with every projection and index bel keeps
#   (mR)   bel's rows of those batches written by plain multi-row INSERTs: after belB, the
#          rows it wrote (events, partition index, known partitions, and each new build, job
#          run and partition once, in its final state) are copied out (not timed), and (mR)
#          inserts them per batch into tables LIKE bel's INCLUDING ALL: what bel's storage
#          costs with no validation, no locks and no placeholders (bel's floor)
# and, one event per transaction again:
#   (r)    bel's rows of the bel workload written by one plain SQL statement (event, partition
#          index, known partition, build request; the last two ON CONFLICT DO NOTHING as bel
#          does) into the same LIKE tables: bel's floor for a single append
# in BENCH_ROUNDS interleaved rounds, and prints median tps, average latency and the ratios
# bel/(a), bel/(b) (belL/(b)L for lifecycles), and bel+f/(b)+f (the cost of following bel with the no-loss cursor,
# against following a plain table, on the same cores), and the floors: (r)/(a), bel/(r),
# (mR)/(m), belB/(mR) (what bel's storage costs, and what bel costs beyond it).
#
# Environment (defaults):
#   BENCH_SECONDS=10        duration of each pgbench run (BENCH_SECONDS=3 for a smoke run)
#   BENCH_ROUNDS=3          interleaved rounds of all workloads; medians are reported
#   BENCH_CLIENTS="1 8"     client counts
#   BENCH_FOLLOWER=1        also run bel with a follower (0: skip)
#   BENCH_SINGLE=1          run the one-event-per-transaction workloads (0: skip them)
#   BENCH_BULK=1            run the bulk workloads (m), belB and (mR) (0: skip them)
#   BENCH_BULK_BATCHES=100  batches of 1,000 events per bulk run (fresh events every round)
#   BENCH_POLL_MS=2         the follower's sleep when it is caught up
#   BENCH_PORT=54331        port of the private bench cluster
#   BENCH_SKIP_INSTALL=0    1: do not run setup + install-ext (use the installed extension)
#   BENCH_KEEP_CLUSTER=0    1: leave the bench cluster running (default: stop it if we started it)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
read -r -a CLIENTS <<<"${BENCH_CLIENTS:-1 8}"
FOLLOWER="${BENCH_FOLLOWER:-1}"
SINGLE="${BENCH_SINGLE:-1}"
BULK="${BENCH_BULK:-1}"
BULK_BATCHES="${BENCH_BULK_BATCHES:-100}"
# a batch: BULK_BUILDS builds x the first 10 events of their lifecycle
BULK_BUILDS=100
BULK_SIZE=$((BULK_BUILDS * 10))
POLL_MS="${BENCH_POLL_MS:-2}"
export BEL_PG_PORT="${BENCH_PORT:-54331}"
export BEL_PG_ROOT="/var/tmp/bel-$BEL_PG_PORT"
DB=bel_bench
PG="$BEL_SCRIPTS/pg.sh"
PGBENCH="$PG_BIN/pgbench"
FOLLOWER_APP=bel-bench-follower

log() { bel_log bench "$*"; }
die() { bel_die bench "$*"; }
if ! [[ "$SECONDS_PER_RUN" =~ ^[1-9][0-9]*$ ]]; then die "BENCH_SECONDS must be a positive integer"; fi
if ! [[ "$POLL_MS" =~ ^[0-9]+$ ]]; then die "BENCH_POLL_MS must be an integer"; fi
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then die "BENCH_ROUNDS must be a positive integer"; fi
if ! [[ "$BULK_BATCHES" =~ ^[1-9][0-9]*$ ]]; then die "BENCH_BULK_BATCHES must be a positive integer"; fi

psql_db() { bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# --- cleanup: the follower we started, the cluster if we started it, temp files --------
WORK="$(mktemp -d /tmp/bel-bench.XXXXXX)"
chmod 0755 "$WORK"
STARTED_CLUSTER=0
FOLLOWER_PID=""
cleanup() {
  local rc=$?
  if [ -n "$FOLLOWER_PID" ] && kill -0 "$FOLLOWER_PID" 2>/dev/null; then
    kill "$FOLLOWER_PID" 2>/dev/null || true
  fi
  if [ "$STARTED_CLUSTER" = 1 ] && [ "${BENCH_KEEP_CLUSTER:-0}" != 1 ]; then
    log "stopping the bench cluster (BENCH_KEEP_CLUSTER=1 keeps it)"
    bash "$PG" stop || true
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

if ! bash "$PG" status >/dev/null 2>&1; then
  STARTED_CLUSTER=1
fi
bash "$PG" start

log "recreating database $DB with the extension and the baseline table"
bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
  -c "drop database if exists $DB with (force)" \
  -c "create database $DB"
# (a)/(b): bench.plain_events
psql_db -f "$BEL_SCRIPTS/bench_baseline.sql"
psql_db <<'SQL'
-- fresh ids for every transaction of every workload (never collide, or appends are refused)
create sequence bench.ids cache 1;
-- the follower's stop flag and its results
create table bench.control (stop boolean not null);
insert into bench.control values (false);
create table bench.follower_runs (
  label text, polls bigint, events bigint, start_cursor bigint, end_cursor bigint, secs numeric);
-- Event `step` (0..11) of build `b`, which builds one partition with one job run: every
-- kind of event a build appends, in a valid order.
create function bench.lifecycle_event(b text, step int) returns jsonb
-- (plpgsql: its plan is kept for the session; a SQL function's would be re-planned per call)
language plpgsql immutable as $$
begin
  return format(case step
    when 0 then '{"buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/life/%1$s"]}}'
    when 1 then '{"buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}'
    when 2 then '{"partition":{"partitionRef":"data/life/%1$s","status":"PARTITION_REQUESTED"}}'
    when 3 then '{"partition":{"partitionRef":"data/life/%1$s","status":"PARTITION_ANALYZED"}}'
    when 4 then '{"buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}'
    when 5 then '{"jobRun":{"jobRunId":"jr-%1$s","jobLabel":"etl/life","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/life/%1$s"]}}'
    when 6 then '{"buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}'
    when 7 then '{"partition":{"partitionRef":"data/life/%1$s","status":"PARTITION_BUILDING","jobRunId":"jr-%1$s"}}'
    when 8 then '{"jobRun":{"jobRunId":"jr-%1$s","status":"JOB_RUN_RUNNING"}}'
    when 9 then '{"partition":{"partitionRef":"data/life/%1$s","status":"PARTITION_AVAILABLE","jobRunId":"jr-%1$s"}}'
    when 10 then '{"jobRun":{"jobRunId":"jr-%1$s","status":"JOB_RUN_COMPLETED","exitCode":0}}'
    else '{"buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}'
  end, b)::jsonb || jsonb_build_object('eventId', b || ':' || step, 'buildRequestId', b);
end
$$;
-- Bulk input, made before each bulk run (not timed): the same events as one jsonb array per
-- batch for bel (stored uncompressed, so reading it costs little) and as rows with the
-- columns already extracted for the plain INSERT.
create table bench.batches (batch int primary key, events jsonb not null);
alter table bench.batches alter column events set storage external;
create table bench.batch_rows (
  batch int, ord int, event_type text, event_id text, build_request_id text, partition_ref text,
  job_run_id text, job_label text, payload jsonb not null, primary key (batch, ord));
create sequence bench.next_batch;
-- bel's floor: tables like bel's (same columns, constraints and indexes) for (r) and (mR),
-- and the rows bel wrote for each batch, copied out after belB
create table bench.rows_events (like bel.events including all);
-- (r)'s idx values start far above bel's, which (mR) copies into the same table
create sequence bench.rows_events_idx_seq start 1000000000000 owned by bench.rows_events.idx;
alter table bench.rows_events alter column idx set default nextval('bench.rows_events_idx_seq');
create table bench.rows_event_partitions (like bel.event_partitions including all);
create table bench.rows_known_partitions (like bel.known_partitions including all);
create table bench.rows_build_request_state (like bel.build_request_state including all);
create table bench.rows_job_run_state (like bel.job_run_state including all);
create table bench.rows_partition_state (like bel.partition_state including all);
create table bench.batch_events (batch int, like bel.events);
create table bench.batch_event_partitions (batch int, like bel.event_partitions);
create table bench.batch_known_partitions (batch int, like bel.known_partitions);
create table bench.batch_build_request_state (batch int, like bel.build_request_state);
create table bench.batch_job_run_state (batch int, like bel.job_run_state);
create table bench.batch_partition_state (batch int, like bel.partition_state);
create index on bench.batch_events (batch);
create index on bench.batch_event_partitions (batch);
create index on bench.batch_known_partitions (batch);
create index on bench.batch_build_request_state (batch);
create index on bench.batch_job_run_state (batch);
create index on bench.batch_partition_state (batch);
SQL
log "baseline table bench.plain_events (like bel.events including all):"
psql_db -At -c "select '    ' || indexdef from pg_indexes where schemaname = 'bench' and tablename = 'plain_events' order by indexname" >&2

# --- pgbench scripts ----------------------------------------------------------------------
# The event: BUILD_REQUEST_RECEIVED of build b-<n>, eventId bench-<n>, one requested partition.
EVENT="jsonb_build_object('eventId', 'bench-' || n, 'buildRequestId', 'b-' || n,
    'buildRequest', jsonb_build_object('status', 'BUILD_REQUEST_RECEIVED',
                                       'requestedPartitions', jsonb_build_array('data/bench/' || n)))"
# The row bel stores for it (see bel.events): type, schema version, ids, payload.
PLAIN_INSERT="insert into bench.plain_events (event_type, schema_version, event_id, build_request_id, payload)
  select 'build_request', 1, 'bench-' || n, 'b-' || n, $EVENT
  from (select nextval('bench.ids') as n) s"

cat >"$WORK/a.sql" <<SQL
$PLAIN_INSERT;
SQL
cat >"$WORK/b.sql" <<SQL
with ins as ($PLAIN_INSERT
  returning idx)
select pg_notify('bench', idx::text) from ins;
SQL
cat >"$WORK/bel.sql" <<SQL
select bel.bel_append($EVENT)
  from (select nextval('bench.ids') as n) s;
SQL
# bel's floor: the four rows bel writes for that event, by one plain statement
cat >"$WORK/r.sql" <<SQL
with s as materialized (select nextval('bench.ids') as n),
e as (insert into bench.rows_events (event_type, schema_version, event_id, build_request_id, payload)
      select 'build_request', 1, 'bench-' || n, 'b-' || n, $EVENT from s
      returning idx),
p as (insert into bench.rows_event_partitions select 'data/bench/' || s.n, e.idx from s, e),
k as (insert into bench.rows_known_partitions select 'data/bench/' || s.n from s on conflict do nothing),
b as (insert into bench.rows_build_request_state
        (build_request_id, status, requested_partitions, first_idx, last_idx, created_at, updated_at)
      select 'b-' || s.n, 'RECEIVED', array['data/bench/' || s.n], e.idx, e.idx, now(), now() from s, e
      on conflict do nothing)
select 1;
SQL
# Build lifecycles: each client appends the events of its own builds in order, one per
# transaction (pgbench keeps :k per client; :run makes ids unique across runs).
LIFECYCLE_STEP='\set k :k + 1
\set step :k % 12'
LIFECYCLE_BUILD="'life-' || :run || '-' || :client_id || '-' || (:k / 12)"
cat >"$WORK/bL.sql" <<SQL
$LIFECYCLE_STEP
with e as materialized (select bench.lifecycle_event($LIFECYCLE_BUILD, :step) as event),
ins as (insert into bench.plain_events (event_type, schema_version, event_id, build_request_id, partition_ref,
                                        job_run_id, job_label, payload)
  select case when event ? 'buildRequest' then 'build_request' when event ? 'partition' then 'partition'
              else 'job_run' end,
         1, event->>'eventId', event->>'buildRequestId', event->'partition'->>'partitionRef',
         coalesce(event->'jobRun'->>'jobRunId', event->'partition'->>'jobRunId'), event->'jobRun'->>'jobLabel', event
  from e
  returning idx)
select pg_notify('bench', idx::text) from ins;
SQL
cat >"$WORK/belL.sql" <<SQL
$LIFECYCLE_STEP
select bel.bel_append(bench.lifecycle_event($LIFECYCLE_BUILD, :step));
SQL
# Bulk: each transaction takes the next batch (the initplan runs nextval once).
cat >"$WORK/m.sql" <<SQL
insert into bench.plain_events (event_type, schema_version, event_id, build_request_id, partition_ref,
                                job_run_id, job_label, payload)
  select r.event_type, 1, r.event_id, r.build_request_id, r.partition_ref, r.job_run_id, r.job_label, r.payload
  from bench.batch_rows r where r.batch = (select nextval('bench.next_batch')) order by r.ord;
SQL
cat >"$WORK/belB.sql" <<SQL
select count(*) from bel.bel_append_batch((select b.events from bench.batches b
                                           where b.batch = (select nextval('bench.next_batch'))));
SQL
# bel's floor in bulk: the rows belB wrote for the batch (see copy_bel_rows), by plain
# multi-row INSERTs into the LIKE tables
BEL_TABLES=(events event_partitions known_partitions build_request_state job_run_state partition_state)
declare -A BEL_COLUMNS=(
  [events]="idx, event_type, schema_version, event_id, build_request_id, partition_ref, job_run_id, job_label, payload, created_at"
  [event_partitions]="partition_ref, idx"
  [known_partitions]="partition_ref"
  [build_request_state]="build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at"
  [job_run_state]="job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx, last_idx, created_at, updated_at"
  [partition_state]="partition_ref, status, build_request_id, job_run_id, last_idx, updated_at"
)
{
  echo "with b as materialized (select nextval('bench.next_batch')::int as batch)"
  for t in "${BEL_TABLES[@]}"; do
    echo ", w_$t as (insert into bench.rows_$t (${BEL_COLUMNS[$t]})"
    echo "  select ${BEL_COLUMNS[$t]} from bench.batch_$t r where r.batch = (select batch from b))"
  done
  echo "select 1;"
} >"$WORK/mR.sql"
# copy_bel_rows TAG: the rows belB wrote for the batches of make_batches TAG, by batch (build
# ids bulk-TAG-<batch>-<build>; partition refs data/life/bulk-TAG-<batch>-<build>)
copy_bel_rows() {
  local t batch_of rows_of_round
  for t in "${BEL_TABLES[@]}"; do
    rows_of_round="build_request_id like 'bulk-$1-%'"
    case "$t" in
      events | build_request_state | job_run_state | partition_state)
        batch_of="split_part(build_request_id, '-', 3)::int" ;;
      event_partitions)
        batch_of="(select split_part(e.build_request_id, '-', 3)::int from bel.events e where e.idx = x.idx)"
        rows_of_round="partition_ref like 'data/life/bulk-$1-%'" ;;
      known_partitions)
        batch_of="split_part(partition_ref, '-', 3)::int"
        rows_of_round="partition_ref like 'data/life/bulk-$1-%'" ;;
    esac
    psql_db -c "truncate bench.batch_$t" \
      -c "insert into bench.batch_$t (batch, ${BEL_COLUMNS[$t]})
          select $batch_of, ${BEL_COLUMNS[$t]} from bel.$t x where $rows_of_round" \
      -c "analyze bench.batch_$t" >/dev/null
  done
}
# make_batches TAG: BULK_BATCHES fresh batches (build ids bulk-TAG-<batch>-<build>), events in
# build order (each build's events in lifecycle order)
make_batches() {
  psql_db -v tag="$1" -v batches="$BULK_BATCHES" -v builds="$BULK_BUILDS" <<'SQL'
truncate bench.batches, bench.batch_rows;
insert into bench.batch_rows
select b, i * 10 + step,
       case when event ? 'buildRequest' then 'build_request' when event ? 'partition' then 'partition'
            else 'job_run' end,
       event->>'eventId', event->>'buildRequestId', event->'partition'->>'partitionRef',
       coalesce(event->'jobRun'->>'jobRunId', event->'partition'->>'jobRunId'), event->'jobRun'->>'jobLabel', event
from generate_series(1, :batches) b, generate_series(0, :builds - 1) i, generate_series(0, 9) step,
     lateral (select bench.lifecycle_event('bulk-' || :'tag' || '-' || b || '-' || i, step) as event) e
order by 1, 2; -- a batch's rows together on few pages
insert into bench.batches select batch, jsonb_agg(payload order by ord) from bench.batch_rows group by batch;
analyze bench.batches, bench.batch_rows;
SQL
}
# Followers: page through a log from its current end, re-polling at once while there is
# more, sleeping BENCH_POLL_MS when caught up; each poll is its own transaction. Once
# bench.control says the writers stopped, a follower exits when caught up and records what
# it read. The bel follower uses bel.list_events_page (the no-loss cursor); the baseline
# follower of (b) reads bench.plain_events with a plain "idx > cursor" page, the usual
# naive follower (which can skip rows of transactions that commit out of order).
# write_follower FILE TABLE PAGE_SQL: PAGE_SQL sets `page` (events, nextIdx, hasMore) from `cur`.
write_follower() {
  local file="$1" table="$2" page_sql="$3"
  cat >"$file" <<SQL
set application_name = '$FOLLOWER_APP';
select set_config('bench.label', :'label', false), set_config('bench.poll_ms', '$POLL_MS', false);
do \$\$
declare
  start_cursor bigint := (select coalesce(max(idx), 0) from $table);
  cur bigint := start_cursor;
  page jsonb;
  polls bigint := 0;
  events bigint := 0;
  t0 timestamptz := clock_timestamp();
  poll_s double precision := current_setting('bench.poll_ms')::double precision / 1000;
  stop_seen timestamptz;
begin
  commit;
  loop
    $page_sql
    polls := polls + 1;
    events := events + coalesce(jsonb_array_length(page->'events'), 0);
    cur := coalesce((page->>'nextIdx')::bigint, cur);
    if not coalesce((page->>'hasMore')::boolean, false) then
      -- after the writers stopped: done once caught up with the log (or after 30 s)
      exit when stop_seen is not null
        and (cur >= (select coalesce(max(idx), 0) from $table)
             or clock_timestamp() > stop_seen + interval '30 seconds');
      if stop_seen is null and (select stop from bench.control) then
        stop_seen := clock_timestamp();
      end if;
      commit;
      perform pg_sleep(poll_s);
    end if;
    commit;
  end loop;
  insert into bench.follower_runs
    values (current_setting('bench.label'), polls, events, start_cursor, cur,
            extract(epoch from clock_timestamp() - t0));
end
\$\$;
SQL
}
write_follower "$WORK/follower-bel.sql" bel.events \
  "page := bel.list_events_page(cur, '{}'::jsonb, 1000);"
write_follower "$WORK/follower-plain.sql" bench.plain_events \
  "select jsonb_build_object('events', coalesce(jsonb_agg(p.payload order by p.idx), '[]'),
                             'nextIdx', max(p.idx), 'hasMore', count(*) = 1000) into page
     from (select idx, payload from bench.plain_events where idx > cur order by idx limit 1000) p;"

# --- runs ---------------------------------------------------------------------------------
# Rounds interleave the workloads ((m), belB, (mR); a, b, bel, (r), (b)+f, bel+f, ...): the disk of a VM
# drifts over minutes, and a ratio of two runs minutes apart measures the drift. Reported:
# the median tps over rounds, and the median of the per-round ratios.
declare -a R_WORKLOAD=() R_CLIENTS=() R_TPS=() R_LAT=() R_CPU=()
declare -a FOLLOWER_NOTES=()
CURRENT_ROUND=0

RUN_NUMBER=0
# The CPU time of the server's processes that exited, in clock ticks: the postmaster's
# cutime + cstime (it waits for every backend). A run's backends exit when pgbench ends, so
# the difference around a run is their CPU time: unlike tps, it does not move with the
# disk's fsync latency, which on this VM drifts by 2-3x within minutes. It also holds any
# autovacuum worker that ended during the run (the bulk workloads insert ~100k rows a round).
exited_backends_cpu_ticks() {
  awk '{ print $16 + $17 }' "/proc/$(head -n 1 "$BEL_PG_ROOT/data/postmaster.pid")/stat"
}
# wait_for_backends_to_exit: until pgbench's backends are gone (a follower's stays) and the
# postmaster has reaped them (only then is their CPU time in its cutime/cstime)
wait_for_backends_to_exit() {
  local i pm unreaped
  pm="$(head -n 1 "$BEL_PG_ROOT/data/postmaster.pid")"
  for i in $(seq 1 200); do
    if [ "$(psql_db -At -c "select count(*) from pg_stat_activity
                            where datname = current_database() and backend_type = 'client backend'
                              and pid <> pg_backend_pid() and application_name <> '$FOLLOWER_APP'")" = 0 ]; then
      # /proc/PID/stat: field 3 is Z for a process that exited and was not reaped, field 4 its parent
      # (processes that end during the read make cat fail: not an error here)
      unreaped="$({ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$pm" '$4 == pm && $3 == "Z"' | wc -l)"
      [ "$unreaped" != 0 ] || return 0
    fi
    sleep 0.05
  done
  die "pgbench's backends did not exit"
}

# run_pgbench LABEL SCRIPT CLIENTS [TRANSACTIONS]: appends one result row; runs
# BENCH_SECONDS, or TRANSACTIONS per client when given
run_pgbench() {
  local label="$1" script="$2" clients="$3" out threads=2 tps lat failed length cpu_before cpu_after transactions
  length=(-T "$SECONDS_PER_RUN")
  [ -z "${4:-}" ] || length=(-t "$4")
  [ "$clients" -ge 2 ] || threads=1
  RUN_NUMBER=$((RUN_NUMBER + 1))
  psql_db -c checkpoint
  log "round $CURRENT_ROUND/$ROUNDS: pgbench $label, $clients client(s), ${length[*]}"
  out="$WORK/pgbench-$label-$clients.out"
  cpu_before="$(exited_backends_cpu_ticks)"
  if ! PGHOST="$BEL_PG_ROOT/sock" PGPORT="$BEL_PG_PORT" PGUSER=postgres \
    "$PGBENCH" -n -M prepared "${length[@]}" -c "$clients" -j "$threads" \
    -D k=-1 -D run="$RUN_NUMBER" -f "$WORK/$script" "$DB" >"$out" 2>&1; then
    cat "$out" >&2
    die "pgbench $label failed"
  fi
  wait_for_backends_to_exit
  cpu_after="$(exited_backends_cpu_ticks)"
  transactions="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out" | tail -n 1)"
  tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | tail -n 1)"
  lat="$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out" | tail -n 1)"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out" | tail -n 1)"
  if [ -z "$tps" ] || [ "${failed:-0}" != 0 ]; then
    cat "$out" >&2
    die "pgbench $label: no tps or failed transactions"
  fi
  R_WORKLOAD+=("$label")
  R_CLIENTS+=("$clients")
  R_TPS+=("$tps")
  R_LAT+=("${lat:--}")
  # server CPU µs per transaction (the follower's, if one runs, is not in it: it exits later)
  R_CPU+=("$(awk -v a="$cpu_before" -v b="$cpu_after" -v n="${transactions:-0}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "-" }')")
}

# run_with_follower LABEL SCRIPT FOLLOWER_SCRIPT TABLE CLIENTS: a pgbench run while a follower reads TABLE
run_with_follower() {
  local label="$1" script="$2" follower="$3" table="$4" clients="$5" tag i row
  tag="$label/$clients/$CURRENT_ROUND"
  psql_db -c "update bench.control set stop = false"
  bash "$PG" psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v label="$tag" \
    -f "$WORK/$follower" >"$WORK/follower.out" 2>&1 &
  FOLLOWER_PID=$!
  for i in $(seq 1 100); do
    [ "$(psql_db -At -c "select count(*) from pg_stat_activity where application_name = '$FOLLOWER_APP'")" = 1 ] && break
    kill -0 "$FOLLOWER_PID" 2>/dev/null || { cat "$WORK/follower.out" >&2; die "the follower exited early"; }
    sleep 0.05
    [ "$i" -lt 100 ] || die "the follower did not start"
  done
  run_pgbench "$label" "$script" "$clients"
  psql_db -c "update bench.control set stop = true"
  for i in $(seq 1 600); do
    kill -0 "$FOLLOWER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$FOLLOWER_PID" 2>/dev/null; then
    log "the follower did not finish within 60 s; terminating it"
    psql_db -c "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '$FOLLOWER_APP'" >/dev/null || true
  fi
  if ! wait "$FOLLOWER_PID"; then
    FOLLOWER_PID=""
    cat "$WORK/follower.out" >&2
    die "the follower failed"
  fi
  FOLLOWER_PID=""
  row="$(psql_db -At -F ' ' -c "
    select f.polls, round(f.polls / nullif(f.secs, 0)), f.events,
           (select count(*) from $table e where e.idx > f.start_cursor), round(f.secs, 1)
    from bench.follower_runs f where f.label = '$tag'")"
  [ -n "$row" ] || die "the follower recorded no result"
  local polls pps got appended secs
  read -r polls pps got appended secs <<<"$row"
  FOLLOWER_NOTES+=("round $CURRENT_ROUND, $label follower @ $clients client(s): $polls polls in $secs s ($pps/s); read $got of the $appended rows appended meanwhile (missed: $((appended - got)))")
}

log "runs: $ROUNDS round(s), clients ${CLIENTS[*]}, $SECONDS_PER_RUN s each, follower=$FOLLOWER, bulk=$BULK"
for CURRENT_ROUND in $(seq 1 "$ROUNDS"); do
  if [ "$BULK" = 1 ]; then
    log "round $CURRENT_ROUND/$ROUNDS: making $BULK_BATCHES batches of $BULK_SIZE events"
    make_batches "$CURRENT_ROUND"
    # the same batches, once into each table
    psql_db -c "select setval('bench.next_batch', 1, false)" >/dev/null
    run_pgbench "(m)" m.sql 1 "$BULK_BATCHES"
    psql_db -c "select setval('bench.next_batch', 1, false)" >/dev/null
    run_pgbench "belB" belB.sql 1 "$BULK_BATCHES"
    copy_bel_rows "$CURRENT_ROUND"
    psql_db -c "select setval('bench.next_batch', 1, false)" >/dev/null
    run_pgbench "(mR)" mR.sql 1 "$BULK_BATCHES"
  fi
  [ "$SINGLE" = 1 ] || continue
  for c in "${CLIENTS[@]}"; do
    run_pgbench "(a)" a.sql "$c"
    run_pgbench "(b)" b.sql "$c"
    run_pgbench "bel" bel.sql "$c"
    run_pgbench "(r)" r.sql "$c"
    if [ "$FOLLOWER" = 1 ]; then
      run_with_follower "(b)+f" b.sql follower-plain.sql bench.plain_events "$c"
      run_with_follower "bel+f" bel.sql follower-bel.sql bel.events "$c"
    fi
    run_pgbench "(b)L" bL.sql "$c"
    run_pgbench "belL" belL.sql "$c"
  done
done

# --- report -------------------------------------------------------------------------------
# values_of FIELD WORKLOAD CLIENTS: the field (tps, lat or cpu) of every round, one per line, in round order
values_of() {
  local field="$1" i
  for i in "${!R_WORKLOAD[@]}"; do
    if [ "${R_WORKLOAD[$i]}" = "$2" ] && [ "${R_CLIENTS[$i]}" = "$3" ]; then
      case "$field" in
        tps) echo "${R_TPS[$i]}" ;;
        lat) echo "${R_LAT[$i]}" ;;
        cpu) echo "${R_CPU[$i]}" ;;
      esac
    fi
  done
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ratio_median X Y CLIENTS: the median over rounds of tps(X)/tps(Y), both from the same round
ratio_median() { field_ratio_median tps "$1" "$2" "$3"; }
# cpu_ratio_median X Y CLIENTS: the median over rounds of cpu(Y)/cpu(X), X's speed relative
# to Y's in server CPU per transaction (the same sense as the tps ratios)
cpu_ratio_median() { field_ratio_median cpu "$2" "$1" "$3"; }
# field_ratio_median FIELD NUM DEN CLIENTS: the median over rounds of FIELD(NUM)/FIELD(DEN),
# both from the same round
field_ratio_median() {
  paste <(values_of "$1" "$2" "$4") <(values_of "$1" "$3" "$4") |
    awk '$2 > 0 { print $1 / $2 }' | median | awk '$1 != "-" { printf "%.2fx", $1 } $1 == "-" { print "-" }'
}
describe() {
  case "$1" in
    "(a)") echo "(a) plain INSERT" ;;
    "(b)") echo "(b) INSERT + pg_notify" ;;
    "bel") echo "bel bel_append" ;;
    "(b)+f") echo "(b) + naive follower" ;;
    "bel+f") echo "bel + follower (${POLL_MS} ms poll)" ;;
    "(b)L") echo "(b) lifecycle events" ;;
    "belL") echo "bel lifecycle events" ;;
    "(m)") echo "(m) multi-row INSERT" ;;
    "belB") echo "bel bel_append_batch" ;;
    "(mR)") echo "(mR) bel's rows, plain INSERTs" ;;
    "(r)") echo "(r) bel's rows, plain SQL" ;;
  esac
}

echo
echo "bel write path: pgbench -n -M prepared, $ROUNDS interleaved round(s)"
echo "($(nproc) cores, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), shared_buffers $(psql_db -At -c 'show shared_buffers'), synchronous_commit $(psql_db -At -c 'show synchronous_commit'))"
echo "tps and latency: median over rounds (every round's value in brackets); ratios: median of the per-round ratios"
if [ "$BULK" = 1 ]; then
  echo
  echo "bulk: $BULK_BATCHES transactions of one batch of $BULK_SIZE lifecycle events, 1 client"
  echo
  printf '%-30s %9s %10s %9s %9s %10s  %s\n' workload "batches/s" "events/s" "lat ms" "belB/(m)" "CPU us/ev" "events/s per round"
  printf '%-30s %9s %10s %9s %9s %10s  %s\n' ------------------------------ --------- ---------- -------- -------- ---------- ------------------
  for w in "(m)" belB "(mR)"; do
    r=""
    [ "$w" != belB ] || r="$(ratio_median belB "(m)" 1)"
    printf '%-30s %9.1f %10.0f %9s %9s %10s  [%s]\n' "$(describe "$w")" "$(values_of tps "$w" 1 | median)" \
      "$(values_of tps "$w" 1 | median | awk -v n="$BULK_SIZE" '{ print $1 * n }')" "$(values_of lat "$w" 1 | median)" "$r" \
      "$(values_of cpu "$w" 1 | median | awk -v n="$BULK_SIZE" '$1 != "-" { printf "%.2f", $1 / n } $1 == "-" { print "-" }')" \
      "$(values_of tps "$w" 1 | awk -v n="$BULK_SIZE" '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 * n }')"
  done
  echo
  echo "in server CPU per event (steadier than tps on a VM whose fsyncs drift): belB/(m) $(cpu_ratio_median belB "(m)" 1)"
  echo "bel's floor: its rows written by plain INSERTs, nothing else (no validation, locks or placeholders):"
  echo "  tps: (mR)/(m) $(ratio_median "(mR)" "(m)" 1) (the most belB/(m) can reach with this storage), belB/(mR) $(ratio_median belB "(mR)" 1)"
  echo "  CPU: (mR)/(m) $(cpu_ratio_median "(mR)" "(m)" 1), belB/(mR) $(cpu_ratio_median belB "(mR)" 1)"
fi
[ "$SINGLE" = 1 ] || exit 0
echo
echo "one event per transaction, pgbench -T $SECONDS_PER_RUN"
echo
printf '%-30s %7s %9s %8s %8s %8s %10s %8s  %s\n' workload clients tps "lat ms" "bel/(a)" "bel/(b)" "bel/(b)+f" "CPU us" "tps per round"
printf '%-30s %7s %9s %8s %8s %8s %10s %8s  %s\n' ------------------------------ ------- -------- ------- ------- ------- --------- ------- -------------
WORKLOADS=("(a)" "(b)" "bel" "(r)")
[ "$FOLLOWER" != 1 ] || WORKLOADS+=("(b)+f" "bel+f")
WORKLOADS+=("(b)L" "belL")
for c in "${CLIENTS[@]}"; do
  for w in "${WORKLOADS[@]}"; do
    ra="" rb="" rf=""
    case "$w" in
      bel | bel+f)
        ra="$(ratio_median "$w" "(a)" "$c")"
        rb="$(ratio_median "$w" "(b)" "$c")"
        ;;
    esac
    # like with like: both with a follower polling; both appending lifecycle events
    [ "$w" != bel+f ] || rf="$(ratio_median "$w" "(b)+f" "$c")"
    [ "$w" != belL ] || rb="$(ratio_median "$w" "(b)L" "$c")"
    printf '%-30s %7s %9.1f %8s %8s %8s %10s %8s  [%s]\n' "$(describe "$w")" "$c" \
      "$(values_of tps "$w" "$c" | median)" "$(values_of lat "$w" "$c" | median)" "$ra" "$rb" "$rf" \
      "$(values_of cpu "$w" "$c" | median)" \
      "$(values_of tps "$w" "$c" | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }')"
  done
done
echo
echo "bel's floor: its four rows by one plain statement ((r)), nothing else (no validation, no eventId lookup):"
for c in "${CLIENTS[@]}"; do
  echo "  $c client(s), tps: (r)/(a) $(ratio_median "(r)" "(a)" "$c") (the most bel/(a) can reach with this storage), bel/(r) $(ratio_median bel "(r)" "$c")"
  echo "  $c client(s), CPU: (r)/(a) $(cpu_ratio_median "(r)" "(a)" "$c"), bel/(r) $(cpu_ratio_median bel "(r)" "$c"), bel/(a) $(cpu_ratio_median bel "(a)" "$c")"
done
if [ ${#FOLLOWER_NOTES[@]} -gt 0 ]; then
  echo
  printf '%s\n' "${FOLLOWER_NOTES[@]}"
fi
