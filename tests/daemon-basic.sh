#!/bin/bash
# tests/daemon-basic.sh -- a real 3-node raftkvd cluster on loopback:
# election, redirects, reads from every node, binary keys and values,
# listing, compare-and-set, exactly-once retries, concurrent clients, a
# full restart and a clean SIGTERM (TAP).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

rk_init basic
rk_cluster 3 --election-timeout 300 --heartbeat-interval 30 \
    --request-timeout 3000 --session-window 100
rk_start_all

# ---- election
rk_wait_leader 10
rk_ok $? "a leader is elected" || rk_bail "no leader"
lines=$(rk_statuses 1 2 3 -- role term leader)
rk_is "$(echo "$lines" | awk '$2 == "leader"' | wc -l)" 1 \
    "exactly one node reports itself leader"
rk_is "$(echo "$lines" | awk '{print $4}' | sort -u)" "$RK_LEADER" \
    "all nodes agree on the leader ($RK_LEADER)"
rk_is "$(echo "$lines" | awk '{print $3}' | sort -u)" "$RK_TERM" \
    "all nodes agree on the term ($RK_TERM)"
L=$RK_LEADER
F=$(rk_follower)
rk_diag "leader $L, term $RK_TERM, asking follower $F"

# ---- a write through a follower, with and without following the redirect
rk_http PUT "$(rk_url "$F")/v1/kv/greeting" --data-binary hello
rk_code 307 "a follower answers a PUT with 307"
rk_is "$(rk_hdr Location)" "$(rk_url "$L")/v1/kv/greeting" \
    "Location points at the leader's client URL"
rk_is "$(rk_hdr X-Raftkv-Leader-Id)" "$L" "X-Raftkv-Leader-Id names the leader"
rk_is "$(rk_hdr X-Raftkv-Term)" "$RK_TERM" "X-Raftkv-Term gives the term"

rk_put_str "$F" greeting hello
rk_code 200 "PUT through a follower with curl -L succeeds"
idx=$(rk_json 'j["index"]')
rk_ok "$([ "$idx" -gt 1 ] 2>/dev/null; echo $?)" "the reply gives the applied index ($idx)"
rk_is "$(rk_json 'j["duplicate"]')" false "a first write is not a duplicate"

for i in 1 2 3; do
	rk_http GET "$(rk_url "$i")/v1/kv/greeting" -L
	rk_is "$RK_CODE:$(rk_body)" "200:hello" "linearizable GET through node $i"
	rk_is "$(rk_hdr X-Raftkv-Mod-Index)" "$idx" \
	    "node $i: X-Raftkv-Mod-Index is the write's index"
done
rk_http GET "$(rk_url "$F")/v1/kv/greeting"
rk_code 307 "a linearizable GET on a follower is redirected"

rk_wait_converged 10
rk_ok $? "all nodes apply to the same index with the same state hash"
for i in 1 2 3; do
	rk_http GET "$(rk_url "$i")/v1/kv/greeting?stale"
	rk_is "$RK_CODE:$(rk_body)" "200:hello" "?stale GET served locally by node $i"
done
rk_http GET "$(rk_url "$L")/v1/kv/nosuchkey"
rk_code 404 "GET of a missing key is 404"
rk_is "$(rk_json 'j["error"]')" not_found "... with error not_found"

# ---- binary keys and values
head -c 3000 /dev/urandom >"$RK_TMP/bin.val"
printf '\0\0\377' >>"$RK_TMP/bin.val"
# The key "bin/\0 a/b\xff%?#\xc3\xa9" (0x00, 0xff, '/', '%', '?', '#').
bkey_hex=62696e2f0020612f62ff253f23c3a9
bkey=$(rk_pct_hex "$bkey_hex")
rk_put "$F" "$bkey" "$RK_TMP/bin.val"
rk_code 200 "PUT of a binary key ($bkey) and a random binary value"
rk_http GET "$(rk_url "$F")/v1/kv/$bkey" -L
cmp -s "$RK_TMP/bin.val" "$RK_TMP/body"
rk_ok $? "GET returns the exact value bytes (incl. NULs)"
# The same key with its '/' characters percent-encoded is the same key.
bkey2=$(echo "$bkey" | sed 's,/,%2F,g')
rk_http GET "$(rk_url "$L")/v1/kv/$bkey2"
cmp -s "$RK_TMP/bin.val" "$RK_TMP/body"
rk_ok $? "'/' and %2F name the same key"
# A value of exactly the default --max-value-size (1 MiB) is accepted and
# replicated: the core's entry limit and the peer body limit leave room for
# the key, the command header and base64.
head -c 1048576 /dev/urandom >"$RK_TMP/max.val"
rk_put "$L" "max-value" "$RK_TMP/max.val"
rk_code 200 "PUT of a value of exactly 1 MiB (the default limit)"
rk_wait_converged 10
for i in 1 2 3; do
	rk_http GET "$(rk_url "$i")/v1/kv/max-value?stale"
	cmp -s "$RK_TMP/max.val" "$RK_TMP/body"
	rk_ok $? "node $i holds the 1 MiB value, byte for byte"
