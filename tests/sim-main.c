/*
 * sim-main.c -- raftsim: runs seeded chaos scenarios on the simulator.
 *
 * Each seed draws a network (delay, loss, duplication), a disk latency and
 * per-node timeouts, then plans at least 20 faults over the run (partitions
 * of every shape, crashes and restarts, lossy periods, a node rejoining
 * with a higher term and a shorter log, a leader isolated with reads
 * pending, a follower left behind until it needs a snapshot) while a
 * workload proposes and reads.  Most seeds snapshot and compact often, with
 * failing transfers and crashes around installs.  At the end every fault
 * heals and a quiet period checks liveness.  See docs/simulator.md.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

enum fault_kind {
	F_ISOLATE_LEADER = 0,	/* with reads pending on it */
	F_SPLIT,		/* minority / majority */
	F_RING,			/* each node sees a different majority */
	F_BRIDGE,		/* one node sees two halves that cannot meet */
	F_CRASH_NODE,
	F_CRASH_LEADER,
	F_CRASH_MAJORITY,
	F_CRASH_ALL,
	F_LOSSY,
	F_REJOIN_AHEAD,		/* back with a higher term, shorter log */
	F_FLAP,			/* short-lived leaders crash and return */
	F_LAG,			/* a follower cut off while the log races on */
	F_COUNT,
};

static const char *const fault_names[F_COUNT] = {
	[F_ISOLATE_LEADER] = "isolate-leader", [F_SPLIT] = "split",
	[F_RING] = "ring", [F_BRIDGE] = "bridge", [F_CRASH_NODE] = "crash-node",
	[F_CRASH_LEADER] = "crash-leader",
	[F_CRASH_MAJORITY] = "crash-majority", [F_CRASH_ALL] = "crash-all",
	[F_LOSSY] = "lossy", [F_REJOIN_AHEAD] = "rejoin-ahead",
	[F_FLAP] = "flap", [F_LAG] = "lag",
};

struct run_opts {
	unsigned	 nodes;
	uint64_t	 seed;
	unsigned	 ticks;
	unsigned	 min_commits;
	unsigned	 min_faults;
	bool		 verbose;
};

struct run_stats {
	uint64_t	 seeds;
	uint64_t	 failed;
	uint64_t	 ticks;
	uint64_t	 commits;
	uint64_t	 dropped;
	uint64_t	 faults;
	uint64_t	 reads_ok;
	uint64_t	 reads_failed;
	uint64_t	 msgs;
	uint64_t	 snapshot_seeds;
	uint64_t	 snaps_taken;
	uint64_t	 snaps_installed;
	uint64_t	 lazy_writes;	/* spares' deferred batches */
	uint64_t	 first_failed_seed;
	unsigned	 first_failed_nodes;
};

/* One seed's state beyond the simulator itself. */
struct chaos {
	struct sim	*sim;
	struct sim_rng	 work;		/* proposals and reads */
	struct sim_rng	 plan;		/* faults */
	unsigned	 nodes;
	unsigned	 election_max;
	unsigned	 base_drop, base_dup;
	uint64_t	 n_props;
	uint64_t	 faults;
	raft_index_t	 max_prop_index;
	raft_term_t	 max_term_seen;
	raft_id_t	 ahead_node;	/* F_REJOIN_AHEAD: node to bump */
	bool		 prevote;
	bool		 lazy_spares;
	bool		 lag;		/* F_LAG active: propose faster */
	unsigned	 install_crash;	/* permille, off in the quiet period */
	unsigned	 snapshot_fail;
	bool		 flap;		/* F_FLAP active */
	raft_id_t	 flap_leader;
	unsigned	 flap_since;
	unsigned	 flap_len;
	unsigned	 restart_at[SIM_MAX_NODES + 1];
	uint32_t	 max_msg_entries;
	uint32_t	 max_inflight;
};

/* Applies the seed's core options to every node. */
static void
chaos_tweak(void *ctx, struct raft_config *cfg)
{
	struct chaos *c = ctx;

	cfg->prevote = c->prevote;
	cfg->lazy_spares = c->lazy_spares;
	cfg->max_msg_entries = c->max_msg_entries;
	cfg->max_inflight = c->max_inflight;
}

