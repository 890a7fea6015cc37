/*
 * node.h -- one raftkvd node: the Raft core wired to storage (through the
 * disk thread), the peer transport, the key-value state machine and the
 * client API.
 *
 * Everything here runs on the event loop's thread, except the disk worker.
 * The node drives the core: every input (tick, peer message, proposal,
 * read) schedules one pass of the Ready loop (node_kick()), so inputs that
 * arrive together are handled as one batch.
 */
#ifndef RAFTKV_NODE_H
#define RAFTKV_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

struct event;
struct event_base;
struct evdns_base;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;
struct logger;
struct options;
struct node;

enum op_kind {
	OP_WRITE,	/* a proposal waiting to be applied */
	OP_GET,		/* a linearizable read of one key */
	OP_LIST,	/* a linearizable listing by prefix */
};

enum op_state {
	OP_WAIT_COMMIT,		/* proposed at (index, term) */
	OP_WAIT_READ_INDEX,	/* waiting for leadership confirmation */
	OP_WAIT_APPLY,		/* read index known, waiting for apply */
};

/*
 * A client request parked on the Raft machinery.  Owned by the node from
 * node_submit_*() until it completes (the api callback runs, then the node
 * frees it).  req stays valid even if the client goes away: libevent
 * keeps an unanswered request alive and frees it once answered.
 */
struct op {
	enum op_kind	 kind;
	enum op_state	 state;
	uint64_t	 id;		/* ReadIndex ctx */
	raft_index_t	 index;
	raft_term_t	 term;
	struct evhttp_request *req;
	struct event	*timer;
	struct node	*node;

	/* Request parameters (owned). */
	uint8_t		*key;
	size_t		 key_len;
	uint8_t		*start_after;
	size_t		 start_after_len;
	size_t		 limit;
	bool		 keys_only;
	bool		 is_delete;

	struct op	*prev, *next;	/* in the node's list for its state */
};

/* The node's counters and identity for /v1/status. */
struct node_info {
	raft_id_t	 id;
	uint64_t	 cluster_id;
	const char	*cluster_name;
	bool		 storage_failed;
	const char	*storage_error;
	uint64_t	 uptime_ms;
	uint64_t	 applied;
	uint64_t	 state_hash;
	size_t		 keys;
	size_t		 pending_writes;
	size_t		 pending_reads;
	uint64_t	 reads_served;
	uint64_t	 syncs;		/* disk jobs completed (a batch of
					   jobs shares one fdatasync) */
	uint64_t	 fdatasyncs;	/* sync calls made: vfs_syncs() */
	uint64_t	 lazy_syncs;	/* syncs a spare deferred */
	uint64_t	 entries_persisted;

	/* Snapshots and compaction (issue #9). */
	uint64_t	 snapshot_index;	/* latest durable; 0 none */
	uint64_t	 snapshot_term;
	uint64_t	 snapshot_bytes;	/* its file size */
	uint64_t	 log_first_index;	/* first index the core holds */
	uint64_t	 snapshots_taken;	/* local snapshots completed */
	uint64_t	 snapshots_failed;
	uint64_t	 last_snapshot_ms;	/* duration of the last one */
	uint64_t	 last_snapshot_pause_us; /* event loop blocked by fork */
	bool		 snapshot_running;
	uint64_t	 snapshots_sent;	/* transfers completed to peers */
	uint64_t	 snapshots_installed;	/* received and installed */
	uint64_t	 snapshot_bytes_sent;
	uint64_t	 snapshot_bytes_received;
};

/*
 * Opens storage under o->data_dir, recovers the core and the state machine,
 * binds the peer and client ports and starts ticking.  base, dns, lg and o
 * are borrowed and must outlive the node.  Returns 0 and a new node in *out
 * (node_free()), or a negative errno with err filled.
 */
int	 node_start(const struct options *o, struct event_base *base,
	    struct evdns_base *dns, const struct logger *lg, struct node **out,
	    char *err, size_t errlen);
/*
 * Stops accepting connections and ticking, and answers every parked
 * request (writes get "outcome unknown").  The caller then lets the loop
 * run briefly so that replies are flushed, and calls node_free().
 */
void	 node_stop(struct node *n);
/* Disk jobs not yet durable. */
size_t	 node_disk_pending(struct node *n);
/* Waits for pending disk writes, then frees everything (NULL is fine). */
void	 node_free(struct node *n);

/* The client API's view of the node. */
const struct raft_status *node_raft_status(struct node *n);
void	 node_get_info(struct node *n, struct node_info *info);
struct raft	*node_raft(struct node *n);
struct kv	*node_kv(struct node *n);
/* Where the client API notes replies to write at the end of the pass. */
struct sendnow *node_sendnow(struct node *n);
const struct options *node_options(struct node *n);
const struct logger *node_logger(struct node *n);
struct transport *node_transport(struct node *n);

/*
 * Proposes an encoded command (copied) for op (owned by the node from now
 * on).  Returns 0, or a negative RAFT_E* code when it could not be
 * proposed: the caller still owns op then.
 */
int	 node_submit_write(struct node *n, struct op *op, const uint8_t *cmd,
	    size_t len);
/* Asks for a read index for op (owned by the node from now on).  As above. */
int	 node_submit_read(struct node *n, struct op *op);
/*
 * Admits the connection of req (borrowed) into the set of client
 * connections being served.  Returns false when --max-connections are
 * already served: the caller answers 503 and closes it.  While the limit is
 * reached the listener stops accepting, so idle sockets cannot pile up.
 */
bool	 node_conn_admit(struct node *n, struct evhttp_request *req);
/* True while the storage is healthy and the node is not shutting down. */
bool	 node_accepting(struct node *n);

/* Allocates a zeroed op for req.  Never NULL (dies on ENOMEM). */
struct op *op_new(struct node *n, enum op_kind kind, struct evhttp_request *req);
void	 op_free(struct op *op);

/*
 * Backups.  A snapshot waiter asks for a durable snapshot covering at least
 * the index applied when it was made.  cb runs on the event loop exactly
 * once, unless the waiter is cancelled first: with err 0 and info (borrowed
 * for the call: open info->path during the call, since a newer snapshot may
 * delete the file later), or with a negative errno (-EIO: the snapshot
 * could not be written, err text in the node's log; -ESHUTDOWN: the node is
 * stopping).  If the latest snapshot already covers that index cb runs
 * from the next event-loop pass; otherwise a snapshot is started (or the
 * one running is awaited, and then another if it is too old).
 */
struct node_snap_waiter;
struct storage_snapshot_info;
typedef void node_snapshot_fn(void *arg, int err,
    const struct storage_snapshot_info *info);
/* Returns a new waiter (owned by the node until cb runs or cancel), or NULL. */
struct node_snap_waiter *node_snapshot_wait(struct node *n,
	    node_snapshot_fn *cb, void *arg);
/* Cancels w (cb will not run; w is freed).  NULL is fine. */
void	 node_snapshot_cancel(struct node_snap_waiter *w);

#endif /* RAFTKV_NODE_H */
