#!/bin/sh
# cli-snapshot.sh -- raftkvctl's snapshot command: "save" from a live 3-node
# cluster and "info"; then, against a fake node that serves a real backup
# badly, every way a download can go wrong: cut short, corrupt, not the
# announced snapshot, refused.  A failed save never leaves FILE (or an old
# FILE changed) or FILE.tmp behind.
srcdir=${srcdir:-.}
. "$srcdir/tests/cli-lib.sh"

[ -x "$RAFTKVD" ] || skip_all "raftkvd is not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed"

start_cluster
if ! LEADER=$(wait_leader); then
	echo "Bail out! no leader elected"
	exit 1
fi
for i in 1 2 3 4 5; do
	timeout 10 "$RAFTKVCTL" put "snap/$i" "value $i" >/dev/null
done

# Usage.
ctl snapshot
is "$RC" 2 "snapshot without arguments exits 2"
ctl snapshot frob "$CLI_TMP/x"
is "$RC" 2 "an unknown action exits 2"
like "$ERR" 'unknown action "frob"' "and names it"
ctl snapshot info --stale "$CLI_TMP/x"
is "$RC" 2 "--stale is for save only"
ctl snapshot save --wait 0s "$CLI_TMP/x"
is "$RC" 2 "a bad --wait exits 2"
ctl help snapshot
like "$OUT" "usage: snapshot save FILE | info FILE" "help snapshot"

# A real backup.
ctl snapshot save "$CLI_TMP/good.snap"
is "$RC" 0 "snapshot save exits 0"
like "$OUT" "saved $CLI_TMP/good.snap: index " "and prints the index"
like "$OUT" "(verified)" "verified"
like "$OUT" "(the leader)" "from the leader"
[ -f "$CLI_TMP/good.snap" ] && [ ! -e "$CLI_TMP/good.snap.tmp" ]
ok $? "FILE is there, FILE.tmp is not"
is "$(stat -c %a "$CLI_TMP/good.snap")" 600 "readable by its owner only"
ctl -w json snapshot info "$CLI_TMP/good.snap"
is "$RC" 0 "snapshot info exits 0"
like "$OUT" '"verified":true' "info -w json"
SIZE=$(stat -c %s "$CLI_TMP/good.snap")
like "$OUT" "\"size\":$SIZE," "with the file's size"
ctl snapshot info "$CLI_TMP/missing.snap"
is "$RC" 1 "info of a missing file exits 1"
like "$ERR" "cannot be read" "and says so"

# A fake leader serving good.snap in a mode read from $CLI_TMP/mode:
#   truncate  Content-Length of the whole file, half of it, then close;
#   corrupt   the whole length with one byte changed;
#   mismatch  the right bytes announced as another snapshot index;
#   refuse    503 no_leader.
python3 - "$CLI_TMP" <<'EOF' >"$CLI_TMP/fakeport" &
import http.server, json, sys
tmp = sys.argv[1]
good = open(tmp + "/good.snap", "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path.startswith("/v1/status"):
            b = json.dumps({"id": 1, "role": "leader", "term": 2,
                "leader": 1, "members": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
            return
        mode = open(tmp + "/mode").read().strip()
        if mode == "refuse":
            b = b'{"error":"no_leader","message":"fake"}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
            return
        body = good
        if mode == "corrupt":
            i = len(good) // 2
            body = good[:i] + bytes([good[i] ^ 0x55]) + good[i + 1:]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(good)))
        if mode == "mismatch":
            self.send_header("X-Raftkv-Snapshot-Index", "999999")
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.timeout = 0.5
import time
end = time.time() + 60
while time.time() < end:
    s.handle_request()
EOF
CLI_PIDS="$CLI_PIDS $!"
n=0
while [ ! -s "$CLI_TMP/fakeport" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
FAKE="http://127.0.0.1:$(cat "$CLI_TMP/fakeport")"

cp "$CLI_TMP/good.snap" "$CLI_TMP/old.snap"
for mode in truncate corrupt mismatch; do
	echo "$mode" >"$CLI_TMP/mode"
	ctl -e "$FAKE" snapshot save "$CLI_TMP/$mode.snap"
	is "$RC" 1 "a $mode download exits 1"
	[ ! -e "$CLI_TMP/$mode.snap" ] && [ ! -e "$CLI_TMP/$mode.snap.tmp" ]
	ok $? "and leaves neither FILE nor FILE.tmp"
	ctl -e "$FAKE" snapshot save "$CLI_TMP/old.snap"
	cmp -s "$CLI_TMP/good.snap" "$CLI_TMP/old.snap"
	ok $? "an existing FILE is left as it was"
	case $mode in
	truncate) like "$ERR" "the transfer stopped after" "cut short: said so" ;;
	corrupt) like "$ERR" "fails verification" "corrupt: said so" ;;
	mismatch) like "$ERR" "not the snapshot the node announced" \
	    "mismatch: said so" ;;
	esac
done
echo refuse >"$CLI_TMP/mode"
ctl -e "$FAKE" --timeout 1s snapshot save "$CLI_TMP/refused.snap"
is "$RC" 3 "a node that keeps answering 503 exits 3"
like "$ERR" "no_leader" "with the node's reason"
[ ! -e "$CLI_TMP/refused.snap.tmp" ]
ok $? "and no FILE.tmp is left"
echo good >"$CLI_TMP/mode"
ctl -e "$FAKE" snapshot save "$CLI_TMP/copy.snap"
is "$RC" 0 "the same fake serving the file whole: saved"
cmp -s "$CLI_TMP/good.snap" "$CLI_TMP/copy.snap"
ok $? "byte for byte"

tap_done
