/*
 * test-raft-rules.c -- the rules of the Raft paper's Figure 2, one check
 * each, plus robustness against bad peers and the follower's side of
 * InstallSnapshot.  Node 1 of a simulator whose links are all cut is fed
 * hand-made messages (sim_deliver()); a filter records what it answers.  The simulator's invariant checks stay on,
 * except the durable-quorum check, since the acknowledgements are forged.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim-test.h"

#define CLUSTER_ID	0x5151

/* A 3-node simulator with every link cut and long election timeouts. */
static struct sim *
lab(struct watch *w)
{
	struct sim_config cfg;
	struct sim *s;
	unsigned i;

	memset(w, 0, sizeof(*w));
	w->from = 1;		/* what node 1 sends */
	sim_config_defaults(&cfg);
	cfg.election_min = cfg.election_max = 50;
	cfg.heartbeat_min = cfg.heartbeat_max = 5;
	cfg.filter = watch_filter;
	cfg.filter_ctx = w;
	cfg.forged_acks = true;
	s = sim_or_bail(&cfg);
	for (i = 1; i <= 3; i++)
		sim_isolate(s, i);
	return s;
}

/* Builds a message to node 1. */
static struct raft_msg
msg(int type, raft_id_t from, raft_term_t term)
{
	struct raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = (uint8_t)type;
	m.cluster_id = CLUSTER_ID;
	m.from = from;
	m.to = 1;
	m.term = term;
	return m;
}

/* Delivers an APPEND with n entries of term eterm after prev. */
static int
append_x(struct sim *s, raft_id_t from, raft_term_t term, raft_index_t prev,
    raft_term_t prev_term, raft_index_t commit, unsigned n,
    raft_term_t eterm, const char *tag, bool lazy)
{
	struct raft_entry e[8];
	struct raft_msg m = msg(RAFT_MSG_APPEND, from, term);
	unsigned i;
	int rc;

	for (i = 0; i < n && i < 8; i++) {
		e[i].index = prev + 1 + i;
		e[i].term = eterm;
		e[i].type = RAFT_ENTRY_NORMAL;
		e[i].data = (const uint8_t *)tag;
		e[i].len = (uint32_t)strlen(tag);
	}
	m.prev_index = prev;
	m.prev_term = prev_term;
	m.commit = commit;
	m.n_entries = n;
	m.entries = n ? e : NULL;
	m.lazy = lazy;
	rc = sim_deliver(s, &m);
	sim_flush(s);
	return rc;
}

/* The same, not lazy: what a leader sends a follower it waits on. */
static int
append(struct sim *s, raft_id_t from, raft_term_t term, raft_index_t prev,
    raft_term_t prev_term, raft_index_t commit, unsigned n,
    raft_term_t eterm, const char *tag)
{
	return append_x(s, from, term, prev, prev_term, commit, n, eterm, tag,
	    false);
}

/* Delivers a vote request from from with the given last entry. */
static void
vote(struct sim *s, int type, raft_id_t from, raft_term_t term,
    raft_index_t last, raft_term_t last_term)
{
	struct raft_msg m = msg(type, from, term);

	m.last_log_index = last;
	m.last_log_term = last_term;
	sim_deliver(s, &m);
	sim_flush(s);
}

/* Status of node 1. */
static struct raft_status
st1(struct sim *s)
{
	struct raft_status st;

	sim_status(s, 1, &st);
	return st;
}