/* Current highest term among live nodes. */
static raft_term_t
max_term(struct chaos *c)
{
	struct raft_status st;
	raft_term_t t = 0;
	unsigned i;

	for (i = 1; i <= c->nodes; i++) {
		sim_status(c->sim, i, &st);
		if (st.term > t)
			t = st.term;
	}
	return t;
}

/* Picks a live node that believes it leads (a stale one now and then). */
static raft_id_t
pick_leader(struct chaos *c)
{
	raft_id_t cand[SIM_MAX_NODES];
	struct raft_status st;
	unsigned i, n = 0;

	for (i = 1; i <= c->nodes; i++) {
		sim_status(c->sim, i, &st);
		if (st.role == RAFT_LEADER)
			cand[n++] = i;
	}
	if (n == 0)
		return 0;
	return cand[sim_rng_range(&c->work, 0, n - 1)];
}

/* Proposes a unique entry on a node that believes it leads. */
static void
propose(struct chaos *c, uint64_t seed, const char *tag)
{
	raft_id_t id = pick_leader(c);
	raft_index_t index;
	raft_term_t term;
	char data[64];

	if (id == 0)
		return;
	snprintf(data, sizeof(data), "%s%" PRIu64 "-%" PRIu64, tag, seed,
	    c->n_props);
	if (sim_propose(c->sim, id, data, &index, &term) == 0) {
		c->n_props++;
		if (index > c->max_prop_index)
			c->max_prop_index = index;
	}
}

/* Submits a read on a node that believes it leads. */
static void
read_on_leader(struct chaos *c)
{
	raft_id_t id = pick_leader(c);
	uint64_t ctx;

	if (id != 0)
		(void)sim_read(c->sim, id, &ctx);
}

/* Shuffles ids[0..n-1] with the plan stream. */
static void
shuffle(struct chaos *c, raft_id_t *ids, unsigned n)
{
	unsigned i, j;
	raft_id_t t;

	for (i = n; i > 1; i--) {
		j = (unsigned)sim_rng_range(&c->plan, 0, i - 1);
		t = ids[i - 1];
		ids[i - 1] = ids[j];
		ids[j] = t;
	}
}

/* Cuts every link between group (first k of ids) and the rest. */
static void
split_groups(struct chaos *c, const raft_id_t *ids, unsigned k)
{
	unsigned i, j;

	for (i = 0; i < k; i++)
		for (j = k; j < c->nodes; j++)
			sim_set_link(c->sim, ids[i], ids[j], false);
}

