/*
 * snapxfer.h -- InstallSnapshot's file transfer between raftkvd nodes.
 *
 * The core only says "send your snapshot to peer P" (a RAFT_MSG_SNAPSHOT
 * without data).  The leader's node then streams its latest snapshot file,
 * byte for byte, in bounded chunks: one POST /raft/v1/snapshot per chunk on
 * the peer port, each carrying the chunk's offset and the file's identity
 * (snapshot index and term, size, and the trailer's CRC).  The follower
 * writes the bytes to DATA_DIR/snapshot-INDEX.recv.tmp; a chunk at an
 * offset it does not expect is answered 409 with the offset it wants, so
 * an interrupted transfer resumes where it stopped (and restarts from 0 if
 * the follower restarted: startup deletes partial files).  When the last
 * byte is in, the follower verifies the whole file (header, CRC, identity),
 * decodes the configuration inside, and hands the core a RAFT_MSG_SNAPSHOT
 * to step.  docs/protocol.md describes the headers and status codes.
 *
 * Everything runs on the event loop's thread.  Callbacks to the node are
 * never made from inside a call into this module: they run from their own
 * event-loop pass, so the node may call into the core from them.
 */
#ifndef RAFTKV_SNAPXFER_H
#define RAFTKV_SNAPXFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

struct bufferevent;
struct event_base;
struct evdns_base;
struct evhttp;
struct logger;
struct storage_snapshot_info;
struct vfs;
struct snapxfer;

/* Sending to peer ended: ok means the follower has the whole file. */
typedef void snapxfer_sent_fn(void *ctx, raft_id_t peer, bool ok);
/*
 * A whole snapshot file arrived and verified: m (borrowed for the call,
 * snap_cluster included) is the RAFT_MSG_SNAPSHOT to step.  The file is
 * DATA_DIR/snapshot-INDEX.recv.tmp, for storage_snapshot_install() with
 * the tag SNAPLOAD_TAG_RECEIVED.
 */
typedef void snapxfer_recv_fn(void *ctx, const struct raft_msg *m);
/* The node's current term: chunks of an older term are refused early. */
typedef raft_term_t snapxfer_term_fn(void *ctx);

struct snapxfer_config {
	uint64_t	 cluster_id;
	raft_id_t	 self_id;
	const char	*dir;		/* data directory (borrowed) */
	struct vfs	*vfs;		/* borrowed; NULL: POSIX */
	size_t		 chunk;		/* bytes per request */
	unsigned	 timeout_ms;	/* per request */
	/* For TLS later: makes the bufferevent of a new connection. */
	struct bufferevent *(*make_bev)(struct event_base *, void *);
	void		*make_bev_ctx;
	snapxfer_sent_fn *sent;
	snapxfer_recv_fn *recv;
	snapxfer_term_fn *term;
	void		*ctx;
};

struct snapxfer_stats {
	uint64_t	 sent;		/* transfers completed to peers */
	uint64_t	 send_failed;
	uint64_t	 bytes_sent;
	uint64_t	 received;	/* whole files received and verified */
	uint64_t	 recv_rejected;	/* chunks refused (4xx/5xx) */
	uint64_t	 bytes_received;
	unsigned	 sending;	/* transfers in progress now */
	bool		 receiving;
};

/*
 * Creates the transfer engine.  base, dns (may be NULL), lg and the
 * config's borrowed pointers must outlive it; cfg is copied.  Returns 0
 * and *out, or a negative errno.
 */
int	 snapxfer_new(struct event_base *base, struct evdns_base *dns,
	    const struct logger *lg, const struct snapxfer_config *cfg,
	    struct snapxfer **out);
/* Cancels every transfer (no callbacks), deletes a partial file, frees. */
void	 snapxfer_free(struct snapxfer *x);
/* Registers POST /raft/v1/snapshot on the peer port.  0 or -EEXIST. */
int	 snapxfer_bind(struct snapxfer *x, struct evhttp *http);

/*
 * Sends the snapshot file info describes (borrowed; the file is opened
 * now) to m->to at url ("http://host:port"), for the core's message m
 * (borrowed; its term and snap_index identify the transfer).  A transfer
 * of the same file to that peer already running is left alone; another
 * one is replaced.  The outcome arrives through cfg->sent, also for
 * failures detected here.  Returns 0, or -ENOMEM.
 */
int	 snapxfer_send(struct snapxfer *x, const struct raft_msg *m,
	    const char *url, const struct storage_snapshot_info *info);
/* Stops sending to peer, without a callback. */
void	 snapxfer_cancel(struct snapxfer *x, raft_id_t peer);
/*
 * While busy (an install of the received file is in progress) new chunks
 * are answered 503, so the file being installed is never replaced.
 */
void	 snapxfer_set_busy(struct snapxfer *x, bool busy);

void	 snapxfer_get_stats(const struct snapxfer *x,
	    struct snapxfer_stats *out);

#endif /* RAFTKV_SNAPXFER_H */