/* Term updates, the consistency check, truncation and the commit rule. */
static void
test_append_rules(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_status st;

	append(s, 2, 5, 1, 1, 1, 0, 0, "");
	st = st1(s);
	ok(t, st.term == 5 && st.role == RAFT_FOLLOWER && st.leader == 2,
	    "term update: a higher term makes node 1 a follower of it");
	ok(t, w.seen[RAFT_MSG_APPEND_RESP] == 1 &&
	    !w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].term == 5,
	    "term update: the heartbeat is acknowledged in the new term");
	append(s, 3, 3, 1, 1, 1, 0, 0, "");
	ok(t, w.last[RAFT_MSG_APPEND_RESP].term == 5 && st1(s).term == 5 &&
	    st1(s).leader == 2, "stale term: answered with the current term, "
	    "ignored");
	append(s, 2, 5, 7, 5, 1, 0, 0, "");
	ok(t, w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].hint_index == 2 &&
	    w.last[RAFT_MSG_APPEND_RESP].hint_term == 0,
	    "consistency check: a missing prev is refused with a hint");
	append(s, 2, 5, 1, 1, 1, 2, 5, "a");
	st = st1(s);
	ok(t, st.last_index == 3 && !w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 3,
	    "append: entries after a matching prev are taken and acked");
	append(s, 3, 6, 1, 1, 1, 1, 6, "c");
	st = st1(s);
	ok(t, st.last_index == 2 && raft_term_at(sim_raft(s, 1), 2) == 6,
	    "conflict: a conflicting suffix is truncated and replaced");
	append(s, 3, 6, 2, 6, 10, 1, 6, "d");
	is_u64(t, st1(s).commit, 3, "commit rule: min(leader commit, last new "
	    "entry)");
	append(s, 3, 6, 3, 6, 2, 0, 0, "");
	is_u64(t, st1(s).commit, 3, "commit index only moves forward");
	append(s, 2, 7, 2, 5, 3, 0, 0, "");
	st = st1(s);
	ok(t, st.last_index == 3 && st.commit == 3 &&
	    raft_term_at(sim_raft(s, 1), 2) == 6,
	    "conflict at or below commit: refused, log intact");
	append(s, 2, 7, 1, 1, 3, 1, 7, "evil");
	ok(t, raft_term_at(sim_raft(s, 1), 2) == 6 && st1(s).commit == 3,
	    "a committed entry is never overwritten");
	append(s, 3, 6, 2, 6, 3, 1, 6, "d");
	append(s, 3, 6, 1, 1, 3, 1, 6, "c");
	ok(t, st1(s).last_index == 3, "duplicated and reordered appends are "
	    "harmless");
	no_violation(t, s, "append rules");
	sim_free(s);
}

/*
 * A spare's side: the batch a lazy APPEND produces is lazy_sync, and its
 * answer still waits for it to be durable; a prompt APPEND, or one that
 * changes the term, is not lazy_sync.
 */
static void
test_lazy_sync(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	uint64_t n0, acks;

	append(s, 2, 5, 1, 1, 1, 0, 0, "");
	is_u64(t, sim_lazy_writes(s, 1), 0, "lazy: a prompt APPEND is not "
	    "lazy_sync");
	acks = w.seen[RAFT_MSG_APPEND_RESP];
	append_x(s, 2, 5, 1, 1, 1, 2, 5, "a", true);
	is_u64(t, sim_lazy_writes(s, 1), 1, "lazy: a lazy APPEND's entries "
	    "are a lazy_sync batch");
	sim_run(s, 2);
	ok(t, w.seen[RAFT_MSG_APPEND_RESP] == acks + 1 &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 3 &&
	    sim_durable_last(s, 1) == 3,
	    "lazy: acknowledged once durable (durable last %" PRIu64 ")",
	    sim_durable_last(s, 1));
	append_x(s, 2, 5, 3, 5, 3, 0, 0, "", true);
	is_u64(t, sim_lazy_writes(s, 1), 2, "lazy: a lazy heartbeat's commit "
	    "record is lazy_sync too");
	n0 = sim_lazy_writes(s, 1);
	append(s, 2, 5, 3, 5, 3, 1, 5, "b");
	is_u64(t, sim_lazy_writes(s, 1), n0, "lazy: a prompt APPEND after "
	    "lazy ones is not lazy_sync");
	append_x(s, 3, 6, 4, 5, 3, 1, 6, "c", true);
	ok(t, sim_lazy_writes(s, 1) == n0 && st1(s).term == 6,
	    "lazy: a lazy APPEND that raises the term is not lazy_sync");
	sim_run(s, 2);
	no_violation(t, s, "lazy sync");
	sim_free(s);
}

