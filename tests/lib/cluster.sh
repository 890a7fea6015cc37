# tests/lib/cluster.sh -- sourced by the tests/daemon-*.sh scripts: runs
# real raftkvd clusters on loopback and prints TAP.
#
# Environment:
#   RAFTKVD                     the daemon binary (the harness sets it from
#                               tests/daemon.am; default ./raftkvd)
#   RAFTKV_TEST_TIMEOUT_SCALE   multiplies every timeout (default 3, for the
#                               sanitizer builds)
#   RAFTKV_TEST_KEEP=1          keep the temporary directory and its logs
#   RAFTKV_TEST_LOCK            the lock file that serializes cluster tests
#
# Nodes are numbered from 1.  Per node i the library keeps RK_PID[i],
# RK_PPORT[i] (peer port), RK_CPORT[i] (client port) and the log file
# $RK_TMP/n$i.log; RK_N is the cluster size and RK_LIVE[i] is 1 while node
# i is meant to run (0 after rk_kill/rk_term).  Every process started here is
# killed, and the temporary directory removed, when the script exits.

if [ -z "${BASH_VERSION:-}" ]; then
	echo "cluster.sh needs bash" >&2
	exit 99
fi

RAFTKVD=${RAFTKVD:-${abs_top_builddir:-.}/raftkvd}
RK_SCALE=${RAFTKV_TEST_TIMEOUT_SCALE:-3}
RK_LOCK=${RAFTKV_TEST_LOCK:-/tmp/raftkv-cluster-tests.lock}
RK_TESTS=0
RK_FAILED=0
RK_N=0
RK_BG_PIDS=()
RK_PID=()
RK_LIVE=()
RK_PPORT=()
RK_CPORT=()
RK_EXTRA=()
RK_TMP=

# ------------------------------------------------------------------ TAP

# ok COND-STATUS DESCRIPTION: COND-STATUS is a shell status (0 = pass).
rk_ok()
{
	local status=$1
	shift
	RK_TESTS=$((RK_TESTS + 1))
	if [ "$status" -eq 0 ]; then
		echo "ok $RK_TESTS - $*"
	else
		echo "not ok $RK_TESTS - $*"
		RK_FAILED=$((RK_FAILED + 1))
	fi
	return "$status"
}

# rk_is GOT WANT DESCRIPTION: passes when the two strings are equal.
rk_is()
{
	local got=$1 want=$2
	shift 2
	if [ "$got" = "$want" ]; then
		rk_ok 0 "$*"
	else
		rk_ok 1 "$*"
		rk_diag "  got:  '$got'"
		rk_diag "  want: '$want'"
		return 1
	fi
}

# rk_code WANT DESCRIPTION: checks the last reply's status (WANT may be
# an extended regular expression such as '503|504'); shows the body if not.
rk_code()
{
	local want=$1
	shift
	if echo "$RK_CODE" | grep -Eqx "$want"; then
		rk_ok 0 "$*"
	else
		rk_ok 1 "$*"
		rk_diag "  status $RK_CODE, wanted $want; body: $(head -c 300 "$RK_TMP/body" | tr -c '[:print:]' '.')"
		return 1
	fi
}

rk_diag()
{
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do
		echo "# $line"
	done
}

# rk_bail REASON: gives up on the whole script (TAP "Bail out!").
rk_bail()
{
	echo "Bail out! $*"
	rk_dump_logs
	exit 1
}

# rk_done: prints the plan and exits 0 only if every test passed.
rk_done()
{
	rk_check_sanitizers
	echo "1..$RK_TESTS"
	if [ "$RK_FAILED" -ne 0 ]; then
		rk_diag "$RK_FAILED of $RK_TESTS failed; logs follow"
		rk_dump_logs
		exit 1
	fi
	exit 0
}

# rk_dump_logs: the last lines of every node log, as diagnostics.
rk_dump_logs()
{
	local f
	[ -n "$RK_TMP" ] && [ -d "$RK_TMP" ] || return 0
	for f in "$RK_TMP"/*.log; do
		[ -f "$f" ] || continue
		rk_diag "---- ${f##*/} (last 30 lines)"
		rk_diag "$(tail -n 30 "$f")"
	done
}

