/*
 * raft.h -- the pure Raft consensus core.
 *
 * The core is a deterministic state machine.  It performs no I/O, reads no
 * clock and draws no randomness of its own: time arrives as raft_tick(),
 * randomness through the rand callback in struct raft_config, and all side
 * effects leave as a struct raft_ready batch that the caller carries out and
 * then acknowledges (the etcd-io/raft "Ready" pattern).  The durability
 * contract that governs the batch is written down in docs/raft-core.md.
 *
 * Ownership conventions, stated again on each function:
 *   "borrowed"  the pointer stays owned by the callee/caller that passed it;
 *   "copied"    the callee makes its own copy, the caller keeps its buffer;
 *   "owned by the core, valid until X"  do not free, do not keep past X.
 *
 * Errors are negative RAFT_E* codes.  Only libc headers are included here.
 */
#ifndef RAFTKV_RAFT_H
#define RAFTKV_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id_t;	/* a node id; 0 means "none" */
typedef uint64_t raft_term_t;
typedef uint64_t raft_index_t;

/* Error codes, always returned negated. */
enum raft_error {
	RAFT_OK = 0,
	RAFT_ENOMEM = 1,	/* an allocation failed; state is unchanged */
	RAFT_ENOTLEADER = 2,	/* the request needs the leader */
	RAFT_EINVAL = 3,	/* a malformed argument or message */
	RAFT_EBUSY = 4,		/* a bound was reached (reads, proposals) */
	RAFT_ECORRUPT = 5,	/* restored state is inconsistent */
	RAFT_ETOOBIG = 6,	/* a proposal exceeds max_msg_bytes */
};

/* Returns a constant description of a RAFT_E* code (positive or negative). */
const char	*raft_strerror(int err);

enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRECANDIDATE,	/* collecting pre-votes; term not yet raised */
	RAFT_CANDIDATE,
	RAFT_LEADER,
};

const char	*raft_role_name(enum raft_role role);

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1,	/* opaque state-machine command */
	RAFT_ENTRY_CONFIG = 2,	/* a cluster configuration, raft_config_encode() */
	RAFT_ENTRY_NOOP = 3,	/* appended by each new leader */
};

/*
 * One log entry.  When the core hands entries out, data points into memory
 * owned by the core; when the caller hands entries in, the core copies them.
 */
struct raft_entry {
	raft_term_t	 term;
	raft_index_t	 index;
	uint8_t		 type;		/* enum raft_entry_type */
	uint32_t	 len;
	const uint8_t	*data;
};

/* ------------------------------------------------------------------ */
/* Cluster configuration, carried in RAFT_ENTRY_CONFIG log entries.    */

#define RAFT_MAX_MEMBERS	 64
#define RAFT_MAX_URL		 255

struct raft_member {
	raft_id_t	 id;
	bool		 voter;		/* false: a learner (future use) */
	char		 peer_url[RAFT_MAX_URL + 1];
	char		 client_url[RAFT_MAX_URL + 1];
};

struct raft_cluster {
	uint32_t		 n;
	struct raft_member	 members[RAFT_MAX_MEMBERS];
};

/* The most bytes raft_cluster_encode() writes: a buffer this big suffices. */
#define RAFT_CLUSTER_ENCODED_MAX \
	(2 + RAFT_MAX_MEMBERS * (8 + 1 + 2 * (1 + RAFT_MAX_URL)))

/*
 * Encodes cfg into buf (capacity cap).  Returns the encoded length, or
 * -RAFT_ETOOBIG when cap is too small.  Pure; borrows both arguments.
 */
int	 raft_cluster_encode(const struct raft_cluster *cfg, uint8_t *buf,
	    size_t cap);
/*
 * Decodes len bytes into *cfg (caller-owned).  Every field is validated:
 * returns 0, or -RAFT_EINVAL for anything malformed or duplicated.
 */
int	 raft_cluster_decode(const uint8_t *buf, size_t len,
	    struct raft_cluster *cfg);
/* Returns the member with this id, or NULL.  Borrowed from cfg. */
const struct raft_member *raft_cluster_find(const struct raft_cluster *cfg,
	    raft_id_t id);
/* Number of voters in cfg. */
uint32_t raft_cluster_voters(const struct raft_cluster *cfg);

