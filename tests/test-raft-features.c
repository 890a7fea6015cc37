/*
 * test-raft-features.c -- PreVote, leader stickiness, a node whose term ran
 * ahead, CheckQuorum, ReadIndex, bounded messages, and the leader's side of
 * compaction and InstallSnapshot, on the simulator.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim-test.h"

#define ELECTION	10
#define BOUND		(10 * ELECTION)

struct bounds {
	uint32_t	 max_entries, max_bytes, max_inflight;
	bool		 prevote_off_for_3;
	bool		 lazy_spares;
};

/* Applies the test's core options. */
static void
tweak(void *ctx, struct raft_config *cfg)
{
	struct bounds *b = ctx;

	if (b->max_entries)
		cfg->max_msg_entries = b->max_entries;
	if (b->max_bytes)
		cfg->max_msg_bytes = b->max_bytes;
	if (b->max_inflight)
		cfg->max_inflight = b->max_inflight;
	if (b->prevote_off_for_3 && cfg->id == 3)
		cfg->prevote = false;
	cfg->lazy_spares = b->lazy_spares;
}

/* Creates a reliable simulator, optionally with options and a filter. */
static struct sim *
cluster(unsigned n, uint64_t seed, struct bounds *b, struct watch *w)
{
	struct sim_config cfg;
	struct sim *s;

	sim_config_defaults(&cfg);
	cfg.nodes = n;
	cfg.seed = seed;
	cfg.election_min = ELECTION;
	cfg.election_max = 2 * ELECTION;
	cfg.heartbeat_min = 2;
	cfg.heartbeat_max = 2;
	cfg.delay_max = 4;
	cfg.disk_max = 4;
	if (b != NULL) {
		cfg.tweak = tweak;
		cfg.tweak_ctx = b;
	}
	if (w != NULL) {
		cfg.filter = watch_filter;
		cfg.filter_ctx = w;
	}
	s = sim_or_bail(&cfg);
	return s;
}

/* Term of node id. */
static raft_term_t
term_of(struct sim *s, raft_id_t id)
{
	struct raft_status st;

	sim_status(s, id, &st);
	return st.term;
}

/* True once some node installed a snapshot it was sent. */
static bool
installed_on(struct sim *s, void *ctx)
{
	uint64_t taken, installed;

	(void)ctx;
	sim_snapshot_counts(s, &taken, &installed);
	return installed > 0;
}

/* Predicate: node *ctx applied the highest commit. */
static bool
applied_all(struct sim *s, void *ctx)
{
	raft_id_t id = *(raft_id_t *)ctx;

	return sim_applied(s, id) == sim_commit_max(s);
}

/* Predicate: the read in ctx was answered. */
static bool
read_done(struct sim *s, void *ctx)
{
	bool okay;
	raft_index_t index;

	return sim_read_result(s, *(uint64_t *)ctx, &okay, &index);
}

/* A cut-off node under PreVote never raises its term nor disrupts. */
static void
test_prevote(struct tap *t)
{
	struct sim *s = cluster(3, 31, NULL, NULL);
	raft_id_t leader, f;
	raft_term_t before, lterm;

	leader = sim_wait_leader(s, BOUND);
	sim_run(s, 4);
	f = leader % 3 + 1;
	before = term_of(s, f);
	lterm = term_of(s, leader);
	sim_isolate(s, f);
	sim_run(s, 10 * ELECTION);
	is_u64(t, term_of(s, f), before, "prevote: an isolated node keeps its "
	    "term through many timeouts");
	sim_heal(s);
	sim_run(s, 3 * ELECTION);
	ok(t, sim_leader(s) == leader && term_of(s, leader) == lterm,
	    "prevote: its return does not disrupt the leader");
	no_violation(t, s, "prevote");
	sim_free(s);
}

