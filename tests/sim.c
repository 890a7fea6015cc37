/*
 * sim.c -- the deterministic cluster simulator (see sim.h, docs/simulator.md).
 *
 * The simulator is the caller of every core: it carries out each Ready
 * batch exactly as daemon/raft.h demands (persist, send, hold, apply,
 * answer reads, advance, report persisted), with a seeded disk latency and
 * a seeded network.  The checks are incremental: each step looks only at
 * what changed (the entries of a Ready, the commit delta, a role change).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define TRACE_RING	40	/* trace records kept per node */
#define EVENT_RING	96	/* simulator events kept for the dump */
#define NOTE_RING	24	/* caller notes (faults) kept for the dump */
#define NOTE_LEN	120
#define ERROR_LEN	1024
#define BOOT_BUF	(RAFT_MAX_MEMBERS * (2 * RAFT_MAX_URL + 64) + 64)
#define RX_RING		4	/* received snapshot images kept per node */

enum ev_kind {
	EV_DELIVER = 1,
	EV_DISK,
	EV_SNAP_DONE,		/* a snapshot transfer failed: tell the sender */
	EV_CRASH,		/* a crash timed around an install */
};

/*
 * A snapshot image: the state machine through index, what the log chain
 * was there, and the configuration in effect.
 */
struct sim_snap {
	raft_index_t	 index;
	raft_term_t	 term;
	uint64_t	 chain;		/* log chain hash at index */
	uint64_t	 state;		/* state machine hash at index */
	struct raft_cluster cluster;
};

/* A queued event: a message in flight or a disk write completing. */
struct event {
	uint64_t	 time;
	uint64_t	 seq;
	enum ev_kind	 kind;
	raft_id_t	 node;
	uint64_t	 incarnation;	/* EV_DISK, EV_CRASH: node incarnation */
	struct raft_msg	*msg;		/* EV_DELIVER: owned */
	/* A snapshot transfer: the image (owned) and whom to tell. */
	struct sim_snap	*image;
	bool		 report;	/* this copy reports to the sender */
	raft_id_t	 sender;
	uint64_t	 sender_incarnation;
};

/* One entry of a durable log (index = position in the array). */
struct dentry {
	raft_term_t	 term;
	uint8_t		 type;
	uint32_t	 len;
	uint8_t		*data;		/* owned */
	uint64_t	 chain;		/* hash of this entry and all before */
};

/* The simulator's mirror of one entry of a core's log. */
struct mentry {
	raft_term_t	 term;
	uint64_t	 chain;
};

/*
 * A disk write in progress; writes of a node complete in order.  A write
 * may first install a received snapshot (replacing the whole log), or be
 * a local snapshot of the state machine.
 */
struct write {
	struct write	*next;
	struct sim_snap	*install;	/* owned */
	struct sim_snap	*taken;		/* owned */
	bool		 has_hs;
	struct raft_hard_state hs;
	raft_index_t	 first;
	size_t		 n;
	struct dentry	*entries;	/* owned, data owned */
	struct raft_msg	**held;		/* owned clones */
	size_t		 n_held;
	bool		 lazy;		/* the batch's lazy_sync */
};

struct trace_rec {
	uint64_t	 time;
	const char	*what;
	uint64_t	 a, b;
	int		 level;
};

enum evrec_kind {
	ER_SEND = 1,
	ER_DROP,
	ER_DELIVER,
	ER_LOST,
	ER_DISK,
	ER_CRASH,
	ER_RESTART,
	ER_PROPOSE,
	ER_READ,
	ER_READ_DONE,
	ER_ROLE,
};

static const char *const evrec_names[] = {
	[ER_SEND] = "send", [ER_DROP] = "drop", [ER_DELIVER] = "deliver",
	[ER_LOST] = "lost", [ER_DISK] = "disk-done", [ER_CRASH] = "crash",
	[ER_RESTART] = "restart", [ER_PROPOSE] = "propose",
	[ER_READ] = "read", [ER_READ_DONE] = "read-done", [ER_ROLE] = "role",
};

struct evrec {
	uint64_t	 time;
	int		 kind;
	int		 mtype;
	raft_id_t	 a, b;
	uint64_t	 x, y, z, w;
};

struct note {
	uint64_t	 time;
	char		 text[NOTE_LEN];
};

struct sim_node {
	struct sim	*sim;
	raft_id_t	 id;
	bool		 alive;
	uint64_t	 incarnation;
	struct raft	*r;
	struct sim_rng	 rng;		/* the core's randomness */
	struct raft_config cfg;

	/* The disk. */
	struct raft_hard_state dhs;
	struct dentry	*dlog;
	raft_index_t	 dlast;
	size_t		 dcap;
	struct write	*wq_head, *wq_tail;
	uint64_t	 wq_done_time;
	struct raft_hard_state qhs;	/* last hard state handed out */
	bool		 disk_held;
	unsigned	 held_done;	/* completions waiting for the release */
	uint64_t	 lazy_writes;	/* batches handed out with lazy_sync */
	/* The durable snapshot (owned), and dlog[i].data is kept from dfirst. */
	struct sim_snap	*dsnap;
	raft_index_t	 dfirst;
	raft_index_t	 snap_taken;	/* latest snapshot written or queued */
	struct sim_snap	*rx[RX_RING];	/* received images (owned) */
	unsigned	 n_rx;
	uint64_t	 sm_state;	/* hash of the state machine */

	/* The mirror of the core's log and what we observed of it. */
	struct mentry	*mlog;
	raft_index_t	 mlast;
	size_t		 mcap;
	raft_index_t	 applied;
	raft_index_t	 commit;
	enum raft_role	 role;
	raft_term_t	 term;

	struct trace_rec trace[TRACE_RING];
	uint64_t	 n_trace;
};

/* All (term, chain) pairs seen at one index, for Log Matching. */
struct lm_item {
	raft_term_t	 term;
	uint64_t	 chain;
};

struct lm_bucket {
	uint32_t	 n, cap;
	struct lm_item	*items;
};

/* What is known of one index cluster-wide. */
struct cinfo {
	bool		 committed;
	raft_term_t	 term;
	uint64_t	 chain;
	bool		 applied;
	raft_term_t	 app_term;
	uint64_t	 app_hash;
	bool		 state_known;
	uint64_t	 state;		/* state machine hash after index */
	struct lm_bucket lm;
};

struct proposal {
	raft_index_t	 index;
	raft_term_t	 term;
};

struct read_rec {
	raft_id_t	 node;
	uint64_t	 incarnation;
	raft_index_t	 bound;
	bool		 done;
	bool		 lost;
	bool		 ok;
	raft_index_t	 index;
};

struct sim {
	struct sim_config cfg;
	struct sim_rng	 rng;		/* network and disk */
	uint64_t	 now;		/* time units */
	uint64_t	 ticks;
	uint64_t	 seq;
	struct sim_node	 nodes[SIM_MAX_NODES + 1];
	bool		 link[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];

	struct event	*heap;
	size_t		 n_heap, cap_heap;

	struct cinfo	*idx;		/* by log index */
	size_t		 cap_idx;
	raft_index_t	 commit_max;

	raft_id_t	*leaders;	/* by term */
	size_t		 cap_leaders;

	struct proposal	*props;
	size_t		 n_props, cap_props;
	struct read_rec	*reads;
	size_t		 n_reads, cap_reads;

	uint64_t	 count[RAFT_MSG_TYPE_MAX + 1];
	uint64_t	 rejects[SIM_MAX_NODES + 1];
	uint32_t	 max_app_entries;
	uint64_t	 max_app_bytes;
	uint64_t	 snaps_taken;
	uint64_t	 snaps_installed;

	struct evrec	 ev[EVENT_RING];
	uint64_t	 n_ev;
	struct note	 notes[NOTE_RING];
	uint64_t	 n_notes;

	bool		 failed;
	char		 error[ERROR_LEN];
};

static void	 node_drain(struct sim *, struct sim_node *);
static void	 node_check(struct sim *, struct sim_node *);

/* ------------------------------------------------------------------ */
/* Randomness.                                                         */

/* One splitmix64 step, used to expand a seed. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z;

	z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Seeds a xoshiro256** stream from a seed and a stream number. */
void
sim_rng_seed(struct sim_rng *rng, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
	int i;

	for (i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

/* Rotates x left by k bits. */
static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Returns the next value of a xoshiro256** stream. */
uint64_t
sim_rng_next(struct sim_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Returns a value in [lo, hi]. */
uint64_t
sim_rng_range(struct sim_rng *rng, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + sim_rng_next(rng) % (hi - lo + 1);
}

/* Returns true with probability permille/1000. */
bool
sim_rng_chance(struct sim_rng *rng, unsigned permille)
{
	if (permille == 0)
		return false;
	return sim_rng_next(rng) % 1000 < permille;
}

/* The core's rand callback: one stream per node. */
static uint64_t
node_rand(void *ctx)
{
	return sim_rng_next(ctx);
}

/* ------------------------------------------------------------------ */
/* Hashing.                                                            */

/* FNV-1a over an entry's type and payload. */
static uint64_t
entry_hash(uint8_t type, const uint8_t *data, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t i;

	h = (h ^ type) * 0x100000001b3ULL;
	for (i = 0; i < len; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return h;
}

/* Chains an entry onto the hash of the log before it. */
static uint64_t
chain_hash(uint64_t prev, raft_term_t term, uint64_t ehash)
{
	uint64_t x = prev ^ (term * 0x9e3779b97f4a7c15ULL) ^ rotl(ehash, 17);

	return splitmix64(&x);
}

/* ------------------------------------------------------------------ */
/* Memory helpers.                                                     */

/* Allocates or dies: the simulator is a test program. */
static void *
sim_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	return p;
}

/* Grows an array of elements of size to hold at least want, zeroing. */
static void *
grow(void *p, size_t *cap, size_t want, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (want <= *cap)
		return p;
	while (ncap < want)
		ncap *= 2;
	np = realloc(p, ncap * size);
	if (np == NULL) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	memset((char *)np + *cap * size, 0, (ncap - *cap) * size);
	*cap = ncap;
	return np;
}

/* Deep-copies a message (entries and their data) into one block. */
static struct raft_msg *
msg_clone(const struct raft_msg *m)
{
	size_t size = sizeof(*m), off_data, i;
	struct raft_msg *c;
	uint8_t *data;

	size += (size_t)m->n_entries * sizeof(struct raft_entry);
	off_data = size;
	for (i = 0; i < m->n_entries; i++)
		size += m->entries[i].len;
	c = sim_xcalloc(1, size);
	*c = *m;
	c->entries = NULL;
	if (m->n_entries > 0) {
		c->entries = (struct raft_entry *)(c + 1);
		data = (uint8_t *)c + off_data;
		for (i = 0; i < m->n_entries; i++) {
			c->entries[i] = m->entries[i];
			if (m->entries[i].len > 0) {
				memcpy(data, m->entries[i].data,
				    m->entries[i].len);
				c->entries[i].data = data;
				data += m->entries[i].len;
			} else
				c->entries[i].data = NULL;
		}
	}
	return c;
}

/* ------------------------------------------------------------------ */
/* The event heap, ordered by (time, seq).                             */

/* True if event a comes before event b. */
static bool
ev_before(const struct event *a, const struct event *b)
{
	if (a->time != b->time)
		return a->time < b->time;
	return a->seq < b->seq;
}

/* Pushes an event (copied). */
static void
heap_push(struct sim *s, struct event *e)
{
	size_t i, parent;
	struct event tmp;

	e->seq = s->seq++;
	s->heap = grow(s->heap, &s->cap_heap, s->n_heap + 1, sizeof(*e));
	i = s->n_heap++;
	s->heap[i] = *e;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!ev_before(&s->heap[i], &s->heap[parent]))
			break;
		tmp = s->heap[i];
		s->heap[i] = s->heap[parent];
		s->heap[parent] = tmp;
		i = parent;
	}
}

/* Pops the earliest event into *e. */
static void
heap_pop(struct sim *s, struct event *e)
{
	size_t i = 0, l, r, m;
	struct event tmp;

	*e = s->heap[0];
	s->heap[0] = s->heap[--s->n_heap];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < s->n_heap && ev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->n_heap && ev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		tmp = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = tmp;
		i = m;
	}
}

