/*
 * raft.c -- the pure Raft core.
 *
 * Implements the Raft paper's Figure 2 plus the dissertation's PreVote
 * (§9.6), leader stickiness and CheckQuorum (§4.2.3, §6.2), ReadIndex
 * (§6.4), the leader writing its log in parallel with replication
 * (§10.2.1), and log compaction with InstallSnapshot (§5 of the dissertation,
 * chapter 5).  No I/O, no clock, no randomness of its own: see raft.h.
 *
 * Memory: the core owns its in-memory log (one allocation per entry's
 * data) and the buffers of the pending Ready batch.  The rule that makes
 * the Ready pointers safe is that no input function is called between
 * raft_ready() and raft_advance(); message entries are deep-copied into
 * per-message allocations, so later truncation never dangles them.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"

/* One follower's replication state, as the leader sees it. */
struct progress {
	raft_id_t	 id;
	bool		 voter;
	raft_index_t	 match;		/* highest index known durable there */
	raft_index_t	 next;		/* next index to send */
	bool		 replicating;	/* false: probing one message at a time */
	bool		 probe_sent;	/* probing: a message is outstanding */
	uint32_t	 inflight;	/* APPENDs with entries in flight */
	uint32_t	 inflight_head;
	raft_index_t	*inflight_last;	/* ring of each message's last index */
	unsigned	 stalled_beats;	/* heartbeats sent with no progress */
	bool		 snapshotting;	/* paused: a snapshot is on its way */
	raft_index_t	 pending_snapshot; /* its index, while snapshotting */
	bool		 snapshot_delivered; /* the caller reported it arrived */
	unsigned	 snapshot_beats;	/* heartbeats since it arrived */
	bool		 snapshot_recent; /* one sent in this heartbeat interval */
	bool		 recent_active;	/* heard from within this quorum period */
	unsigned	 ticks_since_heard;
	uint64_t	 acked_seq;	/* highest read round it confirmed */
	bool		 vote_granted;
	bool		 vote_answered;
};

struct pending_read {
	uint64_t	 ctx;
	raft_index_t	 index;
	uint64_t	 seq;		/* confirmation round it needs */
};

/* Where a snapshot received from the leader stands on its way to disk. */
enum install_state {
	INSTALL_NONE = 0,
	INSTALL_PENDING,	/* not yet handed out in a Ready */
	INSTALL_HANDED,		/* handed out, not yet reported durable */
};

/* A growable array of messages for one Ready destination. */
struct msg_buf {
	struct raft_msg	*v;
	size_t		 n, cap;
};

struct raft {
	struct raft_config	 cfg;

	/* Persistent state (Figure 2) and what we know of it. */
	raft_term_t		 term;
	raft_id_t		 vote;
	raft_index_t		 commit;
	bool			 hs_dirty;
	bool			 commit_dirty;
	/*
	 * Since the last Ready, something other than a lazy APPEND came in:
	 * the next batch is not lazy_sync.
	 */
	bool			 sync_urgent;

	/*
	 * The in-memory log: ents[i] has index log_offset + i.  It may start
	 * before the snapshot (the entries compaction kept for lagging
	 * followers): log_offset - 1 <= snapshot_index <= applied.
	 */
	struct raft_entry	*ents;
	size_t			 n_ents, cap_ents;
	raft_index_t		 log_offset;	/* first in-memory index */
	raft_term_t		 offset_term;	/* term of log_offset - 1 */
	raft_index_t		 unstable_from;	/* first index not handed out */
	raft_index_t		 persisted;	/* durable per raft_persisted() */
	raft_index_t		 applied;	/* handed out for application */

	/* The latest durable snapshot (raft_compact(), restore, install). */
	raft_index_t		 snapshot_index;
	raft_term_t		 snapshot_term;
	struct raft_cluster	 snapshot_cluster;	/* as of snapshot_index */
	bool			 has_snapshot_cluster;
	enum install_state	 install;

	/* The latest configuration in the log. */
	struct raft_cluster	 cluster;
	raft_index_t		 config_index;

	/* Volatile role state. */
	enum raft_role		 role;
	raft_id_t		 leader;
	unsigned		 election_elapsed;
	unsigned		 heartbeat_elapsed;
	unsigned		 randomized_timeout;

	/* Leader state. */
	struct progress		*peers;		/* every member but us */
	size_t			 n_peers;
	bool			 committed_in_term;
	bool			 bcast_wanted;	/* new entries to replicate */

	/* ReadIndex. */
	struct pending_read	*reads;
	size_t			 n_reads, cap_reads;
	uint64_t		 read_seq;	/* current confirmation round */
	bool			 seq_stamped;	/* a message carried read_seq */
	uint64_t		 bcast_seq;	/* last round sent to everyone */
	uint64_t		 read_rounds;	/* rounds broadcast for reads */
	uint64_t		 reads_confirmed;

	/* The pending Ready batch. */
	struct msg_buf		 out;
	struct msg_buf		 out_after;
	struct raft_read	*ready_reads;
	size_t			 n_ready_reads, cap_ready_reads;
	raft_index_t		 handed_entries_to;	/* set by raft_ready */
};

/* ------------------------------------------------------------------ */
/* Small helpers.                                                      */

static const char *const role_names[] = {
	[RAFT_FOLLOWER] = "follower",
	[RAFT_PRECANDIDATE] = "pre-candidate",
	[RAFT_CANDIDATE] = "candidate",
	[RAFT_LEADER] = "leader",
};

const char *
raft_role_name(enum raft_role role)
{
	if ((unsigned)role > RAFT_LEADER)
		return "?";
	return role_names[role];
}

static const char *const msg_type_names[] = {
	[RAFT_MSG_PREVOTE] = "pre_vote",
	[RAFT_MSG_PREVOTE_RESP] = "pre_vote_resp",
	[RAFT_MSG_VOTE] = "request_vote",
	[RAFT_MSG_VOTE_RESP] = "request_vote_resp",
	[RAFT_MSG_APPEND] = "append_entries",
	[RAFT_MSG_APPEND_RESP] = "append_entries_resp",
	[RAFT_MSG_SNAPSHOT] = "install_snapshot",
};

const char *
raft_msg_type_name(int type)
{
	if (type < RAFT_MSG_PREVOTE || type > RAFT_MSG_TYPE_MAX)
		return "unknown";
	return msg_type_names[type];
}

const char *
raft_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case RAFT_OK:
		return "success";
	case RAFT_ENOMEM:
		return "out of memory";
	case RAFT_ENOTLEADER:
		return "not the leader";
	case RAFT_EINVAL:
		return "invalid argument or message";
	case RAFT_EBUSY:
		return "too many pending requests";
	case RAFT_ECORRUPT:
		return "inconsistent durable state";
	case RAFT_ETOOBIG:
		return "entry too large";
	}
	return "unknown error";
}

/* Emits a trace line through the caller's callback, if any. */
static void
trace(const struct raft *r, enum raft_trace_level level, const char *what,
    uint64_t a, uint64_t b)
{
	if (r->cfg.trace != NULL)
		r->cfg.trace(r->cfg.trace_ctx, level, what, a, b);
}

void
raft_config_defaults(struct raft_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->election_ticks = 10;
	cfg->heartbeat_ticks = 1;
	cfg->max_msg_entries = 256;
	cfg->max_msg_bytes = 1024 * 1024;
	cfg->max_inflight = 4;
	cfg->max_pending_reads = 4096;
	cfg->prevote = true;
	cfg->check_quorum = true;
}

/* ------------------------------------------------------------------ */
/* The in-memory log.                                                  */

static raft_index_t
last_index(const struct raft *r)
{
	return r->log_offset + r->n_ents - 1;
}

static raft_term_t
last_term(const struct raft *r)
{
	return r->n_ents > 0 ? r->ents[r->n_ents - 1].term : r->offset_term;
}

/* The entry at index, or NULL when it is compacted or beyond the end. */
static struct raft_entry *
entry_at(const struct raft *r, raft_index_t index)
{
	if (index < r->log_offset || index > last_index(r))
		return NULL;
	return &r->ents[index - r->log_offset];
}

raft_term_t
raft_term_at(const struct raft *r, raft_index_t index)
{
	const struct raft_entry *e;

	if (index + 1 == r->log_offset)
		return r->offset_term;
	e = entry_at(r, index);
	return e != NULL ? e->term : 0;
}

