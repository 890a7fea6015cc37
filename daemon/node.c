/*
 * node.c -- one raftkvd node: the Ready loop that ties the pure core to the
 * disk thread, the transport, the state machine and the client API.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "api.h"
#include "disk.h"
#include "kv.h"
#include "log.h"
#include "monotime.h"
#include "node.h"
#include "options.h"
#include "snapload.h"
#include "sendnow.h"
#include "snapxfer.h"
#include "storage.h"
#include "transport.h"
#include "vfs.h"
#include "xmalloc.h"

struct op_list {
	struct op	*head, *tail;
	size_t		 n;
};

/* A backup waiting for a snapshot (node_snapshot_wait()). */
struct node_snap_waiter {
	struct node	*node;
	node_snapshot_fn *cb;
	void		*arg;
	raft_index_t	 want;		/* the snapshot must cover this */
	struct node_snap_waiter *prev, *next;
};

/* The forked child's CPU niceness: below the serving processes. */
#define SNAP_CHILD_NICE		19
/* A forked child writing a snapshot cannot take longer than this. */
#define SNAP_CHILD_MAX_S	3600
/* After a failed snapshot, wait this long before the next attempt. */
#define SNAP_RETRY_MS		5000
/*
 * A child that reports no progress (a mark per SNAPLOAD_PROGRESS_BYTES)
 * for this long is stuck -- e.g. on a lock another thread held at fork()
 * -- and is killed; the snapshot is retried.
 */
#define SNAP_STALL_MS		30000

struct node {
	const struct options *opt;
	const struct logger *lg;
	struct event_base *base;
	/* request_timeout_ms as a libevent common timeout: every op's timer
	 * has it, so they queue in O(1) instead of in the timer heap. */
	const struct timeval *op_timeout;
	struct evdns_base *dns;

	struct vfs	*vfs;
	struct storage	*st;
	struct disk	*disk;
	struct raft	*raft;
	struct kv	*kv;
	struct transport *tr;
	struct snapxfer	*xfer;
	/* Replies and peer requests written at the end of a Ready pass. */
	struct sendnow	 sendnow;
	struct kv_config kv_cfg;
	struct evhttp	*peer_http;
	struct evhttp	*client_http;
	struct evhttp_bound_socket *peer_sock;
	struct evhttp_bound_socket *client_sock;

	struct event	*tick_ev;
	struct event	*ready_ev;
	uint64_t	 rand_state;
	uint64_t	 started_ms;

	raft_index_t	 commit_to_record;	/* lazily persisted commit */
	enum raft_role	 last_role;
	raft_id_t	 last_leader;
	raft_term_t	 last_term;
	struct raft_status status;		/* refreshed after each batch */
	raft_index_t	 last_config_index;

	bool		 storage_failed;
	char		 storage_error[256];
	bool		 stopping;

	/* Client connections served: an open-addressing set of pointers. */
	struct evhttp_connection **conns;
	size_t		 conns_cap, n_conns;
	bool		 accept_paused;

	struct op_list	 writes;	/* OP_WAIT_COMMIT, by index */
	struct op_list	 reads;		/* OP_WAIT_READ_INDEX */
	struct op_list	 applying;	/* OP_WAIT_APPLY, by index */
	uint64_t	 next_op_id;

	uint64_t	 reads_served;
	uint64_t	 syncs;
	uint64_t	 entries_persisted;

	/* Snapshots (docs/snapshots.md). */
	struct storage_snapshot_info snap;	/* latest durable one */
	uint64_t	 applied_bytes;		/* entry bytes since it */
	uint64_t	 snap_due_entries;	/* entries that make one due */
	pid_t		 snap_pid;		/* child writing one, or 0 */
	int		 snap_fd;		/* its error pipe */
	struct event	*snap_ev;
	raft_index_t	 snap_building;		/* its index */
	raft_term_t	 snap_building_term;
	uint64_t	 snap_building_bytes;	/* applied_bytes at fork */
	uint64_t	 snap_started_ms;
	char		 snap_child_err[256];
	size_t		 snap_child_errlen;
	bool		 snap_child_erroring;	/* '!' seen: text follows */
	uint64_t	 snap_progress_ms;	/* last sign of life */
	struct event	*snap_watch_ev;		/* stall watchdog */
	bool		 snap_stalled;
	bool		 snap_job_pending;	/* install job in flight */
	uint64_t	 snap_retry_ms;		/* no new one before this */
	bool		 recv_stepped;		/* a received file was stepped */
	raft_index_t	 recv_index;
	bool		 installing;		/* received one being installed */
	struct node_snap_waiter *waiters;
	struct event	*waiters_ev;
	uint64_t	 snapshots_taken;
	uint64_t	 snapshots_failed;
	uint64_t	 last_snapshot_ms;
	uint64_t	 last_snapshot_pause_us;
	uint64_t	 snapshots_installed;
};

static void	 kick(struct node *n);
static void	 snapshot_send(struct node *n, const struct raft_msg *m);
static void	 snapshot_local_done(struct node *n, struct disk_job *job);
static void	 snapshot_received_done(struct node *n, struct disk_job *job);
static void	 waiters_schedule(struct node *n);
static uint64_t	 node_rand(void *ctx);

/* ------------------------------------------------------------------ */
/* Ops and their lists.                                                */

static struct op_list *
list_for(struct node *n, enum op_state state)
{
	switch (state) {
	case OP_WAIT_COMMIT:
		return &n->writes;
	case OP_WAIT_READ_INDEX:
		return &n->reads;
	case OP_WAIT_APPLY:
		return &n->applying;
	}
	return NULL;
}

static void
list_push(struct op_list *l, struct op *op)
{
	op->next = NULL;
	op->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = op;
	else
		l->head = op;
	l->tail = op;
	l->n++;
}

static void
list_remove(struct op_list *l, struct op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		l->head = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	else
		l->tail = op->prev;
	op->prev = op->next = NULL;
	l->n--;
}

/* Moves op into state, the one place op states change. */
static void
op_set_state(struct op *op, enum op_state state, bool listed)
{
	struct node *n = op->node;

	if (listed)
		list_remove(list_for(n, op->state), op);
	log_debug(n->lg, "op %" PRIu64 ": state %d -> %d", op->id, op->state,
	    state);
	op->state = state;
	list_push(list_for(n, state), op);
}

/* Takes op off its list and frees it. */
static void
op_finish(struct op *op)
{
	list_remove(list_for(op->node, op->state), op);
	op_free(op);
}

/* Fails op with why, then frees it. */
static void
op_fail(struct op *op, enum api_failure why)
{
	api_op_failed(op, why);
	op_finish(op);
}

/* A parked request ran out of time. */
static void
on_op_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct op	*op = arg;

	(void)fd;
	(void)what;
	log_info(op->node->lg, "request %" PRIu64 " timed out (state %d, "
	    "index %" PRIu64 ")", op->id, op->state, op->index);
	op_fail(op, op->kind == OP_WRITE ? API_FAIL_UNKNOWN : API_FAIL_TIMEOUT);
}

