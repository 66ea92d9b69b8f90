#!/usr/bin/env bash
# Builds the bel extension (release) and installs it into the system PostgreSQL 15
# directories (pkglibdir, sharedir/extension), where every cluster on this machine,
# including the private ones of scripts/pg.sh, loads it from.
#
# Always reinstalls, so the installed .so and SQL always match the working tree; cargo's
# build is incremental, so this is quick when nothing changed.
#
# Environment: BEL_SKIP_SETUP=1 skips scripts/setup.sh (callers that just ran it).
#
# Files are replaced by rename, never rewritten in place: a backend that has the old bel.so
# mapped keeps a valid mapping (overwriting it would crash such backends). Sessions load the
# new .so when they next connect (or after a cluster restart).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { bel_log install-ext "$*"; }

if [ "${BEL_SKIP_SETUP:-0}" != 1 ]; then
  bash "$BEL_SCRIPTS/setup.sh"
fi

cd "$BEL_REPO_ROOT"
OUT="$BEL_REPO_ROOT/target/release/bel-package"
log "cargo pgrx package --pg-config $PG_CONFIG --out-dir $OUT"
start="$(now_s)"
rm -rf "$OUT" # a package of another version must not leave its files here
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$OUT"
# The package holds the current version's install script and the upgrade scripts
# (sql/bel--A--B.sql). The install scripts of released versions (sql/bel--A.sql) are added,
# so that an old version can be created and updated from (scripts/upgrade-test.sh).
EXTDIR="$OUT$("$PG_CONFIG" --sharedir)/extension"
for f in "$BEL_REPO_ROOT"/sql/bel--*.sql; do
  name="$(basename "$f" .sql)"
  if [[ "${name#bel--}" != *--* ]]; then
    [ ! -e "$EXTDIR/$name.sql" ] || bel_die install-ext "sql/$name.sql is the current version's install script: bump the version"
    install -m 0644 "$f" "$EXTDIR/$name.sql"
  fi
done

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo) # the system extension directories belong to root
fi
# install_file SRC DEST: a temporary file beside DEST, then rename over DEST
install_file() {
  local src="$1" dest="$2" tmp mode=0644
  [[ "$dest" != *.so ]] || mode=0755
  tmp="$(dirname "$dest")/.$(basename "$dest").new.$$"
  "${SUDO[@]}" install -m "$mode" "$src" "$tmp"
  "${SUDO[@]}" mv -f "$tmp" "$dest"
}
count=0
while IFS= read -r -d '' f; do
  install_file "$f" "/${f#"$OUT"/}"
  count=$((count + 1))
done < <(find "$OUT" -type f -print0)
[ "$count" -gt 0 ] || bel_die install-ext "cargo pgrx package produced no files in $OUT"
log "installed $count files into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension in $(($(now_s) - start)) s"