/* Leader stickiness: vote and pre-vote requests are refused in a lease. */
static void
test_stickiness(struct tap *t)
{
	struct watch w;
	struct sim *s;
	struct raft_msg m;
	struct raft_status st;
	raft_id_t leader, f, c;
	raft_term_t before;

	memset(&w, 0, sizeof(w));
	s = cluster(3, 32, NULL, &w);
	leader = sim_wait_leader(s, BOUND);
	sim_run(s, 4);
	f = leader % 3 + 1;
	c = 6 - leader - f;	/* the third node */
	w.from = f;
	sim_status(s, f, &st);
	before = st.term;
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_PREVOTE;
	m.cluster_id = 0x5151;
	m.from = c;
	m.to = f;
	m.term = before + 1;
	m.last_log_index = st.last_index + 10;
	m.last_log_term = st.last_term;
	sim_deliver(s, &m);
	sim_flush(s);
	ok(t, w.seen[RAFT_MSG_PREVOTE_RESP] == 0 ||
	    w.last[RAFT_MSG_PREVOTE_RESP].reject,
	    "stickiness: an up-to-date pre-vote is refused within the lease");
	m.type = RAFT_MSG_VOTE;
	m.term = before + 5;
	sim_deliver(s, &m);
	sim_flush(s);
	ok(t, w.seen[RAFT_MSG_VOTE_RESP] == 0 ||
	    w.last[RAFT_MSG_VOTE_RESP].reject,
	    "stickiness: an up-to-date vote is refused within the lease");
	is_u64(t, term_of(s, f), before, "stickiness: the follower keeps its "
	    "term");
	ok(t, sim_leader(s) == leader, "stickiness: the leader stays");
	no_violation(t, s, "stickiness");
	sim_free(s);
}

/* A node whose term ran ahead (shorter log) rejoins the cluster. */
static void
test_term_ahead(struct tap *t)
{
	struct watch w;
	struct sim *s;
	raft_id_t leader, f;
	raft_term_t lterm;
	unsigned i;
	char data[32];

	memset(&w, 0, sizeof(w));
	s = cluster(3, 33, NULL, &w);
	leader = sim_wait_leader(s, BOUND);
	f = leader % 3 + 1;
	sim_crash(s, f);
	for (i = 0; i < 10; i++) {
		snprintf(data, sizeof(data), "ahead-%u", i);
		sim_propose(s, sim_leader(s), data, NULL, NULL);
		sim_run(s, 2);
	}
	lterm = term_of(s, leader);
	w.from = f;
	sim_restart_bumped(s, f, lterm + 5);
	ok(t, term_of(s, f) > lterm && sim_durable_last(s, f) <
	    sim_commit_max(s), "term ahead: the node is back with a higher "
	    "term and a shorter log");
	sim_run(s, 2);
	ok(t, w.seen[RAFT_MSG_APPEND_RESP] > 0 &&
	    w.last[RAFT_MSG_APPEND_RESP].term == term_of(s, f),
	    "term ahead: it answers a lower-term append with its own term");
	sim_run(s, 10 * ELECTION);
	ok(t, sim_leader(s) != 0 && sim_leader(s) != f &&
	    term_of(s, sim_leader(s)) >= lterm + 5,
	    "term ahead: a leader with an up-to-date log takes over its term");
	ok(t, sim_applied(s, f) == sim_commit_max(s), "term ahead: the node "
	    "catches up");
	no_violation(t, s, "term ahead");
	sim_free(s);
}

/* CheckQuorum: a cut-off leader steps down and forgets the leader. */
static void
test_check_quorum(struct tap *t)
{
	struct sim *s = cluster(5, 34, NULL, NULL);
	struct raft_status st;
	raft_id_t leader;
	unsigned n;

	leader = sim_wait_leader(s, BOUND);
	sim_isolate(s, leader);
	for (n = 0; n < 4 * ELECTION; n++) {
		sim_tick(s);
		sim_status(s, leader, &st);
		if (st.role != RAFT_LEADER)
			break;
	}
	ok(t, st.role != RAFT_LEADER && n <= 2 * 2 * ELECTION,
	    "check quorum: the isolated leader steps down after %u ticks", n);
	is_u64(t, st.leader, 0, "check quorum: it forgets the leader");
	no_violation(t, s, "check quorum");
	sim_free(s);
}