/* Applies one fault. */
static void
fault_apply(struct chaos *c, enum fault_kind kind)
{
	raft_id_t ids[SIM_MAX_NODES], leader = sim_leader(c->sim), b;
	unsigned i, j, k, d, dist, maj = c->nodes / 2 + 1;
	uint64_t ctx;

	for (i = 0; i < c->nodes; i++)
		ids[i] = i + 1;
	shuffle(c, ids, c->nodes);
	if (leader == 0)
		leader = ids[0];
	switch (kind) {
	case F_ISOLATE_LEADER:
		for (i = 0; i < 3; i++)
			(void)sim_read(c->sim, leader, &ctx);
		sim_isolate(c->sim, leader);
		sim_note(c->sim, "%s %" PRIu64 " with reads pending",
		    fault_names[kind], leader);
		break;
	case F_SPLIT:
		k = (unsigned)sim_rng_range(&c->plan, 1, c->nodes / 2);
		split_groups(c, ids, k);
		sim_note(c->sim, "split: minority of %u (first %" PRIu64 ")",
		    k, ids[0]);
		break;
	case F_RING:
		/* Ring order ids[]; each node keeps neighbours within d. */
		d = maj / 2;
		for (i = 0; i < c->nodes; i++)
			for (j = 0; j < c->nodes; j++) {
				dist = i > j ? i - j : j - i;
				if (c->nodes - dist < dist)
					dist = c->nodes - dist;
				if (dist > d)
					sim_set_link(c->sim, ids[i], ids[j],
					    false);
			}
		sim_note(c->sim, "ring of overlapping majorities, reach %u", d);
		break;
	case F_BRIDGE:
		b = ids[0];
		k = (c->nodes - 1) / 2;
		split_groups(c, ids + 1, k);
		for (i = 1 + k; i < c->nodes; i++)
			for (j = 1; j < 1 + k; j++)
				sim_set_link(c->sim, ids[i], ids[j], false);
		sim_note(c->sim, "bridge node %" PRIu64, b);
		break;
	case F_CRASH_NODE:
		sim_crash(c->sim, ids[0]);
		sim_note(c->sim, "crash node %" PRIu64, ids[0]);
		break;
	case F_CRASH_LEADER:
		sim_crash(c->sim, leader);
		sim_note(c->sim, "crash leader %" PRIu64, leader);
		break;
	case F_CRASH_MAJORITY:
		for (i = 0; i < maj; i++)
			sim_crash(c->sim, ids[i]);
		sim_note(c->sim, "crash a majority (%u nodes)", maj);
		break;
	case F_CRASH_ALL:
		for (i = 1; i <= c->nodes; i++)
			sim_crash(c->sim, i);
		sim_note(c->sim, "crash all nodes");
		break;
	case F_LOSSY:
		sim_set_loss(c->sim, (unsigned)sim_rng_range(&c->plan, 150,
		    400), (unsigned)sim_rng_range(&c->plan, 20, 150));
		sim_note(c->sim, "lossy period");
		break;
	case F_REJOIN_AHEAD:
		b = ids[0] == leader && c->nodes > 1 ? ids[1] : ids[0];
		sim_crash(c->sim, b);
		c->ahead_node = b;
		sim_note(c->sim, "node %" PRIu64 " away; will rejoin ahead", b);
		break;
	case F_LAG:
		b = ids[0] == leader && c->nodes > 1 ? ids[1] : ids[0];
		sim_isolate(c->sim, b);
		c->lag = true;
		sim_note(c->sim, "lag: follower %" PRIu64 " cut off", b);
		break;
	case F_FLAP:
		c->flap = true;
		c->flap_leader = 0;
		c->flap_len = (unsigned)sim_rng_range(&c->plan, 1, 8);
		/* Lose many first appends, leaving uncommitted tails. */
		sim_set_loss(c->sim, (unsigned)sim_rng_range(&c->plan, 0,
		    300), 0);
		sim_note(c->sim, "flapping leaders (%u ticks each)",
		    c->flap_len);
		break;
	case F_COUNT:
		break;
	}
	c->faults++;
}

/* F_FLAP: crashes each leader soon after it appears, restarts it later. */
static void
flap_step(struct chaos *c, unsigned t)
{
	raft_id_t leader = sim_leader(c->sim);
	unsigned i;

	for (i = 1; i <= c->nodes; i++)
		if (!sim_alive(c->sim, i) && c->restart_at[i] != 0 &&
		    t >= c->restart_at[i]) {
			c->restart_at[i] = 0;
			sim_restart(c->sim, i);
		}
	if (leader != c->flap_leader) {
		c->flap_leader = leader;
		c->flap_since = t;
	}
	if (leader != 0 && t - c->flap_since >= c->flap_len) {
		sim_crash(c->sim, leader);
		c->restart_at[leader] = t + (unsigned)sim_rng_range(&c->plan,
		    1, 15);
		sim_note(c->sim, "flap: crash leader %" PRIu64, leader);
	}
}

/* Heals every fault: links, loss, crashed nodes. */
static void
fault_heal(struct chaos *c)
{
	raft_term_t t;
	unsigned i;

	sim_heal(c->sim);
	sim_set_loss(c->sim, c->base_drop, c->base_dup);
	for (i = 1; i <= c->nodes; i++) {
		if (sim_alive(c->sim, i))
			continue;
		if (i == c->ahead_node) {
			struct raft_hard_state hs;

			sim_durable_hs(c->sim, i, &hs);
			t = max_term(c);
			t = t > hs.term ? t - hs.term : 0;
			sim_restart_bumped(c->sim, i, t +
			    sim_rng_range(&c->plan, 1, 3));
			sim_note(c->sim, "node %u rejoins ahead", i);
		} else
			sim_restart(c->sim, i);
	}
	c->ahead_node = 0;
	c->flap = false;
	c->lag = false;
	memset(c->restart_at, 0, sizeof(c->restart_at));
	sim_note(c->sim, "heal");
}

