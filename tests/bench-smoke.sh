#!/bin/bash
# tests/bench-smoke.sh -- a seconds-long smoke of scripts/bench-vs-etcd
# (--quick --only raftkv): it must finish, print the table with nonzero
# throughput and no errors in every raftkv cell, measure the machine's
# limits, and leave no temporary directory behind.  No speed assertions
# (TAP).
#
# Environment: RAFTKVD, a raftkvd to use instead of letting the script
# build its own (-O2) in _build-bench; BENCH_SMOKE_TIMEOUT (default 600 s,
# the first run includes the build).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"

top=$(cd "$(dirname "$0")/.." && pwd)
script=$top/scripts/bench-vs-etcd
n=0
failed=0

ok()
{
	local status=$1
	shift
	n=$((n + 1))
	if [ "$status" -eq 0 ]; then
		echo "ok $n - $*"
	else
		echo "not ok $n - $*"
		failed=$((failed + 1))
	fi
}

for tool in wrk jq curl gcc python3; do
	if ! command -v "$tool" >/dev/null && [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP $tool is not installed"
		exit 0
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
args=(--quick --only raftkv --out "$tmp/results.md" --tmp-parent "$tmp/run"
    --port-base 24600)
if [ -n "${RAFTKVD:-}" ] && [ -x "$RAFTKVD" ]; then
	args+=(--raftkvd "$RAFTKVD")
fi

timeout "${BENCH_SMOKE_TIMEOUT:-600}" "$script" "${args[@]}" \
    >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
ok "$rc" "bench-vs-etcd ${args[*]} exits 0 (got $rc)"
if [ "$rc" -ne 0 ]; then
	sed 's/^/# /' "$tmp/stderr" | tail -20
fi

[ -s "$tmp/results.md" ]
ok $? "it writes the results file"
grep -q '^| workload | clients | raftkv ops/s | etcd ops/s |' "$tmp/stdout"
ok $? "it prints the table header"

for wl in write read mix; do
	for c in 1 16; do
		row=$(grep "^| $wl | $c |" "$tmp/stdout")
		ops=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $4); print $4}')
		err=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $19); print $19}')
		[ -n "$ops" ] && [ "$ops" != - ] && [ "$ops" -gt 0 ] 2>/dev/null
		ok $? "$wl at $c clients: nonzero raftkv throughput ($ops ops/s)"
		case $err in 0/*) st=0 ;; *) st=1 ;; esac
		ok "$st" "$wl at $c clients: no raftkv errors ($err)"
	done
done

for what in 'fdatasync p50, 1 writer' '3 writers at once' 'HTTP round trip'; do
	grep -F "$what" "$tmp/stdout" | grep -Eq '\| [0-9]+\.[0-9]+ ms \|$'
	ok $? "the machine's limits: '$what' has a figure"
done
grep -Eq '^\| raftkv write p50 at 1 client \| [0-9.]+ ms = [0-9.]+ x' \
    "$tmp/stdout"
st=$?
ok "$st" "the single-client write latency is given as a multiple"
[ "$st" -eq 0 ] || grep -E '^\| (raftkv write|write|HTTP|the same)' "$tmp/stdout" |
    sed 's/^/# /'

left=$(find "$tmp/run" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
ok "$([ "$left" -eq 0 ]; echo $?)" "the temporary data directory is removed"

pgrep -f "$tmp/run/" >/dev/null
ok "$([ $? -ne 0 ]; echo $?)" "no process of the run is left"

echo "1..$n"
[ "$failed" -eq 0 ]