struct op *
op_new(struct node *n, enum op_kind kind, struct evhttp_request *req)
{
	/* The op and its timer in one allocation: one per request. */
	struct op	*op = xcalloc(1, sizeof(*op) +
			    event_get_struct_event_size());

	op->kind = kind;
	op->node = n;
	op->req = req;
	op->id = ++n->next_op_id;
	op->timer = (struct event *)(void *)(op + 1);
	if (event_assign(op->timer, n->base, -1, 0, on_op_timeout, op) != 0 ||
	    event_add(op->timer, n->op_timeout) != 0)
		fatal(n->lg, "cannot arm a request timer");
	return op;
}

void
op_free(struct op *op)
{
	if (op == NULL)
		return;
	event_del(op->timer);
	free(op->key);
	free(op->start_after);
	free(op);
}

/* ------------------------------------------------------------------ */
/* Client connections.                                                 */

static size_t
conn_slot(const struct node *n, const struct evhttp_connection *c)
{
	uintptr_t h = (uintptr_t)c;

	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 7) & (n->conns_cap - 1);
}

/* Finds c's slot, or the empty slot where it would go. */
static size_t
conn_find(const struct node *n, const struct evhttp_connection *c)
{
	size_t	 i = conn_slot(n, c);

	while (n->conns[i] != NULL && n->conns[i] != c)
		i = (i + 1) & (n->conns_cap - 1);
	return i;
}

/* Removes the entry at slot i, shifting later probes back (no tombstones). */
static void
conn_remove_at(struct node *n, size_t i)
{
	size_t	 j = i, k;

	n->conns[i] = NULL;
	for (;;) {
		j = (j + 1) & (n->conns_cap - 1);
		if (n->conns[j] == NULL)
			break;
		k = conn_slot(n, n->conns[j]);
		/* Move j back to i if its home is not within (i, j]. */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		n->conns[i] = n->conns[j];
		n->conns[j] = NULL;
		i = j;
	}
	n->n_conns--;
}

/* Pauses or resumes accepting as the served count crosses the limit. */
static void
conn_update_listener(struct node *n)
{
	struct evconnlistener *l;
	bool	 full = n->n_conns >= n->opt->max_connections;

	if (n->client_sock == NULL || full == n->accept_paused)
		return;
	l = evhttp_bound_socket_get_listener(n->client_sock);
	if (full)
		evconnlistener_disable(l);
	else
		evconnlistener_enable(l);
	n->accept_paused = full;
	log_debug(n->lg, "%s accepting client connections (%zu served)",
	    full ? "paused" : "resumed", n->n_conns);
}

/* A client connection closed: forget it. */
static void
on_conn_closed(struct evhttp_connection *c, void *arg)
{
	struct node	*n = arg;
	size_t		 i;

	if (n->conns == NULL)
		return;
	i = conn_find(n, c);
	if (n->conns[i] == c) {
		conn_remove_at(n, i);
		conn_update_listener(n);
	}
}

bool
node_conn_admit(struct node *n, struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	size_t		 i;

	if (c == NULL)
		return true;
	if (n->conns == NULL) {
		/* Twice the limit, a power of two: probes stay short. */
		n->conns_cap = 16;
		while (n->conns_cap < 2 * n->opt->max_connections)
			n->conns_cap *= 2;
		n->conns = xcalloc(n->conns_cap, sizeof(*n->conns));
	}
	i = conn_find(n, c);
	if (n->conns[i] == c)
		return true;
	if (n->n_conns >= n->opt->max_connections)
		return false;
	n->conns[i] = c;
	n->n_conns++;
	evhttp_connection_set_closecb(c, on_conn_closed, n);
	conn_update_listener(n);
	return true;
}

/* ------------------------------------------------------------------ */
/* Submitting work.                                                    */

bool
node_accepting(struct node *n)
{
	return !n->storage_failed && !n->stopping;
}

int
node_submit_write(struct node *n, struct op *op, const uint8_t *cmd,
    size_t len)
{
	int	 rc;

	if (n->writes.n >= n->opt->max_pending)
		return -RAFT_EBUSY;
	rc = raft_propose(n->raft, RAFT_ENTRY_NORMAL, cmd, (uint32_t)len,
	    &op->index, &op->term);
	if (rc != 0)
		return rc;
	op->state = OP_WAIT_COMMIT;
	list_push(&n->writes, op);
	kick(n);
	return 0;
}

