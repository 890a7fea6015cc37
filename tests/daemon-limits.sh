#!/bin/bash
# tests/daemon-limits.sh -- limits and malformed requests against a real
# 3-node raftkvd cluster: garbage and foreign messages on the peer port,
# wrong methods, huge bodies, oversized keys and values, unknown query
# parameters; afterwards every node must still be running and healthy
# (TAP).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/cluster.sh"

rk_init limits
rk_cluster 3 --election-timeout 300 --heartbeat-interval 30 \
    --max-key-size 64 --max-value-size 1024 --idle-timeout 2
rk_start_all
rk_wait_leader 10 || rk_bail "no leader"
L=$RK_LEADER
F=$(rk_follower)
LU=$(rk_url "$L")

# The cluster id of the default cluster name "raftkv", computed as in
# options_cluster_id() (FNV-1a, a mix, masked to 63 bits).
CID=$(python3 -c '
h = 0xcbf29ce484222325
for c in b"raftkv":
    h ^= c
    h = (h * 0x100000001b3) & 0xffffffffffffffff
h ^= h >> 33
h = (h * 0xff51afd7ed558ccd) & 0xffffffffffffffff
h ^= h >> 33
h &= 0x7fffffffffffffff
print("%016x" % (h or 1))')

# peer NODE ROUTE BODY [curl args]: POSTs BODY as JSON to NODE's peer port.
peer()
{
	local node=$1 route=$2 body=$3
	shift 3
	rk_http POST "$(rk_peer_url "$node")/raft/v1/$route" \
	    -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# vote_resp FROM TO CLUSTER: a stale (term 1) vote response, harmless.
vote_resp()
{
	printf '{"v":2,"type":"request_vote_resp","cluster":"%s","from":%s,"to":%s,"term":1,"reject":true}' \
	    "$3" "$1" "$2"
}

# ---- the peer port
peer "$F" request_vote_resp "$(vote_resp "$L" "$F" "$CID")"
rk_code 204 "control: a well-formed message of this cluster is accepted (204)"
for n in 1 2 3; do
	peer "$n" append_entries '{"v":2,"type":"append_entries",'
	rk_code 400 "node $n: truncated JSON on /raft/v1/append_entries is refused with 400"
done
rk_is "$(rk_json 'j["error"]')" bad_json "... error bad_json"
peer "$F" append_entries "$(head -c 2000 /dev/urandom | base64 -w0)"
rk_code 400 "random bytes as the body: 400"
peer "$F" append_entries '[1,2,3]'
rk_code 400 "a JSON array instead of an object: 400"
peer "$F" request_vote_resp "$(vote_resp "$L" "$F" 00000000000000ab)"
rk_code 400 "a message with a foreign cluster id is refused with 400"
rk_is "$(rk_json 'j["error"]')" foreign_cluster "... error foreign_cluster"
peer "$F" request_vote_resp "$(vote_resp "$L" 77 "$CID")"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 400:wrong_node "a message for another node id: 400 wrong_node"
peer "$F" append_entries "$(vote_resp "$L" "$F" "$CID")"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 400:type_mismatch \
    "a vote response posted to append_entries: 400 type_mismatch"
peer "$F" request_vote_resp "$(vote_resp "$L" "$F" "$CID" | sed 's/"v":2/"v":3/')"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 400:bad_version "protocol version 3: 400 bad_version"
peer "$F" request_vote_resp "$(vote_resp "$L" "$F" "$CID" | sed 's/}$/,"extra":1}/')"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 400:bad_field "an unknown field: 400 bad_field"
peer "$F" append_entries "{\"v\":2,\"type\":\"append_entries\",\"cluster\":\"$CID\",\"from\":$L,\"to\":$F,\"term\":1,\"prev_index\":0,\"prev_term\":0,\"commit\":0,\"seq\":1,\"lazy\":false,\"entries\":[{\"term\":1,\"index\":1,\"type\":\"normal\",\"data\":\"!!!\"}]}"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 400:bad_base64 "an entry with bad base64: 400 bad_base64"
rk_http POST "$(rk_peer_url "$F")/raft/v1/request_vote_resp" \
    -H 'Content-Type: text/plain' --data-binary "$(vote_resp "$L" "$F" "$CID")"
rk_code 415 "a peer message that is not application/json: 415"
rk_http GET "$(rk_peer_url "$F")/raft/v1/append_entries"
rk_code 405 "GET on a peer route: 405"
rk_is "$(rk_hdr Allow)" POST "... with Allow: POST"
rk_http PUT "$(rk_peer_url "$F")/raft/v1/request_vote" \
    -H 'Content-Type: application/json' --data-binary '{}'
rk_code 405 "PUT on a peer route: 405"
rk_http POST "$(rk_peer_url "$F")/raft/v1/no_such_route" \
    -H 'Content-Type: application/json' --data-binary '{}'
rk_code 404 "an unknown peer route: 404"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$RK_TMP/huge.json"
rk_http POST "$(rk_peer_url "$F")/raft/v1/append_entries" \
    -H 'Content-Type: application/json' --data-binary "@$RK_TMP/huge.json" \
    -m "$(rk_scaled 10)"
rk_code 413 "a 17 MiB peer body (limit 16 MiB) is refused with 413"
rm -f "$RK_TMP/huge.json"
rk_ok "$(rk_alive "$F"; echo $?)" "the node that got all that is still running"
grep -q "peer transport: rejected" "$RK_TMP/n$F.log"
rk_ok $? "its log names the rejected peer messages"

# ---- the client port: wrong methods
rk_http POST "$LU/v1/kv/k" --data-binary x
rk_code 405 "POST /v1/kv/<key>: 405"
rk_is "$(rk_json 'j["error"]')" method_not_allowed "... method_not_allowed"
rk_http PUT "$LU/v1/status" --data-binary x
rk_code 405 "PUT /v1/status: 405"
rk_http DELETE "$LU/v1/health"
rk_code 405 "DELETE /v1/health: 405"
rk_http PUT "$LU/v1/kv" --data-binary x
rk_code 405 "PUT /v1/kv (the listing route): 405"
rk_http PATCH "$LU/v1/kv/k" --data-binary x
rk_code "405|501" "PATCH, a method the server does not take: 405 or 501"
rk_http GET "$LU/v1/nothing"
rk_code 404 "an unknown client route: 404"

# ---- sizes
rk_http PUT "$LU/v1/kv/$(printf 'k%.0s' $(seq 64))" --data-binary x
rk_code 200 "a key of --max-key-size (64) bytes is accepted"
rk_http PUT "$LU/v1/kv/$(printf 'k%.0s' $(seq 65))" --data-binary x
rk_code 413 "a key of 65 bytes is refused with 413"
rk_is "$(rk_json 'j["error"]')" key_too_large "... key_too_large"
rk_http PUT "$LU/v1/kv/$(printf '%%00%.0s' $(seq 65))" --data-binary x
rk_code 413 "a percent-encoded key of 65 bytes (%00 x 65) is refused with 413"
rk_http GET "$LU/v1/kv/$(printf 'k%.0s' $(seq 65))"
rk_code 413 "GET of an oversized key: 413"
head -c 1024 /dev/urandom >"$RK_TMP/v1024"
rk_put "$L" fits "$RK_TMP/v1024"
rk_code 200 "a value of --max-value-size (1024) bytes is accepted"
head -c 1025 /dev/urandom >"$RK_TMP/v1025"
rk_http PUT "$LU/v1/kv/big" --data-binary "@$RK_TMP/v1025"
rk_code 413 "a value of 1025 bytes is refused with 413"
rk_is "$(rk_json 'j["error"]')" value_too_large "... value_too_large"
head -c $((256 * 1024)) /dev/urandom >"$RK_TMP/v256k"
rk_http PUT "$LU/v1/kv/big" --data-binary "@$RK_TMP/v256k"
rk_code 413 "a value of 256 KiB is refused with 413"
rk_http PUT "$LU/v1/kv/big" --data-binary "@$RK_TMP/v256k" \
    -H 'Expect: 100-continue'
rk_code 413 "... also when the client waits for 100-continue"
rk_http GET "$LU/v1/kv/big"
rk_code 404 "the refused values were not stored"
rk_http GET "$LU/v1/kv/k" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
rk_ok "$([ "$RK_CODE" != 200 ]; echo $?)" "a 20 KB header is refused (got $RK_CODE)"

# ---- malformed client requests
rk_http GET "$LU/v1/kv/k?foo=1"
rk_code 400 "GET with an unknown query parameter: 400"
rk_http PUT "$LU/v1/kv/k?cass=1" --data-binary x
rk_code 400 "PUT with a misspelt cas: 400"
rk_http GET "$LU/v1/kv?prefx=a"
rk_code 400 "a listing with an unknown parameter: 400"
rk_http GET "$LU/v1/kv?limit=0"
rk_code 400 "limit=0: 400"
rk_http GET "$LU/v1/kv?limit=10001"
rk_code 400 "limit=10001: 400"
rk_http PUT "$LU/v1/kv/k?cas=abc" --data-binary x
rk_code 400 "cas=abc: 400"
rk_http PUT "$LU/v1/kv/k?cas=-1" --data-binary x
rk_code 400 "cas=-1: 400"
rk_http GET "$LU/v1/kv/%zz"
rk_is "$RK_CODE:$(rk_json 'j["error"]')" 400:bad_key "a key with bad percent-encoding: 400 bad_key"
rk_http PUT "$LU/v1/kv/ab%4" --data-binary x
rk_code 400 "a key with a truncated escape: 400"
rk_http PUT "$LU/v1/kv/" --data-binary x
rk_code 400 "an empty key: 400"
rk_http DELETE "$LU/v1/kv/k" --data-binary body
rk_code 400 "DELETE with a body: 400"
rk_http PUT "$LU/v1/kv/k" --data-binary x -H 'X-Raftkv-Client-Id: 0' -H 'X-Raftkv-Seq: 1'
rk_code 400 "client id 0: 400"
rk_http PUT "$LU/v1/kv/k" --data-binary x -H 'X-Raftkv-Client-Id: abc' -H 'X-Raftkv-Seq: 1'
rk_code 400 "a client id that is not a number: 400"
rk_http PUT "$LU/v1/kv/k" --data-binary x -H 'X-Raftkv-Client-Id: 5'
rk_code 400 "a client id without a seq: 400"
rk_http PUT "$LU/v1/kv/k" --data-binary x -H 'X-Raftkv-Client-Id: 5' -H 'X-Raftkv-Seq: -3'
rk_code 400 "a negative seq: 400"

# ---- idle and slow clients: with --idle-timeout 2, a connection that sends
# nothing, or only part of a request, is closed after about 2 s, so no
# client holds a connection for ever by trickling; each wait is bounded.
# idle_close PORT [BYTES]: seconds until the server closed, or "open".
idle_close()
{
	python3 - "$1" "${2:-}" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
if sys.argv[2]:
    s.sendall(sys.argv[2].encode())
t0 = time.monotonic()
try:
    while s.recv(4096):
        pass
    print("%.1f" % (time.monotonic() - t0))
except OSError:
    print("open")
PY
}
# in_window SECONDS: 0 if 1.5 <= SECONDS <= 8.
in_window()
{
	awk -v t="$1" 'BEGIN { exit !(t ~ /^[0-9.]+$/ && t >= 1.5 && t <= 8) }'
}
t=$(idle_close "${RK_CPORT[$L]}")
in_window "$t"
rk_ok $? "a connection that sends nothing is closed after the idle timeout ($t s)"
t=$(idle_close "${RK_CPORT[$L]}" $'PUT /v1/kv/slow HTTP/1.1\r\nHost: a\r\n')
in_window "$t"
rk_ok $? "a request that stops half-way through its headers is closed too ($t s)"
t=$(idle_close "${RK_CPORT[$L]}" $'PUT /v1/kv/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc')
in_window "$t"
rk_ok $? "so is one that stops half-way through its body ($t s)"
rk_http GET "$LU/v1/kv/slow"
rk_code 404 "... and nothing of those requests was written"

# ---- afterwards, everything still works
for n in 1 2 3; do
	rk_ok "$(rk_alive "$n"; echo $?)" "node $n is still running"
	rk_http GET "$(rk_url "$n")/v1/health"
	rk_code 200 "node $n: GET /v1/health is 200"
done
rk_put_str "$F" still-works yes
rk_code 200 "the cluster still commits writes"
rk_wait_converged 10
rk_ok $? "all hashes agree"
out=$(rk_verify_model "$L")
rk_ok $? "every acknowledged write is there"

rk_done