/* ------------------------------------------------------------------ */
/* Records for the failure dump.                                       */

/* Appends a raw event record to the ring (and prints it when verbose). */
static void
evrec(struct sim *s, int kind, int mtype, raft_id_t a, raft_id_t b,
    uint64_t x, uint64_t y, uint64_t z, uint64_t w)
{
	struct evrec *r = &s->ev[s->n_ev++ % EVENT_RING];

	r->time = s->now;
	r->kind = kind;
	r->mtype = mtype;
	r->a = a;
	r->b = b;
	r->x = x;
	r->y = y;
	r->z = z;
	r->w = w;
	if (s->cfg.verbose != NULL) {
		fprintf(s->cfg.verbose, "%8.1f %-9s %-12s %" PRIu64 "->%" PRIu64
		    " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		    (double)s->now / SIM_UNITS_PER_TICK, evrec_names[kind],
		    mtype ? raft_msg_type_name(mtype) : "-", a, b, x, y, z, w);
	}
}

/* The core's trace callback: a raw record per node, printed if verbose. */
static void
node_trace(void *ctx, enum raft_trace_level level, const char *what,
    uint64_t a, uint64_t b)
{
	struct sim_node *n = ctx;
	struct trace_rec *t = &n->trace[n->n_trace++ % TRACE_RING];

	t->time = n->sim->now;
	t->what = what;
	t->a = a;
	t->b = b;
	t->level = level;
	if (n->sim->cfg.verbose != NULL)
		fprintf(n->sim->cfg.verbose, "%8.1f   n%" PRIu64 " trace %s %"
		    PRIu64 " %" PRIu64 "\n",
		    (double)n->sim->now / SIM_UNITS_PER_TICK, n->id,
		    what ? what : "?", a, b);
}

/* Records the first violation; later ones are ignored. */
void
sim_fail(struct sim *s, const char *invariant, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (s->failed)
		return;
	s->failed = true;
	len = snprintf(s->error, sizeof(s->error), "%s violated at tick %.1f: ",
	    invariant, (double)s->now / SIM_UNITS_PER_TICK);
	if (len < 0 || (size_t)len >= sizeof(s->error))
		return;
	va_start(ap, fmt);
	vsnprintf(s->error + len, sizeof(s->error) - len, fmt, ap);
	va_end(ap);
}

/* Returns the first violation, or NULL. */
const char *
sim_error(const struct sim *s)
{
	return s->failed ? s->error : NULL;
}

/* ------------------------------------------------------------------ */
/* Cluster-wide knowledge.                                             */

/* Returns the record of index, growing the table. */
static struct cinfo *
cinfo_at(struct sim *s, raft_index_t index)
{
	s->idx = grow(s->idx, &s->cap_idx, index + 1, sizeof(*s->idx));
	return &s->idx[index];
}

/* Log Matching: a (index, term) pair must always carry the same chain. */
static void
lm_check(struct sim *s, struct sim_node *n, raft_index_t index,
    raft_term_t term, uint64_t chain)
{
	struct cinfo *ci = cinfo_at(s, index);
	struct lm_bucket *b = &ci->lm;
	size_t cap;
	uint32_t i;

	for (i = 0; i < b->n; i++) {
		if (b->items[i].term != term)
			continue;
		if (b->items[i].chain != chain)
			sim_fail(s, "Log Matching", "node %" PRIu64 " holds an "
			    "entry at index %" PRIu64 " term %" PRIu64 " whose "
			    "contents or prefix differ from another node's "
			    "entry with the same index and term", n->id,
			    index, term);
		return;
	}
	cap = b->cap;
	b->items = grow(b->items, &cap, b->n + 1, sizeof(*b->items));
	b->cap = (uint32_t)cap;
	b->items[b->n].term = term;
	b->items[b->n].chain = chain;
	b->n++;
}

/* Records which node led term (Election Safety). */
static void
note_leader(struct sim *s, struct sim_node *n, raft_term_t term)
{
	s->leaders = grow(s->leaders, &s->cap_leaders, term + 1,
	    sizeof(*s->leaders));
	if (s->leaders[term] == 0)
		s->leaders[term] = n->id;
	else if (s->leaders[term] != n->id)
		sim_fail(s, "Election Safety", "nodes %" PRIu64 " and %" PRIu64
		    " were both leader in term %" PRIu64, s->leaders[term],
		    n->id, term);
}

/* Counts nodes whose durable log holds the committed entry at index. */
static unsigned
durable_copies(struct sim *s, raft_index_t index)
{
	unsigned i, copies = 0;

	for (i = 1; i <= s->cfg.nodes; i++) {
		struct sim_node *n = &s->nodes[i];

		if (n->dlast >= index && n->dlog[index].chain ==
		    s->idx[index].chain)
			copies++;
	}
	return copies;
}

/* Registers indexes (from, to] of n's log as committed. */
static void
note_commit(struct sim *s, struct sim_node *n, raft_index_t from,
    raft_index_t to)
{
	raft_index_t i;
	struct cinfo *ci;

	for (i = from + 1; i <= to && !s->failed; i++) {
		ci = cinfo_at(s, i);
		if (!ci->committed) {
			ci->committed = true;
			ci->term = n->mlog[i].term;
			ci->chain = n->mlog[i].chain;
		} else if (ci->chain != n->mlog[i].chain) {
			sim_fail(s, "State Machine Safety (commit)", "node %"
			    PRIu64 " committed index %" PRIu64 " term %" PRIu64
			    " but term %" PRIu64 " (or a different entry) was "
			    "committed there before", n->id, i,
			    n->mlog[i].term, ci->term);
		}
	}
	if (to > s->commit_max && !s->failed) {
		s->commit_max = to;
		if (!s->cfg.forged_acks &&
		    durable_copies(s, to) < s->cfg.nodes / 2 + 1)
			sim_fail(s, "Durability", "index %" PRIu64 " counts as "
			    "committed (node %" PRIu64 ") but only %u of %u "
			    "durable logs hold it", to, n->id,
			    durable_copies(s, to), s->cfg.nodes);
	}
}

/* ------------------------------------------------------------------ */
/* Snapshots: images, the state machine, the checks across installs.  */

/* Copies a snapshot image. */
static struct sim_snap *
snap_clone(const struct sim_snap *img)
{
	struct sim_snap *c = sim_xcalloc(1, sizeof(*c));

	*c = *img;
	return c;
}

/* The state machine after applying an entry to state. */
static uint64_t
sm_next(uint64_t state, uint8_t type, const uint8_t *data, uint32_t len)
{
	return chain_hash(state, 0, entry_hash(type, data, len));
}

/*
 * State Machine Safety across snapshots: every node that reaches index
 * (by applying, installing or restarting) has the same state there.
 */
static void
state_check(struct sim *s, struct sim_node *n, raft_index_t index,
    uint64_t state, const char *how)
{
	struct cinfo *ci = cinfo_at(s, index);

	if (!ci->state_known) {
		ci->state_known = true;
		ci->state = state;
	} else if (ci->state != state)
		sim_fail(s, "State Machine Safety (state)", "node %" PRIu64
		    " %s state %016" PRIx64 " at index %" PRIu64 " where "
		    "another node had %016" PRIx64, n->id, how, state, index,
		    ci->state);
}

/* Keeps a received image (owned from now on) until an install names it. */
static void
rx_store(struct sim_node *n, struct sim_snap *img)
{
	unsigned slot = n->n_rx++ % RX_RING;

	free(n->rx[slot]);
	n->rx[slot] = img;
}

/* Forgets every received image (a crash). */
static void
rx_clear(struct sim_node *n)
{
	unsigned i;

	for (i = 0; i < RX_RING; i++) {
		free(n->rx[i]);
		n->rx[i] = NULL;
	}
	n->n_rx = 0;
}

/*
 * A Ready tells n to install a snapshot: finds the received image it
 * names, checks it against what the cluster committed, and makes the
 * mirror and the state machine that image.  Returns a copy for the disk
 * write, or NULL after a violation.
 */
