/*
 * api.h -- the client HTTP API of raftkvd (docs/api.md).
 *
 * Routes are a table matched on method and path.  Writes and linearizable
 * reads are parked as struct op on the node; the node calls back here when
 * they complete or fail.  Backups (GET /v1/snapshot) wait for a snapshot
 * through node_snapshot_wait() and stream its file; they are tracked here.
 */
#ifndef RAFTKV_API_H
#define RAFTKV_API_H

struct evhttp;
struct kv_result;
struct node;
struct op;

/* Why a parked request could not be completed. */
enum api_failure {
	API_FAIL_UNKNOWN,	/* a write whose outcome is unknown (504) */
	API_FAIL_LOST,		/* proposal overwritten: not applied (503) */
	API_FAIL_NOT_LEADER,	/* leadership lost before a read (503) */
	API_FAIL_TIMEOUT,	/* a read that timed out (503) */
	API_FAIL_SHUTDOWN,	/* the node is stopping (503) */
	API_FAIL_STORAGE,	/* the node's disk failed (503) */
	API_FAIL_SNAPSHOT_TIMEOUT, /* no snapshot in time for a backup (504) */
	API_FAIL_SNAPSHOT,	/* the snapshot could not be made or read (503) */
};

/* Installs the client routes on http (borrowed) for n (borrowed). */
void	 api_bind(struct node *n, struct evhttp *http);
/* A write was applied with result res (borrowed). */
void	 api_write_done(struct op *op, const struct kv_result *res);
/* A read may now be served from the state machine. */
void	 api_read_ready(struct op *op);
/* A parked request failed. */
void	 api_op_failed(struct op *op, enum api_failure why);
/*
 * Ends every backup download of n: those waiting for a snapshot are
 * answered 503 shutting_down, those streaming are cut short (the client
 * sees a truncated body).  For node_stop(); harmless to call twice.
 */
void	 api_shutdown(struct node *n);

#endif /* RAFTKV_API_H */
