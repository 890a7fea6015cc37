# tests/faults/nemesis.sh -- the nodes and the faults, sourced by run.
#
# Every node always runs with the shadow I/O layer (RAFTKV_TEST_VFS=
# shadow:DIR), so that any SIGKILL can be turned into a power loss by
# restarting the node from DIR: what was never fsynced is then gone.
# Fault kinds (FN_ALL_FAULTS): see README.md.

FN_ALL_FAULTS="part-leader part-majority part-ring part-bridge kill-one
kill-leader kill-majority kill-all pause-leader net-degrade disk-lose
disk-eio disk-enospc"
FN_CLIENT_PORT=8001
FN_PEER_PORT=7001

# fn_clock: the monotonic clock in ns (the one the history uses).
fn_clock()
{
	"$FN_CLIENT" --clock
}

# fn_members: the --member options of every node.
fn_members()
{
	local i
	for i in $(seq 1 "$FN_N"); do
		printf -- '--member %s,http://%s.%s:%s,http://%s.%s:%s ' "$i" \
		    "$FN_SUBNET" "$i" "$FN_PEER_PORT" "$FN_SUBNET" "$i" \
		    "$FN_CLIENT_PORT"
	done
}

# fn_start I [VFS]: starts node I (VFS defaults to its shadow).
fn_start()
{
	local i=$1 d=$FN_DIR/n$1
	local spec=${2:-shadow:$d/shadow}
	mkdir -p "$d"
	echo "=== $(date +%T.%N) start node $i vfs=$spec" >>"$d/log"
	# shellcheck disable=SC2046
	ip netns exec "${NS_NODE[$i]}" env RAFTKV_TEST_VFS="$spec" \
	    ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	    "$FN_RAFTKVD" --id "$i" $(fn_members) --data-dir "$d/data" \
	    --election-timeout 300 --heartbeat-interval 30 \
	    --snapshot-entries "${FN_SNAPSHOT_ENTRIES:-400}" \
	    --snapshot-keep "${FN_SNAPSHOT_KEEP:-50}" \
	    --request-timeout 1500 --log-level info >>"$d/log" 2>&1 &
	FN_PID[$i]=$!
	FN_STARTS=$((FN_STARTS + 1))
}

# fn_alive I: whether node I's process runs.
fn_alive()
{
	[ -n "${FN_PID[$1]:-}" ] && kill -0 "${FN_PID[$1]}" 2>/dev/null
}

# fn_kill I: SIGKILL node I and reap it.
fn_kill()
{
	local i=$1
	if fn_alive "$i"; then
		kill -CONT "${FN_PID[$i]}" 2>/dev/null
		kill -KILL "${FN_PID[$i]}" 2>/dev/null
		wait "${FN_PID[$i]}" 2>/dev/null
	fi
	echo "=== $(date +%T.%N) SIGKILL node $i" >>"$FN_DIR/n$i/log"
	FN_PID[$i]=
}

# fn_reset_shadow I: makes node I's shadow a copy of its data directory.
fn_reset_shadow()
{
	local d=$FN_DIR/n$1
	rm -rf "$d/shadow" "$d"/shadow.gen-* "$d/shadow.inodes"
	[ -d "$d/data" ] && cp -a "$d/data" "$d/shadow"
	return 0
}

# fn_power_loss I: node I (killed) restarts from what was synced.
fn_power_loss()
{
	local d=$FN_DIR/n$1
	if [ -e "$d/shadow" ]; then
		rm -rf "$d/data"
		cp -rL "$d/shadow" "$d/data"
	fi
	fn_reset_shadow "$1"
	echo "=== $(date +%T.%N) power loss: data replaced by the shadow" \
	    >>"$d/log"
}

# fn_status I: node I's /v1/status (JSON) on stdout, or fails.
fn_status()
{
	fn_in_hub curl -sf -m 1 "http://$FN_SUBNET.$1:$FN_CLIENT_PORT/v1/status"
}

