#!/bin/bash
# tests/daemon-faults.sh -- faults injected into a real 3-node raftkvd
# cluster: the leader killed (SIGKILL), a partitioned leader (its followers
# SIGSTOPped) that must neither serve linearizable reads nor acknowledge
# writes, a lone follower that cannot commit, recovery after SIGCONT, and a
# SIGTERM with a write pending (TAP).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

rk_init faults
rk_cluster 3 --election-timeout 300 --heartbeat-interval 30 \
    --request-timeout 2000
rk_start_all
rk_wait_leader 10 || rk_bail "no leader"
for n in 1 2 3 4 5; do
	rk_put_str "$RK_LEADER" "before/$n" "v$n" >/dev/null
done
rk_code 200 "writes before the faults"

# other_nodes X...: the node ids not given.
other_nodes()
{
	local i out=
	for i in $(seq 1 "$RK_N"); do
		case " $* " in *" $i "*) ;; *) out="$out $i" ;; esac
	done
	echo $out
}

# ---- SIGKILL the leader
old=$RK_LEADER
oldterm=$RK_TERM
rk_kill "$old"
t0=$(rk_now_ms)
rk_put_retry after-kill yes 10
rk_ok $? "after SIGKILL of leader $old a write succeeds through a survivor"
ms=$(( $(rk_now_ms) - t0 ))
rk_diag "failover: first successful write $ms ms after the kill ($RK_TRIES tries)"
rk_wait_leader 10
rk_ok $? "the survivors agree on a new leader"
rk_ok "$([ "$RK_LEADER" != "$old" ] && [ "$RK_TERM" -gt "$oldterm" ]; echo $?)" \
    "the new leader ($RK_LEADER, term $RK_TERM) is not the killed one (term $oldterm)"
okw=0
for n in 1 2 3 4 5; do
	rk_put_str "$(rk_follower)" "after/$n" "w$n" >/dev/null
	[ "$RK_CODE" = 200 ] && okw=$((okw + 1))
done
rk_is "$okw" 5 "writes continue with two nodes"
rk_start "$old"
rk_wait_leader 10
rk_ok $? "the killed node restarts and follows the leader"
rk_wait_converged 10
rk_ok $? "the restarted node catches up: indexes and hashes agree"
out=$(rk_verify_model "$old")
rk_ok $? "every acknowledged write is there"
rk_diag "$out"

# ---- a partitioned leader: no linearizable read, no acknowledged write
L=$RK_LEADER
followers=$(other_nodes "$L")
for i in $followers; do
	rk_stop "$i"
done
t0=$(rk_now_ms)
curl -s -o "$RK_TMP/pput.body" -w '%{http_code}' -X PUT --data-binary lost \
    -m "$(rk_scaled 5)" "$(rk_url "$L")/v1/kv/partitioned-write" \
    >"$RK_TMP/pput.code" 2>/dev/null &
RK_BG_PIDS+=($!)
rk_http GET "$(rk_url "$L")/v1/kv/before/1"
ms=$(( $(rk_now_ms) - t0 ))
rk_code 503 "the partitioned old leader does not serve a linearizable GET (503)"
rk_diag "GET answered $RK_CODE $(rk_json 'j.get("error")') after $ms ms"
rk_http GET "$(rk_url "$L")/v1/kv?prefix=before"
rk_ok "$([ "$RK_CODE" != 200 ]; echo $?)" \
    "nor a linearizable listing (got $RK_CODE)"
wait "${RK_BG_PIDS[0]}"
RK_BG_PIDS=()
code=$(cat "$RK_TMP/pput.code")
RK_CODE=$code
cp "$RK_TMP/pput.body" "$RK_TMP/body"
rk_code 504 "a write on the partitioned leader is not acknowledged (504)"
rk_is "$(rk_json 'j["error"]')" outcome_unknown "... its outcome is unknown"
rk_http GET "$(rk_url "$L")/v1/kv/before/1?stale"
rk_is "$RK_CODE:$(rk_body)" "200:v1" "?stale reads still work on the isolated node"
rk_http GET "$(rk_url "$L")/v1/health"
rk_code 503 "the isolated node is not healthy"
for i in $followers; do
	rk_cont "$i"
