#!/usr/bin/env bash
# The --launcher of pg_regress (scripts/pg-regress.sh regress): runs the psql command it is
# given and drops the LOCATION lines of verbose errors (a source file and line number, which
# move with every edit of the extension or a PostgreSQL minor release; the contract is the
# SQLSTATE, message, DETAIL and HINT). pg_regress redirects this script's output to the
# result file.
set -o pipefail
"$@" 2>&1 | sed '/^LOCATION:  /d'