# fn_field JSON NAME: a number or string field of a flat JSON object.
fn_field()
{
	printf '%s' "$1" | grep -o "\"$2\": *\"\\?[^,\"}]*" | head -n1 |
	    sed 's/.*: *"\?//'
}

# fn_wait_up I: waits (at most 20 s) for node I to answer; fails if not.
fn_wait_up()
{
	local t
	for t in $(seq 1 80); do
		fn_status "$1" >/dev/null && return 0
		fn_alive "$1" || break
		sleep 0.25
	done
	fn_log "FAIL: node $1 did not come back (see n$1/log)"
	FN_PROBLEMS=$((FN_PROBLEMS + 1))
	return 1
}

# fn_leader: prints the id of the node that says it leads (10 s at most).
fn_leader()
{
	local t i s
	for t in $(seq 1 40); do
		for i in $(seq 1 "$FN_N"); do
			s=$(fn_status "$i") || continue
			if [ "$(fn_field "$s" role)" = leader ]; then
				echo "$i"
				return 0
			fi
		done
		sleep 0.25
	done
	return 1
}

# fn_shuffle WORDS...: sets FN_SHUF to the words in a seeded random order.
# (An array, not output: $(...) would run in a subshell, and bash reseeds
# RANDOM in subshells, which would make --seed useless.)
fn_shuffle()
{
	local i j t
	FN_SHUF=("$@")
	for ((i = ${#FN_SHUF[@]} - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1)))
		t=${FN_SHUF[$i]}; FN_SHUF[$i]=${FN_SHUF[$j]}; FN_SHUF[$j]=$t
	done
}

# fn_all_nodes: 1..N.
fn_all_nodes()
{
	seq 1 "$FN_N" | tr '\n' ' '
}

# fn_without X WORDS...: WORDS without X.
fn_without()
{
	local x=$1 w out=
	shift
	for w in "$@"; do
		[ "$w" != "$x" ] && out="$out $w"
	done
	echo $out
}

# fn_restart_all_down: starts every node that is not running, waits.
fn_restart_all_down()
{
	local i
	for i in $(seq 1 "$FN_N"); do
		fn_alive "$i" || fn_start "$i"
	done
	for i in $(seq 1 "$FN_N"); do
		fn_wait_up "$i"
	done
}

# fn_disk_fault SPEC: the leader restarts on a failing disk; it must
# fail-stop.  Afterwards it restarts on a sound disk.
fn_disk_fault()
{
	local L s ok=
	L=$(fn_leader) || L=$((RANDOM % FN_N + 1))
	fn_kill "$L"
	fn_start "$L" "fault:$1"
	FN_DETAIL="node $L with fault:$1"
	for t in $(seq 1 $((FN_ACTIVE * 4))); do
		sleep 0.25
		if ! fn_alive "$L"; then
			ok="exited"
			break
		fi
		s=$(fn_status "$L") || continue
		if [ "$(fn_field "$s" storage_ok)" = false ]; then
			ok="storage_ok=false"
			break
		fi
	done
	if [ -n "$ok" ]; then
		# Fail-stop: stays refusing for a while, must not recover alone.
		sleep 1
		s=$(fn_status "$L")
		if [ -n "$s" ] && [ "$(fn_field "$s" storage_ok)" != false ]; then
			fn_log "FAIL: node $L came back to storage_ok after a disk error"
			FN_PROBLEMS=$((FN_PROBLEMS + 1))
		fi
		FN_DETAIL="$FN_DETAIL: fail-stopped ($ok)"
	else
		FN_DETAIL="$FN_DETAIL: not triggered within ${FN_ACTIVE}s"
	fi
	fn_kill "$L"
	fn_reset_shadow "$L"
	fn_start "$L"
	fn_wait_up "$L"
}

# fn_fault KIND: injects one fault, keeps it FN_ACTIVE seconds, heals it.
# Sets FN_DETAIL to what was done.
fn_fault()
{
	local kind=$1 L nodes rest min maj i a b bridge order
	FN_DETAIL=
	nodes=$(fn_all_nodes)
	case $kind in
	part-leader)
		L=$(fn_leader) || L=1
		rest=$(fn_without "$L" $nodes)
		fn_partition "$L" "$rest"
		FN_DETAIL="leader $L | $rest"
		sleep "$FN_ACTIVE"
		fn_heal_net
		;;
	part-majority)
		fn_shuffle $nodes
		order=("${FN_SHUF[@]}")
		min=${order[*]:0:$((FN_N / 2))}
		maj=${order[*]:$((FN_N / 2))}
		fn_partition "$min" "$maj"
		FN_DETAIL="minority $min | majority $maj"
		sleep "$FN_ACTIVE"
		fn_heal_net
		;;
	part-ring)
		fn_shuffle $nodes
		order=("${FN_SHUF[@]}")
		if [ "$FN_N" -le 3 ]; then
			# With 3 nodes one cut link gives each node a
			# different majority.
			fn_cut "${order[0]}" "${order[1]}"
			FN_DETAIL="cut ${order[0]}-${order[1]}"
		else
			# Each node keeps only its two ring neighbours.
			for ((a = 0; a < FN_N; a++)); do
				for ((b = a + 2; b < FN_N; b++)); do
					[ "$a" = 0 ] && [ "$b" = $((FN_N - 1)) ] &&
					    continue
					fn_cut "${order[$a]}" "${order[$b]}"
				done
			done
			FN_DETAIL="ring ${order[*]}"
		fi
		sleep "$FN_ACTIVE"
		fn_heal_net
		;;
	part-bridge)
		fn_shuffle $nodes
		order=("${FN_SHUF[@]}")
		bridge=${order[0]}
		a=${order[*]:1:$(((FN_N - 1) / 2))}
		b=${order[*]:$((1 + (FN_N - 1) / 2))}
		fn_partition "$a" "$b"
		FN_DETAIL="$a | bridge $bridge | $b"
		sleep "$FN_ACTIVE"
		fn_heal_net
		;;
	kill-one|kill-leader|kill-majority|kill-all|disk-lose)
		case $kind in
		kill-one) order=$((RANDOM % FN_N + 1)) ;;
		kill-leader|disk-lose) order=$(fn_leader) || order=1 ;;
		kill-majority)
			fn_shuffle $nodes
			order=${FN_SHUF[*]:0:$((FN_N / 2 + 1))}
			;;
		kill-all) order=$nodes ;;
		esac
		for i in $order; do
			fn_kill "$i"
		done
		FN_DETAIL="SIGKILL $order"
		sleep "$((FN_ACTIVE / 2))"
		if [ "$kind" = disk-lose ] || [ "$kind" = kill-all ]; then
			for i in $order; do
				fn_power_loss "$i"
			done
			FN_DETAIL="$FN_DETAIL, restarted from the synced shadow"
		fi
		fn_restart_all_down
		sleep "$((FN_ACTIVE - FN_ACTIVE / 2))"
		;;
	pause-leader)
		L=$(fn_leader) || L=1
		kill -STOP "${FN_PID[$L]}"
		FN_DETAIL="SIGSTOP leader $L for ${FN_ACTIVE}s"
		sleep "$FN_ACTIVE"
		kill -CONT "${FN_PID[$L]}"
		;;
	net-degrade)
		fn_degrade
		if fn_has_netem; then
			FN_DETAIL="netem delay 40ms±30ms, loss 10%, reorder 25%"
		else
			FN_DETAIL="no netem in this kernel: tbf 2mbit + 10% random loss each way"
		fi
		sleep "$FN_ACTIVE"
		fn_heal_net
		;;
	disk-eio)
		fn_disk_fault "eio-on-sync=$((20 + RANDOM % 40))"
		;;
	disk-enospc)
		fn_disk_fault "enospc-after-bytes=$((100000 + RANDOM % 200000))"
		;;
	*)
		fn_log "unknown fault $kind"
		return 1
		;;
	esac
	# Whatever happened, every node runs again before the next fault.
	fn_restart_all_down
}
