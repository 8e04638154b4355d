#!/bin/bash
# Records PM2 7.0.4's answers to the cases of cases.txt and cases.gen.txt
# (or only the cases named as arguments) into <case>.json: each invocation's
# exit code, the machine-readable stdout of the verbs that print for
# machines (normalize-out), the process list reduced to the fields
# TestConformance compares (normalize.jq), and the files the case leaves:
# the dump's apps, module_conf.json, the log files and what was written in
# the app's folder (normalize-files.jq). Installs PM2 with npm into
# /tmp/pm2ref when it is missing and regenerates cases.gen.txt from PM2's
# command definitions (gen-cases.js); every case runs in a throwaway
# PM2_HOME and a copy of fixture/, with a small fixed environment.
# RECORD_JOBS=n runs n cases at a time (2 by default).
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ -x /tmp/pm2ref/node_modules/.bin/pm2 ] || npm install --prefix /tmp/pm2ref pm2@7.0.4 >/dev/null
if [ "${1:-}" != --shard ]; then
	node "$here/gen-cases.js" || exit 1
fi
pm2() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" PM2_HOME="$work/home" timeout 20 /tmp/pm2ref/node_modules/.bin/pm2 "$@" </dev/null; }
# The verbs whose stdout is for machines, and how it is normalized (the same
# rules as machineOutput in conformance_test.go).
machine() { case "$1" in jlist|prettylist|id|pid|get|ping|conf|config) return 0 ;; esac; return 1; }
normalize_out() { # normalize_out <verb> < stdout: a JSON value
	local verb=$1
	case "$verb" in
	jlist) jq -c --argjson exits '[]' --argjson stdout null --argjson files null -f "$here/normalize.jq" | jq -c .procs ;;
	prettylist) grep -E '^    (name|pm_id): ' | sed 's/,$//' | sort | jq -R . | jq -sc . ;;
	*) grep -v '^\[\(PM2\|tend\)\]' | sed -E 's/[[:space:]]+$//; s/[1-9][0-9]{2,}/<pid>/g' | grep -v '^$' | jq -R . | jq -sc . ;;
	esac
}
plain() { # the stdout without colours and without PM2's banner when the command spawned the daemon
	sed -E 's/\x1b\[[0-9;]*m//g' "$1" | if grep -q 'Successfully daemonized' "$1"; then sed '1,/Successfully daemonized/d'; else cat; fi
}
record() { # record <name> <invocations...>
	local name=$1; shift
	work=$(mktemp -d)
	cp -r "$here/fixture" "$work/app"
	local exits=() outs=() any=false
	for line in "$@"; do
		eval "set -- $line"
		(cd "$work/app" && pm2 "$@" >"$work/stdout" 2>/dev/null)
		exits+=("$?")
		if machine "$1"; then
			outs+=("$(plain "$work/stdout" | normalize_out "$1")"); any=true
		else
			outs+=(null)
		fi
	done
	# let PM2 finish starting what it started
	for i in $(seq 50); do
		pm2 jlist 2>/dev/null | jq -e 'all(.[]; .pm2_env.status != "launching")' >/dev/null && break
		sleep 0.1
	done
	local stdout=null
	$any && stdout="[$(IFS=,; echo "${outs[*]}")]"
	local dump=null conf='{}'
	[ -f "$work/home/dump.pm2" ] && dump=$(jq -c -f "$here/normalize-dump.jq" "$work/home/dump.pm2")
	[ -s "$work/home/module_conf.json" ] && conf=$(jq -c 'del(.["module-db-v2"])' "$work/home/module_conf.json")
	local logs app
	logs=$(cd "$work/home/logs" 2>/dev/null && ls | jq -R . | jq -sc .)
	app=$(cd "$work/app" && find . -mindepth 1 | sed 's|^\./||' | sort | comm -23 - <(cd "$here/fixture" && find . -mindepth 1 | sed 's|^\./||' | sort) | jq -R . | jq -sc .)
	pm2 jlist 2>/dev/null | jq --argjson exits "[$(IFS=,; echo "${exits[*]}")]" \
		--argjson stdout "$stdout" \
		--argjson files "{\"dump\":$dump,\"module_conf\":$conf,\"logs\":${logs:-[]},\"app\":$app}" \
		-f "$here/normalize.jq" > "$here/$name.json"
	pm2 kill >/dev/null 2>&1
	rm -rf "$work"
	echo "$name: exits ${exits[*]}"
}
shard=0 shards=1
if [ "${1:-}" = --shard ]; then shard=$2 shards=$3; shift 3; fi
if [ $# -eq 0 ] && [ $shards -eq 1 ] && [ "${RECORD_JOBS:-2}" -gt 1 ]; then
	for ((s = 0; s < ${RECORD_JOBS:-2}; s++)); do "$0" --shard $s "${RECORD_JOBS:-2}" & done
	wait
	exit
fi
only=" $* " # record.sh [case...]: only those cases
n=0
run() {
	[ -n "$name" ] || return 0
	[ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || return 0
	n=$((n + 1))
	[ $((n % shards)) -eq "$shard" ] || return 0
	record "$name" "${lines[@]}"
}
for f in "$here/cases.txt" "$here/cases.gen.txt"; do
	name=""; lines=()
	while IFS= read -r l || [ -n "$l" ]; do
		case "$l" in
		'#'*|'') ;;
		'== '*) run; name=${l#== }; lines=() ;;
		*) lines+=("$l") ;;
		esac
	done < "$f"
	run
done
