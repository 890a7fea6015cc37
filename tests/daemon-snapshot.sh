#!/bin/bash
# tests/daemon-snapshot.sh -- snapshots, log compaction and InstallSnapshot
# in a real 3-node raftkvd cluster with a low snapshot threshold (TAP):
#
#  1. a follower is stopped (SIGKILL) while WRITES writes go by; the leader
#     snapshots and compacts, so the follower can only catch up through
#     InstallSnapshot; after its restart its state hash equals the
#     leader's and its log says it installed a snapshot;
#  2. disk use stays bounded: the leader keeps a bounded number of segment
#     files and one snapshot file, whatever the number of writes;
#  3. a follower killed while it receives a snapshot restarts, and catches
#     up again (the partial file is removed, never loaded);
#  4. the leader killed while its child writes a snapshot restarts from the
#     previous snapshot plus the log, with no acknowledged write lost;
#  5. every node restarted from snapshot + log agrees on the state hash.
#
# RAFTKV_SNAPSHOT_WRITES sets the writes of step 1 (default 20000; the soak
# mode of .ci/run uses 100000).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

WRITES=${RAFTKV_SNAPSHOT_WRITES:-20000}
RAFTKVCTL=${RAFTKVCTL:-$(dirname "$RAFTKVD")/raftkvctl}
SEGMENT=262144

rk_init snapshot
if [ ! -x "$RAFTKVCTL" ]; then
	echo "1..0 # SKIP no raftkvctl at $RAFTKVCTL (set RAFTKVCTL)"
	exit 0
fi
rk_cluster 3 --snapshot-entries 2000 --snapshot-keep 500 \
    --segment-size "$SEGMENT" --election-timeout 500 \
    --heartbeat-interval 50 --request-timeout 5000
rk_start_all
rk_wait_leader 10 || rk_bail "no leader"

# bench NODE COUNT PREFIX: COUNT exactly-once writes through NODE.
bench()
{
	"$RAFTKVCTL" -e "$(rk_url "$1")" -t 30s bench --clients 16 \
	    --count "$2" --keys 4000 --value-size 100 --prefix "$3" \
	    >"$RK_TMP/bench.out" 2>&1
}

# segments I: the number of log segment files in node I's directory.
segments()
{
	find "$RK_TMP/n$1" -maxdepth 1 -name '[0-9]*-[0-9]*' -o -maxdepth 1 \
	    -name 'open-*' | wc -l
}

# snapshots I: the snapshot files (not partial ones) of node I.
snapshots()
{
	find "$RK_TMP/n$1" -maxdepth 1 -name 'snapshot-*' ! -name '*.tmp' |
	    wc -l
}

# wait_log I PATTERN TIMEOUT_S: waits for PATTERN in node I's log.
wait_log()
{
	local deadline
	deadline=$(( $(rk_now_ms) + $(rk_scaled "$3") * 1000 ))
	while ! grep -q "$2" "$RK_TMP/n$1.log"; do
		[ "$(rk_now_ms)" -gt "$deadline" ] && return 1
		sleep 0.02
	done
}

# ---------------------------------------------------------------- 1
for k in $(seq 1 50); do
	rk_put_str "$RK_LEADER" "model/$k" "before-$k" >/dev/null
done
lagging=$(rk_follower)
rk_kill "$lagging"
rk_diag "follower $lagging stopped; $WRITES writes through leader $RK_LEADER"
bench "$RK_LEADER" "$WRITES" "w1/"
rk_ok $? "$WRITES writes through the leader while follower $lagging is down"
rk_diag "$(grep -E 'ops/s|throughput' "$RK_TMP/bench.out" | head -2)"
for k in $(seq 51 100); do
	rk_put_str "$RK_LEADER" "model/$k" "during-$k" >/dev/null
done
grep -q "durable in" "$RK_TMP/n$RK_LEADER.log"
rk_ok $? "the leader took snapshots"
rk_diag "$(grep -c 'durable in' "$RK_TMP/n$RK_LEADER.log") snapshots; last: $(grep 'durable in' "$RK_TMP/n$RK_LEADER.log" | tail -1 | cut -c1-200)"

