#!/bin/sh
# cli-oneshot.sh -- raftkvctl's one-shot commands against a live 3-node
# cluster: output and exit status, including after the leader is killed.
srcdir=${srcdir:-.}
. "$srcdir/tests/cli-lib.sh"

[ -x "$RAFTKVD" ] || skip_all "raftkvd is not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to pick ports"

start_cluster
if ! LEADER=$(wait_leader); then
	echo "Bail out! no leader elected"
	exit 1
fi
diag "cluster on $ENDPOINTS, leader $LEADER"

# Usage errors need no cluster.
ctl frobnicate
is "$RC" 2 "an unknown command exits 2"
like "$ERR" 'raftkvctl: unknown command "frobnicate"' "and says so on stderr"
ctl l
is "$RC" 2 "an ambiguous prefix exits 2"
like "$ERR" "could be: leader list" "and lists the candidates"
ctl get
is "$RC" 2 "a missing argument exits 2"
ctl --timeout 0 get k
is "$RC" 2 "a bad --timeout exits 2"
ctl --help
is "$RC" 0 "--help exits 0"
for c in bench cas del get help leader list put quit snapshot status; do
	like "$OUT" "  $c " "--help lists $c"
done
ctl help cas
like "$OUT" "usage: cas [--literal] KEY INDEX VALUE" "help cas shows its usage"
ctl he pu
like "$OUT" "usage: put" "help takes prefixes too"

# Status of every node.
ctl status
is "$RC" 0 "status exits 0"
is "$(printf '%s\n' "$OUT" | grep -c 'http://127.0.0.1')" 3 "status has a row per node"
like "$OUT" "leader" "status shows a leader"
is "$(printf '%s\n' "$OUT" | grep -c healthy)" 3 "all three are healthy"
ctl -w json status
like "$OUT" '"role":"leader"' "status -w json"

# Keys.
ctl put k1 "hello world"
is "$RC" 0 "put exits 0"
like "$OUT" "OK (mod_index " "put prints the modification index"
ctl get k1
is "$OUT" "hello world" "get prints the value (raw when not a terminal)"
ctl -w json get k1
like "$OUT" '{"key":"k1","value":"hello world","mod_index":' "get -w json"
ctl get nothing-here
is "$RC" 5 "get of a missing key exits 5"
like "$ERR" 'raftkvctl: key "nothing-here": not found' "and says which key"
ctl del nothing-here
is "$RC" 5 "del of a missing key exits 5"
ctl put --create k1 other
is "$RC" 4 "put --create of an existing key exits 4"
ctl -w json get k1
MOD=$(printf '%s' "$OUT" | sed 's/.*"mod_index":\([0-9]*\).*/\1/')
ctl cas k1 $((MOD + 100)) other
is "$RC" 4 "cas on a wrong index exits 4"
like "$ERR" "its modification index is $MOD" "and reports the current index"
ctl cas k1 "$MOD" replaced
is "$RC" 0 "cas on the right index exits 0"
ctl get k1
is "$OUT" "replaced" "cas wrote the value"
ctl cas new-key 0 created
is "$RC" 0 "cas with index 0 creates a missing key"
printf 'a\000b\377' >"$CLI_TMP/bin"
ctl put binkey "@$CLI_TMP/bin"
is "$RC" 0 "put @file"
timeout 10 "$RAFTKVCTL" get binkey >"$CLI_TMP/got"
cmp -s "$CLI_TMP/bin" "$CLI_TMP/got"
ok $? "get returns the binary value byte for byte"
ctl -w text get binkey
is "$OUT" 'a\x00b\xff' "-w text escapes the bytes"
printf 'from stdin' | timeout 10 "$RAFTKVCTL" put stdinkey - >/dev/null
ctl get stdinkey
is "$OUT" "from stdin" "put - reads standard input"
ctl put --literal lit @notafile
ctl get lit
is "$OUT" "@notafile" "put --literal keeps @"
ctl del k1
is "$RC" 0 "del exits 0"
ctl get k1
is "$RC" 5 "the deleted key is gone"

# Listing with pagination.
for i in 1 2 3 4 5; do
	timeout 10 "$RAFTKVCTL" put "list/$i" "v$i" >/dev/null
