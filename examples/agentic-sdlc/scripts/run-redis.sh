#!/usr/bin/env bash
# Example infrastructure for tend's agentic-sdlc example: the app `redis`.
# Creates redis's working folder ($REDIS_DIR, .data/redis; nothing is saved
# there: the config passes --save "" --appendonly no), then execs
# $REDIS_SERVER with the arguments from the ecosystem file, so the supervised
# process IS redis-server and tend's stop signal reaches it.
set -euo pipefail
: "${REDIS_SERVER:?REDIS_SERVER must name the redis-server binary}"
: "${REDIS_DIR:?REDIS_DIR must name redis working folder}"
mkdir -p "$REDIS_DIR"
exec "$REDIS_SERVER" "$@"