/* Vote granting: up-to-date check and one vote per term. */
static void
test_vote_rules(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_hard_state hs;
	struct sim *s2;

	vote(s, RAFT_MSG_VOTE, 2, 2, 1, 1);
	sim_durable_hs(s, 1, &hs);
	ok(t, w.seen[RAFT_MSG_VOTE_RESP] == 1 &&
	    !w.last[RAFT_MSG_VOTE_RESP].reject && hs.term == 2 && hs.vote == 2,
	    "vote: granted to an up-to-date candidate, durably");
	vote(s, RAFT_MSG_VOTE, 3, 2, 1, 1);
	ok(t, w.last[RAFT_MSG_VOTE_RESP].reject, "vote: one vote per term");
	vote(s, RAFT_MSG_VOTE, 2, 2, 1, 1);
	ok(t, !w.last[RAFT_MSG_VOTE_RESP].reject,
	    "vote: a repeated request from the same candidate is granted");
	no_violation(t, s, "vote rules");
	sim_free(s);

	s2 = lab(&w);
	append(s2, 2, 2, 1, 1, 1, 1, 2, "x");
	sim_run(s2, 120);
	vote(s2, RAFT_MSG_VOTE, 3, 3, 1, 1);
	ok(t, w.last[RAFT_MSG_VOTE_RESP].reject && st1(s2).term == 3,
	    "up-to-date check: a shorter log is refused (term still adopted)");
	vote(s2, RAFT_MSG_VOTE, 3, 4, 2, 1);
	ok(t, w.last[RAFT_MSG_VOTE_RESP].reject,
	    "up-to-date check: a lower last term is refused");
	vote(s2, RAFT_MSG_VOTE, 3, 4, 2, 2);
	ok(t, !w.last[RAFT_MSG_VOTE_RESP].reject,
	    "up-to-date check: an equal log is granted");
	vote(s2, RAFT_MSG_PREVOTE, 2, 9, 5, 4);
	ok(t, st1(s2).term == 4, "a pre-vote request never changes the term");
	no_violation(t, s2, "up-to-date");
	sim_free(s2);
}

/* Figure 8: an old-term entry is not committed by counting replicas. */
static void
test_figure8_rule(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_msg m;
	unsigned i;

	append(s, 2, 2, 1, 1, 1, 1, 2, "old");
	for (i = 0; i < 300 && st1(s).role != RAFT_PRECANDIDATE &&
	    st1(s).role != RAFT_CANDIDATE; i++)
		sim_tick(s);
	if (st1(s).role == RAFT_PRECANDIDATE) {
		m = msg(RAFT_MSG_PREVOTE_RESP, 2, st1(s).term + 1);
		sim_deliver(s, &m);
		sim_flush(s);
	}
	m = msg(RAFT_MSG_VOTE_RESP, 2, st1(s).term);
	sim_deliver(s, &m);
	sim_run(s, 1);
	ok(t, st1(s).role == RAFT_LEADER && st1(s).term == 3 &&
	    st1(s).last_index == 3, "figure 8: node 1 leads term 3 with a "
	    "no-op after the term-2 entry");
	m = msg(RAFT_MSG_APPEND_RESP, 2, 3);
	m.match_index = 2;
	m.prev_index = 1;
	sim_deliver(s, &m);
	sim_flush(s);
	is_u64(t, st1(s).commit, 1, "figure 8: a majority holding the term-2 "
	    "entry does not commit it");
	m.match_index = 3;
	m.prev_index = 2;
	sim_deliver(s, &m);
	sim_flush(s);
	is_u64(t, st1(s).commit, 3, "figure 8: the current-term entry on a "
	    "majority commits both");
	no_violation(t, s, "figure 8 rule");
	sim_free(s);
}

/* Bad peers: every malformed message is dropped without harm. */
static void
test_robustness(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_status before, after;
	struct raft_entry e[2];
	struct raft_msg m;
	int bad = 0, rejected = 0, i, rc;

	append(s, 2, 2, 1, 1, 1, 1, 2, "base");
	sim_status(s, 1, &before);
	for (i = 0; i < 9; i++) {
		m = msg(RAFT_MSG_APPEND, 2, 9);
		m.prev_index = 2;
		m.prev_term = 2;
		switch (i) {
		case 0: m.cluster_id = 0xbad; break;
		case 1: m.to = 2; break;
		case 2: m.from = 99; break;
		case 3: m.type = 0; break;
		case 4: m.type = 99; break;
		case 5: m.term = 0; break;
		case 6: m.n_entries = 3; m.entries = NULL; break;
		case 7:
			e[0].index = 3; e[0].term = 9;
			e[1].index = 5; e[1].term = 9;
			e[0].type = e[1].type = RAFT_ENTRY_NORMAL;
			e[0].data = e[1].data = NULL;
			e[0].len = e[1].len = 0;
			m.n_entries = 2;
			m.entries = e;
			break;
		case 8: m.prev_term = 0; break;
		}
		bad++;
		rc = sim_deliver(s, &m);
		if (rc == -RAFT_EINVAL)
			rejected++;
	}
	sim_flush(s);
	sim_status(s, 1, &after);
	is_int(t, rejected, bad, "robustness: all %d malformed messages are "
	    "refused with EINVAL", bad);
	ok(t, after.term == before.term && after.last_index ==
	    before.last_index && after.commit == before.commit,
	    "robustness: they change nothing");
	no_violation(t, s, "robustness");
	sim_free(s);
}

