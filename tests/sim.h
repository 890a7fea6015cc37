/*
 * sim.h -- a seeded, deterministic cluster simulator for the pure Raft core.
 *
 * The simulator plays the caller of N cores (daemon/raft.h): it owns each
 * node's "disk" (a durable log and hard state written with a random
 * latency), a seeded network (delay, reordering, loss, duplication,
 * partitions), crashes and restarts, and a state machine per node.  After
 * every step (a tick of one node, one delivered message, one completed disk
 * write, one proposal or read) it checks the Raft safety properties
 * incrementally; the first violation stops the simulation and is kept as a
 * message (sim_error()).  Everything derives from one 64-bit seed, so a run
 * replays exactly.
 *
 * Time: one tick is SIM_UNITS_PER_TICK time units; messages and disk writes
 * are delayed by a number of units, so they interleave with ticks.
 */
#ifndef RAFTKV_SIM_H
#define RAFTKV_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

#define SIM_UNITS_PER_TICK	10
#define SIM_MAX_NODES		9

/* A seeded xoshiro256** stream (state owned by whoever embeds it). */
struct sim_rng {
	uint64_t	 s[4];
};

/* Seeds rng from seed and a stream number (splitmix64). */
void		 sim_rng_seed(struct sim_rng *rng, uint64_t seed,
		    uint64_t stream);
/* Returns the next 64-bit value. */
uint64_t	 sim_rng_next(struct sim_rng *rng);
/* Returns a value in [lo, hi] (inclusive); lo <= hi. */
uint64_t	 sim_rng_range(struct sim_rng *rng, uint64_t lo, uint64_t hi);
/* Returns true with probability permille / 1000. */
bool		 sim_rng_chance(struct sim_rng *rng, unsigned permille);

/* What a message filter decides. */
enum sim_verdict {
	SIM_PASS = 0,
	SIM_DROP,
};

/*
 * Sees every message a node sends, before the network: m is borrowed for
 * the call only.
 */
typedef enum sim_verdict sim_filter_fn(void *ctx, const struct raft_msg *m);

/* Lets a test adjust one node's core configuration before raft_new(). */
typedef void sim_tweak_fn(void *ctx, struct raft_config *cfg);

struct sim_config {
	unsigned	 nodes;		/* 1..SIM_MAX_NODES, ids 1..nodes */
	uint64_t	 seed;
	uint64_t	 cluster_id;

	/* Core configuration; election/heartbeat are drawn per node. */
	unsigned	 election_min, election_max;	/* ticks */
	unsigned	 heartbeat_min, heartbeat_max;	/* ticks */

	/* The network, in time units (SIM_UNITS_PER_TICK per tick). */
	unsigned	 delay_min, delay_max;		/* >= 1 */
	unsigned	 drop_permille;
	unsigned	 dup_permille;

	/* Disk write latency, in time units (0 = same instant). */
	unsigned	 disk_max;

	sim_tweak_fn	*tweak;		/* optional, borrowed */
	void		*tweak_ctx;
	sim_filter_fn	*filter;	/* optional, borrowed */
	void		*filter_ctx;

	FILE		*verbose;	/* print every event here, or NULL */

	/*
	 * Tests that forge acknowledgements from peers (sim_deliver()) turn
	 * off the check that a committed index is durable on a quorum.
	 */
	bool		 forged_acks;

	/*
	 * Snapshots (0: never).  Each node snapshots its state machine every
	 * snapshot_every applied entries: the image is written to disk with
	 * the disk's latency, in order with the log writes, and then
	 * raft_compact() keeps snapshot_keep trailing entries.
	 */
	unsigned	 snapshot_every;
	unsigned	 snapshot_keep;
	/* Extra transfer time of a snapshot, in time units. */
	unsigned	 snapshot_delay;
	/* A transfer fails (raft_report_snapshot(false)) with this chance. */
	unsigned	 snapshot_fail_permille;
	/* A node installing a snapshot crashes around its write this often. */
	unsigned	 install_crash_permille;
};

