#!/usr/bin/env bash
# Installs everything a fresh machine of this kind lacks to build, test, demo and benchmark bel.
# Idempotent: every step checks first and skips what is already there.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CARGO_PGRX_VERSION=0.18.1

log() { bel_log setup "$*"; }

command -v cargo >/dev/null 2>&1 || bel_die setup "cargo not found: install Rust (rustup) first"

need_apt=()
[ -f "/usr/include/postgresql/$PG_MAJOR/server/postgres.h" ] || need_apt+=("postgresql-server-dev-$PG_MAJOR")
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v sudo >/dev/null 2>&1 || need_apt+=(sudo)
# server binaries (postgres, initdb, pg_ctl) and pgbench (Debian ships it in postgresql-15)
{ [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/pgbench" ]; } || need_apt+=("postgresql-$PG_MAJOR")
[ -x "$PG_BIN/psql" ] || need_apt+=("postgresql-client-$PG_MAJOR")
# the dashboard's browser tests: headless Chromium driven through WebDriver
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
else
  log "system packages present"
fi
id "$PG_OS_USER" >/dev/null 2>&1 || bel_die setup "OS user $PG_OS_USER missing (it comes with postgresql-$PG_MAJOR)"

if cargo pgrx --version 2>/dev/null | grep -q "$CARGO_PGRX_VERSION"; then
  log "cargo-pgrx $CARGO_PGRX_VERSION present"
else
  log "cargo install cargo-pgrx $CARGO_PGRX_VERSION (takes a few minutes)"
  cargo install cargo-pgrx --version "$CARGO_PGRX_VERSION" --locked
fi

if grep -qs "pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  log "cargo pgrx already initialised for pg$PG_MAJOR"
else
  log "cargo pgrx init --pg$PG_MAJOR $PG_CONFIG"
  cargo pgrx init "--pg$PG_MAJOR" "$PG_CONFIG"
fi

# pgrx installs the extension into the system Postgres directories; the postgres user
# must be able to read the build tree when `cargo pgrx test --runas postgres` runs
# (pg_ctl is started from the crate directory and changes back into it).
ensure_pg_user_can_read "$BEL_REPO_ROOT"
mkdir -p "$BEL_REPO_ROOT/target"
ensure_pg_user_can_read "$BEL_REPO_ROOT/target"
log "done"