static struct sim_snap *
install_begin(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	struct sim_snap *img = NULL;
	struct cinfo *ci;
	raft_index_t i;
	unsigned k;

	for (k = 0; k < RX_RING; k++)
		if (n->rx[k] != NULL && n->rx[k]->index == rd->snapshot_index &&
		    n->rx[k]->term == rd->snapshot_term)
			img = n->rx[k];
	if (img == NULL) {
		sim_fail(s, "Snapshot (install)", "node %" PRIu64 " was told "
		    "to install snapshot %" PRIu64 "/%" PRIu64 " which it never"
		    " received", n->id, rd->snapshot_index, rd->snapshot_term);
		return NULL;
	}
	if (img->index <= n->applied || img->index <= n->commit) {
		sim_fail(s, "Applied monotonic", "node %" PRIu64 " installs "
		    "snapshot %" PRIu64 " after applying %" PRIu64 " (commit %"
		    PRIu64 ")", n->id, img->index, n->applied, n->commit);
		return NULL;
	}
	n->mlog = grow(n->mlog, &n->mcap, img->index + 1, sizeof(*n->mlog));
	for (i = n->commit + 1; i <= img->index; i++) {
		ci = cinfo_at(s, i);
		if (ci->committed) {
			n->mlog[i].term = ci->term;
			n->mlog[i].chain = ci->chain;
		} else if (s->cfg.forged_acks) {
			/* A hand-made snapshot: placeholders below it. */
			n->mlog[i].term = img->term;
			n->mlog[i].chain = i == img->index ? img->chain :
			    chain_hash(0x5eed, img->term, i);
		} else {
			sim_fail(s, "Snapshot safety", "node %" PRIu64 " installs"
			    " snapshot %" PRIu64 " but index %" PRIu64 " was "
			    "never committed", n->id, img->index, i);
			return NULL;
		}
	}
	if (n->mlog[img->index].chain != img->chain ||
	    n->mlog[img->index].term != img->term) {
		sim_fail(s, "Snapshot safety", "node %" PRIu64 " installs "
		    "snapshot %" PRIu64 "/%" PRIu64 " which differs from the "
		    "committed entry there (term %" PRIu64 ")", n->id,
		    img->index, img->term, n->mlog[img->index].term);
		return NULL;
	}
	state_check(s, n, img->index, img->state, "installed");
	n->mlast = img->index;
	n->applied = img->index;
	n->sm_state = img->state;
	if (n->snap_taken < img->index)
		n->snap_taken = img->index;
	return snap_clone(img);
}

/* The write of an install completed: the image replaces the whole log. */
static void
install_durable(struct sim *s, struct sim_node *n, struct sim_snap *img)
{
	raft_index_t i;

	for (i = n->dfirst; i <= n->dlast; i++) {
		free(n->dlog[i].data);
		n->dlog[i].data = NULL;
	}
	n->dlog = grow(n->dlog, &n->dcap, img->index + 1, sizeof(*n->dlog));
	/* Below the image only the terms and chains are known (no data). */
	for (i = 1; i <= img->index; i++) {
		n->dlog[i].term = n->mlog[i].term;
		n->dlog[i].chain = n->mlog[i].chain;
		n->dlog[i].type = 0;
		n->dlog[i].len = 0;
	}
	n->dlast = img->index;
	n->dfirst = img->index + 1;
	if (n->dlog[img->index].chain != img->chain)
		sim_fail(s, "Snapshot (install)", "node %" PRIu64 " installed "
		    "snapshot %" PRIu64 " whose chain differs from its mirror",
		    n->id, img->index);
	free(n->dsnap);
	n->dsnap = img;
	s->snaps_installed++;
}

/*
 * A local snapshot's write completed: it becomes the durable snapshot,
 * the core compacts, and the durable log drops what both the snapshot
 * covers and the core no longer holds.
 */
static void
snapshot_durable(struct sim *s, struct sim_node *n, struct sim_snap *img)
{
	struct raft_status st;
	raft_index_t i, cut;
	int rc;

	if (n->dsnap != NULL && img->index <= n->dsnap->index) {
		free(img);	/* an install overtook it */
		return;
	}
	if (img->index > n->dlast || n->dlog[img->index].chain != img->chain) {
		sim_fail(s, "Snapshot (local)", "node %" PRIu64 " snapshotted "
		    "index %" PRIu64 " which its durable log (ending at %"
		    PRIu64 ") does not hold", n->id, img->index, n->dlast);
		free(img);
		return;
	}
	free(n->dsnap);
	n->dsnap = img;
	s->snaps_taken++;
	rc = raft_compact(n->r, img->index, img->term, s->cfg.snapshot_keep);
	if (rc != 0) {
		sim_fail(s, "Compaction", "raft_compact(%" PRIu64 ", %" PRIu64
		    ") on node %" PRIu64 " returned %s", img->index, img->term,
		    n->id, raft_strerror(rc));
		return;
	}
	raft_get_status(n->r, &st);
	cut = st.first_index - 1 < img->index ? st.first_index - 1 : img->index;
	for (i = n->dfirst; i <= cut; i++) {
		free(n->dlog[i].data);
		n->dlog[i].data = NULL;
	}
	if (cut + 1 > n->dfirst)
		n->dfirst = cut + 1;
}

/* ------------------------------------------------------------------ */
/* The network.                                                        */

/* True if a message from a to b passes the current partition. */
bool
sim_linked(const struct sim *s, raft_id_t a, raft_id_t b)
{
	if (a < 1 || a > s->cfg.nodes || b < 1 || b > s->cfg.nodes)
		return false;
	return s->link[a][b];
}

/* Durability contract: what a message claims must be on n's disk. */
static void
check_outgoing(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	if (m->from != n->id || m->to < 1 || m->to > s->cfg.nodes ||
	    m->to == n->id || m->cluster_id != s->cfg.cluster_id ||
	    m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TYPE_MAX) {
		sim_fail(s, "Message addressing", "node %" PRIu64 " sent a %s "
		    "from %" PRIu64 " to %" PRIu64 " cluster %" PRIu64, n->id,
		    raft_msg_type_name(m->type), m->from, m->to,
		    m->cluster_id);
		return;
	}
	if (m->type != RAFT_MSG_PREVOTE && m->type != RAFT_MSG_PREVOTE_RESP &&
	    m->term > n->dhs.term)
		sim_fail(s, "Durability (term before send)", "node %" PRIu64
		    " sent %s with term %" PRIu64 " while its durable term is %"
		    PRIu64, n->id, raft_msg_type_name(m->type), m->term,
		    n->dhs.term);
	else if (m->type == RAFT_MSG_VOTE_RESP && !m->reject &&
	    (n->dhs.term != m->term || n->dhs.vote != m->to))
		sim_fail(s, "Durability (vote before grant)", "node %" PRIu64
		    " granted its vote to %" PRIu64 " in term %" PRIu64 " but "
		    "its disk says term %" PRIu64 " vote %" PRIu64, n->id,
		    m->to, m->term, n->dhs.term, n->dhs.vote);
	else if (m->type == RAFT_MSG_VOTE &&
	    (n->dhs.term != m->term || n->dhs.vote != n->id))
		sim_fail(s, "Durability (self-vote before campaign)", "node %"
		    PRIu64 " asked for votes in term %" PRIu64 " but its disk "
		    "says term %" PRIu64 " vote %" PRIu64, n->id, m->term,
		    n->dhs.term, n->dhs.vote);
	else if (m->type == RAFT_MSG_SNAPSHOT && m->snap_cluster != NULL)
		sim_fail(s, "Message shape", "node %" PRIu64 " sent a snapshot "
		    "with a configuration pointer", n->id);
	else if (m->type == RAFT_MSG_APPEND_RESP && !m->reject &&
	    m->match_index > n->dlast)
		sim_fail(s, "Durability (entries before ack)", "node %" PRIu64
		    " acknowledged index %" PRIu64 " but its durable log ends "
		    "at %" PRIu64, n->id, m->match_index, n->dlast);
}

/*
 * Starts the transfer of n's durable snapshot for m.  It fails (the
 * sender hears raft_report_snapshot(false) a delay later) when cut off,
 * filtered or unlucky; else the image arrives, is stepped in, and the
 * sender hears it was delivered.
 */
static void
snap_send(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	struct event e;
	bool fail;
	unsigned copies, i;

	if (n->dsnap == NULL || n->dsnap->index != m->snap_index ||
	    n->dsnap->term != m->snap_term) {
		sim_fail(s, "Snapshot (send)", "node %" PRIu64 " sent snapshot "
		    "%" PRIu64 "/%" PRIu64 " but its durable snapshot is %"
		    PRIu64 "/%" PRIu64, n->id, m->snap_index, m->snap_term,
		    n->dsnap ? n->dsnap->index : 0,
		    n->dsnap ? n->dsnap->term : 0);
		return;
	}
	fail = (s->cfg.filter != NULL &&
	    s->cfg.filter(s->cfg.filter_ctx, m) == SIM_DROP) ||
	    !sim_linked(s, m->from, m->to) ||
	    sim_rng_chance(&s->rng, s->cfg.drop_permille) ||
	    sim_rng_chance(&s->rng, s->cfg.snapshot_fail_permille);
	memset(&e, 0, sizeof(e));
	e.node = m->to;
	e.sender = n->id;
	e.sender_incarnation = n->incarnation;
	e.time = s->now + sim_rng_range(&s->rng, s->cfg.delay_min,
	    s->cfg.delay_max) + sim_rng_range(&s->rng, 0,
	    s->cfg.snapshot_delay);
	if (fail) {
		evrec(s, ER_DROP, m->type, m->from, m->to, m->term,
		    m->snap_index, 0, 0);
		e.kind = EV_SNAP_DONE;
		heap_push(s, &e);
		return;
	}
	evrec(s, ER_SEND, m->type, m->from, m->to, m->term, m->snap_index, 0,
	    m->snap_term);
	copies = sim_rng_chance(&s->rng, s->cfg.dup_permille) ? 2 : 1;
	for (i = 0; i < copies; i++) {
		e.kind = EV_DELIVER;
		e.msg = msg_clone(m);
		e.image = snap_clone(n->dsnap);
		e.report = i == 0;
		e.time += i;
		heap_push(s, &e);
	}
}

/* Sends m from n into the network (m is borrowed; copies are queued). */
static void
net_send(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	struct event e;
	uint64_t bytes = 0;
	unsigned copies, i;

	check_outgoing(s, n, m);
	if (s->failed)
		return;
	s->count[m->type]++;
	if (m->type == RAFT_MSG_APPEND_RESP && m->reject)
		s->rejects[n->id]++;
	if (m->type == RAFT_MSG_APPEND) {
		if (m->n_entries > s->max_app_entries)
			s->max_app_entries = m->n_entries;
		for (i = 0; i < m->n_entries; i++)
			bytes += m->entries[i].len;
		if (bytes > s->max_app_bytes)
			s->max_app_bytes = bytes;
	}
	if (m->type == RAFT_MSG_SNAPSHOT) {
		snap_send(s, n, m);
		return;
	}
	if (s->cfg.filter != NULL &&
	    s->cfg.filter(s->cfg.filter_ctx, m) == SIM_DROP) {
		evrec(s, ER_DROP, m->type, m->from, m->to, m->term, 0, 0, 0);
		return;
	}
	if (!sim_linked(s, m->from, m->to) ||
	    sim_rng_chance(&s->rng, s->cfg.drop_permille)) {
		evrec(s, ER_DROP, m->type, m->from, m->to, m->term,
		    m->prev_index, m->n_entries, m->commit);
		return;
	}
	evrec(s, ER_SEND, m->type, m->from, m->to, m->term, m->prev_index,
	    m->n_entries, m->reject ? 1000000 + m->hint_index : m->match_index);
	copies = sim_rng_chance(&s->rng, s->cfg.dup_permille) ? 2 : 1;
	for (i = 0; i < copies; i++) {
		memset(&e, 0, sizeof(e));
		e.kind = EV_DELIVER;
		e.node = m->to;
		e.time = s->now + sim_rng_range(&s->rng, s->cfg.delay_min,
		    s->cfg.delay_max);
		e.msg = msg_clone(m);
		heap_push(s, &e);
	}
}