# ---------------------------------------------------------------- 2
segs=$(segments "$RK_LEADER")
snaps=$(snapshots "$RK_LEADER")
rk_diag "leader's directory: $segs segment files, $snaps snapshot files, $(du -sk "$RK_TMP/n$RK_LEADER" | cut -f1) KiB"
[ "$segs" -le 8 ]
rk_ok $? "compaction bounds the leader's segment files ($segs <= 8)"
[ "$snaps" = 1 ]
rk_ok $? "the leader keeps one snapshot file ($snaps)"

# ---------------------------------------------------------------- 1 (end)
t0=$(rk_now_ms)
rk_start "$lagging"
rk_wait_leader 10
rk_wait_converged 60
rk_ok $? "the restarted follower catches up: state hashes agree at $RK_APPLIED ($(( $(rk_now_ms) - t0 )) ms)"
grep -q "installed snapshot" "$RK_TMP/n$lagging.log"
rk_ok $? "follower $lagging caught up through InstallSnapshot"
rk_diag "$(grep -E 'received snapshot|installed snapshot' "$RK_TMP/n$lagging.log" | tail -2 | cut -c1-200)"
out=$(rk_verify_model "$lagging" stale)
rk_ok $? "the follower's own state holds every acknowledged write"
rk_diag "$out"

# ---------------------------------------------------------------- 3
rk_kill "$lagging"
bench "$RK_LEADER" 6000 "w2/"
rk_ok $? "6000 more writes while follower $lagging is down again"
rk_start "$lagging"
if wait_log "$lagging" "receiving snapshot" 20; then
	rk_kill "$lagging"
	rk_ok 0 "follower $lagging killed while receiving a snapshot"
else
	rk_ok 1 "follower $lagging never started receiving a snapshot"
fi
rk_start "$lagging"
rk_wait_leader 10
rk_wait_converged 60
rk_ok $? "after the interrupted install the follower catches up (hash $RK_HASH)"
ls "$RK_TMP/n$lagging"/snapshot-*.tmp >/dev/null 2>&1
rk_ok $((!$?)) "no partial snapshot file is left behind"

# ---------------------------------------------------------------- 4
leader=$RK_LEADER
n0=$(grep -c "snapshot at .* started" "$RK_TMP/n$leader.log")
bench "$leader" 2500 "w3/" &
bp=$!
deadline=$(( $(rk_now_ms) + $(rk_scaled 30) * 1000 ))
killed=1
while [ "$(rk_now_ms)" -lt "$deadline" ]; do
	if [ "$(grep -c "snapshot at .* started" "$RK_TMP/n$leader.log")" -gt "$n0" ]; then
		rk_kill "$leader"
		killed=0
		break
	fi
	sleep 0.01
done
wait "$bp"
rk_ok "$killed" "leader $leader killed while its child wrote a snapshot"
# The killed child's partial file(s), by name: after the restart the node
# may start a snapshot of its own at once, whose file is not one of these.
partial=$(ls "$RK_TMP/n$leader"/snapshot-*.tmp 2>/dev/null)
rk_diag "partial files: ${partial:-none yet}"
rk_start "$leader"
rk_wait_leader 10
rk_put_retry "model/after" "after" 10
rk_ok $? "the cluster takes writes after the leader's restart"
rk_wait_converged 60
rk_ok $? "all three nodes agree after the restart (hash $RK_HASH)"
left=""
for f in $partial; do
	[ -e "$f" ] && left="$left $f"
done
rk_is "${left:-none}" none "the killed child's partial file was removed at restart"
grep -q "loaded snapshot" "$RK_TMP/n$leader.log"
rk_ok $? "the old leader restarted from its snapshot plus the log"

# ---------------------------------------------------------------- 5
for i in 1 2 3; do
	rk_kill "$i"
done
rk_start_all
rk_wait_leader 10
rk_wait_converged 60
rk_ok $? "a full-cluster restart from snapshots agrees (hash $RK_HASH)"
out=$(rk_verify_model "$RK_LEADER")
rk_ok $? "every acknowledged write survived"
rk_diag "$out"
rk_done