int
node_submit_read(struct node *n, struct op *op)
{
	int	 rc;

	if (n->reads.n + n->applying.n >= n->opt->max_pending_reads)
		return -RAFT_EBUSY;
	if ((rc = raft_read_index(n->raft, op->id)) != 0)
		return rc;
	op->state = OP_WAIT_READ_INDEX;
	list_push(&n->reads, op);
	kick(n);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The Ready loop.                                                     */

/* Fails every parked request, e.g. when leadership is lost. */
static void
fail_all(struct node *n, enum api_failure write_why,
    enum api_failure read_why)
{
	while (n->writes.head != NULL)
		op_fail(n->writes.head, write_why);
	while (n->reads.head != NULL)
		op_fail(n->reads.head, read_why);
	while (n->applying.head != NULL)
		op_fail(n->applying.head, read_why);
}

/* Stops the node taking part after a disk error: fail-stop. */
static void
storage_failure(struct node *n, int err, const char *msg)
{
	if (n->storage_failed)
		return;
	n->storage_failed = true;
	snprintf(n->storage_error, sizeof(n->storage_error), "%.200s (%.40s)", msg,
	    strerror(-err));
	log_error(n->lg, "storage failed, refusing all writes until "
	    "restarted: %s", n->storage_error);
	evtimer_del(n->tick_ev);
	fail_all(n, API_FAIL_UNKNOWN, API_FAIL_STORAGE);
}

/* Sends one message through the transport, logging what cannot go. */
static void
send_msg(struct node *n, const struct raft_msg *m)
{
	int	 rc;

	if (m->type == RAFT_MSG_SNAPSHOT) {
		snapshot_send(n, m);
		return;
	}
	rc = transport_send(n->tr, m);

	if (rc != 0 && rc != -ENOENT)
		log_debug(n->lg, "cannot send %s to %" PRIu64 ": %s",
		    raft_msg_type_name(m->type), m->to, strerror(-rc));
}

/* A disk job finished: report durability and release held messages. */
static void
on_disk_done(void *ctx, struct disk_job *job)
{
	struct node	*n = ctx;
	size_t		 i;

	if (job->error != 0) {
		storage_failure(n, job->error, job->errmsg);
		disk_job_free(job);
		return;
	}
	n->syncs++;
	n->entries_persisted += job->n_entries;
	if (job->snap_op == DISK_SNAP_LOCAL)
		snapshot_local_done(n, job);
	else if (job->snap_op == DISK_SNAP_RECEIVED)
		snapshot_received_done(n, job);
	if (!n->storage_failed) {
		if (job->n_entries > 0)
			raft_persisted(n->raft,
			    job->entries[job->n_entries - 1].index,
			    job->entries[job->n_entries - 1].term);
		for (i = 0; i < job->n_after; i++)
			send_msg(n, &job->after[i]);
	}
	disk_job_free(job);
	kick(n);
}

/* Points the transport at every member of the latest configuration. */
static void
sync_peers(struct node *n)
{
	const struct raft_cluster *c = raft_get_cluster(n->raft);
	char		 err[256];
	uint32_t	 i;

	for (i = 0; i < c->n; i++) {
		if (c->members[i].id == n->opt->node_id)
			continue;
		if (transport_set_peer(n->tr, c->members[i].id,
		    c->members[i].peer_url, err, sizeof(err)) != 0)
			log_warn(n->lg, "peer %" PRIu64 ": %s",
			    c->members[i].id, err);
	}
}

/* Applies one committed entry and completes the write waiting on it. */
static void
apply_entry(struct node *n, const struct raft_entry *e)
{
	struct kv_result res;
	char		 err[256];
	struct op	*op;
	int		 rc;

	memset(&res, 0, sizeof(res));
	n->applied_bytes += e->len;
	if (e->type == RAFT_ENTRY_NORMAL)
		rc = kv_apply(n->kv, e->index, e->data, e->len, &res, err,
		    sizeof(err));
	else
		rc = kv_apply_noop(n->kv, e->index, err, sizeof(err));
	if (rc != 0)
		fatal(n->lg, "cannot apply entry %" PRIu64 ": %s", e->index,
		    err);
	if (e->type == RAFT_ENTRY_NORMAL && res.status == KV_INVALID)
		log_warn(n->lg, "entry %" PRIu64 " is not a valid command: %s",
		    e->index, err);

	/* Writes are parked in index order. */
	while ((op = n->writes.head) != NULL && op->index <= e->index) {
		if (op->index < e->index || op->term != e->term) {
			/* Another entry took its place: never committed. */
			op_fail(op, API_FAIL_LOST);
			continue;
		}
		if (op->req != NULL)
			api_write_done(op, &res);
		op_finish(op);
	}
}

/* Serves every read whose index has been applied. */
static void
serve_reads(struct node *n)
{
	uint64_t	 applied = kv_applied_index(n->kv);
	struct op	*op, *next;

	for (op = n->applying.head; op != NULL; op = next) {
		next = op->next;
		if (op->index > applied)
			continue;
		n->reads_served++;
		if (op->req != NULL)
			api_read_ready(op);
		op_finish(op);
	}
}

/* A read index came back from the core. */
static void
read_index_done(struct node *n, const struct raft_read *rr)
{
	struct op	*op;

	for (op = n->reads.head; op != NULL; op = op->next)
		if (op->id == rr->ctx)
			break;
	if (op == NULL)
		return;		/* timed out or the client left */
	if (!rr->ok) {
		op_fail(op, API_FAIL_NOT_LEADER);
		return;
	}
	op->index = rr->index;
	op_set_state(op, OP_WAIT_APPLY, true);
}

/* Persists, sends, applies and answers one Ready batch. */
static void
handle_ready(struct node *n, struct raft_ready *rd)
{
	struct disk_job	*job = NULL;
	size_t		 i;

	if (rd->commit_changed || rd->hs_changed)
		n->commit_to_record = rd->hs.commit;
	if (rd->hs_changed || rd->n_entries > 0 || rd->install_snapshot) {
		job = disk_job_new(rd->hs_changed, &rd->hs, n->commit_to_record,
		    rd->entries, rd->n_entries);
		if (job == NULL)
			fatal(n->lg, "out of memory queueing a disk write");
		job->lazy = rd->lazy_sync;
		n->commit_to_record = 0;
	}
	if (rd->install_snapshot) {
		/* The file received from the leader replaces our state. */
		log_info(n->lg, "installing snapshot %" PRIu64 " (term %" PRIu64
		    ") from the leader", rd->snapshot_index,
		    rd->snapshot_term);
		job->snap_op = DISK_SNAP_RECEIVED;
		job->snap_index = rd->snapshot_index;
		job->snap_term = rd->snapshot_term;
		job->kv_cfg = &n->kv_cfg;
		n->installing = true;
	}
	/* Leader appends leave at once, in parallel with our own write. */
	for (i = 0; i < rd->n_msgs; i++)
		send_msg(n, &rd->msgs[i]);
	if (rd->n_msgs_after_persist > 0) {
		struct disk_job *hold = job != NULL ? job :
		    disk_last_pending(n->disk);

		for (i = 0; i < rd->n_msgs_after_persist; i++) {
			if (hold == NULL)
				send_msg(n, &rd->msgs_after_persist[i]);
			else if (disk_job_hold(hold,
			    &rd->msgs_after_persist[i]) != 0)
				log_warn(n->lg, "out of memory: dropped a "
				    "response");
		}
		/* An answer that may not wait must not wait on a spare's. */
		if (hold != NULL && hold != job && !rd->lazy_sync)
			disk_hurry(n->disk);
	}
	if (job != NULL)
		disk_submit(n->disk, job);
	for (i = 0; i < rd->n_committed; i++) {
		apply_entry(n, &rd->committed[i]);
		if (rd->committed[i].type == RAFT_ENTRY_CONFIG)
			sync_peers(n);
	}
	for (i = 0; i < rd->n_reads; i++)
		read_index_done(n, &rd->reads[i]);
	serve_reads(n);
}

/* ------------------------------------------------------------------ */
/* Snapshots: taking them, sending them, installing received ones.     */

/*
 * The forked child: writes the state machine as it was at fork time into
 * snapshot-INDEX.build.tmp and exits.  It touches nothing of the parent's
 * but its own copy of the state machine, and reports an error as text on
 * fd.  alarm() bounds it: a child that hangs is killed.
 */
static void __attribute__((noreturn))
snapshot_child(struct node *n, pid_t parent, int fd, const uint8_t *cfg,
    size_t cfg_len)
{
	char		 err[256];
	int		 rc;

	/*
	 * Die with the parent, and hold none of its descriptors: not the
	 * data directory's lock, not the listeners, not client connections
	 * (whose close would otherwise wait for this child).
	 */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		fd = 3;
	}
#ifdef HAVE_CLOSEFROM
	closefrom(4);
#else
	for (int i = 4; i < 65536; i++)
		(void)close(i);
#endif
	/*
	 * Yield the CPU and the disk to the serving processes: on a small
	 * machine the child competes with the nodes' event loops and fsyncs.
	 * (The I/O priority only matters under the BFQ and CFQ schedulers.)
	 */
	(void)setpriority(PRIO_PROCESS, 0, SNAP_CHILD_NICE);
	(void)syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0,
	    (2 << 13) | 7 /* best effort, lowest */);
	alarm(SNAP_CHILD_MAX_S);
	/*
	 * Plain POSIX here: a test vfs's state (and its lock) belongs to the
	 * parent.  The parent syncs the file again through its own vfs when
	 * it installs it.
	 */
	rc = snapload_save(n->kv, n->opt->data_dir, NULL, SNAPLOAD_TAG_LOCAL,
	    n->snap_building, n->snap_building_term, cfg, cfg_len, fd, err,
	    sizeof(err));
	if (rc == 0) {
		/*
		 * Read it back and check every byte here, off the event loop
		 * and the disk thread: the install then only checks the
		 * header (storage_snapshot_install_verified()).
		 */
		struct storage_snapshot_meta m;
		char	 path[PATH_MAX];

		storage_snapshot_tmp_path(path, sizeof(path),
		    n->opt->data_dir, n->snap_building, SNAPLOAD_TAG_LOCAL);
		if ((rc = storage_snapshot_file_verify(path, &m, err,
		    sizeof(err))) == 0)
			free(m.config);
	}
	if (rc != 0) {
		(void)!write(fd, "!", 1);	/* error text follows */
		(void)!write(fd, err, strlen(err));
	}
	_exit(rc == 0 ? 0 : 1);
}