/* The configuration the simulator bootstraps with (ids 1..3). */
static void
sim_members(struct raft_cluster *c)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	c->n = 3;
	for (i = 0; i < 3; i++) {
		c->members[i].id = i + 1;
		c->members[i].voter = true;
		snprintf(c->members[i].peer_url, RAFT_MAX_URL + 1, "sim://n%u",
		    i + 1);
		snprintf(c->members[i].client_url, RAFT_MAX_URL + 1,
		    "sim://c%u", i + 1);
	}
}

/* Delivers an InstallSnapshot from from, then runs what is due. */
static int
snapshot(struct sim *s, raft_id_t from, raft_term_t term, raft_index_t index,
    raft_term_t snap_term, const struct raft_cluster *c)
{
	struct raft_msg m = msg(RAFT_MSG_SNAPSHOT, from, term);
	int rc;

	m.snap_index = index;
	m.snap_term = snap_term;
	m.snap_cluster = c;
	rc = sim_deliver(s, &m);
	sim_flush(s);
	return rc;
}

/* A follower installs a snapshot, acknowledging it only once durable. */
static void
test_snapshot_install(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_cluster *c = malloc(sizeof(*c));
	struct raft_status st;
	uint64_t taken, installed;

	sim_members(c);
	/* Entries 2..6 of term 2 that the snapshot contradicts at 4. */
	append(s, 2, 2, 1, 1, 1, 5, 2, "stale");
	sim_hold_disk(s, 1, true);
	w.seen[RAFT_MSG_APPEND_RESP] = 0;
	ok(t, snapshot(s, 2, 3, 4, 3, c) == 0, "install: a snapshot from the "
	    "leader is accepted");
	st = st1(s);
	ok(t, st.term == 3 && st.leader == 2 && st.snapshot_index == 4 &&
	    st.snapshot_term == 3 && st.commit == 4 && st.first_index == 5 &&
	    st.last_index == 4, "install: the log is replaced, even entries "
	    "after the snapshot (log %" PRIu64 "..%" PRIu64 ", commit %" PRIu64
	    ")", st.first_index, st.last_index, st.commit);
	ok(t, w.seen[RAFT_MSG_APPEND_RESP] == 0 && st.persisted < 4 &&
	    sim_snapshot_index(s, 1) == 0, "install: nothing acknowledged "
	    "while the install is not durable");
	sim_hold_disk(s, 1, false);
	sim_flush(s);
	st = st1(s);
	ok(t, sim_snapshot_index(s, 1) == 4 && st.persisted == 4 &&
	    w.seen[RAFT_MSG_APPEND_RESP] == 1 &&
	    !w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 4,
	    "install: acknowledged with match 4 once durable");
	append(s, 2, 3, 4, 3, 6, 2, 3, "after");
	st = st1(s);
	ok(t, st.last_index == 6 && st.commit == 6 && sim_applied(s, 1) == 6 &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 6,
	    "install: entries after the snapshot are appended and applied");
	sim_snapshot_counts(s, &taken, &installed);
	is_u64(t, installed, 1, "install: one install written");
	no_violation(t, s, "snapshot install");
	sim_free(s);
	free(c);
}

/* A snapshot the log or the commit already holds installs nothing. */
static void
test_snapshot_known(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_cluster *c = malloc(sizeof(*c));
	struct raft_status st;

	sim_members(c);
	append(s, 2, 2, 1, 1, 1, 5, 2, "known");
	snapshot(s, 2, 2, 4, 2, c);
	st = st1(s);
	ok(t, st.commit == 4 && st.last_index == 6 && st.snapshot_index == 0 &&
	    sim_snapshot_index(s, 1) == 0, "fast-forward: a snapshot in the "
	    "log moves commit to it and keeps the log");
	ok(t, !w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 4,
	    "fast-forward: acknowledged at the snapshot");
	snapshot(s, 2, 2, 3, 2, c);
	st = st1(s);
	ok(t, st.commit == 4 && st.last_index == 6 &&
	    !w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 4,
	    "covered: an older snapshot is acknowledged at the commit");
	snapshot(s, 3, 1, 9, 1, c);
	st = st1(s);
	ok(t, w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].term == 2 && st.term == 2 &&
	    st.commit == 4 && st.last_index == 6 && st.leader == 2,
	    "stale term: a snapshot of a lower term is refused with ours");
	no_violation(t, s, "snapshot known");
	sim_free(s);
	free(c);
}