/* sim_run_until() predicate: every live node applied the max commit. */
static bool
converged(struct sim *s, void *ctx)
{
	struct raft_status st;
	unsigned i;

	(void)ctx;
	for (i = 1; i <= sim_nodes(s); i++) {
		sim_status(s, i, &st);
		if (st.commit != sim_commit_max(s) ||
		    sim_applied(s, i) != sim_commit_max(s))
			return false;
	}
	return true;
}

/* The quiet period: a leader, a fresh commit, every proposal resolved. */
static int
quiet(struct chaos *c, uint64_t seed)
{
	unsigned bound = 10 * c->election_max, t;
	raft_index_t index = 0;
	raft_term_t term = 0;
	raft_id_t leader;
	char data[64];

	fault_heal(c);
	sim_set_loss(c->sim, 0, 0);
	/* No more crashes; transfers may still fail, but not forever. */
	sim_set_snapshot_faults(c->sim, c->snapshot_fail / 2, 0);
	for (t = 0; t < bound; t++) {
		if (index != 0 && sim_committed_term(c->sim, index) == term)
			break;
		leader = sim_leader(c->sim);
		if (leader != 0 && (index == 0 ||
		    (sim_committed_term(c->sim, index) != 0 &&
		    sim_committed_term(c->sim, index) != term) ||
		    !sim_alive(c->sim, leader))) {
			snprintf(data, sizeof(data), "fresh%" PRIu64 "-%u",
			    seed, t);
			if (sim_propose(c->sim, leader, data, &index,
			    &term) != 0)
				index = 0;
		}
		if (sim_tick(c->sim) != 0)
			return -1;
	}
	if (index == 0 || sim_committed_term(c->sim, index) != term) {
		sim_fail(c->sim, "Liveness (after heal)", "no fresh proposal "
		    "committed within %u ticks of the last heal", bound);
		return -1;
	}
	/* Fill up to the highest proposal so every proposal resolves. */
	for (t = 0; t < 20 * c->election_max &&
	    sim_commit_max(c->sim) < c->max_prop_index; t++) {
		leader = sim_leader(c->sim);
		if (leader != 0 && t % 2 == 0) {
			snprintf(data, sizeof(data), "fill%" PRIu64 "-%u", seed,
			    t);
			(void)sim_propose(c->sim, leader, data, NULL, NULL);
		}
		if (sim_tick(c->sim) != 0)
			return -1;
	}
	if (sim_run_until(c->sim, converged, NULL, 10 * c->election_max) != 1) {
		if (sim_error(c->sim) == NULL)
			sim_fail(c->sim, "Liveness (convergence)", "live nodes "
			    "did not all apply commit %" PRIu64,
			    sim_commit_max(c->sim));
		return -1;
	}
	/* Let pending read rounds finish. */
	if (sim_run(c->sim, 4 * c->election_max) != 0)
		return -1;
	return sim_check_final(c->sim, true, true);
}

