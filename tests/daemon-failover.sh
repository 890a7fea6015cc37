#!/bin/bash
# tests/daemon-failover.sh -- measures failover in a real 3-node raftkvd
# cluster: SIGKILL the leader, then time the first successful write
# through the survivors (TAP).  RAFTKV_FAILOVER_RUNS=20 measures 20 rounds
# (default 3); the median and maximum are printed as TAP diagnostics.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

RUNS=${RAFTKV_FAILOVER_RUNS:-3}
ELECTION_MS=${RAFTKV_FAILOVER_ELECTION_MS:-300}
HEARTBEAT_MS=${RAFTKV_FAILOVER_HEARTBEAT_MS:-30}

rk_init failover
rk_cluster 3 --election-timeout "$ELECTION_MS" \
    --heartbeat-interval "$HEARTBEAT_MS" --request-timeout 3000
rk_start_all
rk_wait_leader 10 || rk_bail "no leader"
rk_diag "$RUNS rounds, election timeout $ELECTION_MS ms, heartbeat $HEARTBEAT_MS ms"

times=()
for r in $(seq 1 "$RUNS"); do
	# Start each round from a healthy, caught-up cluster.
	rk_wait_leader 10 && rk_wait_converged 10 ||
	    rk_diag "round $r: the cluster did not settle"
	rk_put_str "$RK_LEADER" "fo/$r/before" x >/dev/null
	old=$RK_LEADER
	oldterm=$RK_TERM
	rk_kill "$old"
	t0=$(rk_now_ms)
	rk_put_retry "fo/$r/after" y 10
	st=$?
	ms=$(( $(rk_now_ms) - t0 ))
	rk_ok "$st" "round $r: a write succeeds after SIGKILL of leader $old ($ms ms, $RK_TRIES tries)"
	[ "$st" = 0 ] && times+=("$ms")
	rk_start "$old"
	rk_wait_healthy "$old" 10 ||
	    rk_diag "round $r: node $old is not healthy after its restart"
done

rk_wait_leader 10
rk_wait_converged 10
rk_ok $? "after $RUNS failovers all hashes agree"
out=$(rk_verify_model "$RK_LEADER")
rk_ok $? "every acknowledged write is there"
rk_diag "$out"
if [ "${#times[@]}" -gt 0 ]; then
	stats=$(printf '%s\n' "${times[@]}" | sort -n | awk '
	    { v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
	          printf "failover over %d runs: median %d ms, max %d ms, min %d ms", NR, m, v[NR], v[1] }')
	rk_diag "$stats"
	rk_diag "all (ms): ${times[*]}"
fi

rk_done