/* True when a local snapshot should be started now. */
static bool
snapshot_due(struct node *n)
{
	uint64_t	 applied = kv_applied_index(n->kv);
	struct node_snap_waiter *w;

	if (n->snap_pid != 0 || n->snap_job_pending || n->installing ||
	    n->recv_stepped || n->storage_failed || n->stopping ||
	    applied <= n->snap.index)
		return false;
	for (w = n->waiters; w != NULL; w = w->next)
		if (w->want > n->snap.index)
			return true;	/* a backup asked for it */
	if (monotime_ms() < n->snap_retry_ms)
		return false;
	return applied - n->snap.index >= n->snap_due_entries ||
	    n->applied_bytes >= n->opt->snapshot_bytes;
}

/*
 * Draws the entries after which the next snapshot is due: the threshold
 * plus up to a quarter more, at random, so that the nodes of a cluster,
 * which apply the same indexes at the same moments, do not all snapshot at
 * once (on shared cores and a shared disk that would slow the whole quorum
 * at the same time).
 */
static void
snapshot_draw_due(struct node *n)
{
	uint64_t	 spread = n->opt->snapshot_entries / 4;

	n->snap_due_entries = n->opt->snapshot_entries +
	    (spread > 0 ? node_rand(&n->rand_state) % (spread + 1) : 0);
}

/* Takes w off the node's list of waiters. */
static void
waiter_unlink(struct node *n, struct node_snap_waiter *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		n->waiters = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/* Tells every waiter the outcome: err, or whether the snapshot covers it. */
static void
waiters_fail(struct node *n, int err)
{
	struct node_snap_waiter *w;

	while ((w = n->waiters) != NULL) {
		waiter_unlink(n, w);
		w->cb(w->arg, err, NULL);
		free(w);
	}
}

/* Timer: hands the latest snapshot to every waiter it covers. */
static void
waiters_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	struct node_snap_waiter *w, *next;

	(void)fd;
	(void)what;
	if (n->stopping || n->storage_failed) {
		waiters_fail(n, n->stopping ? -ESHUTDOWN : -EIO);
		return;
	}
	for (w = n->waiters; w != NULL; w = next) {
		next = w->next;
		if (!n->snap.exists || w->want > n->snap.index)
			continue;
		waiter_unlink(n, w);
		w->cb(w->arg, 0, &n->snap);
		free(w);
		next = n->waiters;	/* cb may have cancelled others */
	}
	if (n->waiters != NULL)
		kick(n);	/* the Ready pass starts the snapshot */
}

static void
waiters_schedule(struct node *n)
{
	struct timeval	 now = { 0, 0 };

	if (n->waiters_ev != NULL)
		evtimer_add(n->waiters_ev, &now);
}

/* Forks a child that writes the state machine as it is now. */
static void
snapshot_start(struct node *n)
{
	struct raft_cluster cfg;
	uint8_t		*buf;
	size_t		 cap = RAFT_CLUSTER_ENCODED_MAX;
	uint64_t	 t0;
	int		 fds[2], len;
	pid_t		 pid, parent;

	n->snap_building = kv_applied_index(n->kv);
	n->snap_building_term = raft_term_at(n->raft, n->snap_building);
	if (n->snap_building_term == 0 ||
	    raft_cluster_at(n->raft, n->snap_building, &cfg) != 0) {
		log_warn(n->lg, "cannot snapshot at %" PRIu64 ": the entry is "
		    "not in memory", n->snap_building);
		n->snap_retry_ms = monotime_ms() + SNAP_RETRY_MS;
		return;
	}
	buf = xmalloc(cap);
	if ((len = raft_cluster_encode(&cfg, buf, cap)) < 0) {
		log_warn(n->lg, "cannot encode the configuration at %" PRIu64,
		    n->snap_building);
		free(buf);
		n->snap_retry_ms = monotime_ms() + SNAP_RETRY_MS;
		return;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		log_warn(n->lg, "cannot snapshot: pipe: %s", strerror(errno));
		free(buf);
		n->snap_retry_ms = monotime_ms() + SNAP_RETRY_MS;
		return;
	}
	t0 = monotime_ns();
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		snapshot_child(n, parent, fds[1], buf, (size_t)len);
	}
	n->last_snapshot_pause_us = (monotime_ns() - t0) / 1000;
	free(buf);
	close(fds[1]);
	if (pid < 0) {
		log_warn(n->lg, "cannot snapshot: fork: %s", strerror(errno));
		close(fds[0]);
		n->snap_retry_ms = monotime_ms() + SNAP_RETRY_MS;
		return;
	}
	n->snap_pid = pid;
	n->snap_fd = fds[0];
	n->snap_child_errlen = 0;
	n->snap_child_erroring = false;
	n->snap_stalled = false;
	n->snap_progress_ms = monotime_ms();
	n->snap_building_bytes = n->applied_bytes;
	n->snap_started_ms = monotime_ms();
	log_info(n->lg, "snapshot at %" PRIu64 " started (child %d, the "
	    "event loop paused %" PRIu64 " us for fork)", n->snap_building,
	    (int)pid, n->last_snapshot_pause_us);
}

/* A failed local snapshot: counted, logged, retried later. */
static void
snapshot_failed(struct node *n, const char *why)
{
	char	 path[PATH_MAX];

	n->snapshots_failed++;
	n->snap_retry_ms = monotime_ms() + SNAP_RETRY_MS;
	log_warn(n->lg, "snapshot at %" PRIu64 " failed: %s", n->snap_building,
	    why);
	storage_snapshot_tmp_path(path, sizeof(path), n->opt->data_dir,
	    n->snap_building, SNAPLOAD_TAG_LOCAL);
	(void)unlink(path);
	waiters_fail(n, -EIO);
}

/* The child's pipe: collects its error text; at EOF it has exited. */
static void
on_snap_child(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	struct disk_job	*job;
	char		 why[300], buf[512];
	ssize_t		 got;
	size_t		 i;
	int		 status = 0;

	(void)what;
	got = read(fd, buf, sizeof(buf));
	if (got > 0) {
		n->snap_progress_ms = monotime_ms();
		for (i = 0; i < (size_t)got; i++) {
			if (!n->snap_child_erroring) {
				/* '.' is progress; '!' starts the error. */
				n->snap_child_erroring = buf[i] == '!';
				continue;
			}
			if (n->snap_child_errlen < sizeof(n->snap_child_err) -
			    1)
				n->snap_child_err[n->snap_child_errlen++] =
				    buf[i];
		}
		return;
	} else if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	n->snap_child_err[n->snap_child_errlen] = '\0';
	evtimer_del(n->snap_watch_ev);
	event_del(n->snap_ev);
	close(n->snap_fd);
	n->snap_fd = -1;
	while (waitpid(n->snap_pid, &status, 0) < 0 && errno == EINTR)
		;
	n->snap_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (n->snap_stalled)
			snprintf(why, sizeof(why), "the child made no progress "
			    "for %d s and was killed", SNAP_STALL_MS / 1000);
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "the child was killed by "
			    "signal %d", WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "%s",
			    n->snap_child_errlen > 0 ? n->snap_child_err :
			    "the child failed");
		snapshot_failed(n, why);
		return;
	}
	if (n->storage_failed || n->stopping)
		return;
	if ((job = disk_job_new(false, NULL, 0, NULL, 0)) == NULL)
		fatal(n->lg, "out of memory queueing a snapshot install");
	job->snap_op = DISK_SNAP_LOCAL;
	job->snap_index = n->snap_building;
	job->snap_term = n->snap_building_term;
	job->compact_upto = n->snap_building > n->opt->snapshot_keep ?
	    n->snap_building - n->opt->snapshot_keep : 0;
	n->snap_job_pending = true;
	disk_submit(n->disk, job);
}

