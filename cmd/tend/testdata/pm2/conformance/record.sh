#!/bin/bash
# Records PM2 7.0.4's answers to the cases of cases.txt (or only the cases
# named as arguments) into <case>.json:
# each invocation's exit code, then the process list reduced to the fields
# TestConformance compares (normalize.jq). Installs PM2 with npm into
# /tmp/pm2ref when it is missing; every case runs in a throwaway PM2_HOME
# and a copy of fixture/, with a small fixed environment.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ -x /tmp/pm2ref/node_modules/.bin/pm2 ] || npm install --prefix /tmp/pm2ref pm2@7.0.4 >/dev/null
pm2() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" PM2_HOME="$work/home" /tmp/pm2ref/node_modules/.bin/pm2 "$@"; }
only=" $* " # record.sh [case...]: only those cases
record() { # record <name> <invocations...>
	local name=$1; shift
	[ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || return 0
	work=$(mktemp -d)
	cp -r "$here/fixture" "$work/app"
	local exits=()
	for line in "$@"; do
		eval "set -- $line"
		(cd "$work/app" && pm2 "$@" >/dev/null 2>&1)
		exits+=("$?")
	done
	# let PM2 finish starting what it started
	for i in $(seq 50); do
		pm2 jlist 2>/dev/null | jq -e 'all(.[]; .pm2_env.status != "launching")' >/dev/null && break
		sleep 0.1
	done
	pm2 jlist 2>/dev/null | jq --argjson exits "[$(IFS=,; echo "${exits[*]}")]" -f "$here/normalize.jq" > "$here/$name.json"
	pm2 kill >/dev/null 2>&1
	rm -rf "$work"
	echo "$name: exits ${exits[*]}"
}
name=""; lines=()
while IFS= read -r l || [ -n "$l" ]; do
	case "$l" in
	'#'*|'') ;;
	'== '*) [ -n "$name" ] && record "$name" "${lines[@]}"; name=${l#== }; lines=() ;;
	*) lines+=("$l") ;;
	esac
done < "$here/cases.txt"
[ -n "$name" ] && record "$name" "${lines[@]}"
