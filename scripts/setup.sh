#!/usr/bin/env bash
# Installs everything a fresh machine of this kind lacks to build, test and demo bel.
# Idempotent: every step checks first and skips what is already there.
set -euo pipefail

PG_MAJOR=15
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
CARGO_PGRX_VERSION=0.18.1

log() { printf '[setup] %s\n' "$*"; }

need_apt=()
[ -f /usr/include/postgresql/$PG_MAJOR/server/postgres.h ] || need_apt+=(postgresql-server-dev-$PG_MAJOR)
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
command -v sudo >/dev/null 2>&1 || need_apt+=(sudo)
[ -x /usr/lib/postgresql/$PG_MAJOR/bin/postgres ] || need_apt+=(postgresql-$PG_MAJOR)
command -v pgbench >/dev/null 2>&1 || need_apt+=(postgresql-contrib)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
else
  log "system packages present"
fi

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
  cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
fi

# pgrx installs the extension into the system Postgres directories; the postgres user
# must be able to read the build tree when `cargo pgrx test --runas postgres` runs.
log "done"
