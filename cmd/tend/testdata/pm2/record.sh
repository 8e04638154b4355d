#!/bin/sh
# Records what PM2 7.0.4 does for the invocations tend's pm2_*.txtar scripts
# check. Usage: cmd/tend/testdata/pm2/record.sh (installs PM2 with npm into
# /tmp/pm2ref if missing; uses a throwaway PM2_HOME, killed at the end).
set -u
out=$(cd "$(dirname "$0")" && pwd)
[ -x /tmp/pm2ref/node_modules/.bin/pm2 ] || npm install --prefix /tmp/pm2ref pm2@7.0.4 >/dev/null
work=$(mktemp -d)
trap 'PM2_HOME=$work/home /tmp/pm2ref/node_modules/.bin/pm2 kill >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$work/app/src"
cd "$work/app"
printf 'setInterval(() => {}, 1000)\n' > app.js
printf 'process.exit(3)\n' > crash.js
printf '{"name":"demo","version":"1.2.3"}\n' > package.json
cat > ecosystem.config.js <<'JS'
module.exports = { apps: [{ name: 'eco', script: 'app.js', instance_var: 'INSTANCE_ID', env: { NODE_ENV: 'production', FOO: 'file' } }] }
JS
# A small, fixed environment, so that pm2_env does not carry this machine's.
pm2() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" PM2_HOME="$work/home" "$@" /tmp/pm2ref/node_modules/.bin/pm2; }
run() { # run <file> <env...> -- <pm2 args...>: stdout, stderr and the exit code
	f=$1; shift
	envs=""
	while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
	shift
	pm2x() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" PM2_HOME="$work/home" $envs /tmp/pm2ref/node_modules/.bin/pm2 "$@"; }
	pm2x "$@" >"$work/o" 2>"$work/e"; rc=$?
	{ echo "# pm2 $*"; echo "exit $rc"; } > "$out/$f"
	sed 's/\x1b\[[0-9;]*m//g' "$work/e" | sed 's/^/stderr: /' >> "$out/$f"
	case "$*" in jlist*|id*|pid*) sed 's/^/stdout: /' "$work/o" >> "$out/$f" ;; esac
}
run start_watch.txt -- start app.js --watch src
run start_again.txt -- start app.js
run start_force.txt -- start app.js -f
run start_eco.txt NODE_ENV=dev FOO=shell -- start ecosystem.config.js
run restart_update_env.txt NODE_ENV=dev FOO=shell2 -- restart eco --update-env
run jlist.txt -- jlist
run id.txt -- id app
run start_crash.txt -- start crash.js --max-restarts 1
sleep 3
run stop_all.txt -- stop all
run jlist_stopped.txt -- jlist
run delete_all.txt -- delete all
run start_after_delete.txt -- start app.js --name again
run jlist_after_delete.txt -- jlist
