#!/usr/bin/env bash
# Re-records croner.json from croner 4.1.97, the cron library of PM2 7.0.4
# (its package.json pins it). Needs node and npm; installs into a temporary folder.
set -euo pipefail
cd "$(dirname "$0")"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
npm install --silent --prefix "$dir" croner@4.1.97 >/dev/null
TZ=UTC NODE_PATH="$dir/node_modules" node record.js > croner.json