/* Runs one seed.  Returns 0, or 1 after printing the failure. */
static int
run_seed(const struct run_opts *o, struct run_stats *stats, bool tap,
    unsigned tap_no)
{
	struct sim_config cfg;
	struct chaos c;
	char err[256];
	unsigned n_faults, slot, k, t, start, heal, next, i;
	uint64_t committed = 0, dropped, open, rok, rfail, rwait;
	uint64_t taken, installed;
	enum fault_kind kind;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	sim_rng_seed(&c.work, o->seed, 1);
	sim_rng_seed(&c.plan, o->seed, 2);
	c.nodes = o->nodes;
	sim_config_defaults(&cfg);
	cfg.nodes = o->nodes;
	cfg.seed = o->seed;
	cfg.cluster_id = 0xc1u + o->seed;
	cfg.election_min = 10;
	cfg.election_max = (unsigned)sim_rng_range(&c.plan, 10, 20);
	cfg.heartbeat_min = 2;
	cfg.heartbeat_max = 3;
	cfg.delay_min = 1;
	cfg.delay_max = (unsigned)sim_rng_range(&c.plan, 3, 20);
	c.base_drop = (unsigned)sim_rng_range(&c.plan, 0, 50);
	c.base_dup = (unsigned)sim_rng_range(&c.plan, 0, 30);
	cfg.drop_permille = c.base_drop;
	cfg.dup_permille = c.base_dup;
	cfg.disk_max = (unsigned)sim_rng_range(&c.plan, 0, 15);
	cfg.verbose = o->verbose ? stdout : NULL;
	/* A third of the seeds run without PreVote; batches vary. */
	c.prevote = !sim_rng_chance(&c.plan, 333);
	/* Odd seeds mark spares (not drawn: the plans stay as they were). */
	c.lazy_spares = (o->seed & 1) != 0;
	c.max_msg_entries = (uint32_t)1 << sim_rng_range(&c.plan, 0, 6);
	c.max_inflight = (uint32_t)sim_rng_range(&c.plan, 1, 4);
	/*
	 * Three seeds in five snapshot, some every few entries, keeping a
	 * few trailing entries or none; transfers fail and installs crash.
	 */
	if (!sim_rng_chance(&c.plan, 400)) {
		cfg.snapshot_every = (unsigned)sim_rng_range(&c.plan, 3, 40);
		cfg.snapshot_keep = (unsigned)sim_rng_range(&c.plan, 0, 5);
		cfg.snapshot_delay = (unsigned)sim_rng_range(&c.plan, 0, 30);
		c.snapshot_fail = (unsigned)sim_rng_range(&c.plan, 0, 300);
		c.install_crash = (unsigned)sim_rng_range(&c.plan, 0, 250);
		cfg.snapshot_fail_permille = c.snapshot_fail;
		cfg.install_crash_permille = c.install_crash;
		stats->snapshot_seeds++;
	}
	cfg.tweak = chaos_tweak;
	cfg.tweak_ctx = &c;
	c.election_max = cfg.election_max;
	if (sim_new(&cfg, &c.sim, err, sizeof(err)) != 0) {
		printf("%sraftsim: seed %" PRIu64 ": %s\n", tap ? "# " : "",
		    o->seed, err);
		rc = 1;
		goto report;
	}

	n_faults = o->ticks / 250;
	if (n_faults < o->min_faults)
		n_faults = o->min_faults;
	slot = o->ticks > 300 ? (o->ticks - 300) / n_faults : 1;
	if (slot < 10)
		slot = 10;
	k = 0;
	next = 100;
	start = next + (unsigned)sim_rng_range(&c.plan, 0, slot / 5);
	heal = 0;
	for (t = 1; t <= o->ticks; t++) {
		if (heal != 0 && t == heal) {
			fault_heal(&c);
			heal = 0;
		}
		if (heal == 0 && k < n_faults && t >= start) {
			kind = (enum fault_kind)sim_rng_range(&c.plan, 0,
			    F_COUNT - 1);
			fault_apply(&c, kind);
			if (kind != F_LOSSY && sim_rng_chance(&c.plan, 200)) {
				sim_set_loss(c.sim, 200, 50);
				sim_note(c.sim, "plus a lossy period");
			}
			heal = t + (unsigned)sim_rng_range(&c.plan, slot / 5,
			    slot * 3 / 5);
			k++;
			next += slot;
			start = next + (unsigned)sim_rng_range(&c.plan, 0,
			    slot / 5);
			if (start <= heal)
				start = heal + 1;
		}
		if (c.flap)
			flap_step(&c, t);
		if (sim_rng_chance(&c.work, c.flap ? 500 : c.lag ? 250 : 50))
			propose(&c, o->seed, "p");
		if (sim_rng_chance(&c.work, 20))
			read_on_leader(&c);
		if (sim_tick(c.sim) != 0)
			break;
	}
	if (sim_error(c.sim) == NULL)
		(void)quiet(&c, o->seed);
	sim_proposal_counts(c.sim, &committed, &dropped, &open);
	sim_read_counts(c.sim, &rok, &rfail, &rwait);
	if (sim_error(c.sim) == NULL && o->ticks >= 10000 &&
	    committed < o->min_commits)
		sim_fail(c.sim, "Workload", "only %" PRIu64 " commits (want "
		    "%u)", committed, o->min_commits);
	if (sim_error(c.sim) == NULL && c.faults < o->min_faults)
		sim_fail(c.sim, "Workload", "only %" PRIu64 " faults (want %u)",
		    c.faults, o->min_faults);
	stats->ticks += sim_now_ticks(c.sim);
	stats->commits += committed;
	stats->dropped += dropped;
	stats->faults += c.faults;
	stats->reads_ok += rok;
	stats->reads_failed += rfail;
	stats->msgs += sim_msg_count(c.sim, 0);
	sim_snapshot_counts(c.sim, &taken, &installed);
	stats->snaps_taken += taken;
	stats->snaps_installed += installed;
	for (i = 1; i <= o->nodes; i++)
		stats->lazy_writes += sim_lazy_writes(c.sim, i);
	if (sim_error(c.sim) != NULL) {
		printf("%sraftsim: seed %" PRIu64 " (%u nodes) FAILED: %s\n",
		    tap ? "# " : "", o->seed, o->nodes, sim_error(c.sim));
		sim_dump(c.sim, stdout);
		printf("%sreplay: tests/raftsim --nodes %u --seed %" PRIu64
		    " --ticks %u --verbose\n", tap ? "# " : "", o->nodes,
		    o->seed, o->ticks);
		rc = 1;
	}
report:
	if (tap)
		printf("%s %u - seed %" PRIu64 " nodes %u: %" PRIu64 " ticks, %"
		    PRIu64 " commits, %" PRIu64 " faults\n",
		    rc ? "not ok" : "ok", tap_no, o->seed, o->nodes,
		    c.sim ? sim_now_ticks(c.sim) : 0, committed, c.faults);
	if (c.sim != NULL)
		sim_free(c.sim);
	stats->seeds++;
	if (rc != 0) {
		if (stats->failed == 0) {
			stats->first_failed_seed = o->seed;
			stats->first_failed_nodes = o->nodes;
		}
		stats->failed++;
	}
	fflush(stdout);
	return rc;
}