done
# A listing of large values is paged by size, not only by --limit: five
# 1 MiB values never come back in one reply, and "next" reaches them all.
for i in 1 2 3 4 5; do
	rk_put "$L" "big%2F$i" "$RK_TMP/max.val"
done
seen=0 pages=0 after=
while [ $pages -lt 10 ]; do
	rk_http GET "$(rk_url "$L")/v1/kv?prefix=big%2F&limit=100$after"
	[ "$RK_CODE" = 200 ] || break
	pages=$((pages + 1))
	n=$(rk_json 'len(j["kvs"])')
	seen=$((seen + n))
	[ "$(rk_json 'j["more"]')" = true ] || break
	after="&start_after=$(python3 -c 'import base64, sys, urllib.parse
print(urllib.parse.quote(base64.b64decode(sys.argv[1]), safe=""))' \
	    "$(rk_json 'j["next"]')")"
done
rk_is "$seen" 5 "paging through five 1 MiB values returns each once"
[ "$pages" -ge 2 ]
rk_ok $? "in more than one page ($pages)"
rk_put_str "$L" "%00" "nul key"
rk_code 200 "PUT of the one-byte key %00"
rk_http GET "$(rk_url "$L")/v1/kv/%00"
rk_is "$RK_CODE:$(rk_body)" "200:nul key" "GET of the key %00"
rk_http GET "$(rk_url "$L")/v1/kv/%00%00"
rk_code 404 "the key %00%00 is a different key"
rk_http GET "$(rk_url "$L")/v1/kv?prefix=bin%2F%00"
rk_is "$(python3 - "$RK_TMP/body" "$bkey_hex" "$RK_TMP/bin.val" <<'EOF'
import base64, json, sys
j = json.load(open(sys.argv[1]))
kvs = j["kvs"]
ok = (len(kvs) == 1 and base64.b64decode(kvs[0]["key"]) == bytes.fromhex(sys.argv[2])
      and base64.b64decode(kvs[0]["value"]) == open(sys.argv[3], "rb").read())
print("ok" if ok else "bad: %r" % kvs)
EOF
)" ok "listing by a binary prefix returns the key and value in base64"

# Keys up to --max-key-size (4096 by default) are valid through any node,
# so a follower must redirect them too (bug: it answers 414).
longkey=$(printf 'k%.0s' $(seq 4096))
rk_put_str "$L" "$longkey" long
rk_code 200 "PUT of a 4096-byte key (the limit) on the leader"
rk_http GET "$(rk_url "$F")/v1/kv/$longkey" -L
rk_is "$RK_CODE:$(rk_body)" 200:long "GET of the 4096-byte key through a follower, curl -L"
rk_put_str "$F" "$longkey" longer
rk_code 200 "PUT of the 4096-byte key through a follower, curl -L"
rk_put_str "$F" "$(printf '%%FF%.0s' $(seq 700))" long
rk_code 200 "PUT of a 700-byte binary key through a follower, curl -L"

# ---- listing by prefix with a limit and continuation
expected=
for n in $(seq -w 0 24); do
	rk_put_str "$L" "list/$n" "value-$n" >/dev/null
	[ "$RK_CODE" = 200 ] || rk_diag "PUT list/$n: $RK_CODE"
	expected="$expected list/$n"
