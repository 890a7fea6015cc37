/*
 * sim-test.h -- helpers the Raft scenario tests share: a message filter
 * that records what one node sends (and can drop a type), the check that
 * no simulator invariant was violated, creating a simulator or bailing
 * out, and the leader's view of one peer.  Header-only, like tap.h.
 */
#ifndef RAFTKV_SIM_TEST_H
#define RAFTKV_SIM_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"
#include "tap.h"

/* What a filter saw from one node, and whether it drops a kind of message. */
struct watch {
	int		 drop_type;	/* 0: none */
	raft_id_t	 from;		/* record messages from this node */
	struct raft_msg	 last[8];	/* last message of each type */
	uint64_t	 seen[8];
};

/* Records the messages w->from sends and drops w->drop_type. */
static inline enum sim_verdict
watch_filter(void *ctx, const struct raft_msg *m)
{
	struct watch *w = ctx;

	if (m->from == w->from && m->type <= RAFT_MSG_TYPE_MAX) {
		w->last[m->type] = *m;
		w->last[m->type].entries = NULL;
		w->seen[m->type]++;
	}
	return m->type == w->drop_type ? SIM_DROP : SIM_PASS;
}

/* Reports a simulator violation (with the dump) as a failed check. */
static inline void
no_violation(struct tap *t, struct sim *s, const char *name)
{
	ok(t, sim_error(s) == NULL, "%s: no invariant violated", name);
	if (sim_error(s) != NULL) {
		diag("%s", sim_error(s));
		sim_dump(s, stdout);
	}
}

/* Creates a simulator from cfg, or bails out of the whole test. */
static inline struct sim *
sim_or_bail(const struct sim_config *cfg)
{
	struct sim *s;
	char err[256];

	if (sim_new(cfg, &s, err, sizeof(err)) != 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return s;
}

/* The leader's view of peer id into *out; false if there is none. */
static inline bool
leader_peer(struct sim *s, raft_id_t leader, raft_id_t id,
    struct raft_peer_status *out)
{
	struct raft_peer_status peers[SIM_MAX_NODES];
	size_t n, k;

	n = sim_alive(s, leader) ? raft_get_peers(sim_raft(s, leader), peers,
	    SIM_MAX_NODES) : 0;
	for (k = 0; k < n; k++)
		if (peers[k].id == id) {
			*out = peers[k];
			return true;
		}
	return false;
}

#endif /* RAFTKV_SIM_TEST_H */
