#!/usr/bin/env bash
# Builds the bel extension (release) and installs it into the system PostgreSQL 15
# directories (pkglibdir, sharedir/extension), where every cluster on this machine,
# including the private ones of scripts/pg.sh, loads it from.
#
# Always reinstalls, so the installed .so and SQL always match the working tree; cargo's
# build is incremental, so this is quick when nothing changed.
#
# Environment: BEL_SKIP_SETUP=1 skips scripts/setup.sh (callers that just ran it).
# Running sessions keep the old .so loaded; reconnect (or restart the cluster) afterwards.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { bel_log install-ext "$*"; }

if [ "${BEL_SKIP_SETUP:-0}" != 1 ]; then
  bash "$BEL_SCRIPTS/setup.sh"
fi

args=(pgrx install --release --pg-config "$PG_CONFIG")
if [ "$(id -u)" -ne 0 ]; then
  # the system extension directories belong to root
  args+=(--sudo)
fi

cd "$BEL_REPO_ROOT"
log "cargo ${args[*]}"
start="$(now_s)"
cargo "${args[@]}"
log "installed into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension in $(($(now_s) - start)) s"