# rk_check_sanitizers: one assertion that no node log holds a sanitizer
# report (every script ends with it, through rk_done).
rk_check_sanitizers()
{
	local hits=
	[ -n "$RK_TMP" ] && [ -d "$RK_TMP" ] || return 0
	hits=$(grep -l -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
	    "$RK_TMP"/*.log 2>/dev/null)
	rk_ok "$([ -z "$hits" ]; echo $?)" "no sanitizer reports in the node logs"
	if [ -n "$hits" ]; then
		rk_diag "$(grep -h -A 12 -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' $hits | head -n 60)"
	fi
}

# ------------------------------------------------------------------ set-up

# rk_scaled SECONDS: SECONDS times the timeout scale (may be fractional).
rk_scaled()
{
	awk -v s="$1" -v k="$RK_SCALE" 'BEGIN { printf "%g", s * k }'
}

# rk_now_ms: monotonic enough wall time in milliseconds.
rk_now_ms()
{
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

rk_cleanup()
{
	local pid
	for pid in "${RK_BG_PIDS[@]}" "${RK_PID[@]}"; do
		[ -n "$pid" ] || continue
		kill -CONT "$pid" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${RK_BG_PIDS[@]}" "${RK_PID[@]}"; do
		[ -n "$pid" ] && wait "$pid" 2>/dev/null
	done
	if [ -n "$RK_TMP" ] && [ -d "$RK_TMP" ]; then
		if [ "${RAFTKV_TEST_KEEP:-0}" = 1 ]; then
			echo "# kept $RK_TMP"
		else
			rm -rf "$RK_TMP"
		fi
	fi
}

# rk_init NAME: takes the cluster-test lock, makes the temporary directory
# and installs the clean-up trap.  Call once, first.
rk_init()
{
	if [ ! -x "$RAFTKVD" ]; then
		echo "1..0 # SKIP no raftkvd binary at $RAFTKVD (set RAFTKVD)"
		exit 0
	fi
	for tool in curl python3 flock; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "1..0 # SKIP $tool is not installed"
			exit 0
		fi
	done
	# One cluster test at a time, even under make -j: they share 2 cores
	# and their timing matters.
	exec 9>>"$RK_LOCK"
	if ! flock -w 1200 9; then
		echo "Bail out! could not take $RK_LOCK"
		exit 1
	fi
	RK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/raftkvd-test-$1.XXXXXX") ||
	    rk_bail "cannot make a temporary directory"
	trap rk_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	rk_diag "raftkvd: $RAFTKVD; timeout scale $RK_SCALE; dir $RK_TMP"
}

# rk_ports_free PORT COUNT: true if none of COUNT ports from PORT listens.
rk_ports_free()
{
	local first=$1 count=$2
	ss -Htln 2>/dev/null | awk -v a="$first" -v b=$(($1 + $2)) '
	    { n = split($4, p, ":"); port = p[n] + 0;
	      if (port >= a && port < b) bad = 1 }
	    END { exit bad }'
}

# rk_pick_ports COUNT: sets RK_PORT_BASE to the first of COUNT free
# consecutive ports, in a range derived from the shell's pid.
rk_pick_ports()
{
	local count=$1 try slot
	for try in $(seq 0 60); do
		slot=$(( ($$ + try * 97) % 900 ))
		RK_PORT_BASE=$((21000 + slot * 12))
		if rk_ports_free "$RK_PORT_BASE" "$count"; then
			return 0
		fi
	done
	rk_bail "no $count free ports found"
}

# rk_cluster N [raftkvd options...]: configures (does not start) a cluster
# of N nodes; the options are given to every node.
rk_cluster()
{
	local i
	RK_N=$1
	shift
	RK_EXTRA=("$@")
	rk_pick_ports $((2 * RK_N + 2))
	RK_MEMBERS=()
	for i in $(seq 1 "$RK_N"); do
		RK_PPORT[i]=$((RK_PORT_BASE + 2 * (i - 1)))
		RK_CPORT[i]=$((RK_PORT_BASE + 2 * (i - 1) + 1))
		RK_MEMBERS+=(--member "$i,http://127.0.0.1:${RK_PPORT[i]},http://127.0.0.1:${RK_CPORT[i]}")
		RK_LIVE[i]=0
	done
	# Two spare ports for scripts that need them.
	RK_SPARE1=$((RK_PORT_BASE + 2 * RK_N))
	RK_SPARE2=$((RK_PORT_BASE + 2 * RK_N + 1))
}

# rk_url I: the client URL of node I.
rk_url()
{
	echo "http://127.0.0.1:${RK_CPORT[$1]}"
}

# rk_peer_url I: the peer URL of node I.
rk_peer_url()
{
	echo "http://127.0.0.1:${RK_PPORT[$1]}"
}

# rk_start I [extra options]: starts node I in the background.
rk_start()
{
	local i=$1
	shift
	"$RAFTKVD" --id "$i" "${RK_MEMBERS[@]}" --data-dir "$RK_TMP/n$i" \
	    --peer-listen "127.0.0.1:${RK_PPORT[i]}" \
	    --client-listen "127.0.0.1:${RK_CPORT[i]}" \
	    "${RK_EXTRA[@]}" "$@" >>"$RK_TMP/n$i.log" 2>&1 9>&- &
	RK_PID[i]=$!
	RK_LIVE[i]=1
	echo "==== test: started pid ${RK_PID[i]} at $(date +%T.%N)" >>"$RK_TMP/n$i.log"
}

# rk_start_all [extra options]: starts every node.
rk_start_all()
{
	local i
	for i in $(seq 1 "$RK_N"); do
		rk_start "$i" "$@"
	done
}

# rk_alive I: true if node I's process still exists (and is not a zombie).
rk_alive()
{
	local pid=${RK_PID[$1]}
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

# rk_kill I: SIGKILL node I and reap it.
rk_kill()
{
	local pid=${RK_PID[$1]}
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RK_LIVE[$1]=0
	RK_PID[$1]=
	echo "==== test: SIGKILL at $(date +%T.%N)" >>"$RK_TMP/n$1.log"
}

# rk_stop I / rk_cont I: SIGSTOP / SIGCONT node I.
rk_stop()
{
	kill -STOP "${RK_PID[$1]}"
	RK_LIVE[$1]=0
	echo "==== test: SIGSTOP at $(date +%T.%N)" >>"$RK_TMP/n$1.log"
}

rk_cont()
{
	kill -CONT "${RK_PID[$1]}"
	RK_LIVE[$1]=1
	echo "==== test: SIGCONT at $(date +%T.%N)" >>"$RK_TMP/n$1.log"
}

# rk_term I: SIGTERM node I, wait (bounded) and set RK_STATUS to its exit
# status (or "timeout", after which the node is killed).
rk_term()
{
	local i=$1 pid=${RK_PID[$1]} deadline
	deadline=$(( $(rk_now_ms) + $(awk -v k="$RK_SCALE" 'BEGIN{printf "%d", 5000*k}') ))
	echo "==== test: SIGTERM at $(date +%T.%N)" >>"$RK_TMP/n$i.log"
	kill -TERM "$pid"
	while rk_alive "$i"; do
		if [ "$(rk_now_ms)" -gt "$deadline" ]; then
			RK_STATUS=timeout
			rk_kill "$i"
			return 1
		fi
		sleep 0.05
	done
	wait "$pid"
	RK_STATUS=$?
	RK_LIVE[i]=0
	RK_PID[i]=
}

# rk_restart I: SIGKILL node I if running, then start it again.
rk_restart()
{
	rk_kill "$1"
	rk_start "$1"
}

# rk_live_nodes: the ids of the nodes meant to be running.
rk_live_nodes()
{
	local i out=
	for i in $(seq 1 "$RK_N"); do
		[ "${RK_LIVE[i]}" = 1 ] && out="$out $i"
	done
	echo $out
}

# ------------------------------------------------------------------ HTTP

# rk_http METHOD URL [curl args...]: one request.  Sets RK_CODE (000 when
# there was no answer) and leaves the body in $RK_TMP/body and the headers
# in $RK_TMP/hdrs.  -m defaults to 5 s times the scale.
rk_http()
{
	local method=$1 url=$2
	shift 2
	: >"$RK_TMP/body"
	: >"$RK_TMP/hdrs"
	RK_CODE=$(curl -s -g -X "$method" -o "$RK_TMP/body" -D "$RK_TMP/hdrs" \
	    -w '%{http_code}' --connect-timeout 2 -m "$(rk_scaled 5)" \
	    "$@" "$url" 2>/dev/null)
	[ -n "$RK_CODE" ] || RK_CODE=000
}

# rk_body: the last reply's body.
rk_body()
{
	cat "$RK_TMP/body"
}

# rk_hdr NAME: a header of the last reply (the last one, after redirects).
rk_hdr()
{
	tr -d '\r' <"$RK_TMP/hdrs" | awk -v n="$1" '
	    BEGIN { n = tolower(n) }
	    /^HTTP\// { v = "" }
	    { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) {
	        v = substr($0, i + 1); sub(/^[ \t]+/, "", v) } }
	    END { print v }'
}

# rk_json EXPR [FILE]: evaluates a Python expression on the JSON document
# j read from FILE (default: the last body); prints the result (JSON
# booleans as true/false, None as null).
rk_json()
{
	python3 - "$1" "${2:-$RK_TMP/body}" <<'EOF'
import json, sys
try:
    with open(sys.argv[2], "rb") as f:
        j = json.load(f)
    v = eval(sys.argv[1], {"j": j})
except Exception as e:
    print("<error: %s>" % e)
    sys.exit(0)
if isinstance(v, bool):
    print("true" if v else "false")
elif v is None:
    print("null")
else:
    print(v)
EOF
}

# rk_status I FIELD...: prints the named /v1/status fields of node I on
# one line, space separated ("-" for each if the node does not answer).
rk_status()
{
	local i=$1
	shift
	curl -s -m "$(rk_scaled 1)" --connect-timeout 1 "$(rk_url "$i")/v1/status" 2>/dev/null |
	    python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
    print(" ".join(str(j.get(f, "-")) for f in sys.argv[1:]))
except Exception:
    print(" ".join("-" for f in sys.argv[1:]))
' "$@"
}

# rk_statuses NODES... -- FIELD...: one line per node, "I field...".
rk_statuses()
{
	local nodes=() ports=() i
	while [ "$1" != "--" ]; do
		nodes+=("$1")
		ports+=("${RK_CPORT[$1]}")
		shift
	done
	shift
	python3 - "${ports[*]}" "${nodes[*]}" "$@" <<'EOF'
import json, sys, urllib.request, concurrent.futures
ports = sys.argv[1].split()
nodes = sys.argv[2].split()
fields = sys.argv[3:]
def one(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/v1/status" % port,
                                    timeout=2) as r:
            j = json.load(r)
        return " ".join(str(j.get(f, "-")) for f in fields)
    except Exception:
        return " ".join("-" for f in fields)
with concurrent.futures.ThreadPoolExecutor(len(ports)) as ex:
    for n, line in zip(nodes, ex.map(one, ports)):
        print(n, line)
EOF
}

# rk_wait_leader [TIMEOUT_S]: waits until every live node names the same
# leader in the same term, and that leader reports itself leader.  Sets
# RK_LEADER and RK_TERM; returns 1 on timeout.
rk_wait_leader()
{
	local timeout=${1:-5} deadline live lines leaders terms
	deadline=$(( $(rk_now_ms) + $(awk -v s="$timeout" -v k="$RK_SCALE" 'BEGIN{printf "%d", s*k*1000}') ))
	live=$(rk_live_nodes)
	RK_LEADER=
	RK_TERM=
	while :; do
		lines=$(rk_statuses $live -- role term leader)
		leaders=$(echo "$lines" | awk '{print $4}' | sort -u)
		terms=$(echo "$lines" | awk '{print $3}' | sort -u)
		if [ "$(echo "$leaders" | wc -l)" = 1 ] &&
		    [ "$(echo "$terms" | wc -l)" = 1 ] &&
		    [ "$leaders" != 0 ] && [ "$leaders" != - ] &&
		    echo "$lines" | awk -v l="$leaders" '$1 == l && $2 == "leader" { f = 1 } END { exit !f }' &&
		    [ "$(echo "$lines" | awk '$2 == "leader"' | wc -l)" = 1 ]; then
			RK_LEADER=$leaders
			RK_TERM=$terms
			return 0
		fi
		if [ "$(rk_now_ms)" -gt "$deadline" ]; then
			rk_diag "no agreed leader; statuses (id role term leader):"
			rk_diag "$lines"
			return 1
		fi
		sleep 0.1
	done
}

# rk_follower: a live node other than RK_LEADER.
rk_follower()
{
	local i
	for i in $(rk_live_nodes); do
		if [ "$i" != "$RK_LEADER" ]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

# rk_wait_converged [TIMEOUT_S]: waits until every live node has applied
# the same index, equal to its commit index, with the same state hash.
# Sets RK_HASH and RK_APPLIED; returns 1 on timeout.
rk_wait_converged()
{
	local timeout=${1:-5} deadline live lines
	deadline=$(( $(rk_now_ms) + $(awk -v s="$timeout" -v k="$RK_SCALE" 'BEGIN{printf "%d", s*k*1000}') ))
	live=$(rk_live_nodes)
	while :; do
		lines=$(rk_statuses $live -- applied_index commit_index state_hash)
		if echo "$lines" | awk '
		    $2 == "-" || $2 != $3 { bad = 1 }
		    NR == 1 { a = $2; h = $4 }
		    $2 != a || $4 != h { bad = 1 }
		    END { exit bad }'; then
			RK_APPLIED=$(echo "$lines" | awk 'NR == 1 {print $2}')
			RK_HASH=$(echo "$lines" | awk 'NR == 1 {print $4}')
			return 0
		fi
		if [ "$(rk_now_ms)" -gt "$deadline" ]; then
			rk_diag "nodes did not converge (id applied commit hash):"
			rk_diag "$lines"
			return 1
		fi
		sleep 0.1
	done
}

# rk_wait_healthy I [TIMEOUT_S]: waits for GET /v1/health 200 on node I.
rk_wait_healthy()
{
	local i=$1 timeout=${2:-5} deadline code
	deadline=$(( $(rk_now_ms) + $(awk -v s="$timeout" -v k="$RK_SCALE" 'BEGIN{printf "%d", s*k*1000}') ))
	while :; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -m 1 "$(rk_url "$i")/v1/health" 2>/dev/null)
		[ "$code" = 200 ] && return 0
		[ "$(rk_now_ms)" -gt "$deadline" ] && return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------------ data

# rk_pct STRING: percent-encodes the bytes of STRING for a URL path ('/'
# kept).  For arbitrary bytes use rk_pct_hex.
rk_pct()
{
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1].encode(), safe="/"))' "$1"
}

# rk_pct_hex HEX: percent-encodes the bytes given in hex.
rk_pct_hex()
{
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(bytes.fromhex(sys.argv[1]), safe="/"))' "$1"
}

# The model of acknowledged writes: $RK_TMP/acked holds one line per
# acknowledged write, "PUT <pct-key> <file holding the value>" or
# "DEL <pct-key>", in acknowledgement order.

# rk_put I PCTKEY VALUE-FILE [curl args]: PUT through node I, following
# redirects; records the write in the model when acknowledged (200).
rk_put()
{
	local i=$1 key=$2 file=$3
	shift 3
	rk_http PUT "$(rk_url "$i")/v1/kv/$key" -L --data-binary "@$file" "$@"
	if [ "$RK_CODE" = 200 ]; then
		echo "PUT $key $file" >>"$RK_TMP/acked"
	fi
}

# rk_put_str I PCTKEY STRING [curl args]: rk_put with a value given inline
# (stored in a file of its own for the model).
rk_put_str()
{
	local i=$1 key=$2 value=$3 file
	shift 3
	RK_VALSEQ=$((${RK_VALSEQ:-0} + 1))
	mkdir -p "$RK_TMP/values"
	file="$RK_TMP/values/v$RK_VALSEQ"
	printf '%s' "$value" >"$file"
	rk_put "$i" "$key" "$file" "$@"
}

# rk_delete I PCTKEY: DELETE through node I; recorded when acknowledged.
rk_delete()
{
	rk_http DELETE "$(rk_url "$1")/v1/kv/$2" -L
	if [ "$RK_CODE" = 200 ]; then
		echo "DEL $2" >>"$RK_TMP/acked"
	fi
}

# rk_verify_model I [stale]: lists the whole store through node I
# (linearizable, following redirects, or ?stale) and compares it with the
# model of acknowledged writes.  Prints problems; returns 1 if any.
rk_verify_model()
{
	local port=${RK_CPORT[$1]} stale=${2:-}
	python3 - "$port" "$RK_TMP/acked" "$stale" <<'EOF'
import base64, json, sys, urllib.parse, urllib.request
port, acked, stale = sys.argv[1], sys.argv[2], sys.argv[3]
model = {}
try:
    for line in open(acked):
        parts = line.split()
        key = urllib.parse.unquote_to_bytes(parts[1])
        if parts[0] == "PUT":
            model[key] = open(parts[2], "rb").read()
        else:
            model[key] = None
except FileNotFoundError:
    pass
store = {}
after = None
for _ in range(1000):
    q = "limit=1000"
    if after is not None:
        q += "&start_after=" + urllib.parse.quote(after, safe="")
    if stale:
        q += "&stale"
    with urllib.request.urlopen("http://127.0.0.1:%s/v1/kv?%s" % (port, q),
                                timeout=10) as r:
        j = json.load(r)
    for kv in j["kvs"]:
        store[base64.b64decode(kv["key"])] = base64.b64decode(kv["value"])
    if not j["more"]:
        break
    after = base64.b64decode(j["next"])
bad = 0
for k, v in model.items():
    if v is None and k in store:
        print("deleted key %r is present" % k); bad += 1
    elif v is not None and k not in store:
        print("acknowledged key %r is missing" % k); bad += 1
    elif v is not None and store[k] != v:
        print("key %r has %d bytes %r..., acknowledged %d bytes %r..." %
              (k, len(store[k]), store[k][:16], len(v), v[:16])); bad += 1
print("model: %d keys, store: %d keys, %d problems" %
      (len(model), len(store), bad))
sys.exit(1 if bad else 0)
EOF
}

# rk_put_retry PCTKEY STRING [TIMEOUT_S]: PUTs through the live nodes in
# turn, following redirects, until one write is acknowledged or the
# (scaled) timeout passes.  Each try waits at most 1 s (scaled) for an
# answer.  Sets RK_CODE and RK_TRIES; returns 1 on timeout.
rk_put_retry()
{
	local key=$1 value=$2 timeout=${3:-10} deadline i
	deadline=$(( $(rk_now_ms) + $(awk -v s="$timeout" -v k="$RK_SCALE" 'BEGIN{printf "%d", s*k*1000}') ))
	RK_TRIES=0
	while :; do
		for i in $(rk_live_nodes); do
			RK_TRIES=$((RK_TRIES + 1))
			rk_put_str "$i" "$key" "$value" -m "$(rk_scaled 1)"
			[ "$RK_CODE" = 200 ] && return 0
			[ "$(rk_now_ms)" -gt "$deadline" ] && return 1
		done
		sleep 0.02
	done
}