/* ReadIndex: no-op first, a fresh round, shared rounds, failures. */
static void
test_read_index(struct tap *t)
{
	struct watch w;
	struct sim *s;
	raft_id_t leader;
	raft_index_t index;
	uint64_t ctx, many[10], appends, start, bound, rounds;
	struct raft_status st;
	bool okay, all;
	unsigned i;

	/* Without acknowledgements the no-op never commits: no read. */
	memset(&w, 0, sizeof(w));
	w.drop_type = RAFT_MSG_APPEND_RESP;
	s = cluster(3, 35, NULL, &w);
	leader = sim_wait_leader(s, BOUND);
	ok(t, leader != 0 && sim_read(s, leader, &ctx) == 0,
	    "read index: a new leader accepts a read");
	sim_run(s, ELECTION / 2);
	ok(t, !sim_read_result(s, ctx, &okay, &index),
	    "read index: not answered before the leader's no-op commits");
	w.drop_type = 0;
	ok(t, sim_run_until(s, read_done, &ctx, BOUND) == 1 &&
	    sim_read_result(s, ctx, &okay, &index) && okay &&
	    sim_committed_term(s, index) != 0,
	    "read index: answered once the no-op commits");

	/* Recent contact is not enough: a round after the read is needed. */
	sim_run(s, 4);
	leader = sim_leader(s);
	w.drop_type = RAFT_MSG_APPEND_RESP;
	sim_read(s, leader, &ctx);
	sim_run(s, ELECTION / 2);
	ok(t, !sim_read_result(s, ctx, &okay, &index),
	    "read index: not confirmed without a heartbeat round after it");
	w.drop_type = 0;
	ok(t, sim_run_until(s, read_done, &ctx, BOUND) == 1 &&
	    sim_read_result(s, ctx, &okay, &index) && okay,
	    "read index: confirmed by the next round");

	/* Many reads share one round. */
	sim_run(s, 4);
	leader = sim_leader(s);
	sim_reset_counts(s);
	start = sim_now_ticks(s);
	sim_status(s, leader, &st);
	rounds = st.read_rounds;
	for (i = 0; i < 10; i++)
		sim_read(s, leader, &many[i]);
	sim_run_until(s, read_done, &many[9], BOUND);
	appends = sim_msg_count(s, RAFT_MSG_APPEND);
	/* One round per heartbeat period at most, plus one for the reads. */
	bound = 2 * ((sim_now_ticks(s) - start) / 2 + 2);
	for (i = 0, all = true; i < 10; i++)
		all = all && sim_read_result(s, many[i], &okay, &index) && okay;
	ok(t, all, "read index: 10 reads confirmed");
	sim_status(s, leader, &st);
	/* The first read starts a round; the nine after it share the next. */
	ok(t, st.read_rounds - rounds <= 2, "read index: 10 reads need %"
	    PRIu64 " <= 2 rounds", st.read_rounds - rounds);
	ok(t, appends <= bound && appends < 10 * 2, "read index: they shared "
	    "rounds (%" PRIu64 " appends <= %" PRIu64 ")", appends, bound);

	/* A leader cut off with reads pending fails them. */
	sim_read(s, leader, &ctx);
	sim_read(s, leader, &many[0]);
	sim_isolate(s, leader);
	sim_run(s, 5 * ELECTION);
	ok(t, sim_read_result(s, ctx, &okay, &index) && !okay &&
	    sim_read_result(s, many[0], &okay, &index) && !okay,
	    "read index: pending reads fail when leadership is lost");
	ok(t, sim_read(s, leader, &ctx) != 0,
	    "read index: a deposed leader refuses new reads");
	no_violation(t, s, "read index");
	sim_free(s);
}