/* ------------------------------------------------------------------ */
/* Messages.                                                           */

enum raft_msg_type {
	RAFT_MSG_PREVOTE = 1,
	RAFT_MSG_PREVOTE_RESP,
	RAFT_MSG_VOTE,
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_APPEND,	/* AppendEntries; zero entries is a heartbeat */
	RAFT_MSG_APPEND_RESP,
	/*
	 * InstallSnapshot.  Metadata only: the image travels beside it (the
	 * caller streams the snapshot file in chunks, see docs/protocol.md)
	 * and the follower's caller steps this message in once the whole
	 * file is received and verified.  Answered with an APPEND_RESP.
	 */
	RAFT_MSG_SNAPSHOT,
	RAFT_MSG_TYPE_MAX = RAFT_MSG_SNAPSHOT,
};

const char	*raft_msg_type_name(int type);

/*
 * A message between two cores.  Fields that a type does not use are zero.
 * entries is owned by whoever built the message: the core for messages in a
 * raft_ready (valid until raft_advance()), the caller for raft_step(), which
 * copies what it keeps.
 */
struct raft_msg {
	uint8_t		 type;		/* enum raft_msg_type */
	uint64_t	 cluster_id;
	raft_id_t	 from;
	raft_id_t	 to;
	raft_term_t	 term;		/* sender's term; PREVOTE: term + 1 */

	/* PREVOTE, VOTE: the candidate's last log position. */
	raft_index_t	 last_log_index;
	raft_term_t	 last_log_term;

	/* PREVOTE_RESP, VOTE_RESP, APPEND_RESP. */
	bool		 reject;

	/* APPEND: the entries follow prev_index/prev_term. */
	raft_index_t	 prev_index;
	raft_term_t	 prev_term;
	raft_index_t	 commit;	/* leader's commit, capped per follower */
	uint32_t	 n_entries;
	struct raft_entry *entries;

	/*
	 * APPEND, APPEND_RESP: the leader's read-confirmation round, echoed
	 * back by the follower (ReadIndex).
	 */
	uint64_t	 seq;

	/*
	 * APPEND: the leader does not wait on this follower to commit (it is
	 * a spare: enough others answer promptly, see raft_config's
	 * lazy_spares), so the follower may defer syncing what this message
	 * makes it write, to share one sync with later messages.  It still
	 * answers only once that is durable.
	 */
	bool		 lazy;

	/*
	 * APPEND_RESP.  On success, match_index is the last index the follower
	 * now holds durably from this message.  On reject, prev_index echoes
	 * the rejected prev_index, and hint_index/hint_term tell the leader
	 * where to back up to: hint_term is the follower's term at the
	 * conflict (0 when its log is too short) and hint_index the first
	 * index the follower has of that term (or its last index + 1).
	 */
	raft_index_t	 match_index;
	raft_index_t	 hint_index;
	raft_term_t	 hint_term;

	/*
	 * SNAPSHOT: the snapshot's last included index and term.  snap_cluster
	 * is the configuration as of snap_index: required (borrowed) in a
	 * message given to raft_step(), NULL in messages the core emits (the
	 * caller's snapshot file carries it).
	 */
	raft_index_t	 snap_index;
	raft_term_t	 snap_term;
	const struct raft_cluster *snap_cluster;
};

/* ------------------------------------------------------------------ */
/* Configuration of one core.                                          */

enum raft_trace_level {
	RAFT_TRACE_DEBUG = 0,
	RAFT_TRACE_INFO,
	RAFT_TRACE_WARN,
};

/*
 * A trace callback.  what is a constant string naming the event; a and b
 * are event-specific numbers (documented at each call site in raft.c).
 * The core never formats text: the caller does.
 */
typedef void raft_trace_fn(void *ctx, enum raft_trace_level level,
    const char *what, uint64_t a, uint64_t b);

struct raft_config {
	raft_id_t	 id;		/* this node, nonzero */
	uint64_t	 cluster_id;	/* nonzero; checked on every message */

	unsigned	 election_ticks;	/* minimum election timeout */
	unsigned	 heartbeat_ticks;	/* < election_ticks */