struct sim;	/* opaque */

/* Fills *cfg with a reliable 3-node network and zero disk latency. */
void		 sim_config_defaults(struct sim_config *cfg);

/*
 * Creates a bootstrapped cluster from cfg (copied; the callbacks are
 * borrowed).  Returns 0 and sets *out (freed with sim_free()), or a negative
 * error with a message in err.
 */
int		 sim_new(const struct sim_config *cfg, struct sim **out,
		    char *err, size_t errlen);
void		 sim_free(struct sim *s);

/* ---- Running.  Each returns -1 once an invariant was violated. ---- */

/* Advances one tick: ticks every live node, then delivers what is due. */
int		 sim_tick(struct sim *s);
/* Delivers what is due within the current tick, without ticking. */
int		 sim_flush(struct sim *s);
/* Runs ticks ticks. */
int		 sim_run(struct sim *s, unsigned ticks);
/*
 * Runs until pred(s, ctx) is true (checked after each tick) or max_ticks
 * pass.  Returns 1 when pred held, 0 on timeout, -1 on a violation.
 */
int		 sim_run_until(struct sim *s,
		    bool (*pred)(struct sim *, void *), void *ctx,
		    unsigned max_ticks);
/* Runs until one leader exists; returns its id or 0 after max_ticks. */
raft_id_t	 sim_wait_leader(struct sim *s, unsigned max_ticks);

/* The first violation, or NULL.  Borrowed from s. */
const char	*sim_error(const struct sim *s);
/* Prints node states, the last trace lines and the last events. */
void		 sim_dump(const struct sim *s, FILE *fp);

/* ---- Faults. ---- */

/* Sets the (symmetric) link between a and b up or down. */
void		 sim_set_link(struct sim *s, raft_id_t a, raft_id_t b, bool up);
/* Cuts id off from everyone. */
void		 sim_isolate(struct sim *s, raft_id_t id);
/* Restores every link. */
void		 sim_heal(struct sim *s);
/* True if a message from a to b would pass the partition. */
bool		 sim_linked(const struct sim *s, raft_id_t a, raft_id_t b);
void		 sim_set_loss(struct sim *s, unsigned drop_permille,
		    unsigned dup_permille);
void		 sim_set_delay(struct sim *s, unsigned lo, unsigned hi);
void		 sim_set_filter(struct sim *s, sim_filter_fn *fn, void *ctx);
/* Changes the snapshot period and the entries compaction keeps. */
void		 sim_set_snapshots(struct sim *s, unsigned every,
		    unsigned keep);
/* Changes the chance of failed transfers and of crashes during installs. */
void		 sim_set_snapshot_faults(struct sim *s, unsigned fail_permille,
		    unsigned crash_permille);
/*
 * Holds id's disk writes (hold) so that none completes, or releases them
 * all (in order, at once).  Crashing loses held writes.
 */
void		 sim_hold_disk(struct sim *s, raft_id_t id, bool hold);

/* Crashes id: its core, unwritten disk writes and held messages are lost. */
int		 sim_crash(struct sim *s, raft_id_t id);
/* Restarts a crashed node from its durable state only. */
int		 sim_restart(struct sim *s, raft_id_t id);
/*
 * Restarts a crashed node whose durable term is first raised by delta with
 * no vote: a node that campaigned without PreVote while cut off.
 */
int		 sim_restart_bumped(struct sim *s, raft_id_t id,
		    raft_term_t delta);
bool		 sim_alive(const struct sim *s, raft_id_t id);

/* ---- Workload. ---- */

/*
 * Proposes a NORMAL entry with data (copied) on id and records it for the
 * liveness check.  Returns raft_propose()'s result.
 */
int		 sim_propose(struct sim *s, raft_id_t id, const char *data,
		    raft_index_t *index, raft_term_t *term);