done
rk_wait_leader 10
rk_ok $? "after SIGCONT the cluster elects a leader again"
rk_put_retry after-partition yes 10
rk_ok $? "and commits writes"
rk_wait_converged 10
rk_ok $? "all hashes agree after the partition heals"
rk_http GET "$(rk_url "$RK_LEADER")/v1/kv/partitioned-write" -L
rk_code "200|404" "the unknown-outcome write is either applied or not ($RK_CODE)"
if [ "$RK_CODE" = 200 ]; then
	rk_is "$(rk_body)" lost "... and if applied, with its value"
fi

# ---- a lone follower (leader and the other follower stopped) cannot commit
L=$RK_LEADER
F=$(rk_follower)
stopped="$L $(other_nodes "$L" "$F")"
for i in $stopped; do
	rk_stop "$i"
done
sleep "$(rk_scaled 0.5)"
answers=
for try in 1 2 3 4 5 6 7 8 9 10; do
	rk_http PUT "$(rk_url "$F")/v1/kv/minority" --data-binary x \
	    -m "$(rk_scaled 1)"
	answers="$answers $RK_CODE"
	[ "$RK_CODE" = 200 ] && break
	sleep 0.2
done
rk_ok "$(echo "$answers" | grep -qw 200; [ $? -ne 0 ]; echo $?)" \
    "a lone follower never acknowledges a write"
rk_diag "answers over 2 s:$answers"
rk_ok "$(echo "$answers" | awk '{ exit !($NF == 503) }'; echo $?)" \
    "once it has lost its leader it answers 503 (no redirect loop)"
rk_is "$(rk_hdr Retry-After)" 1 "... with Retry-After"
rk_http PUT "$(rk_url "$F")/v1/kv/minority" --data-binary x -L \
    -m "$(rk_scaled 3)"
rk_ok "$([ "$RK_CODE" != 200 ]; echo $?)" \
    "... also when following redirects (got $RK_CODE)"
for i in $stopped; do
	rk_cont "$i"
done
rk_wait_leader 10
rk_ok $? "after SIGCONT the cluster recovers a leader"
rk_put_retry after-minority yes 10
rk_ok $? "and commits writes"
rk_wait_converged 10
rk_ok $? "all hashes agree"
rk_http GET "$(rk_url "$F")/v1/kv/minority" -L
rk_code 404 "the refused minority write was never applied"
out=$(rk_verify_model "$F")
rk_ok $? "every acknowledged write is there"

# ---- SIGTERM with a write pending on a partitioned leader
L=$RK_LEADER
followers=$(other_nodes "$L")
for i in $followers; do
	rk_stop "$i"
done
curl -s -o "$RK_TMP/pput.body" -w '%{http_code}' -X PUT --data-binary x \
    -m "$(rk_scaled 5)" "$(rk_url "$L")/v1/kv/pending-at-exit" \
    >"$RK_TMP/pput.code" 2>/dev/null &
RK_BG_PIDS+=($!)
sleep 0.1
rk_term "$L"
rk_is "$RK_STATUS" 0 "SIGTERM with a write pending: exit status 0"
wait "${RK_BG_PIDS[0]}"
RK_BG_PIDS=()
RK_CODE=$(cat "$RK_TMP/pput.code")
cp "$RK_TMP/pput.body" "$RK_TMP/body"
rk_code 504 "the pending write is answered 504 outcome_unknown, not failed"
for i in $followers; do
	rk_cont "$i"
done
rk_start "$L"
rk_wait_leader 10
rk_ok $? "the cluster recovers after the restart"
rk_put_retry final yes 10
rk_ok $? "writes work"
rk_wait_converged 10
rk_ok $? "all hashes agree at the end"
out=$(rk_verify_model "$L")
rk_ok $? "every acknowledged write is there at the end"
rk_diag "$out"

rk_done