/* Malformed snapshots are refused and change nothing. */
static void
test_snapshot_malformed(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_cluster *c = malloc(sizeof(*c));
	struct raft_status before, after;
	struct raft_msg m;
	int i, refused = 0;

	append(s, 2, 2, 1, 1, 1, 2, 2, "base");
	sim_status(s, 1, &before);
	for (i = 0; i < 7; i++) {
		sim_members(c);
		m = msg(RAFT_MSG_SNAPSHOT, 2, 3);
		m.snap_index = 10;
		m.snap_term = 3;
		m.snap_cluster = c;
		switch (i) {
		case 0: m.snap_cluster = NULL; break;
		case 1: m.snap_index = 0; break;
		case 2: m.snap_term = 0; break;
		case 3: m.snap_term = 4; break;
		case 4: c->members[2].id = 1; break;	/* duplicate id */
		case 5: c->n = 0; break;
		case 6: c->members[0].voter = c->members[1].voter =
		    c->members[2].voter = false; break;
		}
		if (sim_deliver(s, &m) == -RAFT_EINVAL)
			refused++;
	}
	sim_flush(s);
	sim_status(s, 1, &after);
	is_int(t, refused, 7, "malformed snapshots: all 7 refused with EINVAL");
	ok(t, after.term == before.term && after.snapshot_index == 0 &&
	    after.last_index == before.last_index &&
	    after.commit == before.commit, "malformed snapshots: they change "
	    "nothing");
	no_violation(t, s, "snapshot malformed");
	sim_free(s);
	free(c);
}

/* Snapshots arriving while one is being installed; crashes around it. */
static void
test_snapshot_pending(struct tap *t)
{
	struct watch w;
	struct sim *s = lab(&w);
	struct raft_cluster *c = malloc(sizeof(*c));
	struct raft_status st;
	uint64_t taken, installed;

	sim_members(c);
	sim_hold_disk(s, 1, true);
	snapshot(s, 2, 2, 10, 2, c);
	snapshot(s, 2, 2, 12, 2, c);
	snapshot(s, 2, 2, 8, 2, c);
	st = st1(s);
	ok(t, st.snapshot_index == 12 && st.commit == 12 &&
	    w.seen[RAFT_MSG_APPEND_RESP] == 0, "pending install: a newer "
	    "snapshot replaces it, an older one waits for it");
	sim_hold_disk(s, 1, false);
	sim_flush(s);
	st = st1(s);
	sim_snapshot_counts(s, &taken, &installed);
	ok(t, sim_snapshot_index(s, 1) == 12 && st.persisted == 12 &&
	    installed == 2 && w.seen[RAFT_MSG_APPEND_RESP] == 3 &&
	    !w.last[RAFT_MSG_APPEND_RESP].reject &&
	    w.last[RAFT_MSG_APPEND_RESP].match_index == 12,
	    "pending install: both installed in order, all three answered");

	/* A crash before the install is durable loses it. */
	sim_hold_disk(s, 1, true);
	snapshot(s, 2, 2, 20, 2, c);
	sim_crash(s, 1);
	sim_hold_disk(s, 1, false);
	sim_restart(s, 1);
	st = st1(s);
	ok(t, st.snapshot_index == 12 && st.commit == 12 &&
	    st.first_index == 13 && sim_snapshot_index(s, 1) == 12,
	    "crash during install: back at the previous snapshot");

	/* After it is durable, the snapshot alone restores the node. */
	snapshot(s, 2, 2, 20, 2, c);
	sim_crash(s, 1);
	sim_restart(s, 1);
	st = st1(s);
	ok(t, st.snapshot_index == 20 && st.snapshot_term == 2 &&
	    st.commit == 20 && st.applied == 20 && st.first_index == 21 &&
	    st.last_index == 20 && sim_durable_last(s, 1) == 20,
	    "restart: restored from the snapshot alone");
	ok(t, raft_get_cluster(sim_raft(s, 1))->n == 3 &&
	    raft_get_cluster(sim_raft(s, 1))->members[1].id == 2 &&
	    st.config_index == 20, "restart: the configuration comes from the "
	    "snapshot");
	no_violation(t, s, "snapshot pending");
	sim_free(s);
	free(c);
}

int
main(void)
{
	struct tap t = {0};

	test_append_rules(&t);
	test_lazy_sync(&t);
	test_vote_rules(&t);
	test_figure8_rule(&t);
	test_robustness(&t);
	test_snapshot_install(&t);
	test_snapshot_known(&t);
	test_snapshot_malformed(&t);
	test_snapshot_pending(&t);
	return tap_done(&t);
}