/* (Re)arms the stall watchdog of the running child. */
static void
snapshot_watch_arm(struct node *n)
{
	struct timeval	 tv = { SNAP_STALL_MS / 1000 / 4, 0 };

	evtimer_add(n->snap_watch_ev, &tv);
}

/* The watchdog: kills a child that stopped making progress. */
static void
on_snap_watch(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;

	(void)fd;
	(void)what;
	if (n->snap_pid == 0)
		return;
	if (monotime_ms() - n->snap_progress_ms < SNAP_STALL_MS) {
		snapshot_watch_arm(n);
		return;
	}
	log_warn(n->lg, "snapshot at %" PRIu64 ": child %d made no progress "
	    "for %d s, killing it", n->snap_building, (int)n->snap_pid,
	    SNAP_STALL_MS / 1000);
	n->snap_stalled = true;
	(void)kill(n->snap_pid, SIGKILL);	/* its pipe's EOF reaps it */
}

/* Starts a snapshot when one is due; called after each Ready pass. */
static void
snapshot_maybe_start(struct node *n)
{
	if (!snapshot_due(n))
		return;
	snapshot_start(n);
	if (n->snap_pid == 0)
		return;
	if (n->snap_ev != NULL)
		event_free(n->snap_ev);
	n->snap_ev = event_new(n->base, n->snap_fd, EV_READ | EV_PERSIST,
	    on_snap_child, n);
	if (n->snap_ev == NULL || event_add(n->snap_ev, NULL) != 0)
		fatal(n->lg, "out of memory watching a snapshot child");
	snapshot_watch_arm(n);
}

/* The local snapshot is installed (or refused): compact the log. */
static void
snapshot_local_done(struct node *n, struct disk_job *job)
{
	uint64_t	 took = monotime_ms() - n->snap_started_ms, t0, compact_us;
	int		 rc;

	n->snap_job_pending = false;
	if (job->snap->info.exists)
		n->snap = job->snap->info;
	if (job->error != 0)
		return;		/* the storage failed: fail-stop follows */
	if (job->snap->error == -ESTALE) {
		/* A snapshot from the leader overtook it. */
		log_info(n->lg, "snapshot at %" PRIu64 " not needed: %s",
		    job->snap_index, job->snap->errmsg);
		waiters_schedule(n);
		return;
	}
	if (job->snap->error != 0) {
		snapshot_failed(n, job->snap->errmsg);
		return;
	}
	t0 = monotime_ns();
	rc = raft_compact(n->raft, job->snap_index, job->snap_term,
	    n->opt->snapshot_keep);
	if (rc != 0)
		log_warn(n->lg, "the core refused compaction at %" PRIu64
		    ": %s", job->snap_index, raft_strerror(rc));
#ifdef HAVE_MALLOC_TRIM
	/* Hand the freed entries' pages back to the system. */
	(void)malloc_trim(0);
#endif
	compact_us = (monotime_ns() - t0) / 1000;
	n->applied_bytes = n->applied_bytes > n->snap_building_bytes ?
	    n->applied_bytes - n->snap_building_bytes : 0;
	n->snapshots_taken++;
	n->last_snapshot_ms = took;
	snapshot_draw_due(n);
	log_info(n->lg, "snapshot at %" PRIu64 " (term %" PRIu64 ", %" PRIu64
	    " bytes) durable in %" PRIu64 " ms; log compacted up to %" PRIu64
	    " (%" PRIu64 " us in memory)", n->snap.index, n->snap.term,
	    n->snap.file_size, took, job->compact_upto, compact_us);
	waiters_schedule(n);
}

/* The snapshot received from the leader is installed: switch over. */
static void
snapshot_received_done(struct node *n, struct disk_job *job)
{
	struct op	*op;

	n->installing = false;
	n->recv_stepped = false;
	snapxfer_set_busy(n->xfer, false);
	if (job->error != 0)
		return;		/* fail-stop follows */
	n->snap = job->snap->info;
	kv_free(n->kv);
	n->kv = job->kv_out;
	job->kv_out = NULL;
	n->applied_bytes = 0;
	n->snapshots_installed++;
	snapshot_draw_due(n);
	/* Writes parked below the snapshot will never be applied here. */
	while ((op = n->writes.head) != NULL && op->index <= job->snap_index)
		op_fail(op, API_FAIL_UNKNOWN);
	raft_persisted(n->raft, job->snap_index, job->snap_term);
	log_info(n->lg, "installed snapshot %" PRIu64 " (term %" PRIu64 ", %zu "
	    "keys)", job->snap_index, job->snap_term, kv_count(n->kv));
	waiters_schedule(n);
}

/* The core wants its snapshot sent to m->to. */
static void
snapshot_send(struct node *n, const struct raft_msg *m)
{
	const struct raft_member *mb;

	mb = raft_cluster_find(raft_get_cluster(n->raft), m->to);
	if (mb == NULL)
		return;
	if (snapxfer_send(n->xfer, m, mb->peer_url, &n->snap) != 0)
		log_warn(n->lg, "out of memory sending a snapshot to %" PRIu64,
		    m->to);
}

/* A transfer to a peer ended. */
static void
on_snap_sent(void *ctx, raft_id_t peer, bool ok)
{
	struct node	*n = ctx;

	if (n->storage_failed || n->stopping)
		return;
	raft_report_snapshot(n->raft, peer, ok);
	kick(n);
}

/* A whole snapshot file arrived from the leader: let the core decide. */
static void
on_snap_received(void *ctx, const struct raft_msg *m)
{
	struct node	*n = ctx;
	int		 rc;

	if (n->storage_failed || n->stopping)
		return;
	snapxfer_set_busy(n->xfer, true);
	n->recv_stepped = true;
	n->recv_index = m->snap_index;
	if ((rc = raft_step(n->raft, m)) != 0)
		log_warn(n->lg, "the core refused snapshot %" PRIu64 " from %"
		    PRIu64 ": %s", m->snap_index, m->from, raft_strerror(rc));
	kick(n);
}

/* The current term, for the transfer's early refusal of stale leaders. */
static raft_term_t
on_snap_term(void *ctx)
{
	struct node	*n = ctx;

	raft_get_status(n->raft, &n->status);
	return n->status.term;
}