	uint32_t	 max_msg_entries;	/* entries per APPEND */
	uint32_t	 max_msg_bytes;		/* payload bytes per APPEND */
	uint32_t	 max_inflight;		/* APPENDs in flight per peer */
	uint32_t	 max_pending_reads;	/* bound on queued ReadIndex */

	bool		 prevote;		/* default true */
	bool		 check_quorum;		/* default true */

	/*
	 * As leader, mark the followers beyond those a commit needs as
	 * spares (default false): APPENDs to them carry lazy.  The followers
	 * that commits wait on are the healthy voters (replicating, sent
	 * everything committed, not receiving a snapshot, heard from within
	 * two heartbeat intervals) with the lowest ids; a spare takes over
	 * when one of them stops being healthy.  Until then, a spare's
	 * deferred answers bound how long a commit can wait.
	 */
	bool		 lazy_spares;

	/*
	 * Randomness for election timeouts: returns a uniformly random 64-bit
	 * value.  Required.  The simulator seeds it; the daemon reads
	 * /dev/urandom.
	 */
	uint64_t	(*rand)(void *ctx);
	void		*rand_ctx;

	raft_trace_fn	*trace;		/* optional */
	void		*trace_ctx;
};

/* Fills *cfg with defaults; the caller then sets id, cluster_id, rand. */
void	 raft_config_defaults(struct raft_config *cfg);

/* ------------------------------------------------------------------ */
/* Durable state the caller restores a core from.                      */

struct raft_hard_state {
	raft_term_t	 term;
	raft_id_t	 vote;
	raft_index_t	 commit;	/* lazily persisted: a lower bound */
};

/*
 * What a core is restored from.  entries are contiguous, starting at
 * snapshot_index + 1 (or 1); the core copies them.  The latest configuration
 * is found in the entries or, failing that, in snapshot_cluster.
 */
struct raft_restore {
	struct raft_hard_state	 hs;
	raft_index_t		 snapshot_index;
	raft_term_t		 snapshot_term;
	const struct raft_cluster *snapshot_cluster;	/* NULL if none */
	const struct raft_entry	*entries;
	size_t			 n_entries;
};

struct raft;	/* opaque */

/*
 * Creates a core from cfg (copied) and durable state rs (copied).  Returns
 * 0 and sets *out, or a negative error: -RAFT_EINVAL for a bad config,
 * -RAFT_ECORRUPT for inconsistent durable state, -RAFT_ENOMEM.
 * The caller owns *out and frees it with raft_free().
 */
int	 raft_new(const struct raft_config *cfg, const struct raft_restore *rs,
	    struct raft **out);
void	 raft_free(struct raft *r);

/*
 * Writes the initial configuration entry of a new cluster into *entry, at
 * index 1 and term 1, with data pointing into buf (caller-owned, capacity
 * cap).  Every member of a new cluster calls this with the same member list,
 * persists the entry, and restores a core from {term 1, commit 1, entry}.
 * Returns 0 or a negative error.
 */
int	 raft_bootstrap_entry(const struct raft_cluster *cluster, uint8_t *buf,
	    size_t cap, struct raft_entry *entry);

/* ------------------------------------------------------------------ */
/* Input.                                                              */

/* Advances logical time by one tick. */
void	 raft_tick(struct raft *r);

/*
 * Feeds a message received from a peer.  m is borrowed; entries are copied.
 * A malformed, foreign or misaddressed message is dropped, traced, and
 * -RAFT_EINVAL is returned; the core's state is unchanged by it.
 */
int	 raft_step(struct raft *r, const struct raft_msg *m);

/*
 * Proposes an entry (data copied).  On success stores the index and term it
 * was appended at; the proposal is committed iff the entry applied at that
 * index has that term.  Returns -RAFT_ENOTLEADER, -RAFT_ETOOBIG, -RAFT_ENOMEM.
 */
int	 raft_propose(struct raft *r, enum raft_entry_type type,
	    const uint8_t *data, uint32_t len, raft_index_t *index,
	    raft_term_t *term);

/*
 * Asks for a linearizable read point.  ctx is opaque to the core and comes
 * back in a struct raft_read once leadership has been confirmed by a quorum
 * after this call (or once the read has failed).  Returns -RAFT_ENOTLEADER
 * or -RAFT_EBUSY (max_pending_reads reached).
 */