/* ------------------------------------------------------------------ */
/* The disk.                                                           */

/* Frees a write and what it holds. */
static void
write_free(struct write *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->entries[i].data);
	for (i = 0; i < w->n_held; i++)
		free(w->held[i]);
	free(w->install);
	free(w->taken);
	free(w->entries);
	free(w->held);
	free(w);
}

/* Makes the head write of n durable, sends its held messages, reports. */
static void
disk_complete(struct sim *s, struct sim_node *n)
{
	struct write *w = n->wq_head;
	raft_index_t idx;
	size_t i;

	if (w == NULL) {
		sim_fail(s, "Simulator", "disk completion with no write");
		return;
	}
	n->wq_head = w->next;
	if (n->wq_head == NULL)
		n->wq_tail = NULL;
	if (w->install != NULL) {
		install_durable(s, n, w->install);
		w->install = NULL;
	}
	if (w->n > 0) {
		if (w->first < 1 || w->first > n->dlast + 1) {
			sim_fail(s, "Log contiguity", "node %" PRIu64 " wrote "
			    "entries from %" PRIu64 " onto a durable log ending"
			    " at %" PRIu64, n->id, w->first, n->dlast);
			write_free(w);
			return;
		}
		if (w->first < n->dfirst) {
			sim_fail(s, "Log contiguity", "node %" PRIu64 " rewrote "
			    "compacted index %" PRIu64, n->id, w->first);
			write_free(w);
			return;
		}
		for (idx = w->first; idx <= n->dlast; idx++) {
			free(n->dlog[idx].data);
			n->dlog[idx].data = NULL;
		}
		n->dlast = w->first - 1;
		n->dlog = grow(n->dlog, &n->dcap, n->dlast + w->n + 1,
		    sizeof(*n->dlog));
		for (i = 0; i < w->n; i++) {
			idx = ++n->dlast;
			n->dlog[idx] = w->entries[i];
			n->dlog[idx].chain = chain_hash(n->dlog[idx - 1].chain,
			    w->entries[i].term, entry_hash(w->entries[i].type,
			    w->entries[i].data, w->entries[i].len));
			w->entries[i].data = NULL;
		}
	}
	if (w->has_hs) {
		n->dhs = w->hs;
		if (n->dhs.commit > n->dlast)
			sim_fail(s, "Durability (commit)", "node %" PRIu64
			    " made commit %" PRIu64 " durable with a durable "
			    "log ending at %" PRIu64, n->id, n->dhs.commit,
			    n->dlast);
	}
	evrec(s, ER_DISK, 0, n->id, 0, w->first, w->n, n->dhs.term,
	    n->dhs.commit);
	for (i = 0; i < w->n_held && !s->failed; i++)
		net_send(s, n, w->held[i]);
	if (w->taken != NULL && !s->failed) {
		snapshot_durable(s, n, w->taken);
		w->taken = NULL;
	}
	if (w->has_hs || w->n > 0) {
		if (w->n > 0)
			raft_persisted(n->r, w->first + w->n - 1,
			    n->dlog[w->first + w->n - 1].term);
		else
			raft_persisted(n->r, n->dlast, n->dlog[n->dlast].term);
	}
	write_free(w);
}

/* ------------------------------------------------------------------ */
/* Carrying out a Ready batch.                                         */

/* Step 1: checks and mirrors new log entries, queues the disk write. */
static struct write *
ready_entries(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	const struct raft_entry *e;
	struct write *w;
	raft_index_t first, idx;
	struct raft_status st;
	size_t i;

	if (rd->n_entries > 0) {
		first = rd->entries[0].index;
		if (first < 1 || first > n->mlast + 1) {
			sim_fail(s, "Log contiguity", "node %" PRIu64
			    " handed out entries from %" PRIu64 " after a log "
			    "ending at %" PRIu64, n->id, first, n->mlast);
			return NULL;
		}
		raft_get_status(n->r, &st);
		if (first <= n->mlast && n->role == RAFT_LEADER &&
		    st.role == RAFT_LEADER && st.term == n->term)
			sim_fail(s, "Leader Append-Only", "leader %" PRIu64
			    " of term %" PRIu64 " rewrote its log from %"
			    PRIu64 " (last %" PRIu64 ")", n->id, st.term,
			    first, n->mlast);
		if (first <= n->commit)
			sim_fail(s, "Commit safety", "node %" PRIu64
			    " truncated its log at %" PRIu64 ", at or below "
			    "its commit index %" PRIu64, n->id, first,
			    n->commit);
		n->mlog = grow(n->mlog, &n->mcap, first + rd->n_entries + 1,
		    sizeof(*n->mlog));
		n->mlast = first - 1;
		for (i = 0; i < rd->n_entries && !s->failed; i++) {
			e = &rd->entries[i];
			idx = first + i;
			if (e->index != idx ||
			    e->term < n->mlog[idx - 1].term ||
			    e->term > st.term ||
			    (e->len > 0 && e->data == NULL)) {
				sim_fail(s, "Log shape", "node %" PRIu64
				    " handed out entry %" PRIu64 " term %"
				    PRIu64 " at position %" PRIu64 " after "
				    "term %" PRIu64 " (node term %" PRIu64 ")",
				    n->id, e->index, e->term, idx,
				    n->mlog[idx - 1].term, st.term);
				break;
			}
			n->mlog[idx].term = e->term;
			n->mlog[idx].chain = chain_hash(n->mlog[idx - 1].chain,
			    e->term, entry_hash(e->type, e->data, e->len));
			n->mlast = idx;
			lm_check(s, n, idx, e->term, n->mlog[idx].chain);
		}
	}
	if (rd->hs_changed) {
		if (rd->hs.term < n->qhs.term || (rd->hs.term == n->qhs.term &&
		    n->qhs.vote != 0 && rd->hs.vote != n->qhs.vote))
			sim_fail(s, "One vote per term", "node %" PRIu64 " went"
			    " from term %" PRIu64 " vote %" PRIu64 " to term %"
			    PRIu64 " vote %" PRIu64, n->id, n->qhs.term,
			    n->qhs.vote, rd->hs.term, rd->hs.vote);
	}
	if (!rd->hs_changed && !rd->commit_changed && rd->n_entries == 0 &&
	    rd->n_msgs_after_persist == 0 && !rd->install_snapshot)
		return NULL;
	w = sim_xcalloc(1, sizeof(*w));
	if (rd->hs_changed || rd->commit_changed) {
		w->has_hs = true;
		w->hs = rd->hs;
		n->qhs = rd->hs;
	}
	if (rd->n_entries > 0) {
		w->first = rd->entries[0].index;
		w->n = rd->n_entries;
		w->entries = sim_xcalloc(w->n, sizeof(*w->entries));
		for (i = 0; i < w->n; i++) {
			e = &rd->entries[i];
			w->entries[i].term = e->term;
			w->entries[i].type = e->type;
			w->entries[i].len = e->len;
			if (e->len > 0) {
				w->entries[i].data = sim_xcalloc(1, e->len);
				memcpy(w->entries[i].data, e->data, e->len);
			}
		}
	}
	return w;
}

/* Step 4: applies committed entries to n's state machine, checking. */
static void
ready_apply(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	const struct raft_entry *e;
	struct cinfo *ci;
	uint64_t h;
	size_t i;

	for (i = 0; i < rd->n_committed && !s->failed; i++) {
		e = &rd->committed[i];
		h = entry_hash(e->type, e->data, e->len);
		if (e->index != n->applied + 1) {
			sim_fail(s, "Apply order", "node %" PRIu64 " applied %"
			    PRIu64 " after %" PRIu64, n->id, e->index,
			    n->applied);
			return;
		}
		if (e->index > n->dlast || n->dlog[e->index].term != e->term ||
		    entry_hash(n->dlog[e->index].type, n->dlog[e->index].data,
		    n->dlog[e->index].len) != h) {
			sim_fail(s, "Durability (apply)", "node %" PRIu64
			    " was told to apply index %" PRIu64 " term %"
			    PRIu64 " which its durable log (ending at %"
			    PRIu64 ") does not hold", n->id, e->index,
			    e->term, n->dlast);
			return;
		}
		ci = cinfo_at(s, e->index);
		if (!ci->applied) {
			ci->applied = true;
			ci->app_term = e->term;
			ci->app_hash = h;
		} else if (ci->app_term != e->term || ci->app_hash != h) {
			sim_fail(s, "State Machine Safety", "node %" PRIu64
			    " applied index %" PRIu64 " term %" PRIu64 " but "
			    "another node applied term %" PRIu64 " (or other "
			    "data) there", n->id, e->index, e->term,
			    ci->app_term);
			return;
		}
		if (ci->committed && ci->term != e->term)
			sim_fail(s, "State Machine Safety", "node %" PRIu64
			    " applied index %" PRIu64 " term %" PRIu64 " but "
			    "term %" PRIu64 " is committed there", n->id,
			    e->index, e->term, ci->term);
		n->applied = e->index;
		n->sm_state = sm_next(n->sm_state, e->type, e->data, e->len);
		state_check(s, n, e->index, n->sm_state, "applied");
	}
}

/* Step 5: checks the answered reads. */
static void
ready_reads(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	const struct raft_read *rr;
	struct read_rec *rec;
	size_t i;

	for (i = 0; i < rd->n_reads && !s->failed; i++) {
		rr = &rd->reads[i];
		if (rr->ctx < 1 || rr->ctx > s->n_reads) {
			sim_fail(s, "ReadIndex", "node %" PRIu64 " answered an "
			    "unknown read %" PRIu64, n->id, rr->ctx);
			return;
		}
		rec = &s->reads[rr->ctx - 1];
		if (rec->node != n->id || rec->incarnation != n->incarnation ||
		    rec->done) {
			sim_fail(s, "ReadIndex", "node %" PRIu64
			    " answered read %" PRIu64 " which it does not "
			    "own or already answered", n->id, rr->ctx);
			return;
		}
		rec->done = true;
		rec->ok = rr->ok;
		rec->index = rr->index;
		evrec(s, ER_READ_DONE, 0, n->id, 0, rr->ctx, rr->ok, rr->index,
		    rec->bound);
		if (rr->ok && rr->index < rec->bound)
			sim_fail(s, "No stale read", "node %" PRIu64
			    " confirmed read %" PRIu64 " at index %" PRIu64
			    " but index %" PRIu64 " was already committed "
			    "when it was submitted", n->id, rr->ctx,
			    rr->index, rec->bound);
	}
}