done
rk_put_str "$L" "list" "outside" >/dev/null
rk_put_str "$L" "lisu" "outside" >/dev/null
rk_put_str "$L" "list0" "outside" >/dev/null
after=
got=
mores=
pages=0
for page in 1 2 3 4; do
	q="prefix=list%2F&limit=10"
	[ -n "$after" ] && q="$q&start_after=$after"
	rk_http GET "$(rk_url "$F")/v1/kv?$q" -L
	[ "$RK_CODE" = 200 ] || break
	pages=$((pages + 1))
	got="$got $(rk_json '" ".join(__import__("base64").b64decode(k["key"]).decode() for k in j["kvs"])')"
	more=$(rk_json 'j["more"]')
	mores="$mores $more"
	[ "$more" = true ] || break
	after=$(python3 -c 'import base64, sys, urllib.parse; print(urllib.parse.quote(base64.b64decode(sys.argv[1]), safe=""))' "$(rk_json 'j["next"]')")
done
rk_is "$(echo $got)" "$(echo $expected)" \
    "listing prefix list/ in pages of 10 returns the 25 keys in order, once"
rk_is "$pages:$(echo $mores)" "3:true true false" \
    "three pages, 'more' true, true, then false"
rk_http GET "$(rk_url "$L")/v1/kv?prefix=list%2F&limit=3&keys_only"
rk_is "$(rk_json '[("value" in k) for k in j["kvs"]]')" "[False, False, False]" \
    "keys_only listing has no values"
rk_is "$(rk_json '__import__("base64").b64decode(j["kvs"][0]["value"]).decode()' \
    <(curl -s -L "$(rk_url "$L")/v1/kv?prefix=list%2F05&limit=1"))" \
    "value-05" "a listed value is base64 of the value"

# ---- compare-and-set and deletes
rk_http PUT "$(rk_url "$L")/v1/kv/casket?cas=0" --data-binary one
rk_code 200 "create-only PUT (cas=0) of a new key succeeds"
c1=$(rk_json 'j["index"]')
rk_http PUT "$(rk_url "$L")/v1/kv/casket?cas=0" --data-binary two
rk_code 412 "a second create-only PUT is refused with 412"
rk_is "$(rk_json 'j["error"]'):$(rk_json 'j["mod_index"]')" "cas_failed:$c1" \
    "... cas_failed, with the current mod index"
rk_http PUT "$(rk_url "$F")/v1/kv/casket?cas=$c1" --data-binary three -L
rk_code 200 "PUT with the right mod index succeeds (through a follower)"
c2=$(rk_json 'j["index"]')
rk_http PUT "$(rk_url "$L")/v1/kv/casket?cas=$c1" --data-binary four
rk_code 412 "PUT with an old mod index is refused with 412"
rk_http DELETE "$(rk_url "$L")/v1/kv/casket?cas=$c1"
rk_code 412 "DELETE with a wrong mod index is refused with 412"
rk_http GET "$(rk_url "$L")/v1/kv/casket"
rk_is "$RK_CODE:$(rk_body):$(rk_hdr X-Raftkv-Mod-Index)" "200:three:$c2" \
    "after the failed CASes the value is the last successful one"
rk_http DELETE "$(rk_url "$L")/v1/kv/casket?cas=$c2"
rk_code 200 "DELETE with the right mod index succeeds"
rk_http GET "$(rk_url "$L")/v1/kv/casket"
rk_code 404 "the deleted key is gone"
rk_http DELETE "$(rk_url "$L")/v1/kv/casket"
rk_code 404 "DELETE of a missing key is 404"
rk_is "$(rk_json 'j["error"]')" not_found "... with error not_found"
rk_delete "$F" greeting
rk_code 200 "DELETE through a follower (curl -L)"

# ---- exactly-once retries
cid=$((RANDOM * 32768 + RANDOM + 1))
H1=(-H "X-Raftkv-Client-Id: $cid" -H "X-Raftkv-Seq: 1")
rk_http PUT "$(rk_url "$F")/v1/kv/once" -L --data-binary first "${H1[@]}"
rk_code 200 "a write with a client id and seq 1"
o1=$(rk_json 'j["index"]')
rk_http PUT "$(rk_url "$F")/v1/kv/once" -L --data-binary retried "${H1[@]}"
rk_code 200 "its retry (same id and seq) succeeds"
rk_is "$(rk_json 'j["duplicate"]'):$(rk_json 'j["index"]')" "true:$o1" \
    "the retry is a duplicate with the original index"
