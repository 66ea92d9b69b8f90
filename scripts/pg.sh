#!/usr/bin/env bash
# Manages a private PostgreSQL 15 cluster for bel, owned and run by the `postgres` OS user,
# with its own data directory, socket directory and port. It never touches a system cluster.
#
#   scripts/pg.sh start            initdb if needed, start, wait until ready (no-op if running,
#                                  unless bel.so was reinstalled since: then a restart, which
#                                  ends every session, for a preloaded old bel.so would serve
#                                  every new one)
#   scripts/pg.sh stop             fast shutdown (no-op if not running)
#   scripts/pg.sh restart          stop + start (applies changed settings)
#   scripts/pg.sh status           exit 0 if running, 3 if not
#   scripts/pg.sh psql [args...]   psql as user postgres (default database postgres; -d DB to change)
#   scripts/pg.sh dsn [dbname]     print a libpq key=value DSN
#   scripts/pg.sh logfile          print the path of the server log
#   scripts/pg.sh destroy          stop and delete the whole cluster directory
#   scripts/pg.sh standby-of PORT  make this cluster a hot standby streaming from the cluster on
#                                  PORT (pg_basebackup -R -X stream from its socket in
#                                  BEL_PG_PRIMARY_ROOT, default /var/tmp/bel-PORT), then start it;
#                                  an existing standby is only started
#
# Environment (defaults):
#   BEL_PG_PORT            54329
#   BEL_PG_ROOT            /var/tmp/bel-$BEL_PG_PORT   (holds data/, sock/, postgres.log)
#   BEL_PG_DB              postgres   (database for `psql` and `dsn` when none is given)
#   BEL_PG_SHARED_BUFFERS  1GB
#   BEL_PG_MAX_CONNECTIONS 100
#   BEL_PG_BIN             /usr/lib/postgresql/15/bin
#   BEL_PG_PRELOAD         1: shared_preload_libraries = 'bel' (the no-loss horizon's in-flight slots,
#                          docs/no-loss-cursor.md; the extension must be installed); 0: without it
#                          (readers use the lock-based fallback). Applied at (re)start.
#   BEL_PG_EXTRA_CONF      extra postgresql.conf lines
#
# Authentication is `trust` on the socket and on 127.0.0.1: this is a local development and
# test cluster; it listens on nothing else.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${BEL_PG_PORT:-54329}"
ROOT="${BEL_PG_ROOT:-/var/tmp/bel-$PORT}"
case "$ROOT" in /*) ;; *) ROOT="$PWD/$ROOT" ;; esac
DATA="$ROOT/data"
SOCK="$ROOT/sock"
LOGFILE="$ROOT/postgres.log"
DB_DEFAULT="${BEL_PG_DB:-postgres}"
SHARED_BUFFERS="${BEL_PG_SHARED_BUFFERS:-1GB}"
MAX_CONNECTIONS="${BEL_PG_MAX_CONNECTIONS:-100}"
PRELOAD="${BEL_PG_PRELOAD:-1}"
SUPERUSER=postgres

log() { bel_log "pg:$PORT" "$*"; }
die() { bel_die "pg:$PORT" "$*"; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

preflight() {
  local b
  for b in pg_ctl initdb postgres pg_isready; do
    [ -x "$PG_BIN/$b" ] || die "PostgreSQL $PG_MAJOR binary $PG_BIN/$b not found (run scripts/setup.sh)"
  done
  id "$PG_OS_USER" >/dev/null 2>&1 || die "OS user $PG_OS_USER does not exist (run scripts/setup.sh)"
  if [ "$(id -un)" != "$PG_OS_USER" ]; then
    command -v sudo >/dev/null 2>&1 || die "sudo not found (run scripts/setup.sh)"
  fi
  if ! [[ "$PORT" =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65535 ]; then
    die "BEL_PG_PORT=$PORT is not a port number (1024..65535)"
  fi
  # unix socket paths are limited to 107 bytes
  [ ${#SOCK} -le 90 ] || die "socket directory path too long for a unix socket: $SOCK"
}

# is_our_postmaster PID: the process is a postgres server whose data directory is ours
# (after a crash or a killed machine, the pid in postmaster.pid may belong to anything).
is_our_postmaster() {
  local pid="$1" cmd argv0 cwd data_real
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmd="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  argv0="$(basename "$(head -n 1 <<<"$cmd")" 2>/dev/null || true)"
  case "$argv0" in postgres | postmaster) ;; *) return 1 ;; esac
  data_real="$(realpath -m "$DATA")"
  cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null || true)"
  { [ -n "$cwd" ] && [ "$cwd" = "$data_real" ]; } || grep -qxF -e "$DATA" -e "$data_real" <<<"$cmd"
}

# The pid of the postmaster running on our data directory, or nothing.
running_pid() {
  local pid
  [ -f "$DATA/postmaster.pid" ] || return 0
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  if is_our_postmaster "$pid"; then
    echo "$pid"
  fi
}

# Removes lock files whose postmaster is gone (killed machine, kill -9 of the whole group).
clear_stale_locks() {
  local lock pid
  if [ -f "$DATA/postmaster.pid" ]; then
    pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
    log "removing stale $DATA/postmaster.pid (pid ${pid:-?} is not a postmaster on this data directory)"
    rm -f "$DATA/postmaster.pid"
  fi
  for lock in "$SOCK"/.s.PGSQL.*.lock; do
    [ -e "$lock" ] || continue
    pid="$(head -n 1 "$lock" 2>/dev/null || true)"
    if is_our_postmaster "$pid"; then
      continue
    fi
    log "removing stale socket lock $lock"
    rm -f "$lock" "${lock%.lock}"
  done
}

wait_ready() {
  local tries=0
  until "$PG_BIN/pg_isready" -q -h "$SOCK" -p "$PORT" -U "$SUPERUSER" -d postgres; do
    [ -n "$(running_pid)" ] || die "the server is not running; see $LOGFILE:
$(tail -n 30 "$LOGFILE" 2>/dev/null || true)"
    tries=$((tries + 1))
    [ "$tries" -lt 240 ] || die "server did not become ready within 120 s; see $LOGFILE"
    sleep 0.5
  done
}

make_dirs() {
  mkdir -p "$ROOT" "$SOCK"
  chown "$PG_OS_USER:" "$ROOT" "$SOCK"
  chmod 0755 "$ROOT" "$SOCK"
  local parent
  parent="$(dirname "$ROOT")"
  as_pg_user test -x "$parent" || die "user $PG_OS_USER cannot reach $parent; choose another BEL_PG_ROOT"
}

locale_args() {
  if locale -a 2>/dev/null | grep -qix 'c\.utf-\{0,1\}8'; then
    echo "--locale=C.UTF-8"
  else
    echo "--no-locale"
  fi
}

init_if_needed() {
  if [ -f "$DATA/PG_VERSION" ]; then
    local v
    v="$(cat "$DATA/PG_VERSION")"
    [ "$v" = "$PG_MAJOR" ] || die "$DATA holds a PostgreSQL $v cluster, not $PG_MAJOR; run: $0 destroy"
    return 0
  fi
  if [ -d "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    # an initdb interrupted by a killed machine: no PG_VERSION, so nothing usable is in it
    [ "$(stat -c %U "$DATA")" = "$PG_OS_USER" ] || die "$DATA is not empty and not a cluster; remove it"
    log "removing incomplete data directory $DATA (initdb did not finish)"
    rm -rf "$DATA"
  fi
  log "initdb $DATA (superuser $SUPERUSER, UTF8, trust auth on socket and 127.0.0.1)"
  local out
  # shellcheck disable=SC2046
  if ! out="$(as_pg_user "$PG_BIN/initdb" -D "$DATA" --username="$SUPERUSER" --encoding=UTF8 \
    $(locale_args) --auth-local=trust --auth-host=trust 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "initdb failed"
  fi
}

# The line that preloads bel (empty with BEL_PG_PRELOAD=0).
preload_line() {
  case "$PRELOAD" in
    0) return 0 ;;
    1) ;;
    *) die "BEL_PG_PRELOAD must be 0 or 1" ;;
  esac
  [ -f "$("$PG_CONFIG" --pkglibdir)/bel.so" ] ||
    die "bel is not installed in $("$PG_CONFIG" --pkglibdir), so it cannot be preloaded: run scripts/install-ext.sh first (or BEL_PG_PRELOAD=0)"
  echo "shared_preload_libraries = 'bel'"
}

write_config() {
  local include="include_if_exists = 'bel.conf'" preload
  preload="$(preload_line)"
  if ! grep -qxF "$include" "$DATA/postgresql.conf"; then
    printf '\n# settings managed by scripts/pg.sh\n%s\n' "$include" | as_pg_user tee -a "$DATA/postgresql.conf" >/dev/null
  fi
  # Rewritten on every start, so edits to this script take effect at the next (re)start.
  # Sized for the machine kind this project runs on: 2 cores, 24 GiB RAM.
  as_pg_user tee "$DATA/bel.conf" >/dev/null <<EOF
# Written by scripts/pg.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0777
max_connections = $MAX_CONNECTIONS
# two-phase commit: appends in PREPAREd transactions are tested (default 0 disables PREPARE)
max_prepared_transactions = 20
shared_buffers = $SHARED_BUFFERS
effective_cache_size = 12GB
work_mem = 16MB
maintenance_work_mem = 512MB
wal_buffers = 16MB
min_wal_size = 1GB
max_wal_size = 4GB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
random_page_cost = 1.1
max_worker_processes = 8
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
max_parallel_maintenance_workers = 1
dynamic_shared_memory_type = posix
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = -1
lc_messages = 'C'
timezone = 'UTC'
log_timezone = 'UTC'
# the no-loss horizon's in-flight slots (BEL_PG_PRELOAD)
$preload
${BEL_PG_EXTRA_CONF:-}
EOF
}

cmd_start() {
  preflight
  make_dirs
  local pid
  pid="$(running_pid)"
  if [ -n "$pid" ] && as_pg_user grep -qs 'bel\.so (deleted)' "/proc/$pid/maps"; then
    # install-ext.sh replaces bel.so by rename: the postmaster still maps the old file, and
    # every backend it forks runs the old code
    log "bel.so was reinstalled since the server started (pid $pid preloads the old one): restarting"
    cmd_stop
    pid=""
  fi
  if [ -n "$pid" ]; then
    wait_ready
    log "already running (pid $pid); $(cmd_dsn)"
    return 0
  fi
  clear_stale_locks
  init_if_needed
  write_config
  log "starting (data $DATA, socket $SOCK, log $LOGFILE)"
  if ! as_pg_user "$PG_BIN/pg_ctl" start -D "$DATA" -l "$LOGFILE" -w -t 120 -s; then
    tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
    die "pg_ctl start failed; see $LOGFILE"
  fi
  wait_ready
  log "ready; $(cmd_dsn)"
}

cmd_stop() {
  preflight
  local pid
  pid="$(running_pid)"
  if [ -z "$pid" ]; then
    log "not running"
    return 0
  fi
  log "stopping (pid $pid)"
  as_pg_user "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 120 -s
  log "stopped"
}

cmd_status() {
  local pid
  pid="$(running_pid)"
  if [ -n "$pid" ]; then
    echo "running: pid $pid, port $PORT, data $DATA, socket $SOCK, log $LOGFILE"
    echo "dsn: $(cmd_dsn)"
    return 0
  fi
  if [ -f "$DATA/PG_VERSION" ]; then
    echo "not running (data $DATA)"
  else
    echo "not running (no cluster at $DATA yet)"
  fi
  return 3
}

cmd_dsn() {
  echo "host=$SOCK port=$PORT user=$SUPERUSER dbname=${1:-$DB_DEFAULT}"
}

cmd_psql() {
  unset PGHOSTADDR PGSERVICE PGSERVICEFILE
  export PGHOST="$SOCK" PGPORT="$PORT" PGUSER="$SUPERUSER" PGDATABASE="$DB_DEFAULT"
  local psql="$PG_BIN/psql"
  [ -x "$psql" ] || psql="psql"
  exec "$psql" "$@"
}

cmd_standby_of() {
  local primary_port="${1:-}" primary_sock out
  [[ "$primary_port" =~ ^[0-9]+$ ]] || die "usage: $0 standby-of PRIMARY_PORT"
  [ "$primary_port" != "$PORT" ] || die "a cluster cannot be a standby of itself (port $PORT)"
  primary_sock="${BEL_PG_PRIMARY_ROOT:-/var/tmp/bel-$primary_port}/sock"
  preflight
  make_dirs
  if [ -f "$DATA/PG_VERSION" ]; then
    [ -f "$DATA/standby.signal" ] || die "$DATA holds a cluster that is not a standby; run: $0 destroy"
  else
    if [ -d "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
      # a base backup interrupted by a killed machine: no PG_VERSION yet
      [ "$(stat -c %U "$DATA")" = "$PG_OS_USER" ] || die "$DATA is not empty and not a cluster; remove it"
      log "removing incomplete data directory $DATA (the base backup did not finish)"
      rm -rf "$DATA"
    fi
    log "pg_basebackup of the cluster on port $primary_port into $DATA (standby, WAL streamed)"
    if ! out="$(as_pg_user "$PG_BIN/pg_basebackup" -h "$primary_sock" -p "$primary_port" -U "$SUPERUSER" \
      -D "$DATA" -R -X stream -c fast 2>&1)"; then
      printf '%s\n' "$out" >&2
      rm -rf "$DATA"
      die "pg_basebackup from port $primary_port failed (is that cluster running?)"
    fi
  fi
  cmd_start
}

cmd_destroy() {
  cmd_stop
  if [ -d "$ROOT" ]; then
    log "removing $ROOT"
    rm -rf "$ROOT"
  fi
}

sub="${1:-}"
[ $# -gt 0 ] && shift
case "$sub" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  psql) cmd_psql "$@" ;;
  dsn) cmd_dsn "$@" ;;
  logfile) echo "$LOGFILE" ;;
  destroy) cmd_destroy ;;
  standby-of) cmd_standby_of "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