int	 raft_read_index(struct raft *r, uint64_t ctx);

/* ------------------------------------------------------------------ */
/* Output: the Ready batch.                                            */

struct raft_read {
	uint64_t	 ctx;
	raft_index_t	 index;		/* serve once applied >= index */
	bool		 ok;		/* false: leadership lost, retry */
};

/*
 * A batch of work for the caller.  Everything is owned by the core and
 * valid until raft_advance().  The caller must, in this order of
 * guarantees (see docs/raft-core.md):
 *   1. start persisting hs (when hs_changed) and entries;
 *   2. send msgs at once (they never depend on this batch being durable);
 *   3. send msgs_after_persist only once this batch's hard state and
 *      entries -- and every earlier batch's -- are durable;
 *   4. apply committed, in order (always already durable locally);
 *   5. answer reads;
 *   6. call raft_advance(), and later raft_persisted() when the write
 *      completes.
 * entries[0].index may be <= an index already persisted: the log must then
 * be truncated from entries[0].index before appending.
 */
struct raft_ready {
	bool			 hs_changed;	/* term or vote changed */
	bool			 commit_changed; /* only commit changed */
	struct raft_hard_state	 hs;

	const struct raft_entry	*entries;
	size_t			 n_entries;

	struct raft_msg		*msgs;
	size_t			 n_msgs;
	struct raft_msg		*msgs_after_persist;
	size_t			 n_msgs_after_persist;

	const struct raft_entry	*committed;
	size_t			 n_committed;

	const struct raft_read	*reads;
	size_t			 n_reads;

	/*
	 * Nothing waits promptly on this batch's durability: a follower's
	 * batch that only lazy APPENDs produced (no term or vote change, no
	 * snapshot install).  The caller may hold its sync back, up to a
	 * bound it chooses, to share it with later batches.  A later batch
	 * without lazy_sync, or msgs_after_persist held on a deferred
	 * batch, ends the wait.
	 */
	bool			 lazy_sync;

	/*
	 * A snapshot received from the leader is to be installed: the file
	 * stepped in as a RAFT_MSG_SNAPSHOT with this snapshot_index and
	 * snapshot_term.  That is usually the last one stepped in, but not
	 * always (a later one may have been older than the commit, or of a
	 * stale term, and was answered without an install), so the caller
	 * keeps each received file until a Ready names it or a newer one.
	 * Before persisting this batch's entries (which all follow it), the
	 * caller must durably, in one step as far as a crash can tell: make
	 * the received file the latest snapshot; discard the whole log
	 * (entries <= snapshot_index are covered; the core has already
	 * dropped every later one it had, since they could not be trusted);
	 * and replace the state machine with the image (now, in memory).
	 * Writes complete in order, so the usual raft_persisted() for this
	 * batch (or raft_persisted(snapshot_index, snapshot_term) when it has
	 * no entries) reports it.  Until then nothing above snapshot_index is
	 * handed out in committed, the reply to the leader waits in
	 * msgs_after_persist, and raft_persisted() for older writes is
	 * ignored.
	 */
	bool			 install_snapshot;
	raft_index_t		 snapshot_index;
	raft_term_t		 snapshot_term;
};

/* True if raft_ready() would return a non-empty batch. */
bool	 raft_has_ready(struct raft *r);

/*
 * Collects the pending batch into *rd (caller-owned struct, core-owned
 * contents).  Returns 0 or -RAFT_ENOMEM.  Must be followed by
 * raft_advance() before the next raft_ready().
 */
int	 raft_ready(struct raft *r, struct raft_ready *rd);

/* Acknowledges that every part of rd was taken; frees its buffers. */
void	 raft_advance(struct raft *r, struct raft_ready *rd);

/*
 * Reports that log entries up to index (at term) and the hard state handed
 * out with them are durable.  Stale reports (the entry was since truncated
 * or overwritten) are ignored.
 */
void	 raft_persisted(struct raft *r, raft_index_t index, raft_term_t term);

/* ------------------------------------------------------------------ */
/* Snapshots and compaction.                                           */