/* Queues w on n's disk; it completes after a seeded latency, in order. */
static void
queue_write(struct sim *s, struct sim_node *n, struct write *w)
{
	struct event e;

	if (n->wq_tail != NULL)
		n->wq_tail->next = w;
	else
		n->wq_head = w;
	n->wq_tail = w;
	memset(&e, 0, sizeof(e));
	e.kind = EV_DISK;
	e.node = n->id;
	e.incarnation = n->incarnation;
	e.time = s->now + sim_rng_range(&s->rng, 0, s->cfg.disk_max);
	if (w->lazy) {
		/*
		 * A spare's deferred sync: later, by up to four disk
		 * latencies (the daemon's bound is its own option).  Writes
		 * still complete in order, so what follows waits too.
		 */
		e.time += sim_rng_range(&s->rng, 1, 4 * s->cfg.disk_max + 1);
		n->lazy_writes++;
	}
	if (e.time < n->wq_done_time)
		e.time = n->wq_done_time;
	n->wq_done_time = e.time;
	heap_push(s, &e);
}

/* Carries out one Ready batch of n in the contract's order. */
static void
handle_ready(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	struct sim_snap *img = NULL;
	struct write *w;
	struct event e;
	size_t i;

	if (rd->install_snapshot &&
	    (img = install_begin(s, n, rd)) == NULL)
		return;
	w = ready_entries(s, n, rd);
	if (s->failed) {
		if (w != NULL)
			write_free(w);
		free(img);
		return;
	}
	for (i = 0; i < rd->n_msgs && !s->failed; i++)
		net_send(s, n, &rd->msgs[i]);
	if (w != NULL) {
		w->install = img;
		w->lazy = rd->lazy_sync;
		if (rd->n_msgs_after_persist > 0) {
			w->held = sim_xcalloc(rd->n_msgs_after_persist,
			    sizeof(*w->held));
			for (i = 0; i < rd->n_msgs_after_persist; i++)
				w->held[i] =
				    msg_clone(&rd->msgs_after_persist[i]);
			w->n_held = rd->n_msgs_after_persist;
		}
		queue_write(s, n, w);
	}
	if (img != NULL &&
	    sim_rng_chance(&s->rng, s->cfg.install_crash_permille)) {
		/* Crash before or after the install is durable. */
		memset(&e, 0, sizeof(e));
		e.kind = EV_CRASH;
		e.node = n->id;
		e.incarnation = n->incarnation;
		e.time = s->now + sim_rng_range(&s->rng, 0, s->cfg.disk_max +
		    SIM_UNITS_PER_TICK);
		heap_push(s, &e);
	}
	ready_apply(s, n, rd);
	ready_reads(s, n, rd);
}

/*
 * Takes a snapshot of n's state machine once snapshot_every entries were
 * applied since the last one; it is written in order with the log.
 */
static void
maybe_snapshot(struct sim *s, struct sim_node *n)
{
	struct sim_snap *img;
	struct write *w;
	int rc;

	if (s->failed || !n->alive || s->cfg.snapshot_every == 0 ||
	    n->applied < n->snap_taken + s->cfg.snapshot_every)
		return;
	img = sim_xcalloc(1, sizeof(*img));
	img->index = n->applied;
	img->term = n->mlog[n->applied].term;
	img->chain = n->mlog[n->applied].chain;
	img->state = n->sm_state;
	rc = raft_cluster_at(n->r, n->applied, &img->cluster);
	if (rc != 0) {
		sim_fail(s, "Snapshot (local)", "raft_cluster_at(%" PRIu64
		    ") on node %" PRIu64 " returned %s", n->applied, n->id,
		    raft_strerror(rc));
		free(img);
		return;
	}
	n->snap_taken = n->applied;
	w = sim_xcalloc(1, sizeof(*w));
	w->taken = img;
	queue_write(s, n, w);
}

/* Drains every Ready batch of n. */
static void
node_drain(struct sim *s, struct sim_node *n)
{
	struct raft_ready rd;
	int guard = 0;

	while (!s->failed && n->alive && raft_has_ready(n->r)) {
		memset(&rd, 0, sizeof(rd));
		if (raft_ready(n->r, &rd) != 0) {
			sim_fail(s, "Core", "raft_ready() failed on node %"
			    PRIu64, n->id);
			return;
		}
		handle_ready(s, n, &rd);
		raft_advance(n->r, &rd);
		if (++guard > 1000) {
			sim_fail(s, "Core", "node %" PRIu64 " keeps producing "
			    "Ready batches", n->id);
			return;
		}
	}
}

/* The per-step checks on n's observable state (after its Ready). */
static void
node_check(struct sim *s, struct sim_node *n)
{
	struct raft_status st;
	raft_index_t c;
	struct cinfo *ci;

	if (s->failed || !n->alive)
		return;
	raft_get_status(n->r, &st);
	if (st.last_index != n->mlast ||
	    st.last_term != n->mlog[n->mlast].term) {
		sim_fail(s, "Ready completeness", "node %" PRIu64 " log ends "
		    "at %" PRIu64 "/%" PRIu64 " but its Ready batches built %"
		    PRIu64 "/%" PRIu64, n->id, st.last_index, st.last_term,
		    n->mlast, n->mlog[n->mlast].term);
		return;
	}
	if (st.term < n->term) {
		sim_fail(s, "Term monotonic", "node %" PRIu64 " term went from "
		    "%" PRIu64 " to %" PRIu64, n->id, n->term, st.term);
		return;
	}
	if (st.commit < n->commit) {
		sim_fail(s, "Commit monotonic", "node %" PRIu64 " commit went "
		    "from %" PRIu64 " to %" PRIu64, n->id, n->commit,
		    st.commit);
		return;
	}
	if (st.commit > st.last_index) {
		sim_fail(s, "Commit within log", "node %" PRIu64 " commit %"
		    PRIu64 " beyond its last index %" PRIu64, n->id, st.commit,
		    st.last_index);
		return;
	}
	if (st.persisted > n->dlast) {
		sim_fail(s, "Durability (persisted)", "node %" PRIu64 " thinks "
		    "%" PRIu64 " is durable; its disk ends at %" PRIu64, n->id,
		    st.persisted, n->dlast);
		return;
	}
	if (st.commit > n->commit)
		note_commit(s, n, n->commit, st.commit);
	if (st.role != n->role || st.term != n->term)
		evrec(s, ER_ROLE, 0, n->id, st.leader, st.role, st.term,
		    st.commit, st.last_index);
	if (st.role == RAFT_LEADER) {
		note_leader(s, n, st.term);
		if (!s->failed &&
		    (n->role != RAFT_LEADER || n->term != st.term)) {
			c = s->commit_max;
			ci = cinfo_at(s, c);
			if (c > n->mlast || n->mlog[c].chain != ci->chain)
				sim_fail(s, "Leader Completeness", "node %"
				    PRIu64 " became leader of term %" PRIu64
				    " without committed index %" PRIu64 " (its "
				    "log ends at %" PRIu64 ")", n->id, st.term,
				    c, n->mlast);
		}
	}
	n->role = st.role;
	n->term = st.term;
	n->commit = st.commit;
}

/* Runs the checks after an input to n. */
static void
node_after(struct sim *s, struct sim_node *n)
{
	node_drain(s, n);
	node_check(s, n);
	maybe_snapshot(s, n);
}

/* ------------------------------------------------------------------ */
/* Node lifecycle.                                                     */

/*
 * Starts n's core from its durable state only: the snapshot, if any, and
 * the log after it.
 */
static int
node_start(struct sim *s, struct sim_node *n)
{
	struct raft_entry *ents;
	struct raft_restore rs;
	struct raft_status st;
	raft_index_t i, base = n->dsnap != NULL ? n->dsnap->index : 0;
	int rc;

	if (n->dlast < base || n->dfirst > base + 1) {
		sim_fail(s, "Restart", "node %" PRIu64 " has snapshot %" PRIu64
		    " but durable entries %" PRIu64 "..%" PRIu64, n->id, base,
		    n->dfirst, n->dlast);
		return -1;
	}
	ents = sim_xcalloc(n->dlast - base, sizeof(*ents));
	for (i = base + 1; i <= n->dlast; i++) {
		ents[i - base - 1].index = i;
		ents[i - base - 1].term = n->dlog[i].term;
		ents[i - base - 1].type = n->dlog[i].type;
		ents[i - base - 1].len = n->dlog[i].len;
		ents[i - base - 1].data = n->dlog[i].data;
	}
	memset(&rs, 0, sizeof(rs));
	rs.hs = n->dhs;
	rs.entries = ents;
	rs.n_entries = n->dlast - base;
	if (n->dsnap != NULL) {
		rs.snapshot_index = n->dsnap->index;
		rs.snapshot_term = n->dsnap->term;
		rs.snapshot_cluster = &n->dsnap->cluster;
	}
	rc = raft_new(&n->cfg, &rs, &n->r);
	free(ents);
	if (rc != 0) {
		sim_fail(s, "Restart", "raft_new() of node %" PRIu64 " from "
		    "term %" PRIu64 " vote %" PRIu64 " commit %" PRIu64 " and %"
		    PRIu64 " entries failed: %s", n->id, n->dhs.term,
		    n->dhs.vote, n->dhs.commit, n->dlast, raft_strerror(rc));
		n->r = NULL;
		return -1;
	}
	n->alive = true;
	n->incarnation++;
	n->qhs = n->dhs;
	n->wq_done_time = s->now;
	n->mlog = grow(n->mlog, &n->mcap, n->dlast + 1, sizeof(*n->mlog));
	for (i = 0; i <= n->dlast; i++) {
		n->mlog[i].term = n->dlog[i].term;
		n->mlog[i].chain = n->dlog[i].chain;
	}
	n->mlast = n->dlast;
	raft_get_status(n->r, &st);
	if (st.commit < n->dhs.commit || st.term != n->dhs.term ||
	    st.commit < base || st.applied != base) {
		sim_fail(s, "Restart", "node %" PRIu64 " restarted at term %"
		    PRIu64 " commit %" PRIu64 " applied %" PRIu64 " from "
		    "durable term %" PRIu64 " commit %" PRIu64 " snapshot %"
		    PRIu64, n->id, st.term, st.commit, st.applied, n->dhs.term,
		    n->dhs.commit, base);
		return -1;
	}
	/* The state machine restarts from the snapshot image. */
	n->sm_state = n->dsnap != NULL ? n->dsnap->state : 0;
	n->snap_taken = base;
	if (base > 0)
		state_check(s, n, base, n->sm_state, "restarted with");
	n->applied = st.applied;
	n->commit = 0;
	n->role = RAFT_FOLLOWER;
	n->term = st.term;
	evrec(s, ER_RESTART, 0, n->id, 0, st.term, st.commit, n->dlast, 0);
	node_after(s, n);
	return s->failed ? -1 : 0;
}

