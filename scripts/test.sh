#!/usr/bin/env bash
# Runs every test of the project, in this order:
#   setup    scripts/setup.sh (system packages, cargo-pgrx, pgrx init; skips what is present)
#   unit     cargo test -p bel-core -p bel-sim -p bel-client -p bel-cli -p bel-serve   (pure Rust, no database)
#   pgrx     cargo pgrx test pg15 -p bel --runas postgres     (#[pg_test]s in a throwaway cluster,
#            one at a time: RUST_TEST_THREADS=1)
#   install  scripts/install-ext.sh                            (release build into system PG 15)
#   standby  cargo test -p bel-standby-tests -- --test-threads=1   (followers on a hot standby: the step's
#            own primary on port 54412 and a streaming standby of it on port 54413, made afresh with
#            scripts/pg.sh standby-of (pg_basebackup -R); both stopped at the end)
#   upgrade  scripts/upgrade-test.sh                           (0.1.0 -> current version: ALTER EXTENSION
#            UPDATE and pg_dump/pg_restore, tests/upgrade/, on the cluster of port 54330)
#   isolation scripts/pg-regress.sh isolation                  (concurrency specs, pg_isolation_regress,
#            tests/isolation/, twice: with bel preloaded (the no-loss horizon's in-flight slots) on a
#            private cluster on port 54340, and without (the lock-based fallback) on port 54342)
#   regress  scripts/pg-regress.sh regress                     (golden outputs of every refusal, pg_regress,
#            tests/regress/, private cluster on port 54341, bel not preloaded)
#   cluster  cargo test -p bel-cluster-tests -p bel-client-tests -- --test-threads=1
#            (bel-client-tests: SQL and TLS, and HTTP against a bel serve started in-process)
#            against a private cluster on port 54330 (database bel_test), via BEL_TEST_DSN
#   http     cargo test -p bel-http-tests -- --test-threads=1   (bel serve started in-process: followers
#            under writers and across a restart, long-poll wake-ups and timeouts, errors, caching,
#            views, the database over TLS) against the cluster of port 54330 and the step's own cluster on port 54351
#            (prepared transactions on; the outage test stops and starts it), stopped at the end
#   browser  cargo test -p bel-browser-tests -- --test-threads=1   (the dashboard in headless Chromium
#            through chromedriver: pages without console errors, the partition filter, the live tail,
#            a build's job runs, login) against bel serve started in-process on the cluster of port 54330
#   crash    cargo test -p bel-cluster-tests --features crash --test crash -- --test-threads=1
#            (kill -9 of the postmaster under 8 writers and 4 followers, 5 times: acknowledged appends,
#            idx, verify(), followers' cursors) on the step's own cluster on port 54381, which the test
#            kills and restarts (BEL_CRASH_PG_PORT), stopped at the end
# A failing step does not stop the independent ones after it (standby, upgrade, isolation,
# regress, cluster, http, browser and crash need install);
# the summary at the end lists every step, and the exit status is non-zero if any failed.
#
#   bash scripts/test.sh                 everything
#   bash scripts/test.sh unit cluster    only these steps (setup always runs)
#
# Every cluster preloads bel (scripts/pg.sh, BEL_PG_PRELOAD) except the regress step's and the
# second isolation run's, which test the lock-based fallback of the no-loss horizon.
# Environment: BEL_TEST_PORT (54330), BEL_TEST_HTTP_PORT (54351), BEL_TEST_CRASH_PORT (54381),
# BEL_ISOLATION_PORT (54340), BEL_ISOLATION_FALLBACK_PORT (54342), BEL_REGRESS_PORT (54341),
# BEL_TEST_STANDBY_PRIMARY_PORT (54412), BEL_TEST_STANDBY_PORT (54413),
# BEL_PGRX_TEST_DIR (/var/tmp/bel-pgrx-test).
# The cluster this script starts is stopped when it exits; one that was already running is left.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_STEPS=(unit pgrx install standby upgrade isolation regress cluster http browser crash)
TEST_PORT="${BEL_TEST_PORT:-54330}"
PGRX_TEST_DIR="${BEL_PGRX_TEST_DIR:-/var/tmp/bel-pgrx-test}"
TEST_DB=bel_test

log() { bel_log test "$*"; }
banner() { printf '\n[test] ===== %s =====\n' "$*" >&2; }

if [ $# -gt 0 ]; then
  for s in "$@"; do
    case " ${ALL_STEPS[*]} " in *" $s "*) ;; *) bel_die test "unknown step '$s' (steps: ${ALL_STEPS[*]})" ;; esac
  done
  STEPS=("$@")
else
  STEPS=("${ALL_STEPS[@]}")
fi

cd "$BEL_REPO_ROOT"