/*
 * Submits a ReadIndex on id, recording the highest commit anywhere as the
 * bound its answer must reach.  Returns raft_read_index()'s result and
 * stores the read's handle in *ctx.
 */
int		 sim_read(struct sim *s, raft_id_t id, uint64_t *ctx);
/* Fills the outcome of read ctx: returns false while unanswered. */
bool		 sim_read_result(const struct sim *s, uint64_t ctx, bool *ok,
		    raft_index_t *index);
/*
 * Delivers m to its m->to at once; returns raft_step()'s result.  A
 * RAFT_MSG_SNAPSHOT (with snap_cluster set) arrives as a received image
 * of that index, term and configuration, whose state is the committed
 * state at that index when one is known.
 */
int		 sim_deliver(struct sim *s, const struct raft_msg *m);

/* ---- Introspection. ---- */

unsigned	 sim_nodes(const struct sim *s);
uint64_t	 sim_now_ticks(const struct sim *s);
/* The core of id, or NULL when crashed.  Borrowed. */
struct raft	*sim_raft(struct sim *s, raft_id_t id);
/* Status of id (zeroed, with id set, when crashed). */
void		 sim_status(const struct sim *s, raft_id_t id,
		    struct raft_status *st);
/* The single live leader of the highest term, or 0. */
raft_id_t	 sim_leader(const struct sim *s);
/* Highest commit index any node has reached. */
raft_index_t	 sim_commit_max(const struct sim *s);
/* Term of the committed entry at index, or 0 if not known committed. */
raft_term_t	 sim_committed_term(const struct sim *s, raft_index_t index);
/* Last index applied by id's state machine since its last start. */
raft_index_t	 sim_applied(const struct sim *s, raft_id_t id);
/* Last index of id's durable log, and its durable hard state. */
raft_index_t	 sim_durable_last(const struct sim *s, raft_id_t id);
void		 sim_durable_hs(const struct sim *s, raft_id_t id,
		    struct raft_hard_state *hs);
/* Index of id's durable snapshot (0: none). */
raft_index_t	 sim_snapshot_index(const struct sim *s, raft_id_t id);
/* Snapshots made durable by nodes: taken locally, and installed. */
uint64_t	 sim_lazy_writes(const struct sim *s, raft_id_t id);
void		 sim_snapshot_counts(const struct sim *s, uint64_t *taken,
		    uint64_t *installed);
/* Messages of a type sent since the last sim_reset_counts() (0 = all). */
uint64_t	 sim_msg_count(const struct sim *s, int type);
/* Reject responses (APPEND_RESP with reject) sent by from. */
uint64_t	 sim_reject_count(const struct sim *s, raft_id_t from);
void		 sim_reset_counts(struct sim *s);
/* Largest n_entries seen in any APPEND, and largest entry-bytes total. */
uint32_t	 sim_max_append_entries(const struct sim *s);
uint64_t	 sim_max_append_bytes(const struct sim *s);

/* Counts recorded proposals: committed, dropped (another term won), open. */
void		 sim_proposal_counts(const struct sim *s, uint64_t *committed,
		    uint64_t *dropped, uint64_t *open);
/* Reads answered ok and failed, and reads still waiting on live nodes. */
void		 sim_read_counts(const struct sim *s, uint64_t *ok,
		    uint64_t *failed, uint64_t *waiting);

/*
 * The end-of-run checks: every live node's log holds the committed prefix,
 * every proposal is committed or dropped (when require_resolved), and no
 * read waits on a live node (when require_reads).  Returns 0 or -1.
 */
int		 sim_check_final(struct sim *s, bool require_resolved,
		    bool require_reads);

/* Records a caller's note (a fault being applied) for the dump. */
void		 sim_note(struct sim *s, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Records a violation found by a caller (a test or the chaos driver). */
void		 sim_fail(struct sim *s, const char *invariant,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* RAFTKV_SIM_H */