bool
raft_get_entry(const struct raft *r, raft_index_t index, struct raft_entry *e)
{
	const struct raft_entry *found = entry_at(r, index);

	if (found == NULL)
		return false;
	*e = *found;
	return true;
}

/* True if the log holds an entry at index with this term. */
static bool
log_matches(const struct raft *r, raft_index_t index, raft_term_t term)
{
	if (index == 0)
		return term == 0;
	if (index + 1 < r->log_offset)
		return true;	/* compacted entries are committed: they match */
	return raft_term_at(r, index) == term;
}

/*
 * Finds the configuration in effect at index (>= snapshot_index): the last
 * decodable CONFIG entry at or before it, else the snapshot's.  Fills *out
 * and *at (the entry's index, or the snapshot's) and returns true, or
 * returns false when neither exists.
 */
static bool
config_at(const struct raft *r, raft_index_t index, struct raft_cluster *out,
    raft_index_t *at)
{
	size_t	 i;

	assert(index >= r->snapshot_index);
	if (index > last_index(r))
		index = last_index(r);
	for (i = index + 1 - r->log_offset; i > 0; i--) {
		const struct raft_entry *e = &r->ents[i - 1];

		if (e->type == RAFT_ENTRY_CONFIG &&
		    raft_cluster_decode(e->data, e->len, out) == 0) {
			*at = e->index;
			return true;
		}
	}
	/*
	 * No configuration in [log_offset, index]: the one in effect is the
	 * one before log_offset, which is the snapshot's, since index is at
	 * or beyond the snapshot.
	 */
	if (!r->has_snapshot_cluster)
		return false;
	*out = r->snapshot_cluster;
	*at = r->snapshot_index;
	return true;
}

int
raft_cluster_at(const struct raft *r, raft_index_t index,
    struct raft_cluster *out)
{
	raft_index_t at;

	if (index < r->snapshot_index || index > last_index(r) ||
	    !config_at(r, index, out, &at))
		return -RAFT_EINVAL;
	return 0;
}

/* Re-reads the latest configuration from the log, or the snapshot's. */
static void
load_latest_config(struct raft *r)
{
	if (!config_at(r, last_index(r), &r->cluster, &r->config_index)) {
		memset(&r->cluster, 0, sizeof(r->cluster));
		r->config_index = r->snapshot_index;
	}
}

/*
 * Appends a copy of e (which must follow the last index) to the log.
 * Returns 0 or -RAFT_ENOMEM.
 */
static int
log_append(struct raft *r, const struct raft_entry *e)
{
	struct raft_entry *n;
	uint8_t		*data = NULL;

	assert(e->index == last_index(r) + 1);
	assert(e->term >= last_term(r));
	if (r->n_ents == r->cap_ents) {
		size_t cap = r->cap_ents ? r->cap_ents * 2 : 64;

		n = realloc(r->ents, cap * sizeof(*n));
		if (n == NULL)
			return -RAFT_ENOMEM;
		r->ents = n;
		r->cap_ents = cap;
	}
	if (e->len > 0) {
		if ((data = malloc(e->len)) == NULL)
			return -RAFT_ENOMEM;
		memcpy(data, e->data, e->len);
	}
	n = &r->ents[r->n_ents++];
	*n = *e;
	n->data = data;
	if (e->type == RAFT_ENTRY_CONFIG) {
		struct raft_cluster c;

		if (raft_cluster_decode(data, e->len, &c) == 0) {
			r->cluster = c;
			r->config_index = e->index;
		} else
			trace(r, RAFT_TRACE_WARN, "undecodable config entry",
			    e->index, e->term);
	}
	return 0;
}

/* Drops every entry from index on; they were never committed. */
static void
log_truncate_from(struct raft *r, raft_index_t index)
{
	assert(index > r->commit);
	assert(index >= r->log_offset);
	trace(r, RAFT_TRACE_INFO, "truncating log from index", index,
	    last_index(r));
	while (r->n_ents > 0 && last_index(r) >= index) {
		free((void *)r->ents[r->n_ents - 1].data);
		r->n_ents--;
	}
	if (r->unstable_from > index)
		r->unstable_from = index;
	if (r->persisted >= index)
		r->persisted = index - 1;
	if (r->config_index >= index)
		load_latest_config(r);
}

/* ------------------------------------------------------------------ */
/* Membership queries.                                                 */

static bool
self_is_voter(const struct raft *r)
{
	const struct raft_member *m = raft_cluster_find(&r->cluster, r->cfg.id);

	return m != NULL && m->voter;
}

static uint32_t
quorum(const struct raft *r)
{
	return raft_cluster_voters(&r->cluster) / 2 + 1;
}

static struct progress *
find_peer(struct raft *r, raft_id_t id)
{
	size_t	 i;

	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].id == id)
			return &r->peers[i];
	return NULL;
}

static void
free_peers(struct raft *r)
{
	size_t	 i;

	for (i = 0; i < r->n_peers; i++)
		free(r->peers[i].inflight_last);
	free(r->peers);
	r->peers = NULL;
	r->n_peers = 0;
}

