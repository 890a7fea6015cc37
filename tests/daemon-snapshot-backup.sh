#!/bin/bash
# tests/daemon-snapshot-backup.sh -- backups and disaster recovery on real
# 3-node clusters (TAP; docs/backup.md):
#   A  GET /v1/snapshot on the leader, a follower and ?stale; a download
#      its client abandons halfway; `raftkvctl snapshot save` and `info`;
#      corrupt and truncated files refused by `info` and `restore`;
#   B  `raftkvd restore` of a NEW cluster (another name, other ports) from
#      A's backup: each restored node, started alone, has A's applied index
#      and state hash; together they serve every acknowledged key;
#   C  the lost-quorum drill: 2 of B's 3 nodes are killed for good; a stale
#      backup from the survivor; `restore --from-data-dir` refused without
#      --force-lost-quorum, then a new cluster from the survivor's data
#      directory that serves everything B acknowledged.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

RAFTKVCTL=${RAFTKVCTL:-${abs_top_builddir:-.}/raftkvctl}
if [ ! -x "$RAFTKVCTL" ]; then
	echo "1..0 # SKIP no raftkvctl binary at $RAFTKVCTL (set RAFTKVCTL)"
	exit 0
fi
FAST=(--election-timeout 300 --heartbeat-interval 30 --segment-size 1048576)

# ctl ARGS...: raftkvctl against the configured cluster; sets RC, OUT, ERR.
ctl()
{
	local eps=
	local i
	for i in $(seq 1 "$RK_N"); do
		eps="$eps${eps:+,}$(rk_url "$i")"
	done
	timeout 120 "$RAFTKVCTL" -e "$eps" "$@" >"$RK_TMP/out" 2>"$RK_TMP/err"
	RC=$?
	OUT=$(cat "$RK_TMP/out")
	ERR=$(cat "$RK_TMP/err")
}

# restore ARGS...: raftkvd restore; sets RC, OUT, ERR.
restore()
{
	timeout 120 "$RAFTKVD" restore "$@" >"$RK_TMP/out" 2>"$RK_TMP/err"
	RC=$?
	OUT=$(cat "$RK_TMP/out")
	ERR=$(cat "$RK_TMP/err")
}

# field TEXT WORD: the word after WORD in TEXT ("index 42," -> 42).
field()
{
	printf '%s\n' "$1" | sed -n "s/.*$2 \([0-9a-f][0-9a-f]*\).*/\1/p" | head -n 1
}

# stop_all: SIGTERM every node of the configured cluster; passes when all
# exit 0 (a clean exit also runs the leak checker of sanitizer builds).
stop_all()
{
	local i bad=
	for i in $(seq 1 "$RK_N"); do
		[ -n "${RK_PID[i]}" ] || continue
		rk_term "$i"
		[ "$RK_STATUS" = 0 ] || bad="$bad node $i: $RK_STATUS;"
	done
	rk_is "$bad" "" "$1"
}

# slow_get PORT HOLD_S: GET /v1/snapshot with a tiny receive buffer (so
# that the node cannot push the whole file into the kernel's buffers),
# reads 100 kB, stops reading for HOLD_S seconds, then closes the socket;
# prints the bytes read.
slow_get()
{
	python3 - "$1" "$2" <<'EOF'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(20)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /v1/snapshot HTTP/1.1\r\nHost: x\r\n\r\n")
got = 0
while got < 100000:
    b = s.recv(4096)
    if not b:
        break
    got += len(b)
time.sleep(float(sys.argv[2]))
s.close()
print(got)
EOF
}

# move_dirs PREFIX: renames the data directories and logs n$i to PREFIX$i,
# so that the next cluster starts in fresh ones.
move_dirs()
{
	local i
	for i in $(seq 1 "$RK_N"); do
		mv "$RK_TMP/n$i" "$RK_TMP/$1$i"
		[ -f "$RK_TMP/n$i.log" ] && mv "$RK_TMP/n$i.log" "$RK_TMP/$1$i.log"
	done
}

rk_init snapshot-backup