/* Message size and in-flight bounds hold while a follower catches up. */
static void
test_bounds(struct tap *t)
{
	struct bounds b = { 4, 64, 2, false, false };
	struct raft_peer_status peers[8];
	struct sim *s = cluster(3, 36, &b, NULL);
	raft_id_t leader, f;
	size_t n, k;
	uint32_t worst = 0;
	unsigned i;
	char data[32];

	leader = sim_wait_leader(s, BOUND);
	f = leader % 3 + 1;
	sim_crash(s, f);
	for (i = 0; i < 60; i++) {
		snprintf(data, sizeof(data), "bounded-entry-%02u", i);
		sim_propose(s, leader, data, NULL, NULL);
	}
	sim_run(s, 5);
	sim_restart(s, f);
	for (i = 0; i < 10 * ELECTION; i++) {
		sim_tick(s);
		n = sim_alive(s, leader) ? raft_get_peers(sim_raft(s, leader),
		    peers, 8) : 0;
		for (k = 0; k < n; k++)
			if (peers[k].inflight > worst)
				worst = peers[k].inflight;
	}
	ok(t, sim_applied(s, f) == sim_commit_max(s),
	    "bounds: the follower caught up");
	ok(t, sim_max_append_entries(s) <= 4, "bounds: at most 4 entries per "
	    "append (saw %u)", sim_max_append_entries(s));
	ok(t, sim_max_append_bytes(s) <= 64, "bounds: at most 64 payload bytes "
	    "per append (saw %" PRIu64 ")", sim_max_append_bytes(s));
	ok(t, worst <= 2, "bounds: at most 2 appends in flight (saw %u)",
	    worst);
	no_violation(t, s, "bounds");
	sim_free(s);
}

/* What one leader sends one follower, counted by a filter. */
struct flow {
	raft_id_t	 from, to;
	uint64_t	 snapshots;
	uint64_t	 appends;	/* APPENDs that carry entries */
	uint64_t	 heartbeats;
	bool		 drop_snapshots;
};

/* Counts the messages of flow->from to flow->to. */
static enum sim_verdict
flow_filter(void *ctx, const struct raft_msg *m)
{
	struct flow *fl = ctx;

	if (m->from != fl->from || m->to != fl->to)
		return SIM_PASS;
	if (m->type == RAFT_MSG_SNAPSHOT) {
		fl->snapshots++;
		return fl->drop_snapshots ? SIM_DROP : SIM_PASS;
	}
	if (m->type == RAFT_MSG_APPEND && m->n_entries > 0)
		fl->appends++;
	else if (m->type == RAFT_MSG_APPEND)
		fl->heartbeats++;
	return SIM_PASS;
}

/* Counts the APPENDs (heartbeats too) one node sends, by receiver. */
struct lazy_count {
	raft_id_t	 from;
	uint64_t	 lazy[8], prompt[8];
};

static enum sim_verdict
lazy_filter(void *ctx, const struct raft_msg *m)
{
	struct lazy_count *lc = ctx;

	if (m->type == RAFT_MSG_APPEND && m->from == lc->from && m->to < 8) {
		if (m->lazy)
			lc->lazy[m->to]++;
		else
			lc->prompt[m->to]++;
	}
	return SIM_PASS;
}

/* Proposes n entries on leader, a tick apart, then runs 20 ticks. */
static void
propose_some(struct sim *s, raft_id_t leader, unsigned n)
{
	char	 data[32];
	unsigned i;

	for (i = 0; i < n; i++) {
		snprintf(data, sizeof(data), "spare-%u", i);
		sim_propose(s, leader, data, NULL, NULL);
		sim_tick(s);
	}
	sim_run(s, 20);
}