struct node_snap_waiter *
node_snapshot_wait(struct node *n, node_snapshot_fn *cb, void *arg)
{
	struct node_snap_waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->node = n;
	w->cb = cb;
	w->arg = arg;
	w->want = kv_applied_index(n->kv);
	if (w->want == 0)
		w->want = 1;
	w->next = n->waiters;
	if (n->waiters != NULL)
		n->waiters->prev = w;
	n->waiters = w;
	/* Answered from the timer, never from inside this call. */
	waiters_schedule(n);
	return w;
}

void
node_snapshot_cancel(struct node_snap_waiter *w)
{
	struct node	*n;

	if (w == NULL)
		return;
	n = w->node;
	waiter_unlink(n, w);
	free(w);
}

/* Notices role and leader changes, logs them, fails what they void. */
static void
track_role(struct node *n)
{
	raft_get_status(n->raft, &n->status);
	if (n->status.role != n->last_role || n->status.leader !=
	    n->last_leader || n->status.term != n->last_term) {
		log_info(n->lg, "%s in term %" PRIu64 ", leader %" PRIu64,
		    raft_role_name(n->status.role), n->status.term,
		    n->status.leader);
		if (n->last_role == RAFT_LEADER &&
		    n->status.role != RAFT_LEADER) {
			/* Writes may still commit under the next leader. */
			fail_all(n, API_FAIL_UNKNOWN, API_FAIL_NOT_LEADER);
		}
		n->last_role = n->status.role;
		n->last_leader = n->status.leader;
		disk_set_coalesce(n->disk, n->status.role == RAFT_LEADER ?
		    (unsigned)n->opt->leader_sync_delay_us : 0);
		n->last_term = n->status.term;
	}
	if (n->status.config_index != n->last_config_index) {
		n->last_config_index = n->status.config_index;
		sync_peers(n);
	}
}

/* The Ready loop: runs once per event-loop pass after any input. */
static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;
	struct raft_ready rd;
	int		 rounds = 0;

	(void)fd;
	(void)what;
	if (n->storage_failed)
		return;
	sendnow_open(&n->sendnow);
	while (raft_has_ready(n->raft) && rounds++ < 64) {
		if (raft_ready(n->raft, &rd) != 0)
			fatal(n->lg, "out of memory in the Raft core");
		handle_ready(n, &rd);
		raft_advance(n->raft, &rd);
		if (n->storage_failed)
			break;
	}
	track_role(n);
	if (n->recv_stepped && !n->installing) {
		/* The core did not want the file: it covered nothing new. */
		char path[PATH_MAX];

		storage_snapshot_tmp_path(path, sizeof(path),
		    n->opt->data_dir, n->recv_index, SNAPLOAD_TAG_RECEIVED);
		(void)unlink(path);
		n->recv_stepped = false;
		snapxfer_set_busy(n->xfer, false);
	}
	snapshot_maybe_start(n);
	/* What this pass sent leaves now, not after another epoll_wait(). */
	sendnow_flush(&n->sendnow);
	if (raft_has_ready(n->raft))
		kick(n);
}

/* Schedules a pass of the Ready loop. */
static void
kick(struct node *n)
{
	event_active(n->ready_ev, EV_TIMEOUT, 0);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct node	*n = arg;

	(void)fd;
	(void)what;
	raft_tick(n->raft);
	kick(n);
}

/*
 * A message arrived from a peer.  Returns whether its answer will come
 * soon, so that the transport may carry it back in the HTTP reply: a
 * PreVote is answered without the disk, a vote or an append after a
 * write, which is prompt only while the disk has nothing else queued.
 */
static bool
on_peer_message(void *ctx, const struct raft_msg *m)
{
	struct node	*n = ctx;

	if (n->storage_failed || n->stopping)
		return false;
	(void)raft_step(n->raft, m);
	kick(n);
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
		return true;
	case RAFT_MSG_VOTE:
	case RAFT_MSG_APPEND:
		return disk_pending(n->disk) == 0;
	default:
		return false;
	}
}

/* Routes the core's trace lines into the logger. */
static void
on_trace(void *ctx, enum raft_trace_level level, const char *what,
    uint64_t a, uint64_t b)
{
	struct node	*n = ctx;
	enum log_level	 lvl = level == RAFT_TRACE_WARN ? LOG_LEVEL_WARN :
	    level == RAFT_TRACE_INFO ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

	log_msg(n->lg, lvl, "raft: %s (%" PRIu64 ", %" PRIu64 ")", what, a, b);
}