/* Discards n's core and everything not yet durable. */
int
sim_crash(struct sim *s, raft_id_t id)
{
	struct sim_node *n;
	struct write *w;
	size_t i;

	if (id < 1 || id > s->cfg.nodes || !s->nodes[id].alive)
		return -1;
	n = &s->nodes[id];
	raft_free(n->r);
	n->r = NULL;
	n->alive = false;
	while ((w = n->wq_head) != NULL) {
		n->wq_head = w->next;
		write_free(w);
	}
	n->wq_tail = NULL;
	n->held_done = 0;
	rx_clear(n);
	for (i = 0; i < s->n_reads; i++)
		if (s->reads[i].node == id && !s->reads[i].done) {
			s->reads[i].done = true;
			s->reads[i].lost = true;
		}
	n->role = RAFT_FOLLOWER;
	evrec(s, ER_CRASH, 0, id, 0, n->dhs.term, n->dhs.commit, n->dlast, 0);
	return 0;
}

/* Restarts a crashed node from its durable state. */
int
sim_restart(struct sim *s, raft_id_t id)
{
	if (id < 1 || id > s->cfg.nodes || s->nodes[id].alive || s->failed)
		return -1;
	return node_start(s, &s->nodes[id]);
}

/* Restarts a crashed node with its durable term raised and no vote. */
int
sim_restart_bumped(struct sim *s, raft_id_t id, raft_term_t delta)
{
	if (id < 1 || id > s->cfg.nodes || s->nodes[id].alive || s->failed)
		return -1;
	s->nodes[id].dhs.term += delta;
	s->nodes[id].dhs.vote = 0;
	return node_start(s, &s->nodes[id]);
}

/* True if node id is running. */
bool
sim_alive(const struct sim *s, raft_id_t id)
{
	return id >= 1 && id <= s->cfg.nodes && s->nodes[id].alive;
}

/* ------------------------------------------------------------------ */
/* Creation.                                                           */

/* Fills a reliable 3-node configuration with no disk latency. */
void
sim_config_defaults(struct sim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nodes = 3;
	cfg->seed = 1;
	cfg->cluster_id = 0x5151;
	cfg->election_min = 10;
	cfg->election_max = 10;
	cfg->heartbeat_min = 2;
	cfg->heartbeat_max = 2;
	cfg->delay_min = 1;
	cfg->delay_max = 1;
}