# ------------------------------------------------------------ A: backups
rk_cluster 3 --cluster backup-src "${FAST[@]}"
rk_start_all
rk_wait_leader 10 || rk_bail "cluster A elected no leader"
for k in $(seq 1 100); do
	rk_put_str "$RK_LEADER" "a/key-$k" "value $k"
done
rk_delete "$RK_LEADER" "a/key-7"
# Twelve 1 MB values: the file outgrows the socket buffers, so that a
# client can leave in the middle of a transfer.
for k in $(seq 1 12); do
	head -c 1000000 /dev/urandom >"$RK_TMP/big$k"
	rk_put "$RK_LEADER" "a/big-$k" "$RK_TMP/big$k"
done
rk_is "$(wc -l <"$RK_TMP/acked")" 113 "cluster A acknowledged 113 writes"
rk_wait_converged 10 || rk_bail "cluster A did not converge"
SRC_APPLIED=$RK_APPLIED
SRC_HASH=$RK_HASH
rk_diag "cluster A: applied $SRC_APPLIED, state hash $SRC_HASH"

F=$(rk_follower)
rk_http GET "$(rk_url "$F")/v1/snapshot"
rk_code 307 "a follower redirects GET /v1/snapshot to the leader"
rk_is "$(rk_hdr Location)" "$(rk_url "$RK_LEADER")/v1/snapshot" \
    "to the leader's /v1/snapshot"
rk_http GET "$(rk_url "$RK_LEADER")/v1/snapshot?bogus"
rk_code 400 "an unknown query parameter is refused"
rk_http GET "$(rk_url "$F")/v1/snapshot?stale" -m "$(rk_scaled 10)"
rk_code 200 "?stale is served by a follower"
rk_is "$(rk_hdr X-Raftkv-Snapshot-Stale)/$(rk_hdr X-Raftkv-Node-Id)" "1/$F" \
    "and says it is stale, from that node"
rk_is "$(stat -c %s "$RK_TMP/body")" "$(rk_hdr Content-Length)" \
    "the whole file arrives (Content-Length bytes)"
rk_is "$(rk_hdr X-Raftkv-Snapshot-Size)" "$(rk_hdr Content-Length)" \
    "X-Raftkv-Snapshot-Size is the file size"

# A client that leaves halfway: the node ends that download and serves on.
psize=$(slow_get "${RK_CPORT[$RK_LEADER]}" 0)
rk_ok "$([ "${psize:-0}" -gt 0 ]; echo $?)" "a slow client leaves after $psize bytes"
for t in $(seq 1 50); do
	grep -q "abandoned after" "$RK_TMP/n$RK_LEADER.log" && break
	sleep 0.1
done
rk_ok "$(grep -q 'abandoned after.*the client went away' \
    "$RK_TMP/n$RK_LEADER.log"; echo $?)" "the leader notices and ends the download"
rk_ok "$(rk_alive "$RK_LEADER"; echo $?)" "and is still running"

ctl snapshot save "$RK_TMP/backup.snap"
rk_is "$RC" 0 "raftkvctl snapshot save exits 0"
[ "$RC" = 0 ] || rk_diag "$ERR"
rk_is "$(field "$OUT" index)" "$SRC_APPLIED" \
    "the backup is at the applied index of the quiet cluster"
rk_ok "$([ -f "$RK_TMP/backup.snap" ] && [ ! -e "$RK_TMP/backup.snap.tmp" ]; echo $?)" \
    "FILE is there and FILE.tmp is gone"
ctl snapshot info "$RK_TMP/backup.snap"
rk_is "$RC/$(field "$OUT" index)" "0/$SRC_APPLIED" "snapshot info verifies it"
ctl -w json snapshot info "$RK_TMP/backup.snap"
rk_is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["verified"], len(j["members"]))')" \
    "True 3" "snapshot info -w json: verified, with 3 members"

# Damaged copies are refused, by info and by restore.
size=$(stat -c %s "$RK_TMP/backup.snap")
head -c $((size / 2)) "$RK_TMP/backup.snap" >"$RK_TMP/truncated.snap"
cp "$RK_TMP/backup.snap" "$RK_TMP/corrupt.snap"
printf '\377' | dd of="$RK_TMP/corrupt.snap" bs=1 seek=$((size / 3)) \
    conv=notrunc 2>/dev/null