# --- the private cluster for the cluster tests, stopped on exit if we started it ----------
pg_test() { BEL_PG_PORT="$TEST_PORT" BEL_PG_ROOT="/var/tmp/bel-$TEST_PORT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }
STARTED_CLUSTER=0
STARTED_HTTP_CLUSTER=0
STARTED_CRASH_CLUSTER=0
STARTED_STANDBY_CLUSTERS=0
cleanup() {
  local rc=$?
  if [ "$STARTED_CLUSTER" = 1 ]; then
    log "stopping the test cluster on port $TEST_PORT"
    pg_test stop || true
  fi
  if [ "$STARTED_HTTP_CLUSTER" = 1 ]; then
    pg_http stop || true
  fi
  if [ "$STARTED_CRASH_CLUSTER" = 1 ]; then
    pg_crash stop || true
  fi
  if [ "$STARTED_STANDBY_CLUSTERS" = 1 ]; then
    pg_standby stop || true
    pg_standby_primary stop || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- steps ------------------------------------------------------------------------------
step_unit() {
  cargo test -p bel-core -p bel-sim -p bel-client -p bel-cli -p bel-serve
}

# cargo-pgrx 0.18.1 with --runas/--pgdata: the test process runs `sudo -u postgres mkdir -p
# <pgdata>/15-<pid>`, initdb and pg_ctl there, puts the socket in <pgdata> itself, and removes
# <pgdata>/15-<pid> on a clean exit. So <pgdata> must exist (or be creatable) and be writable
# by postgres; it need not be empty. We pre-create it owned by postgres and clear leftovers of
# killed runs (whose test process is gone).
prepare_pgrx_dir() {
  mkdir -p "$PGRX_TEST_DIR"
  chown "$PG_OS_USER:" "$PGRX_TEST_DIR"
  chmod 0755 "$PGRX_TEST_DIR"
  local d pid pm
  for d in "$PGRX_TEST_DIR"/[0-9]*-[0-9]*; do
    [ -d "$d" ] || continue
    pid="${d##*-}"
    if [ -d "/proc/$pid" ]; then
      continue # a test run that is still going
    fi
    if [ -f "$d/postmaster.pid" ]; then
      pm="$(head -n 1 "$d/postmaster.pid" 2>/dev/null || true)"
      if [[ "$pm" =~ ^[0-9]+$ ]] && [ -d "/proc/$pm" ]; then
        log "stopping the leftover test postmaster of a killed run in $d"
        as_pg_user "$PG_BIN/pg_ctl" stop -D "$d" -m immediate -s || true
      fi
    fi
    log "removing leftover $d"
    rm -rf "$d"
  done
}

step_pgrx() {
  prepare_pgrx_dir || return 1
  ensure_pg_user_can_read "$BEL_REPO_ROOT" || return 1
  # One test at a time: every #[pg_test] runs in its own transaction in one database, and a
  # page read stops below another test's append still in flight (the no-loss horizon), so
  # tests that append and read pages would depend on each other's timing.
  RUST_TEST_THREADS=1 cargo pgrx test pg15 -p bel --runas "$PG_OS_USER" --pgdata "$PGRX_TEST_DIR"
}

step_install() {
  BEL_SKIP_SETUP=1 bash "$BEL_SCRIPTS/install-ext.sh"
}

# Followers on a hot standby (tests/standby/): a primary of the step's own and a streaming
# standby of it, made afresh from a base backup each run (a standby of an earlier primary
# could not follow this one).
STANDBY_PRIMARY_PORT="${BEL_TEST_STANDBY_PRIMARY_PORT:-54412}"
STANDBY_PORT="${BEL_TEST_STANDBY_PORT:-54413}"
pg_standby_primary() {
  BEL_PG_SHARED_BUFFERS=256MB BEL_PG_PORT="$STANDBY_PRIMARY_PORT" BEL_PG_ROOT="/var/tmp/bel-$STANDBY_PRIMARY_PORT" \
    bash "$BEL_SCRIPTS/pg.sh" "$@"
}
pg_standby() {
  BEL_PG_SHARED_BUFFERS=256MB BEL_PG_PORT="$STANDBY_PORT" BEL_PG_ROOT="/var/tmp/bel-$STANDBY_PORT" \
    bash "$BEL_SCRIPTS/pg.sh" "$@"
}

step_standby() {
  STARTED_STANDBY_CLUSTERS=1
  local rc=0
  { restart_if_running pg_standby_primary && pg_standby_primary start && pg_standby destroy && pg_standby standby-of "$STANDBY_PRIMARY_PORT"; } || rc=1
  if [ "$rc" = 0 ]; then
    BEL_TEST_PRIMARY_DSN="$(pg_standby_primary dsn postgres)" BEL_TEST_STANDBY_DSN="$(pg_standby dsn postgres)" \
      cargo test -p bel-standby-tests -- --test-threads=1 || rc=1
  fi
  pg_standby stop || rc=1
  pg_standby_primary stop || rc=1
  STARTED_STANDBY_CLUSTERS=0
  return "$rc"
}

step_upgrade() {
  restart_if_running pg_test || return 1
  BEL_PG_PORT="$TEST_PORT" BEL_PG_ROOT="/var/tmp/bel-$TEST_PORT" bash "$BEL_SCRIPTS/upgrade-test.sh"
}

step_isolation() {
  local rc=0
  log "isolation specs with the in-flight slots (bel preloaded)"
  BEL_PG_PRELOAD=1 bash "$BEL_SCRIPTS/pg-regress.sh" isolation || rc=1
  log "isolation specs with the lock-based fallback (bel not preloaded)"
  BEL_PG_PRELOAD=0 BEL_ISOLATION_PORT="${BEL_ISOLATION_FALLBACK_PORT:-54342}" \
    bash "$BEL_SCRIPTS/pg-regress.sh" isolation || rc=1
  return "$rc"
}

step_regress() {
  BEL_PG_PRELOAD=0 bash "$BEL_SCRIPTS/pg-regress.sh" regress
}

# A preloaded library is loaded once, by the postmaster: a test cluster left running from an
# earlier run is restarted, so that it runs the extension just installed (and preloads it).
restart_if_running() {
  if "$1" status >/dev/null 2>&1; then
    log "restarting the running cluster to load the extension just installed"
    "$1" restart
  fi
}

# SQL over TLS (tests/client/tests/sql_tls.rs, tests/http/tests/serve/tls.rs): a throwaway
# CA and a server certificate it signs for localhost and 127.0.0.1, switched on with ALTER SYSTEM and a reload
# (unix-socket connections, which the other tests use, are unaffected). Prints the CA
# certificate's path.
enable_test_tls() {
  local dir="/var/tmp/bel-$TEST_PORT/tls" i
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  if [ ! -s "$dir/ca.crt" ] || [ ! -s "$dir/server.crt" ]; then
    mkdir -p "$dir"
    {
      openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=bel test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" &&
        openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" &&
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 3650 \
          -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n') \
          -out "$dir/server.crt"
    } 2>/dev/null || return 1
  fi
  chown -R "$PG_OS_USER:" "$dir" && chmod 0755 "$dir" && chmod 0600 "$dir"/*.key && chmod 0644 "$dir"/*.crt || return 1
  pg_test psql -X -q -v ON_ERROR_STOP=1 -c "alter system set ssl_cert_file = '$dir/server.crt'" \
    -c "alter system set ssl_key_file = '$dir/server.key'" -c "alter system set ssl = on" \
    -c "select pg_reload_conf()" >/dev/null || return 1
  # The reload is asynchronous: wait until a TLS connection is accepted.
  for i in $(seq 50); do
    if "$PG_BIN/psql" -X -q -t "host=localhost port=$TEST_PORT user=postgres dbname=postgres sslmode=require" \
      -c "select 1" >/dev/null 2>&1; then
      echo "$dir/ca.crt"
      return 0
    fi
    sleep 0.1
  done
  log "TLS did not come up on port $TEST_PORT"
  return 1
}

step_cluster() {
  if ! pg_test status >/dev/null 2>&1; then
    STARTED_CLUSTER=1
  fi
  restart_if_running pg_test || return 1
  pg_test start || return 1
  log "recreating database $TEST_DB"
  pg_test psql -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
    -c "drop database if exists $TEST_DB with (force)" \
    -c "create database $TEST_DB" || return 1
  # The client's tests use this database as it is; the cluster tests make their own.
  pg_test psql -X -q -v ON_ERROR_STOP=1 -d "$TEST_DB" -c "create extension bel" || return 1
  local dsn
  dsn="$(pg_test dsn "$TEST_DB")"
  log "BEL_TEST_DSN='$dsn'"
  local root_cert
  root_cert="$(enable_test_tls)" || return 1
  BEL_TEST_DSN="$dsn" BEL_TEST_TLS_DSN="port=$TEST_PORT user=postgres dbname=$TEST_DB" BEL_TEST_TLS_ROOT_CERT="$root_cert" \
    BEL_TEST_IN_FLIGHT_SLOTS=on cargo test -p bel-cluster-tests -p bel-client-tests -- --test-threads=1
}

# bel serve's tests. The step's own cluster lets a test stop the database under a running
# server, and has prepared transactions (COMMIT PREPARED is a commit that sends no NOTIFY);
# the outage test starts it again with the same settings (pg.sh reads them from the
# environment it inherits).
HTTP_PORT="${BEL_TEST_HTTP_PORT:-54351}"
HTTP_PG_ENV=(BEL_PG_SHARED_BUFFERS=128MB "BEL_PG_EXTRA_CONF=max_prepared_transactions = 8")
pg_http() { env "${HTTP_PG_ENV[@]}" BEL_PG_PORT="$HTTP_PORT" BEL_PG_ROOT="/var/tmp/bel-$HTTP_PORT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }

step_http() {
  if ! pg_test status >/dev/null 2>&1; then
    STARTED_CLUSTER=1
  fi
  pg_test start || return 1
  STARTED_HTTP_CLUSTER=1
  restart_if_running pg_http || return 1
  pg_http start || return 1
  local rc=0 root_cert
  root_cert="$(enable_test_tls)" || return 1
  env "${HTTP_PG_ENV[@]}" BEL_TEST_DSN="$(pg_test dsn postgres)" BEL_TEST_HTTP_DSN="$(pg_http dsn postgres)" \
    BEL_TEST_HTTP_PORT="$HTTP_PORT" BEL_TEST_TLS_DSN="port=$TEST_PORT user=postgres" BEL_TEST_TLS_ROOT_CERT="$root_cert" \
    cargo test -p bel-http-tests -- --test-threads=1 || rc=1
  pg_http stop || rc=1
  STARTED_HTTP_CLUSTER=0
  return "$rc"
}

# The dashboard's browser tests: each test makes its own database on the test cluster, fills it
# with demo builds and drives headless Chromium (scripts/setup.sh installs chromium and
# chromium-driver) against an in-process bel serve.
step_browser() {
  if ! pg_test status >/dev/null 2>&1; then
    STARTED_CLUSTER=1
  fi
  pg_test start || return 1
  BEL_TEST_DSN="$(pg_test dsn postgres)" cargo test -p bel-browser-tests -- --test-threads=1
}

# Crash recovery: the test starts the step's own cluster, kills it with SIGKILL and starts it
# again through scripts/pg.sh (tests/cluster/tests/crash/). Only this step builds that test
# (cargo feature crash): it must never kill a cluster other tests use.
CRASH_PORT="${BEL_TEST_CRASH_PORT:-54381}"
pg_crash() { BEL_PG_PORT="$CRASH_PORT" BEL_PG_ROOT="/var/tmp/bel-$CRASH_PORT" bash "$BEL_SCRIPTS/pg.sh" "$@"; }

step_crash() {
  STARTED_CRASH_CLUSTER=1
  local rc=0
  BEL_CRASH_PG_PORT="$CRASH_PORT" BEL_CRASH_PG_ROOT="/var/tmp/bel-$CRASH_PORT" BEL_TEST_IN_FLIGHT_SLOTS=on \
    cargo test -p bel-cluster-tests --features crash --test crash -- --test-threads=1 --nocapture || rc=1
  pg_crash stop || rc=1
  STARTED_CRASH_CLUSTER=0
  return "$rc"
}

# --- run ----------------------------------------------------------------------------------
declare -a R_NAME=() R_STATUS=() R_SECS=()
record() { R_NAME+=("$1"); R_STATUS+=("$2"); R_SECS+=("$3"); }

summary() {
  printf '\n[test] ===== summary =====\n' >&2
  local i
  for i in "${!R_NAME[@]}"; do
    printf '[test]   %-9s %-5s %5ss\n' "${R_NAME[$i]}" "${R_STATUS[$i]}" "${R_SECS[$i]}" >&2
  done
}

T0="$(now_s)"
banner "setup"
t="$(now_s)"
if bash "$BEL_SCRIPTS/setup.sh"; then
  record setup PASS $(($(now_s) - t))
else
  record setup FAIL $(($(now_s) - t))
  summary
  bel_die test "setup failed; nothing else was run"
fi

failed=0
install_ok=1
for s in "${STEPS[@]}"; do
  if [[ " standby upgrade isolation regress cluster http browser crash " == *" $s "* ]] && [ "$install_ok" = 0 ]; then
    log "skipping $s: the extension was not installed"
    record "$s" SKIP 0
    failed=1
    continue
  fi
  banner "$s"
  t="$(now_s)"
  if "step_$s"; then
    record "$s" PASS $(($(now_s) - t))
  else
    record "$s" FAIL $(($(now_s) - t))
    failed=1
    [ "$s" != install ] || install_ok=0
  fi
done

summary
if [ "$failed" = 0 ]; then
  log "all passed in $(($(now_s) - T0)) s"
else
  log "FAILED (total $(($(now_s) - T0)) s)"
  exit 1
fi