rk_http GET "$(rk_url "$L")/v1/kv/once"
rk_is "$(rk_body):$(rk_hdr X-Raftkv-Mod-Index)" "first:$o1" \
    "the retry was not applied a second time"
H2=(-H "X-Raftkv-Client-Id: $cid" -H "X-Raftkv-Seq: 2")
rk_http PUT "$(rk_url "$L")/v1/kv/oncecas?cas=0" --data-binary x "${H2[@]}"
rk_code 200 "a create-only CAS with seq 2"
o2=$(rk_json 'j["index"]')
rk_http PUT "$(rk_url "$L")/v1/kv/oncecas?cas=0" --data-binary x "${H2[@]}"
rk_code 200 "its retry is not 412"
rk_is "$(rk_json 'j["duplicate"]'):$(rk_json 'j["index"]')" "true:$o2" \
    "the retried CAS returns its original index"
rk_http PUT "$(rk_url "$L")/v1/kv/once" --data-binary old "${H1[@]}"
rk_code 409 "a seq below the session's last one is refused with 409"
rk_is "$(rk_json 'j["error"]')" stale_request "... stale_request"
rk_http PUT "$(rk_url "$L")/v1/kv/x" --data-binary x -H "X-Raftkv-Seq: 5"
rk_code 400 "X-Raftkv-Seq without X-Raftkv-Client-Id is refused with 400"
echo "PUT once $(printf first >"$RK_TMP/once.val"; echo "$RK_TMP/once.val")" >>"$RK_TMP/acked"

# ---- concurrent clients
NCLIENTS=10
NWRITES=15
for c in $(seq 1 $NCLIENTS); do
	(
		node=$(( (c % 3) + 1 ))
		for w in $(seq 1 $NWRITES); do
			# A retry (same value) rides out a spurious election
			# on a loaded machine; it is idempotent for the model.
			for try in 1 2 3 4 5; do
				code=$(curl -s -L -o /dev/null -w '%{http_code}' \
				    -m "$(rk_scaled 5)" -X PUT \
				    --data-binary "c$c-w$w" \
				    "$(rk_url "$node")/v1/kv/conc/$c/$w" 2>/dev/null)
				[ "$code" = 200 ] && break
				echo "$code" >>"$RK_TMP/conc-retries"
				sleep 0.2
			done
			if [ "$code" = 200 ]; then
				printf 'c%s-w%s' "$c" "$w" >"$RK_TMP/values/conc-$c-$w"
				echo "PUT conc/$c/$w $RK_TMP/values/conc-$c-$w" >>"$RK_TMP/conc-$c"
			else
				echo "$code" >>"$RK_TMP/conc-errors"
			fi
		done
	) &
	RK_BG_PIDS+=($!)
done
for pid in "${RK_BG_PIDS[@]}"; do
	wait "$pid"
done
RK_BG_PIDS=()
cat "$RK_TMP"/conc-[0-9]* >>"$RK_TMP/acked" 2>/dev/null
nacked=$(cat "$RK_TMP"/conc-[0-9]* 2>/dev/null | wc -l)
rk_is "$nacked" $((NCLIENTS * NWRITES)) \
    "$NCLIENTS concurrent clients: every one of $((NCLIENTS * NWRITES)) writes acknowledged"
[ -f "$RK_TMP/conc-retries" ] && rk_diag "retried answers: $(sort "$RK_TMP/conc-retries" | uniq -c)"
[ -f "$RK_TMP/conc-errors" ] && rk_diag "failed writes: $(sort "$RK_TMP/conc-errors" | uniq -c)"
out=$(rk_verify_model "$F")
rk_ok $? "every acknowledged write is there (linearizable listing)"
rk_diag "$out"
rk_wait_converged 10
rk_ok $? "after the concurrent writes all state hashes agree"
for i in 1 2 3; do
	out=$(rk_verify_model "$i" stale)
	rk_ok $? "node $i's local state (?stale) holds every acknowledged write"
done
before_keys=$(rk_status "$L" keys)