cmp -s "$RK_TMP/backup.snap" "$RK_TMP/corrupt.snap" &&
    printf '\000' | dd of="$RK_TMP/corrupt.snap" bs=1 seek=$((size / 3)) \
    conv=notrunc 2>/dev/null
for bad in truncated corrupt; do
	ctl snapshot info "$RK_TMP/$bad.snap"
	rk_is "$RC" 1 "snapshot info of a $bad file exits 1"
	case $ERR in *"fails verification"*) r=0 ;; *) r=1; rk_diag "$ERR" ;; esac
	rk_ok "$r" "and says it fails verification"
	restore --snapshot "$RK_TMP/$bad.snap" --id 1 "${RK_MEMBERS[@]}" \
	    --data-dir "$RK_TMP/bad-$bad"
	rk_is "$RC" 3 "restore from a $bad file exits 3"
	rk_ok "$([ ! -e "$RK_TMP/bad-$bad" ]; echo $?)" "and makes no directory"
done
restore --snapshot "$RK_TMP/backup.snap" --id 1 "${RK_MEMBERS[@]}" \
    --data-dir "$RK_TMP/n1"
rk_is "$RC" 4 "restore into a directory that holds data exits 4"

# ------------------------------------------------------------ B: restore
# Configured while A still listens, so B's ports differ from A's.
A_CPORT1=${RK_CPORT[1]}
A_LEADER_CPORT=${RK_CPORT[$RK_LEADER]}
rk_cluster 3 --cluster backup-dst "${FAST[@]}"
rk_ok "$([ "${RK_CPORT[1]}" != "$A_CPORT1" ]; echo $?)" "cluster B gets other ports"
# A download still running when its node stops is cut short, not leaked.
sends=$(grep -c "backup: sending snapshot" "$RK_TMP/n$RK_LEADER.log")
slow_get "$A_LEADER_CPORT" "$(rk_scaled 5)" >/dev/null &
RK_BG_PIDS+=($!)
for t in $(seq 1 50); do
	[ "$(grep -c "backup: sending snapshot" "$RK_TMP/n$RK_LEADER.log")" \
	    -gt "$sends" ] && break
	sleep 0.1
done
sleep 0.2
stop_all "cluster A's nodes stop cleanly, one of them in mid-download"
rk_ok "$(grep -q 'abandoned after.*the node is stopping' \
    "$RK_TMP/n$RK_LEADER.log"; echo $?)" "and that download was cut short"
move_dirs a
for i in 1 2 3; do
	restore --snapshot "$RK_TMP/backup.snap" --id "$i" "${RK_MEMBERS[@]}" \
	    "${RK_EXTRA[@]}" --data-dir "$RK_TMP/n$i"
	rk_is "$RC" 0 "restore of node $i of cluster B exits 0"
	[ "$RC" = 0 ] || rk_diag "$ERR"
	rk_is "$(field "$OUT" index)/$(field "$OUT" "state hash")" \
	    "$SRC_APPLIED/$SRC_HASH" "and reports A's index and state hash"
done
# Alone, a node cannot be elected: it shows the restored state as it is.
for i in 1 2 3; do
	rk_start "$i"
	got=-
	for t in $(seq 1 50); do
		got=$(rk_status "$i" applied_index state_hash cluster)
		[ "$got" != "- - -" ] && break
		sleep 0.1
	done
	rk_is "$got" "$SRC_APPLIED $SRC_HASH backup-dst" \
	    "restored node $i starts with A's applied index and state hash"
	rk_term "$i"
done
rk_start_all
rk_wait_leader 10 || rk_bail "cluster B elected no leader"
rk_wait_converged 10
rk_ok $? "cluster B converges"
out=$(rk_verify_model "$RK_LEADER")
rk_ok $? "cluster B serves every key A acknowledged"
rk_diag "$out"
rk_is "$(rk_status "$RK_LEADER" cluster)" backup-dst "with its own name"
rk_http GET "$(rk_url "$RK_LEADER")/v1/status"
rk_is "$(rk_json '" ".join(m["client_url"] for m in j["members"])')" \
    "$(rk_url 1) $(rk_url 2) $(rk_url 3)" "and its own members"