/* Builds one progress record per other member.  Returns 0 or -ENOMEM. */
static int
reset_peers(struct raft *r)
{
	uint32_t i;
	size_t	 n = 0;

	free_peers(r);
	if (r->cluster.n == 0)
		return 0;
	r->peers = calloc(r->cluster.n, sizeof(*r->peers));
	if (r->peers == NULL)
		return -RAFT_ENOMEM;
	for (i = 0; i < r->cluster.n; i++) {
		const struct raft_member *m = &r->cluster.members[i];
		struct progress *p;

		if (m->id == r->cfg.id)
			continue;
		p = &r->peers[n];
		p->inflight_last = calloc(r->cfg.max_inflight,
		    sizeof(*p->inflight_last));
		if (p->inflight_last == NULL) {
			r->n_peers = n;
			free_peers(r);
			return -RAFT_ENOMEM;
		}
		p->id = m->id;
		p->voter = m->voter;
		p->next = last_index(r) + 1;
		n++;
	}
	r->n_peers = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Outgoing messages.                                                  */

static void
free_msg_entries(struct raft_msg *m)
{
	/* Entries and their data share one allocation. */
	free(m->entries);
	m->entries = NULL;
	m->n_entries = 0;
}

/*
 * Queues m (whose entries allocation it steals) for sending.  after_persist
 * selects the queue whose messages wait for this batch to be durable.
 */
static int
send_msg(struct raft *r, struct raft_msg *m, bool after_persist)
{
	struct msg_buf	*b = after_persist ? &r->out_after : &r->out;

	m->cluster_id = r->cfg.cluster_id;
	m->from = r->cfg.id;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct raft_msg *v = realloc(b->v, cap * sizeof(*v));

		if (v == NULL) {
			/* A lost message is a lost packet: Raft recovers. */
			free_msg_entries(m);
			trace(r, RAFT_TRACE_WARN, "out of memory: message dropped",
			    m->type, m->to);
			return -RAFT_ENOMEM;
		}
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *m;
	return 0;
}

/* Responses and votes always wait until this batch is durable. */
static void
respond(struct raft *r, struct raft_msg *m)
{
	(void)send_msg(r, m, true);
}

/*
 * Deep-copies entries [from, from + n) into one allocation for a message.
 * Returns NULL on allocation failure.
 */
static struct raft_entry *
copy_entries(const struct raft *r, raft_index_t from, uint32_t n)
{
	size_t		 bytes = 0, i;
	struct raft_entry *v;
	uint8_t		*data;

	for (i = 0; i < n; i++)
		bytes += entry_at(r, from + i)->len;
	v = malloc(n * sizeof(*v) + bytes);
	if (v == NULL)
		return NULL;
	data = (uint8_t *)(v + n);
	for (i = 0; i < n; i++) {
		const struct raft_entry *e = entry_at(r, from + i);

		v[i] = *e;
		if (e->len > 0) {
			memcpy(data, e->data, e->len);
			v[i].data = data;
			data += e->len;
		} else
			v[i].data = NULL;
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* Role changes: the one place role is assigned.                       */

static void
reset_election_timer(struct raft *r)
{
	r->election_elapsed = 0;
	r->randomized_timeout = r->cfg.election_ticks +
	    (unsigned)(r->cfg.rand(r->cfg.rand_ctx) % r->cfg.election_ticks);
}

/* Fails every pending read: leadership is gone. */
static void fail_reads(struct raft *r);

static void
set_role(struct raft *r, enum raft_role role)
{
	/* Legal transitions (Figure 4 plus PreVote). */
	switch (role) {
	case RAFT_FOLLOWER:
		break;
	case RAFT_PRECANDIDATE:
	case RAFT_CANDIDATE:
		assert(r->role != RAFT_LEADER);
		break;
	case RAFT_LEADER:
		assert(r->role == RAFT_CANDIDATE);
		break;
	}
	if (r->role != role)
		trace(r, RAFT_TRACE_INFO, role_names[role], r->term, r->leader);
	if (r->role == RAFT_LEADER && role != RAFT_LEADER) {
		fail_reads(r);
		free_peers(r);
	}
	r->role = role;
}

/* Raises the term (when higher), clearing the vote. */
static void
set_term(struct raft *r, raft_term_t term)
{
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
		r->hs_dirty = true;
	}
}

static void
become_follower(struct raft *r, raft_term_t term, raft_id_t leader)
{
	set_term(r, term);
	set_role(r, RAFT_FOLLOWER);
	r->leader = leader;
	reset_election_timer(r);
}

static void send_heartbeats(struct raft *r, bool periodic);
static void send_append(struct raft *r, struct progress *p);

static void
become_leader(struct raft *r)
{
	struct raft_entry noop;

	set_role(r, RAFT_LEADER);
	r->leader = r->cfg.id;
	r->heartbeat_elapsed = 0;
	r->election_elapsed = 0;
	r->committed_in_term = false;
	r->read_seq = 0;
	r->bcast_seq = 0;
	r->seq_stamped = false;
	if (reset_peers(r) != 0) {
		/* Without progress records we cannot lead. */
		trace(r, RAFT_TRACE_WARN, "out of memory: stepping down",
		    r->term, 0);
		become_follower(r, r->term, 0);
		return;
	}
	/* A no-op of our own term lets us commit earlier entries (§5.4.2). */
	memset(&noop, 0, sizeof(noop));
	noop.term = r->term;
	noop.index = last_index(r) + 1;
	noop.type = RAFT_ENTRY_NOOP;
	if (log_append(r, &noop) != 0) {
		trace(r, RAFT_TRACE_WARN, "out of memory: stepping down",
		    r->term, 0);
		become_follower(r, r->term, 0);
		return;
	}
	r->bcast_wanted = true;
}

/* Starts an election at term + 1 after the (optional) pre-vote. */
static void
campaign(struct raft *r, bool pre)
{
	struct raft_msg	 m;
	size_t		 i;

	if (pre) {
		set_role(r, RAFT_PRECANDIDATE);
	} else {
		set_term(r, r->term + 1);
		r->vote = r->cfg.id;
		r->hs_dirty = true;
		set_role(r, RAFT_CANDIDATE);
	}
	r->leader = 0;
	reset_election_timer(r);
	if (quorum(r) == 1) {
		if (pre) {
			campaign(r, false);
			return;
		}
		become_leader(r);
		return;
	}
	if (reset_peers(r) != 0)
		return;		/* the election timer will retry */
	for (i = 0; i < r->n_peers; i++) {
		if (!r->peers[i].voter)
			continue;
		memset(&m, 0, sizeof(m));
		m.type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE;
		m.to = r->peers[i].id;
		m.term = pre ? r->term + 1 : r->term;
		m.last_log_index = last_index(r);
		m.last_log_term = last_term(r);
		/*
		 * A vote request carries our new term and vote, so it waits
		 * for them to be durable; a pre-vote changes nothing durable
		 * but is queued the same way to keep ordering simple.
		 */
		respond(r, &m);
	}
}

/* Counts a vote or pre-vote answer; returns granted and rejected totals. */
static void
tally(struct raft *r, uint32_t *granted, uint32_t *rejected)
{
	size_t	 i;

	*granted = 1;	/* ourselves */
	*rejected = 0;
	for (i = 0; i < r->n_peers; i++) {
		if (!r->peers[i].voter || !r->peers[i].vote_answered)
			continue;
		if (r->peers[i].vote_granted)
			(*granted)++;
		else
			(*rejected)++;
	}
}

/* ------------------------------------------------------------------ */
/* Replication (leader).                                               */

static void
inflight_push(struct raft *r, struct progress *p, raft_index_t last)
{
	uint32_t slot = (p->inflight_head + p->inflight) % r->cfg.max_inflight;

	assert(p->inflight < r->cfg.max_inflight);
	p->inflight_last[slot] = last;
	p->inflight++;
}

static void
inflight_free_to(struct raft *r, struct progress *p, raft_index_t match)
{
	while (p->inflight > 0 && p->inflight_last[p->inflight_head] <= match) {
		p->inflight_head = (p->inflight_head + 1) % r->cfg.max_inflight;
		p->inflight--;
	}
}

static void
become_probe(struct progress *p)
{
	p->snapshotting = false;
	p->pending_snapshot = 0;
	p->snapshot_delivered = false;
	p->snapshot_beats = 0;
	p->replicating = false;
	p->probe_sent = false;
	p->inflight = 0;
	p->inflight_head = 0;
	p->stalled_beats = 0;
	p->next = p->match + 1;
}

/*
 * Stamps m with the current read round.  A read that arrives after this
 * must wait for a later round, so that only messages sent after a read
 * arrived can confirm it.
 */
static void
stamp_seq(struct raft *r, struct raft_msg *m)
{
	m->seq = r->read_seq;
	r->seq_stamped = true;
}

/*
 * p needs entries compacted away: sends our snapshot (metadata only; the
 * caller transfers the file) and pauses p until the transfer ends.  At most
 * one snapshot per peer is outstanding, and at most one is started per
 * heartbeat interval, so a failing transfer is not retried in a tight loop.
 */
static void
send_snapshot(struct raft *r, struct progress *p)
{
	struct raft_msg	 m;

	if (p->snapshotting || p->snapshot_recent)
		return;
	if (r->install != INSTALL_NONE) {
		/* Our own snapshot is not durable yet: nothing to send. */
		trace(r, RAFT_TRACE_DEBUG, "snapshot deferred: install pending",
		    p->id, r->snapshot_index);
		return;
	}
	assert(r->snapshot_index > 0 && r->snapshot_index + 1 >= r->log_offset);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_SNAPSHOT;
	m.to = p->id;
	m.term = r->term;
	m.snap_index = r->snapshot_index;
	m.snap_term = r->snapshot_term;
	m.snap_cluster = NULL;
	/* Our term is durable and the snapshot is: it may leave at once. */
	if (send_msg(r, &m, false) != 0)
		return;
	become_probe(p);
	p->snapshotting = true;
	p->pending_snapshot = r->snapshot_index;
	p->snapshot_recent = true;
	trace(r, RAFT_TRACE_INFO, "sending snapshot to peer", p->id,
	    r->snapshot_index);
}

/*
 * Whether the leader can count on p to answer promptly: a voter in the
 * replicating state, sent everything committed (not catching up), not
 * waiting for a snapshot, heard from within two heartbeat intervals.
 */
static bool
peer_healthy(const struct raft *r, const struct progress *p)
{
	return p->voter && p->replicating && !p->snapshotting &&
	    p->next > r->commit &&
	    p->ticks_since_heard <= 2 * r->cfg.heartbeat_ticks;
}

/*
 * Whether p is a spare (cfg.lazy_spares): at least as many healthy voters
 * with lower ids as a commit needs answers from followers.  Commits then
 * never wait on p, and its APPENDs carry lazy.  The choice depends only on
 * ids and health, so it holds still while the cluster does.
 */
static bool
peer_is_spare(const struct raft *r, const struct progress *p)
{
	uint32_t need, ahead = 0;
	size_t	 i;

	if (!r->cfg.lazy_spares || !p->voter)
		return false;
	need = quorum(r) - (self_is_voter(r) ? 1 : 0);
	for (i = 0; i < r->n_peers && ahead < need; i++) {
		const struct progress *q = &r->peers[i];

		if (q != p && q->id < p->id && peer_healthy(r, q))
			ahead++;
	}
	return ahead >= need;
}

/* Sends p the entries it lacks, within flow control.  Leader only. */
static void
send_append(struct raft *r, struct progress *p)
{
	struct raft_msg	 m;
	raft_index_t	 last = last_index(r);
	uint32_t	 n = 0;
	size_t		 bytes = 0;

	if (p->snapshotting)
		return;		/* paused until the snapshot lands */
	if (p->replicating ? p->inflight >= r->cfg.max_inflight : p->probe_sent)
		return;
	if (p->replicating && p->next > last)
		return;
	if (p->next < r->log_offset) {
		send_snapshot(r, p);
		return;
	}
	while (p->next + n <= last && n < r->cfg.max_msg_entries) {
		size_t len = entry_at(r, p->next + n)->len;

		if (n > 0 && bytes + len > r->cfg.max_msg_bytes)
			break;
		bytes += len;
		n++;
	}
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.to = p->id;
	m.term = r->term;
	m.prev_index = p->next - 1;
	m.prev_term = raft_term_at(r, m.prev_index);
	m.commit = r->commit;
	m.lazy = peer_is_spare(r, p);
	stamp_seq(r, &m);
	if (n > 0) {
		m.entries = copy_entries(r, p->next, n);
		if (m.entries == NULL) {
			trace(r, RAFT_TRACE_WARN,
			    "out of memory: append not sent", p->id, n);
			return;
		}
		m.n_entries = n;
	}
	if (send_msg(r, &m, false) != 0)
		return;
	if (p->replicating) {
		p->next += n;
		inflight_push(r, p, p->next - 1);
	} else
		p->probe_sent = true;
}

/* A heartbeat: an empty APPEND at the peer's match, carrying the round. */
static void
send_heartbeat(struct raft *r, struct progress *p)
{
	struct raft_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.to = p->id;
	m.term = r->term;
	/*
	 * At its match, or at the snapshot it is installing, so that the
	 * answer after the install acknowledges it; never below what we can
	 * name the term of.
	 */
	m.prev_index = p->snapshotting && p->pending_snapshot > p->match ?
	    p->pending_snapshot : p->match;
	if (m.prev_index + 1 < r->log_offset)
		m.prev_index = r->log_offset - 1;
	m.prev_term = raft_term_at(r, m.prev_index);
	m.commit = r->commit;
	/* Marked like its APPENDs: a heartbeat must not hurry a spare. */
	m.lazy = peer_is_spare(r, p);
	stamp_seq(r, &m);
	(void)send_msg(r, &m, false);
}

/*
 * Heartbeats to wait, after a snapshot was delivered, for the peer's
 * acknowledgement: two election timeouts' worth.
 */
static unsigned
snapshot_patience(const struct raft *r)
{
	return 2 * r->cfg.election_ticks / r->cfg.heartbeat_ticks + 1;
}

/*
 * Sends every peer a heartbeat.  On the timer (periodic), a peer whose
 * pipeline made no progress over several beats is probed again.
 */
static void
send_heartbeats(struct raft *r, bool periodic)
{
	size_t	 i;

	for (i = 0; i < r->n_peers; i++) {
		struct progress *p = &r->peers[i];

		if (periodic && p->replicating && p->inflight > 0 &&
		    ++p->stalled_beats > 2) {
			/* Everything in flight was lost: probe again. */
			trace(r, RAFT_TRACE_DEBUG, "replication stalled",
			    p->id, p->match);
			become_probe(p);
		}
		if (periodic) {
			p->snapshot_recent = false;
			if (p->snapshotting && p->snapshot_delivered &&
			    ++p->snapshot_beats > snapshot_patience(r)) {
				/*
				 * Delivered, yet never acknowledged: the
				 * peer lost it (a crash before its install
				 * was durable).  Probe, and so resend.
				 */
				trace(r, RAFT_TRACE_INFO,
				    "snapshot unacknowledged, retrying", p->id,
				    p->pending_snapshot);
				become_probe(p);
			}
		}
		send_heartbeat(r, p);
	}
	r->bcast_seq = r->read_seq;
}

static void
bcast_append(struct raft *r)
{
	size_t	 i;

	for (i = 0; i < r->n_peers; i++)
		send_append(r, &r->peers[i]);
	r->bcast_wanted = false;
}

static int
cmp_index_desc(const void *a, const void *b)
{
	raft_index_t x = *(const raft_index_t *)a, y = *(const raft_index_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The highest value that a quorum of voters has reached. */
static uint64_t
quorum_value(const struct raft *r, uint64_t self_value, bool seq)
{
	uint64_t vals[RAFT_MAX_MEMBERS];
	size_t	 n = 0, i;

	if (self_is_voter(r))
		vals[n++] = self_value;
	for (i = 0; i < r->n_peers && n < RAFT_MAX_MEMBERS; i++)
		if (r->peers[i].voter)
			vals[n++] = seq ? r->peers[i].acked_seq :
			    r->peers[i].match;
	if (n < quorum(r))
		return 0;
	qsort(vals, n, sizeof(vals[0]), cmp_index_desc);
	return vals[quorum(r) - 1];
}

static void release_reads(struct raft *r);

/* Advances the commit index to what a quorum holds (Figure 8 rule). */
static void
maybe_commit(struct raft *r)
{
	raft_index_t n = quorum_value(r, r->persisted, false);

	/* Only entries of the current term are committed by counting. */
	if (n <= r->commit || raft_term_at(r, n) != r->term)
		return;
	r->commit = n;
	r->commit_dirty = true;
	if (!r->committed_in_term) {
		r->committed_in_term = true;
		release_reads(r);
	}
}

/* ------------------------------------------------------------------ */
/* ReadIndex.                                                          */

static int
push_ready_read(struct raft *r, uint64_t ctx, raft_index_t index, bool ok)
{
	if (r->n_ready_reads == r->cap_ready_reads) {
		size_t cap = r->cap_ready_reads ? r->cap_ready_reads * 2 : 16;
		struct raft_read *v = realloc(r->ready_reads, cap * sizeof(*v));

		if (v == NULL)
			return -RAFT_ENOMEM;
		r->ready_reads = v;
		r->cap_ready_reads = cap;
	}
	r->ready_reads[r->n_ready_reads].ctx = ctx;
	r->ready_reads[r->n_ready_reads].index = index;
	r->ready_reads[r->n_ready_reads].ok = ok;
	r->n_ready_reads++;
	return 0;
}

static void
fail_reads(struct raft *r)
{
	size_t	 i;

	for (i = 0; i < r->n_reads; i++)
		if (push_ready_read(r, r->reads[i].ctx, 0, false) != 0)
			trace(r, RAFT_TRACE_WARN,
			    "out of memory: failed read lost", r->reads[i].ctx,
			    0);
	r->n_reads = 0;
}

/* The round a read arriving now needs: one sent after it arrived. */
static uint64_t
next_round(struct raft *r)
{
	if (r->seq_stamped || r->read_seq == 0) {
		r->read_seq++;
		r->seq_stamped = false;
	}
	return r->read_seq;
}

/*
 * Gives reads that were waiting for this term's first commit their index
 * and round.
 */
static void
release_reads(struct raft *r)
{
	size_t	 i;

	for (i = 0; i < r->n_reads; i++) {
		if (r->reads[i].seq != 0)
			continue;
		r->reads[i].index = r->commit;
		r->reads[i].seq = quorum(r) == 1 ? 0 : next_round(r);
	}
	if (quorum(r) == 1) {
		for (i = 0; i < r->n_reads; i++)
			(void)push_ready_read(r, r->reads[i].ctx,
			    r->reads[i].index, true);
		r->n_reads = 0;
	}
}

/* Moves reads whose round a quorum confirmed to the Ready batch. */
static void
confirm_reads(struct raft *r)
{
	uint64_t confirmed;
	size_t	 done = 0;

	if (r->n_reads == 0)
		return;
	confirmed = quorum_value(r, UINT64_MAX, true);
	while (done < r->n_reads && r->reads[done].seq != 0 &&
	    r->reads[done].seq <= confirmed) {
		if (push_ready_read(r, r->reads[done].ctx, r->reads[done].index,
		    true) != 0)
			break;
		r->reads_confirmed++;
		done++;
	}
	if (done > 0) {
		memmove(r->reads, r->reads + done,
		    (r->n_reads - done) * sizeof(*r->reads));
		r->n_reads -= done;
	}
}

/* True if a read waits for a round that has not been broadcast yet. */
static bool
read_round_wanted(const struct raft *r)
{
	uint64_t confirmed;

	if (r->role != RAFT_LEADER || r->n_reads == 0 ||
	    r->reads[r->n_reads - 1].seq <= r->bcast_seq)
		return false;
	/* One round in flight at a time, so waiting reads share the next. */
	confirmed = quorum_value(r, UINT64_MAX, true);
	return r->bcast_seq <= confirmed;
}

int
raft_read_index(struct raft *r, uint64_t ctx)
{
	struct pending_read *pr;

	if (r->role != RAFT_LEADER)
		return -RAFT_ENOTLEADER;
	if (r->n_reads >= r->cfg.max_pending_reads)
		return -RAFT_EBUSY;
	if (r->n_reads == r->cap_reads) {
		size_t cap = r->cap_reads ? r->cap_reads * 2 : 16;
		struct pending_read *v = realloc(r->reads, cap * sizeof(*v));

		if (v == NULL)
			return -RAFT_ENOMEM;
		r->reads = v;
		r->cap_reads = cap;
	}
	pr = &r->reads[r->n_reads];
	pr->ctx = ctx;
	pr->index = 0;
	pr->seq = 0;
	if (!r->committed_in_term) {
		/* Wait for our no-op: only then is commit current (§6.4). */
		r->n_reads++;
		return 0;
	}
	if (quorum(r) == 1)
		return push_ready_read(r, ctx, r->commit, true);
	pr->index = r->commit;
	pr->seq = next_round(r);
	r->n_reads++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Message validation.                                                 */

/* Checks what any message must satisfy before it may touch our state. */
static const char *
validate(const struct raft *r, const struct raft_msg *m)
{
	uint32_t i;

	if (m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TYPE_MAX)
		return "unknown message type";
	if (m->cluster_id != r->cfg.cluster_id)
		return "message from a foreign cluster";
	if (m->to != r->cfg.id)
		return "message addressed to another node";
	if (m->from == 0 || m->from == r->cfg.id)
		return "message with a bad sender";
	if (r->cluster.n > 0 && raft_cluster_find(&r->cluster, m->from) == NULL)
		return "message from a non-member";
	if (m->term == 0)
		return "message with term 0";
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		if (m->last_log_term > m->term)
			return "vote request with a log term beyond its term";
		if ((m->last_log_index == 0) != (m->last_log_term == 0))
			return "vote request with an inconsistent last entry";
		break;
	case RAFT_MSG_APPEND:
		if (m->prev_term > m->term ||
		    (m->prev_index == 0) != (m->prev_term == 0))
			return "append with an inconsistent previous entry";
		if (m->n_entries > 0 && m->entries == NULL)
			return "append without its entries";
		for (i = 0; i < m->n_entries; i++) {
			const struct raft_entry *e = &m->entries[i];

			if (e->index != m->prev_index + 1 + i)
				return "append with non-consecutive indices";
			if (e->term > m->term || e->term <
			    (i == 0 ? m->prev_term : m->entries[i - 1].term))
				return "append with out-of-order terms";
			if (e->type < RAFT_ENTRY_NORMAL ||
			    e->type > RAFT_ENTRY_NOOP)
				return "append with an unknown entry type";
			if (e->len > 0 && e->data == NULL)
				return "append entry without data";
		}
		if (m->prev_index + m->n_entries < m->prev_index)
			return "append index overflow";
		break;
	case RAFT_MSG_APPEND_RESP:
		if (!m->reject && m->match_index > last_index(r) &&
		    r->role == RAFT_LEADER && m->term == r->term)
			return "append response beyond our log";
		break;
	case RAFT_MSG_SNAPSHOT:
		if (m->snap_index == 0 || m->snap_index == UINT64_MAX ||
		    m->snap_term == 0 || m->snap_term > m->term)
			return "snapshot with an inconsistent last entry";
		if (m->snap_cluster == NULL)
			return "snapshot without its configuration";
		break;
	default:
		break;
	}
	return NULL;
}

/*
 * Checks a configuration from a peer by encoding it and decoding it back,
 * so that raft_cluster_decode() stays the one judge of what is valid.
 * Returns 0, -RAFT_EINVAL or -RAFT_ENOMEM.
 */
static int
check_cluster(const struct raft_cluster *c)
{
	struct {
		uint8_t			 buf[RAFT_CLUSTER_ENCODED_MAX];
		struct raft_cluster	 decoded;
	} *scratch;
	int	 len, rc = -RAFT_EINVAL;

	if ((scratch = malloc(sizeof(*scratch))) == NULL)
		return -RAFT_ENOMEM;
	len = raft_cluster_encode(c, scratch->buf, sizeof(scratch->buf));
	if (len > 0 && raft_cluster_decode(scratch->buf, (size_t)len,
	    &scratch->decoded) == 0)
		rc = 0;
	free(scratch);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Handlers.                                                           */

/* True if candidate's log is at least as up to date as ours (§5.4.1). */
static bool
log_up_to_date(const struct raft *r, raft_index_t index, raft_term_t term)
{
	return term > last_term(r) ||
	    (term == last_term(r) && index >= last_index(r));
}

/* Leader stickiness: we heard from a live leader recently (§4.2.3). */
static bool
in_lease(const struct raft *r)
{
	return r->cfg.check_quorum && r->leader != 0 &&
	    r->election_elapsed < r->cfg.election_ticks;
}

static void
handle_vote_request(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg	 resp;
	bool		 pre = m->type == RAFT_MSG_PREVOTE;
	bool		 grant;

	if (pre)
		grant = m->term > r->term && !in_lease(r) &&
		    log_up_to_date(r, m->last_log_index, m->last_log_term);
	else
		grant = (r->vote == m->from ||
		    (r->vote == 0 && r->leader == 0)) &&
		    log_up_to_date(r, m->last_log_index, m->last_log_term);
	memset(&resp, 0, sizeof(resp));
	resp.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
	resp.to = m->from;
	/* A granted pre-vote answers in the term the candidate asked for. */
	resp.term = pre && grant ? m->term : r->term;
	resp.reject = !grant;
	if (grant && !pre) {
		r->vote = m->from;
		r->hs_dirty = true;
		reset_election_timer(r);
	}
	trace(r, RAFT_TRACE_DEBUG, grant ? (pre ? "pre-vote granted" :
	    "vote granted") : (pre ? "pre-vote rejected" : "vote rejected"),
	    m->from, m->term);
	respond(r, &resp);
}

static void
handle_vote_response(struct raft *r, const struct raft_msg *m)
{
	bool		 pre = m->type == RAFT_MSG_PREVOTE_RESP;
	struct progress	*p;
	uint32_t	 granted, rejected;

	if (pre ? (r->role != RAFT_PRECANDIDATE || m->term != r->term + 1) :
	    (r->role != RAFT_CANDIDATE || m->term != r->term))
		return;		/* a stale answer */
	if (pre && m->reject)
		return;		/* a rejection at a higher term made us follow */
	if ((p = find_peer(r, m->from)) == NULL || !p->voter ||
	    p->vote_answered)
		return;
	p->vote_answered = true;
	p->vote_granted = !m->reject;
	tally(r, &granted, &rejected);
	if (granted >= quorum(r)) {
		if (pre)
			campaign(r, false);
		else
			become_leader(r);
	} else if (rejected >= quorum(r))
		become_follower(r, r->term, 0);
}

/* Answers an APPEND with a rejection and a hint for fast backtracking. */
static void
reject_append(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg	 resp;
	raft_index_t	 i;

	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.reject = true;
	resp.seq = m->seq;
	resp.prev_index = m->prev_index;
	if (m->prev_index > last_index(r)) {
		resp.hint_index = last_index(r) + 1;
		resp.hint_term = 0;
	} else {
		resp.hint_term = raft_term_at(r, m->prev_index);
		i = m->prev_index;
		while (i > r->log_offset && raft_term_at(r, i - 1) ==
		    resp.hint_term)
			i--;
		resp.hint_index = i;
		if (resp.hint_index <= r->commit)
			resp.hint_index = r->commit + 1;
	}
	respond(r, &resp);
}

static void
handle_append(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg	 resp;
	raft_index_t	 last_new = m->prev_index + m->n_entries;
	uint32_t	 i;

	if (!log_matches(r, m->prev_index, m->prev_term)) {
		if (m->prev_index <= r->commit) {
			/* Our committed prefix cannot differ from a leader's. */
			trace(r, RAFT_TRACE_WARN,
			    "append contradicts a committed entry", m->from,
			    m->prev_index);
			return;
		}
		reject_append(r, m);
		return;
	}
	for (i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];

		if (e->index < r->log_offset)
			continue;	/* compacted, hence committed */
		if (e->index <= last_index(r)) {
			if (raft_term_at(r, e->index) == e->term)
				continue;
			if (e->index <= r->commit) {
				trace(r, RAFT_TRACE_WARN,
				    "refusing to truncate a committed entry",
				    m->from, e->index);
				return;
			}
			log_truncate_from(r, e->index);
		}
		if (log_append(r, e) != 0) {
			trace(r, RAFT_TRACE_WARN,
			    "out of memory: append not acknowledged", m->from,
			    e->index);
			return;
		}
	}
	if (m->commit > r->commit) {
		raft_index_t c = m->commit < last_new ? m->commit : last_new;

		if (c > r->commit) {
			r->commit = c;
			r->commit_dirty = true;
		}
	}
	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.seq = m->seq;
	resp.prev_index = m->prev_index;
	resp.match_index = last_new;
	respond(r, &resp);
}

/*
 * Replaces the whole in-memory log and state by the snapshot in m: every
 * entry goes, even later ones, since the leader's snapshot is all we may
 * trust.  The caller installs it durably when the next Ready says so;
 * until it reports that durable, nothing is applied and no acknowledgement
 * leaves (persisted stays below the snapshot).
 */
static void
install_snapshot(struct raft *r, const struct raft_msg *m)
{
	size_t	 i;

	trace(r, RAFT_TRACE_INFO, "installing snapshot", m->snap_index,
	    m->snap_term);
	for (i = 0; i < r->n_ents; i++)
		free((void *)r->ents[i].data);
	r->n_ents = 0;
	r->log_offset = m->snap_index + 1;
	r->offset_term = m->snap_term;
	r->snapshot_index = m->snap_index;
	r->snapshot_term = m->snap_term;
	r->snapshot_cluster = *m->snap_cluster;
	r->has_snapshot_cluster = true;
	r->cluster = r->snapshot_cluster;
	r->config_index = m->snap_index;
	r->commit = m->snap_index;
	r->commit_dirty = true;
	r->applied = m->snap_index;
	r->unstable_from = m->snap_index + 1;
	if (r->persisted >= m->snap_index)
		r->persisted = m->snap_index - 1;
	r->install = INSTALL_PENDING;
}

/*
 * A snapshot from the leader (its file already received by the caller).
 * Covered by our commit: acknowledge the commit.  In our log: fast-forward
 * the commit and keep the log.  Otherwise: install it.  The answer is an
 * APPEND_RESP that waits, like every answer, until what it acknowledges is
 * durable -- for an install, the install itself.
 */
static void
handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg	 resp;

	memset(&resp, 0, sizeof(resp));
	resp.type = RAFT_MSG_APPEND_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.prev_index = m->snap_index;
	if (m->snap_index <= r->commit) {
		trace(r, RAFT_TRACE_DEBUG, "snapshot already covered",
		    m->snap_index, r->commit);
		/* Committed entries match any leader's; durable when sent. */
		resp.match_index = r->commit;
	} else if (m->snap_index <= last_index(r) &&
	    raft_term_at(r, m->snap_index) == m->snap_term) {
		trace(r, RAFT_TRACE_INFO, "snapshot in our log: commit to",
		    m->snap_index, m->snap_term);
		r->commit = m->snap_index;
		r->commit_dirty = true;
		resp.match_index = m->snap_index;
	} else {
		install_snapshot(r, m);
		resp.match_index = m->snap_index;
	}
	respond(r, &resp);
}

static void
handle_append_response(struct raft *r, const struct raft_msg *m)
{
	struct progress	*p = find_peer(r, m->from);
	raft_index_t	 next;

	if (p == NULL)
		return;
	p->recent_active = true;
	p->ticks_since_heard = 0;
	if (m->seq > p->acked_seq && m->seq <= r->read_seq) {
		p->acked_seq = m->seq;
		confirm_reads(r);
	}
	if (m->reject) {
		if (p->snapshotting)
			return;	/* it lacks the snapshot until it lands */
		if ((!p->replicating && p->next < r->log_offset) ||
		    (m->prev_index < r->log_offset &&
		    m->prev_index > p->match)) {
			/*
			 * It needs a snapshot: we decided so already, or it
			 * lacks the entry before our first one, which is
			 * committed (a heartbeat rejected there).  Any such
			 * answer, even to a message we moved past, may start
			 * one; send_snapshot() keeps it to one per heartbeat
			 * interval.
			 */
			become_probe(p);
			send_append(r, p);
			return;
		}
		if (m->prev_index == p->match && p->match > 0 &&
		    m->hint_index <= p->match) {
			/*
			 * A heartbeat at its match index was refused: the
			 * follower lost entries it had acknowledged (a
			 * damaged or repaired disk).  Lowering match is
			 * always safe; replicate again from its hint.
			 */
			trace(r, RAFT_TRACE_WARN,
			    "follower lost acknowledged entries", p->id,
			    m->hint_index);
			p->match = m->hint_index > 0 ? m->hint_index - 1 : 0;
			become_probe(p);
			send_append(r, p);
			return;
		}
		/* Ignore rejections of messages we have moved past. */
		if (p->replicating ? m->prev_index <= p->match :
		    m->prev_index != p->next - 1)
			return;
		if (m->hint_term != 0) {
			raft_index_t i = m->prev_index < last_index(r) ?
			    m->prev_index : last_index(r);

			while (i + 1 > r->log_offset &&
			    raft_term_at(r, i) > m->hint_term)
				i--;
			next = raft_term_at(r, i) == m->hint_term ? i + 1 :
			    m->hint_index;
		} else
			next = m->hint_index;
		if (next > m->prev_index)
			next = m->prev_index;
		if (next <= p->match)
			next = p->match + 1;
		if (next == 0)
			next = 1;
		become_probe(p);
		p->next = next;
		trace(r, RAFT_TRACE_DEBUG, "append rejected, backing up to",
		    p->id, next);
		send_append(r, p);
		return;
	}
	p->probe_sent = false;
	if (p->snapshotting) {
		if (m->match_index < p->pending_snapshot) {
			/* Still installing: learn its match, stay paused. */
			if (m->match_index > p->match) {
				p->match = m->match_index;
				maybe_commit(r);
			}
			return;
		}
		trace(r, RAFT_TRACE_INFO, "snapshot acknowledged by peer",
		    p->id, m->match_index);
		become_probe(p);
	}
	if (m->match_index > p->match) {
		p->match = m->match_index;
		p->stalled_beats = 0;
		if (!p->replicating) {
			p->replicating = true;
			p->inflight = 0;
			p->inflight_head = 0;
		}
		inflight_free_to(r, p, p->match);
		if (p->next <= p->match)
			p->next = p->match + 1;
		maybe_commit(r);
	} else if (!p->replicating && p->match == m->match_index &&
	    m->prev_index + 1 == p->next && p->next == p->match + 1) {
		/* A probe at our match succeeded: start the pipeline. */
		p->replicating = true;
	}
	send_append(r, p);
}

int
raft_step(struct raft *r, const struct raft_msg *m)
{
	const char	*why = validate(r, m);
	bool		 from_leader;
	int		 rc;

	if (why != NULL) {
		trace(r, RAFT_TRACE_WARN, why, m->from, m->type);
		return -RAFT_EINVAL;
	}
	if (m->type != RAFT_MSG_APPEND || !m->lazy)
		r->sync_urgent = true;
	if (m->type == RAFT_MSG_SNAPSHOT &&
	    (rc = check_cluster(m->snap_cluster)) != 0) {
		trace(r, RAFT_TRACE_WARN, rc == -RAFT_ENOMEM ?
		    "out of memory: snapshot dropped" :
		    "snapshot with an invalid configuration", m->from,
		    m->snap_index);
		return rc;
	}
	from_leader = m->type == RAFT_MSG_APPEND ||
	    m->type == RAFT_MSG_SNAPSHOT;
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_PREVOTE ||
		    (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject)) {
			/* Pre-votes never change anyone's term. */
		} else if (m->type == RAFT_MSG_VOTE && in_lease(r)) {
			trace(r, RAFT_TRACE_DEBUG,
			    "vote ignored: leader is alive", m->from, m->term);
			return 0;
		} else {
			trace(r, RAFT_TRACE_INFO, "higher term seen", m->from,
			    m->term);
			become_follower(r, m->term, from_leader ? m->from : 0);
		}
	} else if (m->term < r->term) {
		struct raft_msg resp;

		memset(&resp, 0, sizeof(resp));
		resp.to = m->from;
		resp.term = r->term;
		resp.reject = true;
		if (from_leader) {
			/*
			 * Tell a stale leader our term.  This is also how a
			 * node whose term ran ahead gets the cluster to move
			 * up to it and so rejoins.
			 */
			resp.type = RAFT_MSG_APPEND_RESP;
			resp.prev_index = m->type == RAFT_MSG_APPEND ?
			    m->prev_index : m->snap_index;
			respond(r, &resp);
		} else if (m->type == RAFT_MSG_PREVOTE) {
			resp.type = RAFT_MSG_PREVOTE_RESP;
			respond(r, &resp);
		}
		return 0;
	}

	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		handle_vote_request(r, m);
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		handle_vote_response(r, m);
		break;
	case RAFT_MSG_APPEND:
	case RAFT_MSG_SNAPSHOT:
		if (r->role == RAFT_LEADER) {
			trace(r, RAFT_TRACE_WARN,
			    "append from a second leader in our term", m->from,
			    m->term);
			return -RAFT_EINVAL;
		}
		if (r->role != RAFT_FOLLOWER)
			become_follower(r, m->term, m->from);
		if (r->leader != 0 && r->leader != m->from) {
			trace(r, RAFT_TRACE_WARN,
			    "append from a second leader in our term", m->from,
			    m->term);
			return -RAFT_EINVAL;
		}
		r->leader = m->from;
		r->election_elapsed = 0;
		if (m->type == RAFT_MSG_APPEND)
			handle_append(r, m);
		else
			handle_snapshot(r, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		if (r->role == RAFT_LEADER)
			handle_append_response(r, m);
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Time.                                                               */

void
raft_tick(struct raft *r)
{
	size_t	 i;
	uint32_t active;

	if (r->role != RAFT_LEADER) {
		r->election_elapsed++;
		if (r->election_elapsed >= r->randomized_timeout) {
			if (self_is_voter(r))
				campaign(r, r->cfg.prevote);
			else
				reset_election_timer(r);
		}
		return;
	}
	for (i = 0; i < r->n_peers; i++)
		r->peers[i].ticks_since_heard++;
	if (++r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		send_heartbeats(r, true);
	}
	if (++r->election_elapsed >= r->cfg.election_ticks) {
		r->election_elapsed = 0;
		if (!r->cfg.check_quorum)
			return;
		active = self_is_voter(r) ? 1 : 0;
		for (i = 0; i < r->n_peers; i++) {
			if (r->peers[i].voter && r->peers[i].recent_active)
				active++;
			r->peers[i].recent_active = false;
		}
		if (active < quorum(r)) {
			trace(r, RAFT_TRACE_INFO,
			    "lost contact with the quorum, stepping down",
			    r->term, active);
			become_follower(r, r->term, 0);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Proposals.                                                          */

int
raft_propose(struct raft *r, enum raft_entry_type type, const uint8_t *data,
    uint32_t len, raft_index_t *index, raft_term_t *term)
{
	struct raft_entry e;
	struct raft_cluster c;
	int	 rc;

	if (r->role != RAFT_LEADER)
		return -RAFT_ENOTLEADER;
	if (len > r->cfg.max_msg_bytes)
		return -RAFT_ETOOBIG;
	if (type < RAFT_ENTRY_NORMAL || type > RAFT_ENTRY_NOOP ||
	    (len > 0 && data == NULL))
		return -RAFT_EINVAL;
	if (type == RAFT_ENTRY_CONFIG && raft_cluster_decode(data, len, &c) != 0)
		return -RAFT_EINVAL;
	e.term = r->term;
	e.index = last_index(r) + 1;
	e.type = (uint8_t)type;
	e.len = len;
	e.data = data;
	if ((rc = log_append(r, &e)) != 0)
		return rc;
	r->bcast_wanted = true;
	if (index != NULL)
		*index = e.index;
	if (term != NULL)
		*term = e.term;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Ready.                                                              */

/* Sends what was deferred so that one batch carries it (batching). */
static void
flush(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	if (r->bcast_wanted)
		bcast_append(r);
	if (read_round_wanted(r)) {
		r->read_rounds++;
		send_heartbeats(r, false);
	}
}

static raft_index_t
apply_limit(const struct raft *r)
{
	return r->commit < r->persisted ? r->commit : r->persisted;
}

bool
raft_has_ready(struct raft *r)
{
	return r->hs_dirty || r->commit_dirty ||
	    r->install == INSTALL_PENDING ||
	    r->unstable_from <= last_index(r) || r->out.n > 0 ||
	    r->out_after.n > 0 || r->n_ready_reads > 0 ||
	    r->applied < apply_limit(r) ||
	    (r->role == RAFT_LEADER && (r->bcast_wanted ||
	    read_round_wanted(r)));
}

int
raft_ready(struct raft *r, struct raft_ready *rd)
{
	raft_index_t	 last, lim;

	memset(rd, 0, sizeof(*rd));
	flush(r);
	rd->hs_changed = r->hs_dirty;
	rd->commit_changed = r->commit_dirty && !r->hs_dirty;
	rd->hs.term = r->term;
	rd->hs.vote = r->vote;
	rd->hs.commit = r->commit;
	if (r->install == INSTALL_PENDING) {
		rd->install_snapshot = true;
		rd->snapshot_index = r->snapshot_index;
		rd->snapshot_term = r->snapshot_term;
		r->install = INSTALL_HANDED;
	}

	last = last_index(r);
	if (r->unstable_from <= last) {
		assert(r->unstable_from >= r->log_offset);
		rd->entries = entry_at(r, r->unstable_from);
		rd->n_entries = last - r->unstable_from + 1;
	}
	r->handed_entries_to = last;

	rd->msgs = r->out.v;
	rd->n_msgs = r->out.n;
	rd->msgs_after_persist = r->out_after.v;
	rd->n_msgs_after_persist = r->out_after.n;

	lim = apply_limit(r);
	if (r->applied < lim) {
		raft_index_t from = r->applied + 1;

		if (from < r->log_offset)
			from = r->log_offset;
		rd->committed = entry_at(r, from);
		rd->n_committed = lim - from + 1;
		r->applied = lim;
	}
	rd->reads = r->ready_reads;
	rd->n_reads = r->n_ready_reads;
	rd->lazy_sync = r->role == RAFT_FOLLOWER && !r->sync_urgent &&
	    !rd->hs_changed && !rd->install_snapshot;
	return 0;
}

void
raft_advance(struct raft *r, struct raft_ready *rd)
{
	size_t	 i;

	if (rd->hs_changed)
		r->hs_dirty = false;
	r->commit_dirty = false;
	r->sync_urgent = false;
	if (r->unstable_from <= r->handed_entries_to)
		r->unstable_from = r->handed_entries_to + 1;
	for (i = 0; i < r->out.n; i++)
		free_msg_entries(&r->out.v[i]);
	for (i = 0; i < r->out_after.n; i++)
		free_msg_entries(&r->out_after.v[i]);
	r->out.n = 0;
	r->out_after.n = 0;
	r->n_ready_reads = 0;
	memset(rd, 0, sizeof(*rd));
}

void
raft_persisted(struct raft *r, raft_index_t index, raft_term_t term)
{
	if (r->install == INSTALL_PENDING)
		return;		/* the log it speaks of is discarded */
	if (index > last_index(r) || index <= r->persisted ||
	    raft_term_at(r, index) != term)
		return;		/* stale: since truncated or overwritten */
	if (index >= r->unstable_from)
		return;		/* never handed out: cannot be durable */
	if (r->install == INSTALL_HANDED) {
		if (index < r->snapshot_index)
			return;	/* a write from before the install */
		/* Writes complete in order: the install is durable. */
		trace(r, RAFT_TRACE_INFO, "snapshot install durable",
		    r->snapshot_index, index);
		r->install = INSTALL_NONE;
	}
	r->persisted = index;
	if (r->role == RAFT_LEADER)
		maybe_commit(r);
}

/* ------------------------------------------------------------------ */
/* Snapshots and compaction.                                           */

/* Frees in-memory entries below index (all covered by the snapshot). */
static void
log_drop_before(struct raft *r, raft_index_t index)
{
	size_t	 n, i;

	if (index <= r->log_offset)
		return;
	n = index - r->log_offset;
	assert(n <= r->n_ents && index <= r->snapshot_index + 1);
	assert(index <= r->unstable_from && index <= r->applied + 1);
	r->offset_term = r->ents[n - 1].term;
	for (i = 0; i < n; i++)
		free((void *)r->ents[i].data);
	memmove(r->ents, r->ents + n, (r->n_ents - n) * sizeof(*r->ents));
	r->n_ents -= n;
	r->log_offset = index;
	if (r->cap_ents > 64 && r->n_ents < r->cap_ents / 4) {
		/* Give the memory back; a failed shrink keeps the old array. */
		size_t cap = r->n_ents * 2 > 64 ? r->n_ents * 2 : 64;
		struct raft_entry *v = realloc(r->ents, cap * sizeof(*v));

		if (v != NULL) {
			r->ents = v;
			r->cap_ents = cap;
		}
	}
}

int
raft_compact(struct raft *r, raft_index_t snap_index, raft_term_t snap_term,
    raft_index_t keep)
{
	struct raft_cluster *c;
	raft_index_t at, drop_to;

	if (snap_index > r->applied) {
		trace(r, RAFT_TRACE_WARN, "compaction beyond applied", snap_index,
		    r->applied);
		return -RAFT_EINVAL;
	}
	if (snap_index <= r->snapshot_index)
		return 0;	/* we already have this one or a newer one */
	/* snapshot_index < snap_index <= applied <= last: in memory. */
	if (raft_term_at(r, snap_index) != snap_term) {
		trace(r, RAFT_TRACE_WARN, "compaction with a wrong term",
		    snap_index, snap_term);
		return -RAFT_EINVAL;
	}
	c = &r->snapshot_cluster;
	r->has_snapshot_cluster = config_at(r, snap_index, c, &at);
	r->snapshot_index = snap_index;
	r->snapshot_term = snap_term;
	drop_to = snap_index > keep ? snap_index - keep : 0;
	log_drop_before(r, drop_to + 1);
	trace(r, RAFT_TRACE_INFO, "log compacted: snapshot, first index",
	    snap_index, r->log_offset);
	return 0;
}

void
raft_report_snapshot(struct raft *r, raft_id_t peer, bool ok)
{
	struct progress *p;

	if (r->role != RAFT_LEADER || (p = find_peer(r, peer)) == NULL ||
	    !p->snapshotting)
		return;
	if (ok) {
		trace(r, RAFT_TRACE_DEBUG, "snapshot delivered to peer", peer,
		    p->pending_snapshot);
		p->snapshot_delivered = true;
		p->snapshot_beats = 0;
		return;
	}
	/* Probe again; a response then starts a new transfer (rate-limited). */
	trace(r, RAFT_TRACE_INFO, "snapshot transfer failed", peer,
	    p->pending_snapshot);
	become_probe(p);
}

/* ------------------------------------------------------------------ */
/* Construction.                                                       */

int
raft_new(const struct raft_config *cfg, const struct raft_restore *rs,
    struct raft **out)
{
	struct raft	*r;
	size_t		 i;
	int		 rc;

	*out = NULL;
	if (cfg->id == 0 || cfg->cluster_id == 0 || cfg->rand == NULL ||
	    cfg->election_ticks < 2 || cfg->heartbeat_ticks == 0 ||
	    cfg->heartbeat_ticks >= cfg->election_ticks ||
	    cfg->max_msg_entries == 0 || cfg->max_msg_bytes == 0 ||
	    cfg->max_inflight == 0 || cfg->max_pending_reads == 0)
		return -RAFT_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -RAFT_ENOMEM;
	r->cfg = *cfg;
	r->term = rs->hs.term;
	r->vote = rs->hs.vote;
	r->snapshot_index = rs->snapshot_index;
	r->snapshot_term = rs->snapshot_term;
	r->log_offset = rs->snapshot_index + 1;
	r->offset_term = rs->snapshot_term;
	if (rs->snapshot_cluster != NULL) {
		r->snapshot_cluster = *rs->snapshot_cluster;
		r->has_snapshot_cluster = true;
	}
	r->unstable_from = r->log_offset;
	rc = -RAFT_ECORRUPT;
	if (r->snapshot_term > r->term ||
	    (r->snapshot_index == 0) != (r->snapshot_term == 0))
		goto fail;
	for (i = 0; i < rs->n_entries; i++) {
		const struct raft_entry *e = &rs->entries[i];

		if (e->index != last_index(r) + 1 || e->term < last_term(r) ||
		    e->term > r->term || e->type < RAFT_ENTRY_NORMAL ||
		    e->type > RAFT_ENTRY_NOOP || (e->len > 0 && e->data == NULL))
			goto fail;
		if ((rc = log_append(r, e)) != 0)
			goto fail;
		rc = -RAFT_ECORRUPT;
	}
	load_latest_config(r);
	/* Everything restored is durable.  Commit is a lower bound only. */
	r->unstable_from = last_index(r) + 1;
	r->persisted = last_index(r);
	r->commit = rs->hs.commit;
	if (r->commit > last_index(r))
		r->commit = last_index(r);
	if (r->commit < r->snapshot_index)
		r->commit = r->snapshot_index;
	r->applied = r->snapshot_index;
	r->role = RAFT_FOLLOWER;
	reset_election_timer(r);
	*out = r;
	return 0;
fail:
	raft_free(r);
	return rc;
}

void
raft_free(struct raft *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_ents; i++)
		free((void *)r->ents[i].data);
	free(r->ents);
	free_peers(r);
	free(r->reads);
	for (i = 0; i < r->out.n; i++)
		free_msg_entries(&r->out.v[i]);
	for (i = 0; i < r->out_after.n; i++)
		free_msg_entries(&r->out_after.v[i]);
	free(r->out.v);
	free(r->out_after.v);
	free(r->ready_reads);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Introspection.                                                      */

void
raft_get_status(const struct raft *r, struct raft_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = r->cfg.id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->commit = r->commit;
	st->applied = r->applied;
	st->persisted = r->persisted;
	st->first_index = r->log_offset;
	st->last_index = last_index(r);
	st->last_term = last_term(r);
	st->snapshot_index = r->snapshot_index;
	st->snapshot_term = r->snapshot_term;
	st->config_index = r->config_index;
	st->pending_reads = r->n_reads;
	st->read_rounds = r->read_rounds;
	st->reads_confirmed = r->reads_confirmed;
}

size_t
raft_get_peers(const struct raft *r, struct raft_peer_status *out, size_t cap)
{
	size_t	 i;

	if (r->role != RAFT_LEADER)
		return 0;
	for (i = 0; i < r->n_peers && i < cap; i++) {
		out[i].id = r->peers[i].id;
		out[i].match = r->peers[i].match;
		out[i].next = r->peers[i].next;
		out[i].replicating = r->peers[i].replicating;
		out[i].snapshotting = r->peers[i].snapshotting;
		out[i].pending_snapshot = r->peers[i].pending_snapshot;
		out[i].inflight = r->peers[i].inflight;
		out[i].ticks_since_heard = r->peers[i].ticks_since_heard;
		out[i].spare = peer_is_spare(r, &r->peers[i]);
	}
	return i;
}

const struct raft_cluster *
raft_get_cluster(const struct raft *r)
{
	return &r->cluster;
}