/* Creates and bootstraps a simulated cluster. */
int
sim_new(const struct sim_config *cfg, struct sim **out, char *err,
    size_t errlen)
{
	struct raft_cluster *cluster = NULL;
	struct raft_entry boot;
	struct sim_node *n;
	struct sim *s = NULL;
	uint8_t *buf = NULL;
	unsigned i, j;
	int rc = -RAFT_EINVAL;

	*out = NULL;
	if (cfg->nodes < 1 || cfg->nodes > SIM_MAX_NODES ||
	    cfg->delay_min < 1 || cfg->delay_max < cfg->delay_min ||
	    cfg->election_min < 2 || cfg->election_max < cfg->election_min ||
	    cfg->heartbeat_min < 1 || cfg->heartbeat_max < cfg->heartbeat_min ||
	    cfg->heartbeat_max >= cfg->election_min) {
		snprintf(err, errlen, "sim: bad configuration (nodes %u)",
		    cfg->nodes);
		goto out;
	}
	s = sim_xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	sim_rng_seed(&s->rng, cfg->seed, 0);
	cluster = sim_xcalloc(1, sizeof(*cluster));
	cluster->n = cfg->nodes;
	for (i = 0; i < cfg->nodes; i++) {
		cluster->members[i].id = i + 1;
		cluster->members[i].voter = true;
		snprintf(cluster->members[i].peer_url, RAFT_MAX_URL + 1,
		    "sim://n%u", i + 1);
		snprintf(cluster->members[i].client_url, RAFT_MAX_URL + 1,
		    "sim://c%u", i + 1);
	}
	buf = sim_xcalloc(1, BOOT_BUF);
	memset(&boot, 0, sizeof(boot));
	if ((rc = raft_bootstrap_entry(cluster, buf, BOOT_BUF, &boot)) != 0) {
		snprintf(err, errlen, "sim: raft_bootstrap_entry: %s",
		    raft_strerror(rc));
		goto out;
	}
	if (boot.index != 1 || boot.term != 1) {
		snprintf(err, errlen, "sim: bootstrap entry at %" PRIu64 "/%"
		    PRIu64 ", want 1/1", boot.index, boot.term);
		rc = -RAFT_EINVAL;
		goto out;
	}
	for (i = 1; i <= cfg->nodes; i++)
		for (j = 1; j <= cfg->nodes; j++)
			s->link[i][j] = true;
	for (i = 1; i <= cfg->nodes; i++) {
		n = &s->nodes[i];
		n->sim = s;
		n->id = i;
		sim_rng_seed(&n->rng, cfg->seed, 100 + i);
		raft_config_defaults(&n->cfg);
		n->cfg.id = i;
		n->cfg.cluster_id = cfg->cluster_id;
		n->cfg.rand = node_rand;
		n->cfg.rand_ctx = &n->rng;
		n->cfg.trace = node_trace;
		n->cfg.trace_ctx = n;
		n->cfg.election_ticks = (unsigned)sim_rng_range(&s->rng,
		    cfg->election_min, cfg->election_max);
		n->cfg.heartbeat_ticks = (unsigned)sim_rng_range(&s->rng,
		    cfg->heartbeat_min, cfg->heartbeat_max);
		if (cfg->tweak != NULL)
			cfg->tweak(cfg->tweak_ctx, &n->cfg);
		n->dlog = grow(n->dlog, &n->dcap, 2, sizeof(*n->dlog));
		n->dlast = 1;
		n->dlog[1].term = 1;
		n->dlog[1].type = boot.type;
		n->dlog[1].len = boot.len;
		n->dlog[1].data = sim_xcalloc(1, boot.len);
		if (boot.len > 0)
			memcpy(n->dlog[1].data, boot.data, boot.len);
		n->dlog[1].chain = chain_hash(0, 1,
		    entry_hash(boot.type, boot.data, boot.len));
		n->dhs.term = 1;
		n->dhs.vote = 0;
		n->dhs.commit = 1;
		n->dfirst = 1;
	}
	for (i = 1; i <= cfg->nodes; i++) {
		if (node_start(s, &s->nodes[i]) != 0) {
			snprintf(err, errlen, "sim: %s", s->error);
			rc = -RAFT_EINVAL;
			goto out;
		}
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(buf);
	free(cluster);
	if (s != NULL)
		sim_free(s);
	return rc;
}

/* Frees the simulator, its cores, disks and queued events. */
void
sim_free(struct sim *s)
{
	struct event e;
	raft_index_t i;
	unsigned k;

	if (s == NULL)
		return;
	for (k = 1; k <= s->cfg.nodes; k++) {
		struct sim_node *n = &s->nodes[k];

		if (n->alive)
			sim_crash(s, n->id);
		rx_clear(n);
		free(n->dsnap);
		for (i = 0; i < n->dcap; i++)
			free(n->dlog[i].data);
		free(n->dlog);
		free(n->mlog);
	}
	while (s->n_heap > 0) {
		heap_pop(s, &e);
		free(e.msg);
		free(e.image);
	}
	free(s->heap);
	for (i = 0; i < s->cap_idx; i++)
		free(s->idx[i].lm.items);
	free(s->idx);
	free(s->leaders);
	free(s->props);
	free(s->reads);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Running.                                                            */

/* Tells the sender of a snapshot transfer how it ended, if still alive. */
static void
snap_report(struct sim *s, struct event *e, bool ok)
{
	struct sim_node *sender = &s->nodes[e->sender];

	if (!sender->alive || sender->incarnation != e->sender_incarnation)
		return;
	raft_report_snapshot(sender->r, e->node, ok);
	node_after(s, sender);
}

/* Carries out one queued event. */
static void
run_event(struct sim *s, struct event *e)
{
	struct sim_node *n = &s->nodes[e->node];
	struct raft_status after;
	raft_term_t before_term;
	int rc;

	s->now = e->time;
	switch (e->kind) {
	case EV_DISK:
		if (n->alive && e->incarnation == n->incarnation) {
			if (n->disk_held) {
				n->held_done++;
				return;
			}
			disk_complete(s, n);
			node_after(s, n);
		}
		return;
	case EV_SNAP_DONE:
		snap_report(s, e, false);
		return;
	case EV_CRASH:
		if (n->alive && e->incarnation == n->incarnation &&
		    s->cfg.install_crash_permille > 0) {
			sim_note(s, "crash node %" PRIu64 " around its snapshot "
			    "install", n->id);
			sim_crash(s, n->id);
		}
		return;
	case EV_DELIVER:
		break;
	}
	if (!n->alive || !sim_linked(s, e->msg->from, e->msg->to)) {
		evrec(s, ER_LOST, e->msg->type, e->msg->from, e->msg->to,
		    e->msg->term, 0, 0, 0);
		free(e->msg);
		if (e->image != NULL) {
			free(e->image);
			if (e->report)
				snap_report(s, e, false);
		}
		return;
	}
	evrec(s, ER_DELIVER, e->msg->type, e->msg->from, e->msg->to,
	    e->msg->term, e->image != NULL ? e->msg->snap_index :
	    e->msg->prev_index, e->msg->n_entries, e->msg->commit);
	if (e->image != NULL) {
		/* The received file, kept until an install names it. */
		e->msg->snap_cluster = &e->image->cluster;
		rx_store(n, e->image);
	}
	before_term = n->term;
	rc = raft_step(n->r, e->msg);
	if (rc != 0 && rc != -RAFT_EINVAL)
		sim_fail(s, "Core", "raft_step() on node %" PRIu64 " returned "
		    "%s", n->id, raft_strerror(rc));
	node_after(s, n);
	if (e->image != NULL && e->report && !s->failed)
		snap_report(s, e, true);
	if (!s->failed && (e->msg->type == RAFT_MSG_PREVOTE ||
	    (e->msg->type == RAFT_MSG_PREVOTE_RESP && !e->msg->reject))) {
		raft_get_status(n->r, &after);
		/* A granted pre-vote may start the real campaign, no more. */
		if (after.term != before_term &&
		    (e->msg->type == RAFT_MSG_PREVOTE ||
		    after.role != RAFT_CANDIDATE ||
		    after.term != before_term + 1))
			sim_fail(s, "PreVote", "a %s from %" PRIu64
			    " moved node %" PRIu64 " from term %" PRIu64
			    " to %" PRIu64,
			    raft_msg_type_name(e->msg->type), e->msg->from,
			    n->id, before_term, after.term);
	}
	free(e->msg);
}

/* Ticks one node and checks that a term rise came from a campaign. */
static void
tick_node(struct sim *s, struct sim_node *n)
{
	raft_term_t before = n->term;

	raft_tick(n->r);
	node_after(s, n);
	if (!s->failed && n->alive && n->term != before &&
	    n->role != RAFT_CANDIDATE && n->role != RAFT_LEADER)
		sim_fail(s, "PreVote", "a tick moved node %" PRIu64 " from term"
		    " %" PRIu64 " to %" PRIu64 " as %s", n->id, before, n->term,
		    raft_role_name(n->role));
}

/* Advances one tick: ticks every live node, then runs what is due. */
int
sim_tick(struct sim *s)
{
	struct event e;
	uint64_t end;
	unsigned i, k, start;

	if (s->failed)
		return -1;
	s->ticks++;
	s->now = s->ticks * SIM_UNITS_PER_TICK;
	start = (unsigned)sim_rng_range(&s->rng, 0, s->cfg.nodes - 1);
	for (k = 0; k < s->cfg.nodes && !s->failed; k++) {
		i = 1 + (start + k) % s->cfg.nodes;
		if (s->nodes[i].alive)
			tick_node(s, &s->nodes[i]);
	}
	(void)end;
	(void)e;
	return sim_flush(s);
}

/* Runs the events due before the end of the current tick. */
int
sim_flush(struct sim *s)
{
	struct event e;
	uint64_t end = (s->ticks + 1) * SIM_UNITS_PER_TICK;

	while (!s->failed && s->n_heap > 0 && s->heap[0].time < end) {
		heap_pop(s, &e);
		run_event(s, &e);
	}
	s->now = end - 1;
	return s->failed ? -1 : 0;
}

/* Runs a number of ticks. */
int
sim_run(struct sim *s, unsigned ticks)
{
	unsigned i;

	for (i = 0; i < ticks; i++)
		if (sim_tick(s) != 0)
			return -1;
	return 0;
}

/* Runs until a predicate holds or the tick budget is spent. */
int
sim_run_until(struct sim *s, bool (*pred)(struct sim *, void *), void *ctx,
    unsigned max_ticks)
{
	unsigned i;

	if (s->failed)
		return -1;
	if (pred(s, ctx))
		return 1;
	for (i = 0; i < max_ticks; i++) {
		if (sim_tick(s) != 0)
			return -1;
		if (pred(s, ctx))
			return 1;
	}
	return 0;
}

/* sim_run_until() predicate: a leader exists. */
static bool
has_leader(struct sim *s, void *ctx)
{
	(void)ctx;
	return sim_leader(s) != 0;
}

/* Runs until a leader exists and returns it, or 0. */
raft_id_t
sim_wait_leader(struct sim *s, unsigned max_ticks)
{
	if (sim_run_until(s, has_leader, NULL, max_ticks) != 1)
		return 0;
	return sim_leader(s);
}

/* ------------------------------------------------------------------ */
/* Faults.                                                             */

/* Sets the symmetric link between two nodes. */
void
sim_set_link(struct sim *s, raft_id_t a, raft_id_t b, bool up)
{
	if (a < 1 || a > s->cfg.nodes || b < 1 || b > s->cfg.nodes || a == b)
		return;
	s->link[a][b] = up;
	s->link[b][a] = up;
}

/* Cuts one node off from all others. */
void
sim_isolate(struct sim *s, raft_id_t id)
{
	unsigned i;

	for (i = 1; i <= s->cfg.nodes; i++)
		sim_set_link(s, id, i, false);
}

/* Restores every link. */
void
sim_heal(struct sim *s)
{
	unsigned i, j;

	for (i = 1; i <= s->cfg.nodes; i++)
		for (j = 1; j <= s->cfg.nodes; j++)
			s->link[i][j] = true;
}

/* Sets the drop and duplication rates. */
void
sim_set_loss(struct sim *s, unsigned drop_permille, unsigned dup_permille)
{
	s->cfg.drop_permille = drop_permille;
	s->cfg.dup_permille = dup_permille;
}

/* Sets the message delay range, in time units. */
void
sim_set_delay(struct sim *s, unsigned lo, unsigned hi)
{
	s->cfg.delay_min = lo < 1 ? 1 : lo;
	s->cfg.delay_max = hi < s->cfg.delay_min ? s->cfg.delay_min : hi;
}

/* Changes the snapshot period and the entries compaction keeps. */
void
sim_set_snapshots(struct sim *s, unsigned every, unsigned keep)
{
	s->cfg.snapshot_every = every;
	s->cfg.snapshot_keep = keep;
}

/* Changes the chance of failed transfers and of crashes during installs. */
void
sim_set_snapshot_faults(struct sim *s, unsigned fail_permille,
    unsigned crash_permille)
{
	s->cfg.snapshot_fail_permille = fail_permille;
	s->cfg.install_crash_permille = crash_permille;
}

/* Holds a node's disk writes, or releases every held completion. */
void
sim_hold_disk(struct sim *s, raft_id_t id, bool hold)
{
	struct sim_node *n;
	struct event e;

	if (id < 1 || id > s->cfg.nodes)
		return;
	n = &s->nodes[id];
	n->disk_held = hold;
	for (; !hold && n->held_done > 0; n->held_done--) {
		memset(&e, 0, sizeof(e));
		e.kind = EV_DISK;
		e.node = id;
		e.incarnation = n->incarnation;
		e.time = s->now;
		heap_push(s, &e);
	}
}

/* Installs (or removes, with NULL) the message filter. */
void
sim_set_filter(struct sim *s, sim_filter_fn *fn, void *ctx)
{
	s->cfg.filter = fn;
	s->cfg.filter_ctx = ctx;
}

/* ------------------------------------------------------------------ */
/* Workload.                                                           */

/* Proposes an entry on a node and records it for the liveness check. */
int
sim_propose(struct sim *s, raft_id_t id, const char *data,
    raft_index_t *index, raft_term_t *term)
{
	struct sim_node *n;
	raft_index_t idx = 0;
	raft_term_t t = 0;
	int rc;

	if (s->failed)
		return -RAFT_EINVAL;
	if (!sim_alive(s, id))
		return -RAFT_ENOTLEADER;
	n = &s->nodes[id];
	rc = raft_propose(n->r, RAFT_ENTRY_NORMAL, (const uint8_t *)data,
	    (uint32_t)strlen(data), &idx, &t);
	if (rc == 0) {
		s->props = grow(s->props, &s->cap_props, s->n_props + 1,
		    sizeof(*s->props));
		s->props[s->n_props].index = idx;
		s->props[s->n_props].term = t;
		s->n_props++;
		evrec(s, ER_PROPOSE, 0, id, 0, idx, t, 0, 0);
	}
	node_after(s, n);
	if (rc == 0 && !s->failed && (idx > n->mlast ||
	    n->mlog[idx].term != t))
		sim_fail(s, "Propose", "node %" PRIu64 " accepted a proposal "
		    "at %" PRIu64 "/%" PRIu64 " that its Ready did not append",
		    id, idx, t);
	if (index != NULL)
		*index = idx;
	if (term != NULL)
		*term = t;
	return rc;
}

/* Submits a ReadIndex on a node, recording its staleness bound. */
int
sim_read(struct sim *s, raft_id_t id, uint64_t *ctx)
{
	struct read_rec *rec;
	struct sim_node *n;
	int rc;

	*ctx = 0;
	if (s->failed)
		return -RAFT_EINVAL;
	if (!sim_alive(s, id))
		return -RAFT_ENOTLEADER;
	n = &s->nodes[id];
	s->reads = grow(s->reads, &s->cap_reads, s->n_reads + 1,
	    sizeof(*s->reads));
	rec = &s->reads[s->n_reads++];
	memset(rec, 0, sizeof(*rec));
	rec->node = id;
	rec->incarnation = n->incarnation;
	rec->bound = s->commit_max;
	rc = raft_read_index(n->r, s->n_reads);
	if (rc != 0) {
		s->n_reads--;
		node_after(s, n);
		return rc;
	}
	*ctx = s->n_reads;
	evrec(s, ER_READ, 0, id, 0, *ctx, rec->bound, 0, 0);
	node_after(s, n);
	return 0;
}

/* Reports the outcome of a read, false while it is unanswered. */
bool
sim_read_result(const struct sim *s, uint64_t ctx, bool *ok,
    raft_index_t *index)
{
	const struct read_rec *rec;

	if (ctx < 1 || ctx > s->n_reads)
		return false;
	rec = &s->reads[ctx - 1];
	if (!rec->done || rec->lost)
		return false;
	*ok = rec->ok;
	*index = rec->index;
	return true;
}

/* Delivers a hand-made message to its recipient at once. */
int
sim_deliver(struct sim *s, const struct raft_msg *m)
{
	struct sim_node *n;
	int rc;

	if (s->failed || !sim_alive(s, m->to))
		return -RAFT_EINVAL;
	n = &s->nodes[m->to];
	evrec(s, ER_DELIVER, m->type, m->from, m->to, m->term, m->prev_index,
	    m->n_entries, m->commit);
	if (m->type == RAFT_MSG_SNAPSHOT && m->snap_cluster != NULL) {
		struct sim_snap *img = sim_xcalloc(1, sizeof(*img));
		struct cinfo *ci = cinfo_at(s, m->snap_index);

		img->index = m->snap_index;
		img->term = m->snap_term;
		img->chain = ci->committed ? ci->chain :
		    chain_hash(0x5eed, m->snap_term, m->snap_index);
		img->state = ci->state_known ? ci->state :
		    chain_hash(0x57a7e, m->snap_term, m->snap_index);
		img->cluster = *m->snap_cluster;
		rx_store(n, img);
	}
	rc = raft_step(n->r, m);
	node_after(s, n);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Introspection.                                                      */

/* Returns the number of nodes. */
unsigned
sim_nodes(const struct sim *s)
{
	return s->cfg.nodes;
}

/* Returns the number of ticks run. */
uint64_t
sim_now_ticks(const struct sim *s)
{
	return s->ticks;
}

/* Returns the core of a live node, or NULL. */
struct raft *
sim_raft(struct sim *s, raft_id_t id)
{
	if (!sim_alive(s, id))
		return NULL;
	return s->nodes[id].r;
}

/* Fills the status of a node (zeroed when it is down). */
void
sim_status(const struct sim *s, raft_id_t id, struct raft_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = id;
	if (sim_alive(s, id))
		raft_get_status(s->nodes[id].r, st);
}

/* Returns the live leader of the highest term, or 0. */
raft_id_t
sim_leader(const struct sim *s)
{
	raft_id_t best = 0;
	raft_term_t term = 0;
	unsigned i;

	for (i = 1; i <= s->cfg.nodes; i++) {
		const struct sim_node *n = &s->nodes[i];

		if (n->alive && n->role == RAFT_LEADER && n->term >= term) {
			best = n->id;
			term = n->term;
		}
	}
	return best;
}

/* Returns the highest commit index seen on any node. */
raft_index_t
sim_commit_max(const struct sim *s)
{
	return s->commit_max;
}

/* Returns the term committed at index, or 0. */
raft_term_t
sim_committed_term(const struct sim *s, raft_index_t index)
{
	if (index >= s->cap_idx || !s->idx[index].committed)
		return 0;
	return s->idx[index].term;
}

/* Returns the last index a live node applied since it started. */
raft_index_t
sim_applied(const struct sim *s, raft_id_t id)
{
	if (!sim_alive(s, id))
		return 0;
	return s->nodes[id].applied;
}

/* Returns the last index of a node's durable log. */
raft_index_t
sim_durable_last(const struct sim *s, raft_id_t id)
{
	if (id < 1 || id > s->cfg.nodes)
		return 0;
	return s->nodes[id].dlast;
}

/* Fills a node's durable hard state. */
void
sim_durable_hs(const struct sim *s, raft_id_t id, struct raft_hard_state *hs)
{
	memset(hs, 0, sizeof(*hs));
	if (id >= 1 && id <= s->cfg.nodes)
		*hs = s->nodes[id].dhs;
}

/* Returns the index of a node's durable snapshot, or 0. */
raft_index_t
sim_snapshot_index(const struct sim *s, raft_id_t id)
{
	if (id < 1 || id > s->cfg.nodes || s->nodes[id].dsnap == NULL)
		return 0;
	return s->nodes[id].dsnap->index;
}

/* Returns how many batches a node was handed with lazy_sync set. */
uint64_t
sim_lazy_writes(const struct sim *s, raft_id_t id)
{
	if (id < 1 || id > s->cfg.nodes)
		return 0;
	return s->nodes[id].lazy_writes;
}

/* Counts snapshots made durable: taken locally, and installed. */
void
sim_snapshot_counts(const struct sim *s, uint64_t *taken, uint64_t *installed)
{
	*taken = s->snaps_taken;
	*installed = s->snaps_installed;
}

/* Counts messages sent of one type (0: all types). */
uint64_t
sim_msg_count(const struct sim *s, int type)
{
	uint64_t total = 0;
	int t;

	if (type > 0 && type <= RAFT_MSG_TYPE_MAX)
		return s->count[type];
	for (t = 1; t <= RAFT_MSG_TYPE_MAX; t++)
		total += s->count[t];
	return total;
}

/* Counts append rejections sent by a node. */
uint64_t
sim_reject_count(const struct sim *s, raft_id_t from)
{
	if (from < 1 || from > s->cfg.nodes)
		return 0;
	return s->rejects[from];
}

/* Resets the message counters. */
void
sim_reset_counts(struct sim *s)
{
	memset(s->count, 0, sizeof(s->count));
	memset(s->rejects, 0, sizeof(s->rejects));
	s->max_app_entries = 0;
	s->max_app_bytes = 0;
}

/* Returns the most entries seen in one APPEND. */
uint32_t
sim_max_append_entries(const struct sim *s)
{
	return s->max_app_entries;
}

/* Returns the most payload bytes seen in one APPEND. */
uint64_t
sim_max_append_bytes(const struct sim *s)
{
	return s->max_app_bytes;
}

/* Counts proposals committed, dropped and still open. */
void
sim_proposal_counts(const struct sim *s, uint64_t *committed,
    uint64_t *dropped, uint64_t *open)
{
	raft_term_t t;
	size_t i;

	*committed = *dropped = *open = 0;
	for (i = 0; i < s->n_props; i++) {
		t = sim_committed_term(s, s->props[i].index);
		if (t == 0)
			(*open)++;
		else if (t == s->props[i].term)
			(*committed)++;
		else
			(*dropped)++;
	}
}

/* Counts reads confirmed, failed and still waiting. */
void
sim_read_counts(const struct sim *s, uint64_t *ok, uint64_t *failed,
    uint64_t *waiting)
{
	size_t i;

	*ok = *failed = *waiting = 0;
	for (i = 0; i < s->n_reads; i++) {
		if (!s->reads[i].done)
			(*waiting)++;
		else if (s->reads[i].lost)
			continue;
		else if (s->reads[i].ok)
			(*ok)++;
		else
			(*failed)++;
	}
}

/* Runs the end-of-run durability and liveness checks. */
int
sim_check_final(struct sim *s, bool require_resolved, bool require_reads)
{
	uint64_t committed, dropped, open, ok, failed, waiting;
	raft_index_t c = s->commit_max;
	unsigned i;

	if (s->failed)
		return -1;
	for (i = 1; i <= s->cfg.nodes && !s->failed; i++) {
		struct sim_node *n = &s->nodes[i];

		if (!n->alive)
			continue;
		if (n->mlast < c || n->mlog[c].chain != s->idx[c].chain)
			sim_fail(s, "Durability (end)", "node %u lacks the "
			    "committed prefix up to %" PRIu64 " (log ends at %"
			    PRIu64 ")", i, c, n->mlast);
	}
	sim_proposal_counts(s, &committed, &dropped, &open);
	if (require_resolved && open > 0)
		sim_fail(s, "Liveness (proposals)", "%" PRIu64 " of %zu "
		    "proposals neither committed nor dropped (commit %" PRIu64
		    ")", open, s->n_props, c);
	sim_read_counts(s, &ok, &failed, &waiting);
	if (require_reads && waiting > 0)
		sim_fail(s, "Liveness (reads)", "%" PRIu64 " reads still wait "
		    "on live nodes", waiting);
	return s->failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The failure dump.                                                   */

/* Prints nodes, trace lines, faults and recent events for a failure. */
void
sim_dump(const struct sim *s, FILE *fp)
{
	const struct sim_node *n;
	const struct trace_rec *t;
	const struct evrec *r;
	struct raft_status st;
	uint64_t k, from;
	unsigned i;

	fprintf(fp, "# nodes at tick %" PRIu64 " (commit max %" PRIu64 "):\n",
	    s->ticks, s->commit_max);
	for (i = 1; i <= s->cfg.nodes; i++) {
		n = &s->nodes[i];
		if (!n->alive) {
			fprintf(fp, "#  n%u DOWN  durable term %" PRIu64
			    " vote %" PRIu64 " commit %" PRIu64 " log %"
			    PRIu64 "\n", i,
			    n->dhs.term, n->dhs.vote, n->dhs.commit, n->dlast);
			continue;
		}
		raft_get_status(n->r, &st);
		fprintf(fp, "#  n%u %-12s term %" PRIu64 " vote %" PRIu64
		    " leader %" PRIu64 " commit %" PRIu64 " applied %" PRIu64
		    " snap %" PRIu64 "/%" PRIu64 " log %" PRIu64 "..%" PRIu64
		    "/%" PRIu64 " persisted %" PRIu64
		    " durable %" PRIu64 " (term %" PRIu64 " vote %" PRIu64
		    " commit %" PRIu64 ") links", i, raft_role_name(st.role),
		    st.term, st.vote, st.leader, st.commit, n->applied,
		    st.snapshot_index, sim_snapshot_index(s, i),
		    st.first_index, st.last_index, st.last_term,
		    st.persisted, n->dlast,
		    n->dhs.term, n->dhs.vote, n->dhs.commit);
		for (k = 1; k <= s->cfg.nodes; k++)
			if (k != i && s->link[i][k])
				fprintf(fp, " %" PRIu64, k);
		fprintf(fp, "\n");
	}
	for (i = 1; i <= s->cfg.nodes; i++) {
		n = &s->nodes[i];
		from = n->n_trace > 12 ? n->n_trace - 12 : 0;
		if (n->n_trace > 0)
			fprintf(fp, "# last trace lines of n%u:\n", i);
		for (k = from; k < n->n_trace; k++) {
			t = &n->trace[k % TRACE_RING];
			fprintf(fp, "#   %8.1f n%u %s %" PRIu64 " %" PRIu64
			    "\n",
			    (double)t->time / SIM_UNITS_PER_TICK, i,
			    t->what ? t->what : "?", t->a, t->b);
		}
	}
	fprintf(fp, "# last faults:\n");
	from = s->n_notes > NOTE_RING ? s->n_notes - NOTE_RING : 0;
	for (k = from; k < s->n_notes; k++)
		fprintf(fp, "#   %8.1f %s\n",
		    (double)s->notes[k % NOTE_RING].time / SIM_UNITS_PER_TICK,
		    s->notes[k % NOTE_RING].text);
	fprintf(fp, "# last events (time kind type from->to term "
	    "prev/.. n/.. commit/..):\n");
	from = s->n_ev > EVENT_RING ? s->n_ev - EVENT_RING : 0;
	for (k = from; k < s->n_ev; k++) {
		r = &s->ev[k % EVENT_RING];
		fprintf(fp, "#   %8.1f %-9s %-12s %" PRIu64 "->%" PRIu64 " %"
		    PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		    (double)r->time / SIM_UNITS_PER_TICK, evrec_names[r->kind],
		    r->mtype ? raft_msg_type_name(r->mtype) : "-", r->a, r->b,
		    r->x, r->y, r->z, r->w);
	}
}

/* Records a caller's note (a fault) for the dump. */
void
sim_note(struct sim *s, const char *fmt, ...)
{
	struct note *nt = &s->notes[s->n_notes++ % NOTE_RING];
	va_list ap;

	nt->time = s->now;
	va_start(ap, fmt);
	vsnprintf(nt->text, sizeof(nt->text), fmt, ap);
	va_end(ap);
	if (s->cfg.verbose != NULL)
		fprintf(s->cfg.verbose, "%8.1f FAULT %s\n",
		    (double)s->now / SIM_UNITS_PER_TICK, nt->text);
}