/* Adds b into a. */
static void
stats_add(struct run_stats *a, const struct run_stats *b)
{
	if (a->failed == 0 && b->failed != 0) {
		a->first_failed_seed = b->first_failed_seed;
		a->first_failed_nodes = b->first_failed_nodes;
	}
	a->seeds += b->seeds;
	a->failed += b->failed;
	a->ticks += b->ticks;
	a->commits += b->commits;
	a->dropped += b->dropped;
	a->faults += b->faults;
	a->reads_ok += b->reads_ok;
	a->reads_failed += b->reads_failed;
	a->msgs += b->msgs;
	a->snapshot_seeds += b->snapshot_seeds;
	a->snaps_taken += b->snaps_taken;
	a->snaps_installed += b->snaps_installed;
	a->lazy_writes += b->lazy_writes;
}

/* Runs seeds first + worker, first + worker + jobs, ... */
static void
run_range(struct run_opts o, uint64_t first, uint64_t count, unsigned worker,
    unsigned jobs, bool tap, struct run_stats *stats)
{
	uint64_t i;

	for (i = worker; i < count; i += jobs) {
		o.seed = first + i;
		(void)run_seed(&o, stats, tap, (unsigned)i + 1);
	}
}

/* Seconds on the monotonic clock. */
static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints the usage line and returns the exit status for it. */
static int
usage(void)
{
	fprintf(stderr, "usage: raftsim --seed S [--seeds N] [--nodes 3|5|7] "
	    "[--ticks T] [--jobs J] [--min-commits C] [--tap] [--verbose]\n"
	    "  RAFTKV_SIM_SEEDS overrides --seeds (soak).\n");
	return 2;
}