/* The leader's spare flag for peer id. */
static bool
spare_flag(struct sim *s, raft_id_t leader, raft_id_t id)
{
	struct raft_peer_status p[8];
	size_t	 n, i;

	n = raft_get_peers(sim_raft(s, leader), p, 8);
	for (i = 0; i < n; i++)
		if (p[i].id == id)
			return p[i].spare;
	return false;
}

/*
 * lazy_spares: the healthy followers with the lowest ids are the ones a
 * commit waits on; the others are spares, whose APPENDs carry lazy and
 * whose batches are lazy_sync.  A spare takes over when one of the
 * others is cut off, and gives the place back once it returns.
 */
static void
test_spares(struct tap *t)
{
	struct bounds b = { .lazy_spares = true };
	struct lazy_count lc;
	struct sim *s;
	raft_id_t leader, lo, hi, f[4];
	raft_index_t before;
	unsigned i, k, nf;

	/* Three nodes: one follower needed, the other a spare. */
	s = cluster(3, 41, &b, NULL);
	leader = sim_wait_leader(s, BOUND);
	lo = leader == 1 ? 2 : 1;
	hi = leader == 3 ? 2 : 3;
	propose_some(s, leader, 5);
	memset(&lc, 0, sizeof(lc));
	lc.from = leader;
	sim_set_filter(s, lazy_filter, &lc);
	propose_some(s, leader, 20);
	ok(t, lc.prompt[lo] > 0 && lc.lazy[lo] == 0,
	    "spares: every APPEND to the lower-id follower %" PRIu64 " is "
	    "prompt (%" PRIu64 " prompt, %" PRIu64 " lazy)", lo,
	    lc.prompt[lo], lc.lazy[lo]);
	ok(t, lc.lazy[hi] > 0 && lc.prompt[hi] == 0,
	    "spares: every APPEND to the higher-id follower %" PRIu64 " is "
	    "lazy (%" PRIu64 " prompt, %" PRIu64 " lazy)", hi, lc.prompt[hi],
	    lc.lazy[hi]);
	ok(t, !spare_flag(s, leader, lo) && spare_flag(s, leader, hi),
	    "spares: the leader's status names the spare");
	ok(t, sim_lazy_writes(s, hi) > 0 && sim_lazy_writes(s, lo) == 0,
	    "spares: only the spare's batches are lazy_sync (%" PRIu64 ", %"
	    PRIu64 ")", sim_lazy_writes(s, hi), sim_lazy_writes(s, lo));

	/* The needed follower is cut off: the spare takes over. */
	sim_isolate(s, lo);
	sim_run(s, 3 * 2 + 2);	/* past two heartbeat intervals */
	memset(&lc, 0, sizeof(lc));
	lc.from = leader;
	before = sim_commit_max(s);
	propose_some(s, leader, 10);
	ok(t, lc.prompt[hi] > 0 && lc.lazy[hi] == 0,
	    "spares: with %" PRIu64 " cut off, APPENDs to %" PRIu64 " are "
	    "prompt (%" PRIu64 " prompt, %" PRIu64 " lazy)", lo, hi,
	    lc.prompt[hi], lc.lazy[hi]);
	ok(t, !spare_flag(s, leader, hi), "spares: no spare left");
	ok(t, sim_commit_max(s) >= before + 10,
	    "spares: commits go on without the cut-off follower");

	/* It comes back and catches up: the places are as before. */
	sim_heal(s);
	sim_run(s, 40);
	memset(&lc, 0, sizeof(lc));
	lc.from = leader;
	propose_some(s, leader, 10);
	ok(t, lc.lazy[hi] > 0 && lc.prompt[hi] == 0 && lc.lazy[lo] == 0,
	    "spares: healed, %" PRIu64 " is the spare again", hi);
	no_violation(t, s, "spares, 3 nodes");
	sim_free(s);

	/* Off: no APPEND is lazy. */
	b.lazy_spares = false;
	s = cluster(3, 41, &b, NULL);
	leader = sim_wait_leader(s, BOUND);
	memset(&lc, 0, sizeof(lc));
	lc.from = leader;
	sim_set_filter(s, lazy_filter, &lc);
	propose_some(s, leader, 10);
	for (i = 1, k = 0; i <= 3; i++)
		k += (unsigned)lc.lazy[i];
	ok(t, k == 0 && !spare_flag(s, leader, hi),
	    "spares: off by default, no APPEND is lazy");
	sim_free(s);

	/* Five nodes: the two lowest-id followers are needed. */
	b.lazy_spares = true;
	s = cluster(5, 42, &b, NULL);
	leader = sim_wait_leader(s, BOUND);
	for (i = 1, nf = 0; i <= 5; i++)
		if (i != leader)
			f[nf++] = i;
	propose_some(s, leader, 5);
	memset(&lc, 0, sizeof(lc));
	lc.from = leader;
	sim_set_filter(s, lazy_filter, &lc);
	propose_some(s, leader, 20);
	ok(t, lc.lazy[f[0]] == 0 && lc.lazy[f[1]] == 0 &&
	    lc.prompt[f[2]] == 0 && lc.prompt[f[3]] == 0 &&
	    lc.lazy[f[2]] > 0 && lc.lazy[f[3]] > 0,
	    "spares: 5 nodes, %" PRIu64 " and %" PRIu64 " are needed, %" PRIu64
	    " and %" PRIu64 " spares", f[0], f[1], f[2], f[3]);
	no_violation(t, s, "spares, 5 nodes");
	sim_free(s);
}