/* xorshift64*, seeded from /dev/urandom: the core's election jitter. */
static uint64_t
node_rand(void *ctx)
{
	uint64_t	*s = ctx;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* ------------------------------------------------------------------ */
/* Start-up.                                                           */

/* Binds an evhttp to "host:port".  Returns 0 or -1 with err filled. */
static int
bind_http(struct evhttp *http, const char *listen_addr,
    struct evhttp_bound_socket **sock, char *err, size_t errlen)
{
	char		*host = xstrdup(listen_addr), *colon;
	long		 port;
	int		 rc = -1;

	colon = strrchr(host, ':');
	if (colon == NULL) {
		snprintf(err, errlen, "listen address \"%s\" is not HOST:PORT",
		    listen_addr);
		goto out;
	}
	*colon = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535) {
		snprintf(err, errlen, "listen address \"%s\" has a bad port",
		    listen_addr);
		goto out;
	}
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	*sock = evhttp_bind_socket_with_handle(http, host, (uint16_t)port);
	if (*sock == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen_addr,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(host);
	return rc;
}

/* Writes the bootstrap configuration entry into a brand-new log. */
static int
bootstrap(struct node *n, struct storage_loaded *ld, char *err,
    size_t errlen)
{
	uint8_t		 buf[RAFT_CLUSTER_ENCODED_MAX];
	struct raft_entry e;
	struct raft_hard_state hs = { .term = 1, .vote = 0, .commit = 1 };
	int		 rc;

	if ((rc = raft_bootstrap_entry(&n->opt->members, buf, sizeof(buf),
	    &e)) != 0) {
		snprintf(err, errlen, "cannot build the initial configuration: "
		    "%s", raft_strerror(rc));
		return -EINVAL;
	}
	log_info(n->lg, "new data directory: bootstrapping a cluster of %u "
	    "members", n->opt->members.n);
	if ((rc = storage_save_hard_state(n->st, &hs, err, errlen)) != 0 ||
	    (rc = storage_append_sync(n->st, &e, 1, 1, err, errlen)) != 0)
		return rc;
	storage_loaded_free(ld);
	return storage_load(n->st, ld, err, errlen);
}

int
node_start(const struct options *o, struct event_base *base,
    struct evdns_base *dns, const struct logger *lg, struct node **out,
    char *err, size_t errlen)
{
	struct node	*n = xcalloc(1, sizeof(*n));
	struct storage_options so;
	struct storage_loaded ld;
	struct raft_config rc_cfg;
	struct raft_restore rs;
	struct raft_cluster snap_cluster;
	struct kv_config kc;
	struct transport_config tc;
	struct timeval	 tv;
	int		 fd, rc;

	memset(&ld, 0, sizeof(ld));
	n->opt = o;
	n->lg = lg;
	n->base = base;
	n->dns = dns;
	n->started_ms = monotime_ms();
	n->last_role = RAFT_FOLLOWER;
	n->snap_fd = -1;

	if (o->test_vfs != NULL && o->test_vfs[0] != '\0') {
		if ((rc = vfs_from_spec(o->test_vfs, &n->vfs, err,
		    errlen)) != 0)
			goto fail;
		log_warn(lg, "test-only storage I/O layer in use: %s",
		    o->test_vfs);
	}
	storage_options_init(&so);
	so.cluster_id = o->cluster_id;
	so.node_id = o->node_id;
	so.vfs = n->vfs;
	so.segment_bytes = (size_t)o->segment_size;
	so.log = lg;
	if ((rc = storage_open(o->data_dir, &so, &n->st, err, errlen)) != 0 ||
	    (rc = storage_load(n->st, &ld, err, errlen)) != 0)
		goto fail;
	if (ld.n_entries == 0 && !ld.has_snapshot &&
	    (rc = bootstrap(n, &ld, err, errlen)) != 0)
		goto fail;

	/*
	 * Election jitter comes from the kernel, not from the core; so does
	 * the seed of the state machine's hash tables, so that keys chosen
	 * to collide cannot be.
	 */
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &n->rand_state, sizeof(n->rand_state)) !=
	    (ssize_t)sizeof(n->rand_state))
		n->rand_state = monotime_ms() ^ ((uint64_t)getpid() << 32);
	if (fd >= 0)
		close(fd);
	n->rand_state |= 1;
	kv_config_default(&kc);
	kc.table_seed = node_rand(&n->rand_state);
	kc.max_key_len = o->max_key_size;
	kc.max_value_len = o->max_value_size;
	kc.session_window = o->session_window;
	n->kv_cfg = kc;
	storage_snapshot_get_info(n->st, &n->snap);
	if (ld.has_snapshot) {
		uint64_t t0 = monotime_ms();

		/* storage_open() verified the whole file already. */
		if ((rc = snapload_kv(n->snap.path, &n->kv_cfg, &n->kv,
		    NULL, err, errlen)) != 0)
			goto fail;
		log_info(lg, "loaded snapshot %" PRIu64 " (term %" PRIu64 ", %"
		    PRIu64 " bytes, %zu keys) in %" PRIu64 " ms", n->snap.index,
		    n->snap.term, n->snap.file_size, kv_count(n->kv),
		    monotime_ms() - t0);
	} else if ((rc = kv_new(&kc, &n->kv, err, errlen)) != 0)
		goto fail;

	snapshot_draw_due(n);

	raft_config_defaults(&rc_cfg);
	rc_cfg.id = o->node_id;
	rc_cfg.cluster_id = o->cluster_id;
	rc_cfg.election_ticks = (unsigned)(o->election_ms / o->tick_ms);
	rc_cfg.heartbeat_ticks = (unsigned)(o->heartbeat_ms / o->tick_ms);
	if (rc_cfg.heartbeat_ticks == 0)
		rc_cfg.heartbeat_ticks = 1;
	rc_cfg.max_inflight = (uint32_t)o->max_inflight;
	rc_cfg.lazy_spares = o->spare_sync_delay_us > 0;
	/* The largest command must fit one entry: value, key and header. */
	if (o->max_value_size + o->max_key_size + KVCMD_MAX_OVERHEAD >
	    rc_cfg.max_msg_bytes)
		rc_cfg.max_msg_bytes = (uint32_t)(o->max_value_size +
		    o->max_key_size + KVCMD_MAX_OVERHEAD);
	rc_cfg.max_pending_reads = (uint32_t)o->max_pending_reads;
	rc_cfg.rand = node_rand;
	rc_cfg.rand_ctx = &n->rand_state;
	rc_cfg.trace = on_trace;
	rc_cfg.trace_ctx = n;

	memset(&rs, 0, sizeof(rs));
	rs.hs = ld.hs;
	rs.snapshot_index = ld.has_snapshot ? ld.snapshot_index : 0;
	rs.snapshot_term = ld.has_snapshot ? ld.snapshot_term : 0;
	if (ld.has_snapshot) {
		if (raft_cluster_decode(ld.snapshot_config,
		    ld.snapshot_config_len, &snap_cluster) != 0) {
			snprintf(err, errlen, "%s: the configuration inside "
			    "does not decode", n->snap.path);
			rc = -EBADMSG;
			goto fail;
		}
		rs.snapshot_cluster = &snap_cluster;
	}
	rs.entries = ld.entries;
	rs.n_entries = ld.n_entries;
	if ((rc = raft_new(&rc_cfg, &rs, &n->raft)) != 0) {
		snprintf(err, errlen, "cannot restore the Raft state from %s: %s",
		    o->data_dir, raft_strerror(rc));
		rc = -EINVAL;
		goto fail;
	}
	log_info(lg, "recovered term %" PRIu64 ", vote %" PRIu64 ", commit "
	    "%" PRIu64 ", snapshot %" PRIu64 ", log %zu entries after it",
	    ld.hs.term, ld.hs.vote, ld.hs.commit, rs.snapshot_index,
	    ld.n_entries);
	storage_loaded_free(&ld);

	transport_config_defaults(&tc);
	tc.cluster_id = o->cluster_id;
	tc.self_id = o->node_id;
	/*
	 * A full AppendEntries in JSON: base64 of max_msg_bytes of payload
	 * plus each entry's fields and the header.  Every node must agree on
	 * the limits, as they do on --max-value-size.
	 */
	{
		size_t need = (size_t)rc_cfg.max_msg_bytes / 3 * 4 + 4 +
		    (size_t)rc_cfg.max_msg_entries * 256 + 64 * 1024;

		if (need > tc.max_body)
			tc.max_body = need;
		/* A snapshot chunk and its headers fit one peer request. */
		if (o->snapshot_chunk + 64 * 1024 > tc.max_body)
			tc.max_body = (size_t)o->snapshot_chunk + 64 * 1024;
	}
	if ((rc = transport_new(base, dns, lg, &tc, on_peer_message, n, &n->tr,
	    err, errlen)) != 0)
		goto fail;
	transport_set_sendnow(n->tr, &n->sendnow);
	raft_get_status(n->raft, &n->status);
	n->last_config_index = n->status.config_index;
	sync_peers(n);
	{
		struct snapxfer_config xc;

		memset(&xc, 0, sizeof(xc));
		xc.cluster_id = o->cluster_id;
		xc.self_id = o->node_id;
		xc.dir = o->data_dir;
		xc.vfs = n->vfs;
		xc.chunk = (size_t)o->snapshot_chunk;
		xc.timeout_ms = o->request_timeout_ms < 10000 ? 10000 :
		    (unsigned)o->request_timeout_ms;
		xc.sent = on_snap_sent;
		xc.recv = on_snap_received;
		xc.term = on_snap_term;
		xc.ctx = n;
		if ((rc = snapxfer_new(base, dns, lg, &xc, &n->xfer)) != 0) {
			snprintf(err, errlen, "cannot set up snapshot "
			    "transfers: %s", strerror(-rc));
			goto fail;
		}
	}
	tv.tv_sec = (time_t)(o->request_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(o->request_timeout_ms % 1000) * 1000;
	if ((n->op_timeout = event_base_init_common_timeout(base,
	    &tv)) == NULL)
		fatal(lg, "out of memory creating the request timeout");
	if ((n->waiters_ev = evtimer_new(base, waiters_cb, n)) == NULL ||
	    (n->snap_watch_ev = evtimer_new(base, on_snap_watch, n)) == NULL)
		fatal(lg, "out of memory creating a timer");

	if ((rc = disk_new(base, n->st, on_disk_done, n, &n->disk)) != 0) {
		snprintf(err, errlen, "cannot start the disk thread: %s",
		    strerror(-rc));
		goto fail;
	}
	disk_set_lazy(n->disk, (unsigned)o->spare_sync_delay_us);

	n->peer_http = evhttp_new(base);
	n->client_http = evhttp_new(base);
	if (n->peer_http == NULL || n->client_http == NULL)
		fatal(lg, "out of memory creating HTTP servers");
	if (bind_http(n->peer_http, o->peer_listen, &n->peer_sock, err,
	    errlen) != 0 ||
	    bind_http(n->client_http, o->client_listen, &n->client_sock, err,
	    errlen) != 0) {
		rc = -EADDRINUSE;
		goto fail;
	}
	/* Accepted client sockets inherit TCP_NODELAY from the listener. */
	{
		int one = 1;

		(void)setsockopt(evhttp_bound_socket_get_fd(n->client_sock),
		    IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* After binding, so that the listener gets TCP_NODELAY too. */
	if ((rc = transport_bind(n->tr, n->peer_http)) != 0 ||
	    (rc = snapxfer_bind(n->xfer, n->peer_http)) != 0) {
		snprintf(err, errlen, "cannot install the peer routes");
		goto fail;
	}
	api_bind(n, n->client_http);

	n->ready_ev = event_new(base, -1, 0, on_ready, n);
	n->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, n);
	if (n->ready_ev == NULL || n->tick_ev == NULL)
		fatal(lg, "out of memory creating timers");
	tv.tv_sec = (time_t)(o->tick_ms / 1000);
	tv.tv_usec = (suseconds_t)(o->tick_ms % 1000) * 1000;
	evtimer_add(n->tick_ev, &tv);
	kick(n);
	log_info(lg, "node %" PRIu64 " of cluster \"%s\": peers on %s, "
	    "clients on %s", o->node_id, o->cluster_name, o->peer_listen,
	    o->client_listen);
	*out = n;
	return 0;
fail:
	storage_loaded_free(&ld);
	node_free(n);
	return rc < 0 ? rc : -EINVAL;
}

void
node_stop(struct node *n)
{
	if (n->stopping)
		return;
	n->stopping = true;
	if (n->client_sock != NULL)
		log_info(n->lg, "shutting down: refusing new connections");
	if (n->client_sock != NULL)
		evhttp_del_accept_socket(n->client_http, n->client_sock);
	if (n->peer_sock != NULL)
		evhttp_del_accept_socket(n->peer_http, n->peer_sock);
	n->client_sock = n->peer_sock = NULL;
	if (n->tick_ev != NULL)
		evtimer_del(n->tick_ev);
	/* Answer what is parked; writes may still commit elsewhere. */
	fail_all(n, API_FAIL_UNKNOWN, API_FAIL_SHUTDOWN);
	api_shutdown(n);
	waiters_schedule(n);
}

size_t
node_disk_pending(struct node *n)
{
	return n->disk != NULL ? disk_pending(n->disk) : 0;
}

void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	node_stop(n);
	if (n->client_http != NULL)
		evhttp_free(n->client_http);
	n->client_http = NULL;
	if (n->tick_ev != NULL)
		event_free(n->tick_ev);
	if (n->ready_ev != NULL)
		event_free(n->ready_ev);
	/* Finish pending disk writes before closing the storage. */
	disk_free(n->disk);
	transport_unbind(n->tr);
	if (n->peer_http != NULL)
		evhttp_free(n->peer_http);
	transport_free(n->tr);
	snapxfer_free(n->xfer);
	if (n->snap_pid > 0) {
		/* Its partial file is removed at the next start. */
		(void)kill(n->snap_pid, SIGKILL);
		while (waitpid(n->snap_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (n->snap_ev != NULL)
		event_free(n->snap_ev);
	if (n->snap_watch_ev != NULL)
		event_free(n->snap_watch_ev);
	if (n->snap_fd >= 0)
		close(n->snap_fd);
	waiters_fail(n, -ESHUTDOWN);
	if (n->waiters_ev != NULL)
		event_free(n->waiters_ev);
	raft_free(n->raft);
	kv_free(n->kv);
	storage_close(n->st);
	vfs_free(n->vfs);
	free(n->conns);
	sendnow_free(&n->sendnow);
	free(n);
}

/* ------------------------------------------------------------------ */
/* Accessors for the client API.                                       */

const struct raft_status *
node_raft_status(struct node *n)
{
	raft_get_status(n->raft, &n->status);
	return &n->status;
}

void
node_get_info(struct node *n, struct node_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = n->opt->node_id;
	info->cluster_id = n->opt->cluster_id;
	info->cluster_name = n->opt->cluster_name;
	info->storage_failed = n->storage_failed;
	info->storage_error = n->storage_failed ? n->storage_error : NULL;
	info->uptime_ms = monotime_ms() - n->started_ms;
	info->applied = kv_applied_index(n->kv);
	info->state_hash = kv_state_hash(n->kv);
	info->keys = kv_count(n->kv);
	info->pending_writes = n->writes.n;
	info->pending_reads = n->reads.n + n->applying.n;
	info->reads_served = n->reads_served;
	info->syncs = n->syncs;
	info->fdatasyncs = storage_syncs(n->st);
	info->lazy_syncs = disk_lazy_syncs(n->disk);
	info->entries_persisted = n->entries_persisted;
	{
		struct snapxfer_stats xs;

		info->snapshot_index = n->snap.exists ? n->snap.index : 0;
		info->snapshot_term = n->snap.exists ? n->snap.term : 0;
		info->snapshot_bytes = n->snap.exists ? n->snap.file_size : 0;
		raft_get_status(n->raft, &n->status);
		info->log_first_index = n->status.first_index;
		info->snapshots_taken = n->snapshots_taken;
		info->snapshots_failed = n->snapshots_failed;
		info->last_snapshot_ms = n->last_snapshot_ms;
		info->last_snapshot_pause_us = n->last_snapshot_pause_us;
		info->snapshot_running = n->snap_pid != 0 ||
		    n->snap_job_pending;
		info->snapshots_installed = n->snapshots_installed;
		if (n->xfer != NULL) {
			snapxfer_get_stats(n->xfer, &xs);
			info->snapshots_sent = xs.sent;
			info->snapshot_bytes_sent = xs.bytes_sent;
			info->snapshot_bytes_received = xs.bytes_received;
		}
	}
}

struct raft *
node_raft(struct node *n)
{
	return n->raft;
}

struct kv *
node_kv(struct node *n)
{
	return n->kv;
}

struct sendnow *
node_sendnow(struct node *n)
{
	return &n->sendnow;
}

const struct options *
node_options(struct node *n)
{
	return n->opt;
}

const struct logger *
node_logger(struct node *n)
{
	return n->lg;
}

struct transport *
node_transport(struct node *n)
{
	return n->tr;
}