/*
 * Reports that a local snapshot of the state machine through snap_index
 * (<= the applied index; snap_term must be the term of that entry) is
 * durable: call it only once the snapshot file is on disk.  The core
 * records it as the snapshot to send to peers that need entries it no
 * longer holds, and drops in-memory entries up to snap_index - keep (the
 * trailing keep entries stay so that slightly lagging followers still
 * catch up from the log).  A snapshot no newer than the one recorded
 * (taken before an install overtook it, say) is ignored and returns 0.
 * Returns 0 or -RAFT_EINVAL (snap_index above applied, or its term does
 * not match).  The caller may then delete from storage the entries up to
 * min(raft_get_status().first_index - 1, snap_index): never more than its
 * own durable snapshot covers, since first_index may already reflect an
 * install that is not yet durable.
 */
int	 raft_compact(struct raft *r, raft_index_t snap_index,
	    raft_term_t snap_term, raft_index_t keep);

/*
 * The caller's transfer of a snapshot to peer (started for a
 * RAFT_MSG_SNAPSHOT the core emitted) ended.  ok = false: it failed or was
 * abandoned, and the peer goes back to probing (a new RAFT_MSG_SNAPSHOT is
 * emitted when it next answers, at most once per heartbeat interval).
 * ok = true: the file was delivered; the peer stays paused until its
 * APPEND_RESP arrives (if none comes within about two election timeouts,
 * the peer lost it and the core probes it again).  The caller must report
 * every transfer it started, exactly once: until then the peer gets
 * heartbeats but no entries.  Ignored when the core is not the leader or
 * the peer is not waiting for a snapshot.
 */
void	 raft_report_snapshot(struct raft *r, raft_id_t peer, bool ok);

/*
 * Fills *out with the configuration in effect at index (the last CONFIG
 * entry at or before it, or the snapshot's).  index must be at least the
 * recorded snapshot index and at most the last index.  Returns 0 or
 * -RAFT_EINVAL.
 */
int	 raft_cluster_at(const struct raft *r, raft_index_t index,
	    struct raft_cluster *out);

/* ------------------------------------------------------------------ */
/* Introspection (for status, tests and the simulator).                */

struct raft_status {
	raft_id_t	 id;
	enum raft_role	 role;
	raft_term_t	 term;
	raft_id_t	 vote;
	raft_id_t	 leader;
	raft_index_t	 commit;
	raft_index_t	 applied;	/* handed out for application */
	raft_index_t	 persisted;	/* durable per raft_persisted() */
	raft_index_t	 first_index;
	raft_index_t	 last_index;
	raft_term_t	 last_term;
	raft_index_t	 snapshot_index;	/* latest recorded snapshot */
	raft_term_t	 snapshot_term;
	raft_index_t	 config_index;
	size_t		 pending_reads;
	uint64_t	 read_rounds;	/* heartbeat rounds sent for reads */
	uint64_t	 reads_confirmed; /* reads made ready by a quorum */
};

void	 raft_get_status(const struct raft *r, struct raft_status *st);

struct raft_peer_status {
	raft_id_t	 id;
	raft_index_t	 match;
	raft_index_t	 next;
	bool		 replicating;	/* false: probing */
	bool		 snapshotting;	/* waiting for a snapshot transfer */
	raft_index_t	 pending_snapshot;	/* its index, when snapshotting */
	uint32_t	 inflight;
	unsigned	 ticks_since_heard;
	bool		 spare;		/* its APPENDs carry lazy */
};

/*
 * Fills up to cap peer records (leader only).  Returns how many were
 * filled; 0 on a non-leader.
 */
size_t	 raft_get_peers(const struct raft *r, struct raft_peer_status *out,
	    size_t cap);

/* The latest configuration in the log (borrowed, valid until next input). */
const struct raft_cluster *raft_get_cluster(const struct raft *r);

/*
 * Looks up the entry at index.  Returns true and fills *e (data borrowed,
 * valid until the next input call) if it is in the in-memory log.
 */
bool	 raft_get_entry(const struct raft *r, raft_index_t index,
	    struct raft_entry *e);

/* Term of the entry at index, or 0 if unknown/compacted. */
raft_term_t raft_term_at(const struct raft *r, raft_index_t index);

#endif /* RAFTKV_RAFT_H */