done
ctl list list/
is "$(printf '%s\n' "$OUT" | grep -c '^list/')" 5 "list shows all five keys"
ctl list --limit 3 list/
is "$(printf '%s\n' "$OUT" | grep -c '^list/')" 3 "list --limit 3 shows three"
like "$OUT" "more keys follow" "and says more follow"
ctl -w json list --keys-only list/
like "$OUT" '"count":5,"more":false' "list -w json counts five"
ctl list --start-after list/3 list/
is "$(printf '%s\n' "$OUT" | grep -c '^list/')" 2 "--start-after skips"

# Unreachable endpoints.
ctl -e http://127.0.0.1:1,http://127.0.0.1:2 get k
is "$RC" 3 "unreachable endpoints exit 3"
like "$ERR" "http://127.0.0.1:1: cannot connect" "the message names the first"
like "$ERR" "http://127.0.0.1:2: cannot connect" "and the second"

# A follower alone: the leader is found through the id it reports.
FOLLOWER=$(timeout 10 "$RAFTKVCTL" -w json status | python3 -c '
import json, sys
print([n["url"] for n in json.load(sys.stdin)["nodes"] if n.get("role") == "follower"][0])')
ctl -e "$FOLLOWER" put via-follower yes
is "$RC" 0 "a write through a follower-only endpoint list succeeds"

# Pause the leader: it still accepts connections but never answers, so
# every request to it hangs.  A write must reach the new leader instead of
# waiting out the whole timeout on the paused one.
eval "PPID_=\$NODE_PID_$LEADER"
kill -STOP "$PPID_"
diag "paused leader $LEADER (pid $PPID_)"
START=$(date +%s)
ctl --timeout 10s put after-pause elsewhere
END=$(date +%s)
is "$RC" 0 "a put while the leader is paused succeeds"
[ $((END - START)) -lt 9 ]
ok $? "without waiting out the whole timeout ($((END - START)) s)"
kill -CONT "$PPID_"
LEADER=$(wait_leader)
diag "leader after the pause: $LEADER"

# Kill the leader.
eval "LPID=\$NODE_PID_$LEADER"
kill -9 "$LPID"
diag "killed leader $LEADER (pid $LPID)"
ctl --timeout 10s put after-kill survived
is "$RC" 0 "a put after the leader was killed succeeds"
ctl get after-kill
is "$OUT" "survived" "and is readable"
ctl get via-follower
is "$OUT" "yes" "earlier writes survive"
ctl leader
is "$RC" 0 "leader finds the new leader"
NEW=${OUT%% *}
[ -n "$NEW" ] && [ "$NEW" != "$LEADER" ]
ok $? "the new leader ($NEW) is not the old one ($LEADER)"
ctl status
is "$RC" 0 "status with a dead node exits 0"
like "$OUT" "unreachable: cannot connect" "and shows the dead node unreachable"

# A node that accepts and never answers: a timeout, not a hang.
python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
held = []
end = time.time() + 20
while time.time() < end:
    s.settimeout(0.2)
    try: held.append(s.accept())
    except OSError: pass
' >"$CLI_TMP/bhport" &
CLI_PIDS="$CLI_PIDS $!"
n=0
while [ ! -s "$CLI_TMP/bhport" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
BH="http://127.0.0.1:$(cat "$CLI_TMP/bhport")"
START=$(date +%s)
ctl -e "$BH" --timeout 1s get k
END=$(date +%s)
is "$RC" 3 "a silent node exits 3"
like "$ERR" "$BH: timed out" "and the message says it timed out"
[ $((END - START)) -le 3 ]
ok $? "within the timeout ($((END - START)) s)"

# A leader that proposes writes but never learns their fate: every answer
# is 504 outcome_unknown.  The write must exit 6, never "failed".
python3 -c '
import http.server, json, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body):
        b = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.reply(200, {"id": 1, "role": "leader", "term": 2, "leader": 1,
            "commit_index": 1, "applied_index": 1, "last_index": 1,
            "members": []})
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        self.reply(504, {"error": "outcome_unknown", "message": "fate unknown"})
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
threading.Timer(20, s.shutdown).start()
s.serve_forever()
' >"$CLI_TMP/uport" &
CLI_PIDS="$CLI_PIDS $!"
n=0
while [ ! -s "$CLI_TMP/uport" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
UK="http://127.0.0.1:$(cat "$CLI_TMP/uport")"
ctl -e "$UK" --timeout 1s put k v
is "$RC" 6 "a write whose outcome stays unknown exits 6"
like "$ERR" "may or may not have been applied" "and the message says the outcome is unknown"

tap_done