# What a Ready pass sends (the leader's AppendEntries and client replies,
# a follower's answers in the reply) is written at the end of that pass
# (docs/protocol.md, "Sent at the end of a pass").
for i in "$L" "$(rk_follower)"; do
	rk_http GET "$(rk_url "$i")/v1/status"
	rk_is "$(rk_json 'j["sendnow"]["sent"] > 0')" true \
	    "node $i wrote what its Ready passes sent at their end"
	rk_diag "sendnow: $(rk_json 'j["sendnow"]')"
done

# Spares (docs/raft-core.md, "Spare followers"): the leader waits on the
# follower with the lower id and lets the other defer its syncs.
rk_http GET "$(rk_url "$L")/v1/status"
rk_is "$(rk_json '[p["id"] for p in j["peers"] if p["spare"]] == [max(p["id"] for p in j["peers"])]')" true \
    "the leader marks its higher-id follower, and only that one, a spare"
spare=$(rk_json '[p["id"] for p in j["peers"] if p["spare"]][0]')
rk_diag "peers: $(rk_json '[(p["id"], p["spare"]) for p in j["peers"]]')"
rk_http GET "$(rk_url "$spare")/v1/status"
rk_is "$(rk_json 'j["lazy_syncs"] > 0')" true \
    "the spare (node $spare) deferred syncs to share them"
rk_diag "node $spare: lazy_syncs $(rk_json 'j["lazy_syncs"]'), fdatasyncs $(rk_json 'j["fdatasyncs"]')"
rk_http GET "$(rk_url "$L")/v1/status"
rk_is "$(rk_json 'j["lazy_syncs"]')" 0 "the leader never defers a sync"

# spare_is ID WANT: waits (at most 10 s) until the leader's status gives
# peer ID's spare flag as WANT; true if it did.
spare_is()
{
	local k
	for k in $(seq 100); do
		rk_http GET "$(rk_url "$L")/v1/status"
		[ "$(rk_json "[p['spare'] for p in j['peers'] if p['id'] == $1][0]")" = "$2" ] &&
		    return 0
		sleep 0.1
	done
	return 1
}
# The needed follower stops: the spare is needed instead and writes go on;
# back and caught up, the stopped one is needed again.
needed=$(rk_json '[p["id"] for p in j["peers"] if not p["spare"]][0]')
rk_stop "$needed"
spare_is "$spare" false
rk_ok $? "node $needed stopped: the spare, node $spare, is needed instead"
rk_http PUT "$(rk_url "$L")/v1/kv/spare-takeover" --data-binary x
rk_code 200 "a write commits with node $needed stopped"
rk_http DELETE "$(rk_url "$L")/v1/kv/spare-takeover"	# keep the key count
rk_cont "$needed"
spare_is "$spare" true && spare_is "$needed" false
rk_ok $? "node $needed back: node $spare is the spare again"

# Sessions expire after --session-window (100) indexes without activity;
# the concurrent writes above moved the log on by more than that.
rk_http PUT "$(rk_url "$L")/v1/kv/oncecas?cas=0" --data-binary x "${H2[@]}"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 409:session_expired \
    "a retry after the session window is refused: 409 session_expired"

# ---- restart every node (SIGKILL), all acknowledged data is still there
for i in 1 2 3; do
	rk_kill "$i"
done
rk_start_all
rk_wait_leader 10
rk_ok $? "after killing and restarting every node a leader is elected" ||
    rk_bail "no leader after restart"
out=$(rk_verify_model "$(rk_follower)")
rk_ok $? "every acknowledged write survived the restart"
rk_diag "$out"
rk_wait_converged 10
rk_ok $? "after the restart all nodes apply to the same index and hash"
rk_is "$(rk_status "$RK_LEADER" keys)" "$before_keys" "the key count is unchanged"
rk_put_str "$(rk_follower)" after-restart yes
rk_code 200 "writes work after the restart"

# ---- SIGTERM: clean exit 0
F=$(rk_follower)
rk_term "$F"
rk_is "$RK_STATUS" 0 "SIGTERM: a follower exits with status 0"
L=$RK_LEADER
rk_term "$L"
rk_is "$RK_STATUS" 0 "SIGTERM: the leader exits with status 0"
grep -q "exiting with status 0" "$RK_TMP/n$L.log"
rk_ok $? "the leader logged its clean exit"
last=$(rk_live_nodes)
rk_term "$last"
rk_is "$RK_STATUS" 0 "SIGTERM: the last node, with no quorum, exits with status 0"

rk_done
