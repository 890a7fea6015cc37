# tests/faults/netns.sh -- the suite's private network, sourced by run.
#
# One network namespace per node (NS_NODE[i], address 10.77.0.i on its
# eth0) and a hub namespace (NS_HUB, 10.77.0.254 on bridge br0) where the
# client and the status poller run.  The addresses exist only inside these
# namespaces; nothing is routed anywhere else.  Partitions are iptables
# DROP rules inside the node namespaces (only between nodes: the clients
# in the hub always reach every node); degradation is tc netem when the
# kernel has it, otherwise tbf (queueing delay) plus iptables random loss.

FN_SUBNET=10.77.0
FN_HUB_IP=$FN_SUBNET.254

# fn_log MSG...: a timestamped line on stdout and in the run log.
fn_log()
{
	printf '[%6ss] %s\n' "$(( $(date +%s) - FN_T0 ))" "$*" |
	    tee -a "$FN_DIR/run.log"
}

# fn_net_setup N: creates the hub and N node namespaces.
fn_net_setup()
{
	local n=$1 i ns
	NS_HUB=rkf${FN_TAG}hub
	ip netns add "$NS_HUB" || return 1
	ip -n "$NS_HUB" link set lo up
	ip -n "$NS_HUB" link add br0 type bridge
	ip -n "$NS_HUB" link set br0 up
	ip -n "$NS_HUB" addr add "$FN_HUB_IP/24" dev br0
	for i in $(seq 1 "$n"); do
		ns=rkf${FN_TAG}n$i
		NS_NODE[$i]=$ns
		ip netns add "$ns" || return 1
		ip link add "rkf${FN_TAG}v$i" type veth peer name \
		    "rkf${FN_TAG}h$i" || return 1
		ip link set "rkf${FN_TAG}v$i" netns "$ns"
		ip link set "rkf${FN_TAG}h$i" netns "$NS_HUB"
		ip -n "$ns" link set "rkf${FN_TAG}v$i" name eth0
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
		ip -n "$ns" addr add "$FN_SUBNET.$i/24" dev eth0
		ip -n "$NS_HUB" link set "rkf${FN_TAG}h$i" master br0
		ip -n "$NS_HUB" link set "rkf${FN_TAG}h$i" up
	done
	FN_NET_N=$n
}

# fn_net_teardown: deletes every namespace this run created (veths go too).
fn_net_teardown()
{
	local i
	for i in $(seq 1 "${FN_NET_N:-0}"); do
		ip netns del "${NS_NODE[$i]}" 2>/dev/null
	done
	[ -n "${NS_HUB:-}" ] && ip netns del "$NS_HUB" 2>/dev/null
	FN_NET_N=0
}

# fn_in_node I CMD...: runs CMD inside node I's namespace.
fn_in_node()
{
	local i=$1
	shift
	ip netns exec "${NS_NODE[$i]}" "$@"
}

# fn_in_hub CMD...: runs CMD inside the hub namespace.
fn_in_hub()
{
	ip netns exec "$NS_HUB" "$@"
}

# fn_cut I J: drops all traffic between nodes I and J (rules on I's side).
fn_cut()
{
	fn_in_node "$1" iptables -A INPUT -s "$FN_SUBNET.$2" -j DROP
	fn_in_node "$1" iptables -A OUTPUT -d "$FN_SUBNET.$2" -j DROP
}

# fn_heal_net: removes every partition rule and every degradation.
fn_heal_net()
{
	local i
	for i in $(seq 1 "$FN_NET_N"); do
		fn_in_node "$i" iptables -F INPUT
		fn_in_node "$i" iptables -F OUTPUT
		fn_in_node "$i" tc qdisc del dev eth0 root 2>/dev/null
	done
	return 0
}

# fn_partition "A..." "B...": cuts every link between groups A and B.
fn_partition()
{
	local a b
	for a in $1; do
		for b in $2; do
			fn_cut "$a" "$b"
		done
	done
}

# fn_has_netem: whether this kernel has the netem qdisc (probed once).
fn_has_netem()
{
	if [ -z "${FN_NETEM:-}" ]; then
		FN_NETEM=no
		if fn_in_hub tc qdisc add dev br0 root netem delay 1ms \
		    2>/dev/null; then
			FN_NETEM=yes
			fn_in_hub tc qdisc del dev br0 root
		fi
	fi
	[ "$FN_NETEM" = yes ]
}

# fn_degrade: delay, loss and reordering on every node's link.
fn_degrade()
{
	local i
	for i in $(seq 1 "$FN_NET_N"); do
		if fn_has_netem; then
			fn_in_node "$i" tc qdisc add dev eth0 root netem \
			    delay 40ms 30ms loss 10% reorder 25% 50%
		else
			# No netem here: a slow token bucket queues (delay),
			# random drops make TCP retransmit (loss; delivery out
			# of order across connections).
			fn_in_node "$i" tc qdisc add dev eth0 root tbf \
			    rate 2mbit burst 8kb latency 300ms
			fn_in_node "$i" iptables -A INPUT -m statistic \
			    --mode random --probability 0.10 -j DROP
			fn_in_node "$i" iptables -A OUTPUT -m statistic \
			    --mode random --probability 0.10 -j DROP
		fi
	done
}
