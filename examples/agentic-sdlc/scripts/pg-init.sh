#!/usr/bin/env bash
# Example infrastructure for tend's agentic-sdlc example: the one-shot app
# `postgres-init`. On the first start it creates the local PostgreSQL cluster in
# $PGDATA (.data/postgres): role `agentic` (trust auth, local dev only) and the
# database `agentic_sdlc`. When $PGDATA/PG_VERSION exists it does nothing.
# Exits 0 on success.
#
# Env (set by pm2/ecosystem.dev.config.js): PG_BIN (folder with initdb, pg_ctl,
# postgres, createdb), PGDATA, PGPORT (default 5433).
#
# PostgreSQL refuses to run as root: when this runs as root, the cluster is owned
# by the `postgres` user and every PostgreSQL binary runs as that user (setpriv,
# else runuser).
set -euo pipefail

: "${PG_BIN:?PG_BIN must name the folder that holds initdb}"
: "${PGDATA:?PGDATA must name the data folder}"
PGPORT="${PGPORT:-5433}"
DB_USER=agentic
DB_NAME=agentic_sdlc

log() { echo "[postgres-init] $*"; }

if [ -f "$PGDATA/PG_VERSION" ]; then
  log "$PGDATA is initialised (PostgreSQL $(cat "$PGDATA/PG_VERSION")); nothing to do"
  exit 0
fi

if [ -e "$PGDATA" ]; then
  rmdir "$PGDATA" 2>/dev/null || { echo "[postgres-init] $PGDATA exists but holds no cluster (no PG_VERSION): move it away or delete it" >&2; exit 1; }
fi

as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "[postgres-init] running as root and there is no 'postgres' user to run PostgreSQL as" >&2; exit 1; }
  if command -v setpriv >/dev/null; then
    as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
  else
    as_pg() { runuser -u postgres -- "$@"; }
  fi
fi

# Build the cluster in a scratch folder and move it into place at the end, so
# an interrupted init never leaves a half-made $PGDATA behind.
work="$PGDATA.init"
sock="$(mktemp -d /tmp/agentic-pg-init.XXXXXX)"
started=""
cleanup() {
  if [ -n "$started" ]; then as_pg "$PG_BIN/pg_ctl" -D "$work" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$sock"
}
trap cleanup EXIT

rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$work" "$sock"
  as_pg test -w "$work" || { echo "[postgres-init] the 'postgres' user cannot reach $work: a parent folder is not searchable by others (chmod o+x it, or use TEND_INFRA=off)" >&2; exit 1; }
fi

log "initdb $PGDATA (user $DB_USER, trust auth)"
t0=$(date +%s%N)
as_pg "$PG_BIN/initdb" -D "$work" -U "$DB_USER" --auth=trust -E UTF8 --no-locale --no-sync >/dev/null

# A temporary server on a unix socket only (no TCP), just to create the database.
log "creating database $DB_NAME"
as_pg "$PG_BIN/pg_ctl" -D "$work" -o "-c listen_addresses='' -k $sock -p $PGPORT" -l "$sock/init.log" -w -t 60 start >/dev/null
started=1
as_pg "$PG_BIN/createdb" -h "$sock" -p "$PGPORT" -U "$DB_USER" "$DB_NAME"
as_pg "$PG_BIN/pg_ctl" -D "$work" -m fast -w -t 60 stop >/dev/null
started=""

mv "$work" "$PGDATA"
log "done in $(( ($(date +%s%N) - t0) / 1000000 ))ms: postgresql://$DB_USER@127.0.0.1:$PGPORT/$DB_NAME"
