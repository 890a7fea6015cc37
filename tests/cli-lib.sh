# cli-lib.sh -- helpers for raftkvctl's process tests (sourced, not run).
#
# Starts a 3-node raftkvd cluster on free loopback ports chosen from $$,
# speaks TAP, and cleans up every process it started on exit.

RAFTKVD=${RAFTKVD:-./raftkvd}
RAFTKVCTL=${RAFTKVCTL:-./raftkvctl}
CLI_TMP=$(mktemp -d "${TMPDIR:-/tmp}/raftkvctl-test.XXXXXX")
CLI_PIDS=""
tap_n=0
tap_failed=0

# Kills what we started and removes the scratch directory.
cli_cleanup() {
	for pid in $CLI_PIDS; do
		kill -9 "$pid" 2>/dev/null
	done
	for pid in $CLI_PIDS; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$CLI_TMP"
}
trap cli_cleanup EXIT
trap 'exit 1' INT TERM

# ok COND-STATUS NAME: one TAP line from an exit status (0 = pass).
ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  $(printf '%s' "$1" | head -c 600)"
		echo "#   want: $2"
	fi
}

# like GOT PATTERN NAME: GOT contains PATTERN (a fixed string).
like() {
	case $1 in
	*"$2"*) ok 0 "$3" ;;
	*)	ok 1 "$3"
		echo "#   got:  $(printf '%s' "$1" | head -c 600)"
		echo "#   want something containing: $2" ;;
	esac
}

diag() {
	echo "# $*"
}

tap_done() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# Prints "yes" if all the given TCP ports on 127.0.0.1 are free.
ports_free() {
	python3 - "$@" <<'PY'
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(p)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
print("yes")
PY
}

# Sets PORT_BASE to a base with 8 free consecutive ports.
pick_ports() {
	try=0
	while [ $try -lt 50 ]; do
		PORT_BASE=$((20000 + (($$ * 37 + try * 101) % 2500) * 16))
		if [ "$(ports_free $(seq $PORT_BASE $((PORT_BASE + 7))))" = yes ]
		then
			return 0
		fi
		try=$((try + 1))
	done
	echo "Bail out! no free ports"
	exit 1
}

# Starts node $1 of the cluster.
start_node() {
	i=$1
	"$RAFTKVD" --id "$i" $MEMBERS --data-dir "$CLI_TMP/n$i" \
	    --peer-listen "127.0.0.1:$((PORT_BASE + i))" \
	    --client-listen "127.0.0.1:$((PORT_BASE + 4 + i))" \
	    --election-timeout 300 --heartbeat-interval 30 \
	    --log-level warn >>"$CLI_TMP/n$i.log" 2>&1 &
	eval "NODE_PID_$i=$!"
	CLI_PIDS="$CLI_PIDS $!"
}

# Starts three nodes and sets ENDPOINTS.
start_cluster() {
	pick_ports
	MEMBERS=""
	ENDPOINTS=""
	for i in 1 2 3; do
		MEMBERS="$MEMBERS --member $i,http://127.0.0.1:$((PORT_BASE + i)),http://127.0.0.1:$((PORT_BASE + 4 + i))"
		ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}http://127.0.0.1:$((PORT_BASE + 4 + i))"
		mkdir -p "$CLI_TMP/n$i"
	done
	for i in 1 2 3; do
		start_node "$i"
	done
	export RAFTKVCTL_ENDPOINTS="$ENDPOINTS"
}

# Waits up to 15 s for a leader; prints its id.
wait_leader() {
	n=0
	while [ $n -lt 30 ]; do
		if out=$("$RAFTKVCTL" --timeout 500ms leader 2>/dev/null); then
			echo "${out%% *}"
			return 0
		fi
		n=$((n + 1))
		sleep 0.5
	done
	return 1
}

# Runs raftkvctl with a hard time limit; sets OUT, ERR and RC.
ctl() {
	timeout 30 "$RAFTKVCTL" "$@" >"$CLI_TMP/out" 2>"$CLI_TMP/err"
	RC=$?
	OUT=$(cat "$CLI_TMP/out")
	ERR=$(cat "$CLI_TMP/err")
}