/* Parses an unsigned number option or fails. */
static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct run_opts o;
	struct run_stats total, part;
	uint64_t first = 1, count = 1, v;
	unsigned jobs = 1, w;
	int fds[SIM_MAX_NODES * 8][2], i, status;
	pid_t pids[SIM_MAX_NODES * 8];
	bool tap = false;
	const char *env;
	double t0, dt;

	memset(&o, 0, sizeof(o));
	o.nodes = 3;
	o.ticks = 10000;
	o.min_commits = 100;
	o.min_faults = 20;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--verbose") == 0) {
			o.verbose = true;
			continue;
		}
		if (strcmp(a, "--tap") == 0) {
			tap = true;
			continue;
		}
		if (i + 1 >= argc || parse_u64(argv[i + 1], &v) != 0)
			return usage();
		i++;
		if (strcmp(a, "--seed") == 0)
			first = v;
		else if (strcmp(a, "--seeds") == 0)
			count = v;
		else if (strcmp(a, "--nodes") == 0 && v >= 1 &&
		    v <= SIM_MAX_NODES)
			o.nodes = (unsigned)v;
		else if (strcmp(a, "--ticks") == 0 && v >= 100 && v < 100000000)
			o.ticks = (unsigned)v;
		else if (strcmp(a, "--jobs") == 0 && v >= 1 && v <= 64)
			jobs = (unsigned)v;
		else if (strcmp(a, "--min-commits") == 0 && v < 1000000)
			o.min_commits = (unsigned)v;
		else
			return usage();
	}
	if ((env = getenv("RAFTKV_SIM_SEEDS")) != NULL && *env != '\0') {
		if (parse_u64(env, &count) != 0)
			return usage();
	}
	if (tap) {
		jobs = 1;
		printf("1..%" PRIu64 "\n", count);
	}
	if (jobs > count)
		jobs = count ? (unsigned)count : 1;
	memset(&total, 0, sizeof(total));
	t0 = now_seconds();
	fflush(stdout);
	if (jobs == 1)
		run_range(o, first, count, 0, 1, tap, &total);
	else {
		for (w = 0; w < jobs; w++) {
			if (pipe(fds[w]) != 0 || (pids[w] = fork()) < 0) {
				perror("raftsim: fork");
				return 2;
			}
			if (pids[w] == 0) {
				close(fds[w][0]);
				memset(&part, 0, sizeof(part));
				run_range(o, first, count, w, jobs, false,
				    &part);
				if (write(fds[w][1], &part, sizeof(part)) !=
				    (ssize_t)sizeof(part))
					_exit(3);
				_exit(0);
			}
			close(fds[w][1]);
		}
		for (w = 0; w < jobs; w++) {
			memset(&part, 0, sizeof(part));
			if (read(fds[w][0], &part, sizeof(part)) !=
			    (ssize_t)sizeof(part)) {
				fprintf(stderr, "raftsim: worker %u died\n", w);
				part.failed++;
			}
			close(fds[w][0]);
			waitpid(pids[w], &status, 0);
			stats_add(&total, &part);
		}
	}
	dt = now_seconds() - t0;
	printf("%sraftsim: %u nodes, seeds %" PRIu64 "..%" PRIu64 ": %"
	    PRIu64 " simulated ticks in %.1f s (%.0f ticks/s), %" PRIu64
	    " commits, %" PRIu64 " dropped proposals, %" PRIu64 " faults, %"
	    PRIu64 " reads ok, %" PRIu64 " reads failed, %" PRIu64 " msgs; %"
	    PRIu64 " seeds snapshot: %" PRIu64 " snapshots taken, %" PRIu64
	    " installed; %" PRIu64 " deferred (spare) writes\n",
	    tap ? "# " : "", o.nodes, first, first + count - 1, total.ticks, dt,
	    dt > 0 ? (double)total.ticks / dt : 0.0, total.commits,
	    total.dropped, total.faults, total.reads_ok, total.reads_failed,
	    total.msgs, total.snapshot_seeds, total.snaps_taken,
	    total.snaps_installed, total.lazy_writes);
	if (total.failed != 0)
		printf("%sraftsim: first failure: tests/raftsim --nodes %u "
		    "--seed %" PRIu64 " --ticks %u --verbose\n",
		    tap ? "# " : "",
		    total.first_failed_nodes, total.first_failed_seed, o.ticks);
	printf("%sraftsim: %" PRIu64 " passed, %" PRIu64 " failed\n",
	    tap ? "# " : "", total.seeds - total.failed, total.failed);
	return total.failed != 0 ? 1 : 0;
}