# ------------------------------------------------------------ C: lost quorum
for k in $(seq 1 20); do
	rk_put_str "$RK_LEADER" "b/key-$k" "b value $k"
done
rk_wait_converged 10 || rk_bail "cluster B did not converge"
B_APPLIED=$RK_APPLIED
B_HASH=$RK_HASH
S=$(rk_follower)
B_SURVIVOR_URL=$(rk_url "$S")
for i in 1 2 3; do
	[ "$i" = "$S" ] || rk_kill "$i"
done
rk_diag "cluster B: applied $B_APPLIED, hash $B_HASH; only node $S survives"
timeout 60 "$RAFTKVCTL" -e "$B_SURVIVOR_URL" --timeout 1s snapshot save \
    "$RK_TMP/nope.snap" >/dev/null 2>&1
rk_is "$?" 3 "without a majority, a consistent backup finds no leader (exit 3)"
timeout 60 "$RAFTKVCTL" -e "$B_SURVIVOR_URL" snapshot save --stale \
    "$RK_TMP/stale.snap" >"$RK_TMP/out" 2>"$RK_TMP/err"
rk_is "$?/$(field "$(cat "$RK_TMP/out")" index)" "0/$B_APPLIED" \
    "snapshot save --stale from the survivor: its applied index"
rk_ok "$(grep -q 'WARNING: this is a STALE snapshot' "$RK_TMP/err"; echo $?)" \
    "with a loud warning"
# Configured while the survivor listens: other ports again.
rk_cluster 3 --cluster backup-lost "${FAST[@]}"
rk_term "$S"
rk_is "$RK_STATUS" 0 "the survivor stops cleanly"
move_dirs b
restore --from-data-dir "$RK_TMP/b$S" --id 1 "${RK_MEMBERS[@]}" \
    "${RK_EXTRA[@]}" --data-dir "$RK_TMP/n1"
rk_is "$RC" 4 "restore --from-data-dir without --force-lost-quorum exits 4"
case $ERR in *--force-lost-quorum*) r=0 ;; *) r=1 ;; esac
rk_ok "$r" "and names the flag"
rk_ok "$([ ! -e "$RK_TMP/n1" ]; echo $?)" "and touches no directory"
for i in 1 2 3; do
	restore --from-data-dir "$RK_TMP/b$S" --force-lost-quorum --id "$i" \
	    "${RK_MEMBERS[@]}" "${RK_EXTRA[@]}" --data-dir "$RK_TMP/n$i"
	rk_is "$RC/$(field "$OUT" index)/$(field "$OUT" "state hash")" \
	    "0/$B_APPLIED/$B_HASH" \
	    "restore --force-lost-quorum of node $i: B's index and state hash"
	[ "$RC" = 0 ] || rk_diag "$ERR"
done
case $ERR in *"ACKNOWLEDGED WRITES AFTER INDEX $B_APPLIED MAY BE LOST"*) r=0 ;; *) r=1 ;; esac
rk_ok "$r" "restore prints the lost-quorum warning"
restore --snapshot "$RK_TMP/stale.snap" --force-lost-quorum --id 1 \
    "${RK_MEMBERS[@]}" "${RK_EXTRA[@]}" --data-dir "$RK_TMP/from-stale"
rk_is "$RC/$(field "$OUT" "state hash")" "0/$B_HASH" \
    "the stale backup restores the same state"
rk_start_all
rk_wait_leader 10 || rk_bail "cluster C elected no leader"
rk_wait_converged 10
rk_ok $? "cluster C converges"
out=$(rk_verify_model "$RK_LEADER")
rk_ok $? "cluster C serves every key A and B acknowledged"
rk_diag "$out"
rk_put_str "$RK_LEADER" "c/after" "written to C"
rk_code 200 "cluster C takes writes"
stop_all "cluster C's nodes stop cleanly"

rk_done
