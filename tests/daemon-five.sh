#!/bin/bash
# tests/daemon-five.sh -- a real 5-node raftkvd cluster: election, writes
# with two nodes killed (the leader among them), and the killed nodes
# catching up after their restart (TAP).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

rk_init five
rk_cluster 5 --election-timeout 300 --heartbeat-interval 30 \
    --request-timeout 3000
rk_start_all
rk_wait_leader 15
rk_ok $? "5 nodes: a leader is elected" || rk_bail "no leader"
lines=$(rk_statuses 1 2 3 4 5 -- role term leader)
rk_is "$(echo "$lines" | awk '$2 == "leader"' | wc -l)" 1 \
    "exactly one of the 5 nodes is leader"
rk_is "$(echo "$lines" | awk '{print $3 ":" $4}' | sort -u)" "$RK_TERM:$RK_LEADER" \
    "all 5 agree on the leader and the term"
rk_is "$(rk_status "$RK_LEADER" members | python3 -c 'import ast,sys; print(len(ast.literal_eval(sys.stdin.read())))')" 5 \
    "the configuration has 5 members"
for n in 1 2 3; do
	rk_put_str "$(rk_follower)" "five/$n" "v$n" >/dev/null
done
rk_code 200 "writes through a follower"

# Kill the leader and one follower: 3 of 5 remain, a majority.
old=$RK_LEADER
other=$(rk_follower)
rk_kill "$old"
rk_kill "$other"
t0=$(rk_now_ms)
rk_put_retry five/after-kill yes 15
rk_ok $? "with the leader ($old) and node $other killed, a write succeeds"
rk_diag "first write $(( $(rk_now_ms) - t0 )) ms after the kills"
rk_wait_leader 10
rk_ok $? "the 3 survivors agree on a new leader ($RK_LEADER)"
okw=0
for n in 4 5 6 7 8; do
	rk_put_str "$(rk_follower)" "five/$n" "v$n" >/dev/null
	[ "$RK_CODE" = 200 ] && okw=$((okw + 1))
done
rk_is "$okw" 5 "writes continue with 3 of 5 nodes"
rk_wait_converged 10
rk_ok $? "the survivors agree on index and hash"

# A third failure leaves a minority: nothing commits.
third=$(rk_follower)
rk_stop "$third"
rk_http PUT "$(rk_url "$RK_LEADER")/v1/kv/five/minority" --data-binary x \
    -m "$(rk_scaled 5)"
rk_code "503|504" "with 2 of 5 nodes left a write is not acknowledged ($RK_CODE)"
rk_cont "$third"

rk_start "$old"
rk_start "$other"
rk_wait_leader 10
rk_ok $? "after restarting the killed nodes all 5 agree on a leader"
rk_put_retry five/final yes 10
rk_ok $? "and commit writes"
rk_wait_converged 10
rk_ok $? "all 5 nodes apply to the same index with the same hash"
for n in "$old" "$other"; do
	out=$(rk_verify_model "$n" stale)
	rk_ok $? "restarted node $n holds every acknowledged write"
done

rk_done
