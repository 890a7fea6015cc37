#!/bin/bash
# tests/daemon-config.sh -- raftkvd start-up: bad configuration (exit 2),
# configuration from RAFTKV_* variables, a data directory already in use or
# belonging to another node or cluster, a port in use (exit 1), and a
# clean SIGTERM (TAP).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

rk_init config
rk_cluster 2 --election-timeout 300 --heartbeat-interval 30
P1=${RK_PPORT[1]}
C1=${RK_CPORT[1]}
M1="1,http://127.0.0.1:$P1,http://127.0.0.1:$C1"
M2="2,http://127.0.0.1:${RK_PPORT[2]},http://127.0.0.1:${RK_CPORT[2]}"
D=$RK_TMP/solo
LIM=$(rk_scaled 10)

# run EXPECTED-STATUS STDERR-REGEX DESCRIPTION -- ARGS...: runs raftkvd
# in the foreground (bounded by timeout) and checks its exit status and
# that its standard error matches the regular expression.
run()
{
	local want=$1 re=$2 desc=$3 st
	shift 4
	timeout -s KILL "$LIM" "$RAFTKVD" "$@" >"$RK_TMP/run.out" \
	    2>"$RK_TMP/run.err" </dev/null 9>&-
	st=$?
	cat "$RK_TMP/run.err" >>"$RK_TMP/run.log"
	if [ "$st" = "$want" ] && { [ -z "$re" ] ||
	    grep -Eqi -- "$re" "$RK_TMP/run.err"; }; then
		rk_ok 0 "$desc"
	else
		rk_ok 1 "$desc"
		rk_diag "  exit status $st (want $want); stderr:"
		rk_diag "$(head -n 5 "$RK_TMP/run.err")"
	fi
}

# ---- bad configuration: exit status 2 and a message
run 2 "--id" "no arguments: exit 2, asks for --id" --
run 2 "data-dir" "no --data-dir: exit 2" -- --id 1 --member "$M1"
run 2 "member" "no --member: exit 2" -- --id 1 --data-dir "$D"
run 2 "not one of" "--id not among the members: exit 2" -- \
    --id 3 --member "$M1" --member "$M2" --data-dir "$D"
run 2 "ID,PEER_URL,CLIENT_URL" "a member without a client URL: exit 2" -- \
    --id 1 --member "1,http://127.0.0.1:$P1" --data-dir "$D"
run 2 "port" "a member URL without a port: exit 2" -- \
    --id 1 --member "1,http://127.0.0.1,http://127.0.0.1:$C1" --data-dir "$D"
run 2 "http://" "a member URL that is not http: exit 2" -- \
    --id 1 --member "1,ftp://127.0.0.1:$P1,http://127.0.0.1:$C1" --data-dir "$D"
run 2 "twice" "a member id given twice: exit 2" -- \
    --id 1 --member "$M1" --member "$M1" --data-dir "$D"
run 2 "election-timeout.*not a number" "--election-timeout abc: exit 2" -- \
    --id 1 --member "$M1" --data-dir "$D" --election-timeout abc
run 2 "below" "heartbeat not below the election timeout: exit 2" -- \
    --id 1 --member "$M1" --data-dir "$D" --election-timeout 300 \
    --heartbeat-interval 300
run 2 "log-level" "--log-level loud: exit 2" -- \
    --id 1 --member "$M1" --data-dir "$D" --log-level loud
run 2 "unknown option" "an unknown option: exit 2" -- \
    --id 1 --member "$M1" --data-dir "$D" --frobnicate 1
run 2 "needs a value" "an option without its value: exit 2" -- \
    --id 1 --member "$M1" --data-dir "$D" --election-timeout
run 2 "unexpected argument" "a stray argument: exit 2" -- \
    --id 1 --member "$M1" --data-dir "$D" extra
RAFTKV_ID=abc run 2 "RAFTKV_ID" "RAFTKV_ID=abc in the environment: exit 2" -- \
    --member "$M1" --data-dir "$D"
run 2 "data-dir" "check without --data-dir: exit 2" -- check
rk_ok "$([ ! -e "$D" ]; echo $?)" "no data directory was created by the refused starts"
timeout "$LIM" "$RAFTKVD" --help >"$RK_TMP/help" 2>&1
rk_is "$?" 0 "--help exits 0"
grep -q -- "--data-dir" "$RK_TMP/help" && grep -q RAFTKV_DATA_DIR "$RK_TMP/help"
rk_ok $? "--help lists the options and their variables"
timeout "$LIM" "$RAFTKVD" --version >"$RK_TMP/version" 2>&1
rk_is "$?" 0 "--version exits 0 ($(head -n 1 "$RK_TMP/version"))"

