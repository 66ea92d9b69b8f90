# Shared helpers for the scripts in this directory. Source it; do not run it.
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck shell=bash disable=SC2034

BEL_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BEL_SCRIPTS="$BEL_REPO_ROOT/scripts"
PG_MAJOR=15
PG_BIN="${BEL_PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}"
PG_CONFIG="$PG_BIN/pg_config"
# The operating-system user that owns and runs every Postgres cluster the scripts start
# (initdb and postgres refuse to run as root).
PG_OS_USER="${BEL_PG_OS_USER:-postgres}"

# cargo from rustup is often not on PATH in non-login shells (CI).
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# log TAG message...: one progress line on stderr, e.g. "[pg] starting ..."
bel_log() {
  local tag="$1"
  shift
  printf '[%s] %s\n' "$tag" "$*" >&2
}

bel_die() {
  local tag="$1"
  shift
  printf '[%s] ERROR: %s\n' "$tag" "$*" >&2
  exit 1
}

# Runs a command as the Postgres OS user from /, so that its working directory is always
# accessible to that user (PG 15's pg_ctl/initdb chdir back to the cwd and fail otherwise).
as_pg_user() {
  if [ "$(id -un)" = "$PG_OS_USER" ]; then
    (cd / && "$@")
  else
    (cd / && sudo -n -u "$PG_OS_USER" -- "$@")
  fi
}

# ensure_pg_user_can_read DIR: the Postgres OS user can traverse every ancestor of DIR and
# read DIR itself. Adds o+x (traverse only) to ancestors and o+rx to DIR where missing.
ensure_pg_user_can_read() {
  local dir="$1" d
  [ "$(id -u)" -eq 0 ] || return 0
  id "$PG_OS_USER" >/dev/null 2>&1 || return 0
  dir="$(cd "$dir" && pwd -P)"
  d="$dir"
  while [ "$d" != "/" ]; do
    d="$(dirname "$d")"
    if ! sudo -n -u "$PG_OS_USER" test -x "$d"; then
      bel_log perms "chmod o+x $d (so that user $PG_OS_USER can traverse it)"
      chmod o+x "$d"
    fi
  done
  if ! sudo -n -u "$PG_OS_USER" test -r "$dir" -a -x "$dir"; then
    bel_log perms "chmod o+rx $dir (so that user $PG_OS_USER can read it)"
    chmod o+rx "$dir"
  fi
}

# now_s: seconds since the epoch (for step timings).
now_s() { date +%s; }

# The benchmarks' first step: setup + install the extension, unless BENCH_SKIP_INSTALL=1
# (then the installed one is measured).
bench_install_unless_skipped() {
  if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
    bel_log bench "setup + install the extension (BENCH_SKIP_INSTALL=1 skips this)"
    bash "$BEL_SCRIPTS/setup.sh"
    BEL_SKIP_SETUP=1 bash "$BEL_SCRIPTS/install-ext.sh"
  fi
  bench_refuse_debug_build
}

# A benchmark of a debug build measures the debug build: `cargo pgrx test` installs one (with
# the #[pg_test] functions) into the PostgreSQL it tests against. A release build has no
# .debug_info section (Cargo.toml's profiles); a dev build keeps line tables.
bench_refuse_debug_build() {
  local so
  so="$("$PG_CONFIG" --pkglibdir)/bel.so"
  if ! command -v readelf >/dev/null 2>&1; then
    bel_log bench "readelf not found: cannot check that $so is a release build"
    return 0
  fi
  if readelf -S "$so" 2>/dev/null | grep -q '\.debug_info'; then
    bel_die bench "$so is a debug build (cargo pgrx test installs one): run without BENCH_SKIP_INSTALL=1, or scripts/install-ext.sh"
  fi
}