/*
 * A 3-node simulator that snapshots every 5 entries, whose snapshot
 * transfers take up to delay more units, with a follower *f left behind
 * the compaction of *leader (cut off for 30 entries), then healed.  fl
 * counts what the leader sends it.
 */
static struct sim *
lagging(uint64_t seed, unsigned delay, struct flow *fl, raft_id_t *leader,
    raft_id_t *f)
{
	struct sim_config cfg;
	struct sim *s;
	char data[32];
	unsigned i;

	sim_config_defaults(&cfg);
	cfg.seed = seed;
	cfg.election_min = ELECTION;
	cfg.election_max = 2 * ELECTION;
	cfg.heartbeat_min = 2;
	cfg.heartbeat_max = 2;
	cfg.delay_max = 4;
	cfg.disk_max = 4;
	cfg.snapshot_every = 5;
	cfg.snapshot_delay = delay;
	memset(fl, 0, sizeof(*fl));
	cfg.filter = flow_filter;
	cfg.filter_ctx = fl;
	s = sim_or_bail(&cfg);
	*leader = sim_wait_leader(s, BOUND);
	*f = *leader % 3 + 1;
	sim_isolate(s, *f);
	for (i = 0; i < 30; i++) {
		snprintf(data, sizeof(data), "behind-%u", i);
		sim_propose(s, *leader, data, NULL, NULL);
		sim_tick(s);
	}
	sim_run(s, 10);
	fl->from = *leader;
	fl->to = *f;
	sim_heal(s);
	return s;
}

/* Runs until the leader switched f to a snapshot; fills its view of f. */
static void
wait_snapshotting(struct sim *s, raft_id_t leader, raft_id_t f,
    struct raft_peer_status *p)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < BOUND && !(leader_peer(s, leader, f, p) &&
	    p->snapshotting); i++)
		sim_tick(s);
}