# ---- a single-node cluster configured from the environment only
RAFTKV_ID=1 RAFTKV_MEMBERS="$M1" RAFTKV_DATA_DIR="$D" \
    RAFTKV_PEER_LISTEN=127.0.0.1:$P1 RAFTKV_CLIENT_LISTEN=127.0.0.1:$C1 \
    RAFTKV_ELECTION_TIMEOUT_MS=300 RAFTKV_HEARTBEAT_INTERVAL_MS=30 \
    "$RAFTKVD" >>"$RK_TMP/n1.log" 2>&1 9>&- &
RK_PID[1]=$!
RK_LIVE[1]=1
rk_wait_healthy 1 10
rk_ok $? "a node configured only through RAFTKV_* variables starts (one-node cluster)"
rk_is "$(rk_status 1 role id)" "leader 1" "it elects itself"
rk_put_str 1 solo-key solo-value
rk_code 200 "and commits a write"

# ---- the data directory is locked while the node runs
run 1 "in use" "a second node on the same data directory: exit 1 (locked)" -- \
    --id 1 --member "$M1" --data-dir "$D" \
    --peer-listen "127.0.0.1:$RK_SPARE1" --client-listen "127.0.0.1:$RK_SPARE2"
run 1 "listen|address" "a node on a client port in use: exit 1" -- \
    --id 1 --member "$M1" --data-dir "$RK_TMP/other" \
    --peer-listen "127.0.0.1:$RK_SPARE1" --client-listen "127.0.0.1:$C1"
rk_ok "$(rk_alive 1; echo $?)" "the first node is unaffected"
rk_http GET "$(rk_url 1)/v1/kv/solo-key"
rk_is "$RK_CODE:$(rk_body)" "200:solo-value" "and still serves its data"

rk_term 1
rk_is "$RK_STATUS" 0 "SIGTERM: exit status 0"
run 0 "" "raftkvd check on the stopped node's directory: exit 0" -- \
    check --data-dir "$D"

# ---- a data directory that belongs to another node or cluster
run 1 "belongs to" "starting node 2 on node 1's data directory: exit 1" -- \
    --id 2 --member "$M1" --member "$M2" --data-dir "$D"
run 1 "belongs to cluster" "starting another cluster on it: exit 1" -- \
    --id 1 --member "$M1" --data-dir "$D" --cluster another
rk_start 1 --data-dir "$D"
# (rk_start's own --data-dir comes first; the later flag wins.)
rk_wait_healthy 1 10
rk_ok $? "node 1 restarts on its own directory after the refused attempts"
rk_http GET "$(rk_url 1)/v1/kv/solo-key"
rk_is "$RK_CODE:$(rk_body)" "200:solo-value" "with its data"
rk_term 1
rk_is "$RK_STATUS" 0 "SIGTERM again: exit status 0"

# ---- --max-connections: a third client waits until a served one closes
rk_start 1 --data-dir "$D" --max-connections 2
rk_wait_healthy 1 10
out=$(python3 - "${RK_CPORT[1]}" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def ask(s):
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
    return s.recv(4096).split(b"\r\n")[0].decode()
a = socket.create_connection(("127.0.0.1", port), timeout=5)
b = socket.create_connection(("127.0.0.1", port), timeout=5)
r = [ask(a), ask(b)]
c = socket.socket()
c.settimeout(1)
c.connect(("127.0.0.1", port))
c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
try:
    c.recv(4096)
    r.append("third answered")
except socket.timeout:
    r.append("third waits")
a.close()
c.settimeout(5)
try:
    r.append(c.recv(4096).split(b"\r\n")[0].decode())
except socket.timeout:
    r.append("third never served")
print("|".join(r))
PY
)
rk_is "$out" "HTTP/1.1 200 OK|HTTP/1.1 200 OK|third waits|HTTP/1.1 200 OK" \
    "--max-connections 2: a third client is served only once one closes"
rk_term 1
rk_is "$RK_STATUS" 0 "SIGTERM after the connection limit test: exit status 0"

rk_done
