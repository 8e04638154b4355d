#!/usr/bin/env bash
# Example infrastructure for tend's agentic-sdlc example: the app `postgres`.
# Runs PostgreSQL in the foreground on 127.0.0.1:$PGPORT (default 5433) with the
# cluster that scripts/pg-init.sh made in $PGDATA. It `exec`s, so the supervised
# process IS postgres and tend's stop signal (SIGINT = fast shutdown) reaches it.
# As root it drops to the `postgres` user with setpriv, which execs too (runuser
# would stay in between as a parent and SIGKILL postgres 2s after a signal).
#
# Env (set by pm2/ecosystem.dev.config.js): PG_BIN, PGDATA, PGPORT.
set -euo pipefail

: "${PG_BIN:?PG_BIN must name the folder that holds postgres}"
: "${PGDATA:?PGDATA must name the data folder}"
PGPORT="${PGPORT:-5433}"

# Under tend, depends_on {postgres-init: completed} orders this after the init.
# PM2 ignores depends_on, so wait a little for the init instead of failing.
for _ in $(seq 1 120); do
  [ -f "$PGDATA/PG_VERSION" ] && break
  sleep 0.5
done
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  echo "[postgres] $PGDATA is not initialised: start the postgres-init app (scripts/pg-init.sh) first" >&2
  exit 1
fi

# The unix socket lives in the data folder, unless its path would be too long
# (the limit is about 107 bytes); clients here use TCP on 127.0.0.1 anyway.
sockdir="$PGDATA"
if [ $(( ${#PGDATA} + 20 )) -gt 100 ]; then sockdir=/tmp; fi

cmd=("$PG_BIN/postgres" -D "$PGDATA" -p "$PGPORT" -h 127.0.0.1 -k "$sockdir")
if [ "$(id -u)" = 0 ]; then
  [ "$(stat -c %U "$PGDATA")" = postgres ] || chown -R postgres:postgres "$PGDATA"
  if command -v setpriv >/dev/null; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "${cmd[@]}"
  fi
  exec runuser -u postgres -- "${cmd[@]}"
fi
exec "${cmd[@]}"