/* raft_compact() and raft_cluster_at() validate their arguments. */
static void
test_compact_api(struct tap *t)
{
	struct sim *s = cluster(3, 51, NULL, NULL);
	struct raft_cluster *c = malloc(sizeof(*c));
	struct raft_status st, after;
	struct raft_entry e;
	struct raft *r;
	raft_id_t leader, f;
	unsigned i;
	int rc;
	char data[32];

	leader = sim_wait_leader(s, BOUND);
	for (i = 0; i < 20; i++) {
		snprintf(data, sizeof(data), "api-%u", i);
		sim_propose(s, leader, data, NULL, NULL);
	}
	sim_run(s, 20);
	f = leader % 3 + 1;
	r = sim_raft(s, f);
	sim_status(s, f, &st);
	ok(t, raft_compact(r, st.applied + 1, st.term, 0) == -RAFT_EINVAL,
	    "compact: beyond the applied index is refused");
	ok(t, raft_compact(r, 10, raft_term_at(r, 10) + 1, 0) == -RAFT_EINVAL,
	    "compact: a wrong term is refused");
	ok(t, raft_compact(r, 15, raft_term_at(r, 15), 3) == 0,
	    "compact: at 15 keeping 3");
	sim_status(s, f, &after);
	ok(t, after.snapshot_index == 15 && after.snapshot_term ==
	    raft_term_at(r, 15) && after.first_index == 13 &&
	    after.last_index == st.last_index, "compact: snapshot 15, log from "
	    "13 (got %" PRIu64 ")", after.first_index);
	ok(t, raft_compact(r, 12, raft_term_at(r, 12), 0) == 0 &&
	    raft_compact(r, 15, raft_term_at(r, 15), 0) == 0,
	    "compact: older and equal snapshots are accepted");
	sim_status(s, f, &st);
	ok(t, st.snapshot_index == 15 && st.first_index == 13,
	    "compact: ... and ignored");
	rc = raft_compact(r, 18, raft_term_at(r, 18), 100);
	raft_get_status(r, &st);
	ok(t, rc == 0 && st.first_index == 13 && st.snapshot_index == 18,
	    "compact: a large keep drops nothing");
	ok(t, raft_cluster_at(r, 17, c) == -RAFT_EINVAL &&
	    raft_cluster_at(r, st.last_index + 1, c) == -RAFT_EINVAL,
	    "cluster at: below the snapshot or past the log is refused");
	ok(t, raft_cluster_at(r, 18, c) == 0 && c->n == 3 &&
	    raft_cluster_at(r, st.last_index, c) == 0 && c->n == 3,
	    "cluster at: the configuration at the snapshot and at the end");
	ok(t, !raft_get_entry(r, 11, &e) && raft_term_at(r, 11) == 0 &&
	    raft_get_entry(r, 13, &e) && e.index == 13 &&
	    raft_term_at(r, 12) != 0, "compact: entries before the first "
	    "index are gone; the term before it is still known");
	no_violation(t, s, "compact api");
	sim_free(s);
	free(c);
}

/*
 * A peer in snapshot state gets heartbeats but no appends, and only one
 * snapshot, however its heartbeat answers go; it leaves the state when it
 * acknowledges the snapshot.
 */
static void
test_snapshot_paused(struct tap *t)
{
	struct flow fl;
	struct sim *s;
	struct raft_peer_status p;
	raft_id_t leader, f;
	bool paused = true;
	unsigned i;

	/* The transfer takes 30..31 ticks. */
	s = lagging(52, 300, &fl, &leader, &f);
	wait_snapshotting(s, leader, f, &p);
	ok(t, p.snapshotting && p.pending_snapshot > 0 &&
	    p.pending_snapshot <= sim_snapshot_index(s, leader) &&
	    fl.snapshots == 1, "paused: the lagging peer is switched to a "
	    "snapshot of index %" PRIu64, p.pending_snapshot);
	fl.appends = fl.heartbeats = 0;
	for (i = 0; i < 20; i++) {
		if (i % 4 == 0)
			sim_propose(s, leader, "while-paused", NULL, NULL);
		sim_tick(s);
		paused = paused && leader_peer(s, leader, f, &p) && p.snapshotting;
	}
	ok(t, paused && fl.appends == 0 && fl.snapshots == 1,
	    "paused: no appends and no second snapshot while it is on its "
	    "way (%" PRIu64 " appends)", fl.appends);
	ok(t, fl.heartbeats >= 5, "paused: heartbeats continue (%" PRIu64 ")",
	    fl.heartbeats);
	for (i = 0; i < BOUND && leader_peer(s, leader, f, &p) &&
	    p.snapshotting; i++)
		sim_tick(s);
	sim_propose(s, leader, "after-install", NULL, NULL);
	sim_run(s, 4);
	ok(t, installed_on(s, NULL) && leader_peer(s, leader, f, &p) &&
	    !p.snapshotting &&
	    fl.appends > 0, "paused: once acknowledged, the peer replicates "
	    "again");
	ok(t, sim_run_until(s, applied_all, &f, BOUND) == 1,
	    "paused: the follower catches up");
	no_violation(t, s, "snapshot paused");
	sim_free(s);
}

/* Delivered but not yet acknowledged: the peer stays paused. */
static void
test_snapshot_delivered(struct tap *t)
{
	struct flow fl;
	struct sim *s;
	struct raft_peer_status p;
	raft_id_t leader, f;
	bool paused = true;
	unsigned i;

	s = lagging(53, 30, &fl, &leader, &f);
	wait_snapshotting(s, leader, f, &p);
	sim_hold_disk(s, f, true);
	fl.appends = 0;
	for (i = 0; i < 3 * ELECTION / 2; i++) {
		sim_tick(s);
		paused = paused && leader_peer(s, leader, f, &p) && p.snapshotting;
	}
	ok(t, paused && fl.snapshots == 1 && fl.appends == 0,
	    "delivered: waiting for the install to be durable, the peer stays "
	    "paused");
	sim_hold_disk(s, f, false);
	ok(t, sim_run_until(s, applied_all, &f, BOUND) == 1 &&
	    fl.snapshots == 1, "delivered: once durable it is acknowledged and "
	    "the follower catches up");
	no_violation(t, s, "snapshot delivered");
	sim_free(s);
}

/* Failed transfers are retried, at most once per heartbeat interval. */
static void
test_snapshot_retry(struct tap *t)
{
	struct flow fl;
	struct sim *s;
	struct raft_peer_status p;
	raft_id_t leader, f;
	unsigned i, ticks = 40;

	s = lagging(54, 0, &fl, &leader, &f);
	fl.drop_snapshots = true;
	for (i = 0; i < BOUND && fl.snapshots == 0; i++)
		sim_tick(s);
	fl.snapshots = 0;
	for (i = 0; i < ticks; i++) {
		/* Each proposal is a chance to resend: not taken at once. */
		sim_propose(s, leader, "retry", NULL, NULL);
		sim_tick(s);
	}
	ok(t, fl.snapshots >= ticks / 2 / 2 && fl.snapshots <= ticks / 2 + 1,
	    "retry: %" PRIu64 " transfers in %u ticks, one per heartbeat "
	    "interval at most", fl.snapshots, ticks);
	ok(t, leader_peer(s, leader, f, &p) && sim_applied(s, f) <
	    sim_commit_max(s), "retry: the follower is still behind");
	raft_report_snapshot(sim_raft(s, leader), f, true);
	raft_report_snapshot(sim_raft(s, leader), 99, false);
	fl.drop_snapshots = false;
	ok(t, sim_run_until(s, applied_all, &f, BOUND) == 1,
	    "retry: once a transfer succeeds the follower catches up");
	no_violation(t, s, "snapshot retry");
	sim_free(s);
}

int
main(void)
{
	struct tap t = {0};

	test_prevote(&t);
	test_stickiness(&t);
	test_term_ahead(&t);
	test_check_quorum(&t);
	test_read_index(&t);
	test_bounds(&t);
	test_spares(&t);
	test_compact_api(&t);
	test_snapshot_paused(&t);
	test_snapshot_delivered(&t);
	test_snapshot_retry(&t);
	return tap_done(&t);
}
