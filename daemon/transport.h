/*
 * transport.h -- carries Raft messages between raftkvd nodes over HTTP.
 *
 * Every message, request or response, is one POST of its JSON encoding
 * (daemon/wire.h) to /raft/v1/<route> on the peer port, where <route> is
 * the message type ("append_entries", "request_vote_resp", ...).  The HTTP
 * reply acknowledges receipt: 204, or 200 carrying the receiver's answer.
 * A request with "X-Raftkv-Hold: 1" may be held open, up to hold_ms, when
 * the receiver expects to answer soon (its recv callback says so); the
 * next messages it sends to the requesting peer then leave in the reply
 * body, a message or a batch, instead of as a POST of their own.  That
 * saves two HTTP messages per round trip, and the wakeups they cost, when
 * the answer comes quickly; otherwise the reply is 204 at once and the
 * answer travels later as its own POST.  docs/protocol.md is the
 * reference.
 *
 * Sending: one persistent keep-alive evhttp_connection per peer, with
 * TCP_NODELAY, a bounded queue of encoded bodies, a bounded number of
 * requests handed to the connection, a request timeout and exponential
 * reconnect backoff.  Host names are resolved through evdns on every
 * (re)connect.  Loss is normal for Raft: when a queue is full the oldest
 * heartbeat (else the oldest message) is dropped and counted.
 *
 * Receiving: transport_bind() installs the routes on the peer port's
 * evhttp.  Bad requests are answered 400/405/413/415 with a JSON error body
 * and one rate-limited log line; valid messages go to the recv callback.
 *
 * Everything runs on the event_base's thread.  No function here blocks.
 */
#ifndef RAFTKV_TRANSPORT_H
#define RAFTKV_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

struct bufferevent;
struct event_base;
struct evdns_base;
struct evhttp;
struct logger;
struct transport;

/*
 * Makes the bufferevent for a new outgoing connection (fd -1, not yet
 * connected), e.g. a bufferevent_openssl for TLS later.  Returns a new
 * bufferevent whose ownership passes to the transport, or NULL on error.
 */
typedef struct bufferevent *transport_bev_fn(struct event_base *base,
    void *ctx);

/*
 * Called once for each valid message addressed to this node of this
 * cluster.  m and its entries are borrowed for the duration of the call
 * only: copy (raft_step() does) what must outlive it.  Returns true if an
 * answer to m (a message to m->from) will follow soon, e.g. without
 * waiting behind a busy disk: the transport may then hold the request to
 * carry that answer back in its reply.  What arrives in a reply also comes
 * through here; the result is then ignored.
 */
typedef bool transport_recv_fn(void *ctx, const struct raft_msg *m);

struct transport_config {
	uint64_t	 cluster_id;	/* nonzero */
	raft_id_t	 self_id;	/* nonzero */
	size_t		 max_body;	/* bytes per message, both ways */
	uint32_t	 max_entries;	/* entries per APPEND received */
	unsigned	 request_timeout_ms;	/* connect, write, read */
	unsigned	 backoff_min_ms;	/* first reconnect delay */
	unsigned	 backoff_max_ms;	/* cap of the doubling */
	unsigned	 max_queue;	/* encoded messages waiting per peer */
	unsigned	 hold_ms;	/* longest a request is held for its
					   answer; 0: answer 204 at once */
	unsigned	 warn_interval_ms;	/* identical warnings, at most one per */
	transport_bev_fn *make_bev;	/* NULL: plain TCP sockets */
	void		*make_bev_ctx;	/* borrowed */
};

/* Fills *cfg with defaults; the caller sets cluster_id and self_id. */
void	 transport_config_defaults(struct transport_config *cfg);

/* Per-peer counters for the status endpoint. */
struct transport_peer_stats {
	raft_id_t	 id;
	char		 url[RAFT_MAX_URL + 1];
	uint64_t	 sent;		/* messages delivered (answered 2xx, or
					   carried in a reply) */
	uint64_t	 requests;	/* requests answered 2xx (a batch is one) */
	uint64_t	 replies_in;	/* messages received in the peer's replies
					   to our requests */
	uint64_t	 dropped;	/* messages dropped: queue full, reset */
	uint64_t	 errors;	/* connect/timeout/non-2xx failures */
	uint64_t	 last_contact_ms;	/* monotime_ms() of last 2xx; 0 never */
	unsigned	 queued;	/* waiting now */
	unsigned	 inflight;	/* requests handed to the connection: 0, 1 */
	unsigned	 backoff_ms;	/* current reconnect delay; 0 healthy */
	int		 connected;	/* a request succeeded since last error */
};

/* Counters of what the server side refused or delivered. */
struct transport_server_stats {
	uint64_t	 received;	/* delivered to the recv callback */
	uint64_t	 held;		/* requests held for an answer */
	uint64_t	 hold_expired;	/* of those, answered 204 at hold_ms */
	uint64_t	 replied;	/* messages sent in replies */
	uint64_t	 batches;	/* batch requests taken (each whole) */
	uint64_t	 rejected;	/* answered 4xx */
	uint64_t	 warnings_suppressed;	/* rate-limited log lines, both
						   directions */
	/* Sending: AppendEntries entries encoded, and entries copied as
	 * already encoded for another follower (struct wire_cache). */
	uint64_t	 entries_encoded;
	uint64_t	 entries_reused;
};

/*
 * Creates a transport.  base, dns (may be NULL: numeric hosts only), lg
 * and cb_ctx are borrowed and must outlive it; cfg is copied.  Returns 0
 * and a new transport in *out (free with transport_free()), or -EINVAL
 * (bad config) / -ENOMEM with err (capacity errlen) filled.
 */
int	 transport_new(struct event_base *base, struct evdns_base *dns,
	    const struct logger *lg, const struct transport_config *cfg,
	    transport_recv_fn *cb, void *cb_ctx, struct transport **out,
	    char *err, size_t errlen);

/*
 * Frees t, its peers and connections; queued messages are discarded.  The
 * evhttp given to transport_bind() must be freed first (or its callbacks
 * would point at freed memory), after transport_unbind().  NULL-safe.
 */
void	 transport_free(struct transport *t);

/*
 * Answers every request held for an answer (204) and holds no more.  Call
 * it before freeing the evhttp given to transport_bind(): freeing the
 * evhttp frees the requests it still has.  NULL-safe.
 */
void	 transport_unbind(struct transport *t);

/*
 * Adds or updates peer id with url (copied), "http://host:port" with an
 * optional trailing "/".  An unchanged url is a no-op; a changed url drops
 * the peer's connection and queue.  Returns 0, -EINVAL with err filled for
 * a bad id or url, or -ENOMEM.
 */
int	 transport_set_peer(struct transport *t, raft_id_t id, const char *url,
	    char *err, size_t errlen);

/* Sends req's reply (no body argument) with a Date header of our own. */
struct evhttp_request;
void	 transport_send_reply(struct evhttp_request *req, int code,
	    const char *reason);

/* A new event base as raftkvd runs its loop (epoll's change list on). */
struct event_base *transport_event_base_new(void);

/*
 * Requests sent and answers given while q is open are noted in it, to be
 * written when the owner flushes it (sendnow.h).  q is borrowed; NULL
 * stops it.  Ignored with make_bev: a TLS bufferevent is written through
 * itself, never straight to its socket.
 */
struct sendnow;
void	 transport_set_sendnow(struct transport *t, struct sendnow *q);

/* Removes peer id, dropping its queue.  Returns 0 or -ENOENT. */
int	 transport_remove_peer(struct transport *t, raft_id_t id);

/*
 * Encodes m (borrowed, entries included; nothing is kept after return)
 * and queues it for m->to.  Returns 0 once queued (which may have dropped
 * an older message, counted), -ENOENT for an unknown peer, -EINVAL/-ERANGE
 * if m cannot be encoded or its cluster/from are not ours, -E2BIG if the
 * body exceeds max_body, -ENOMEM.
 */
int	 transport_send(struct transport *t, const struct raft_msg *m);

/*
 * Registers the /raft/v1/<route> handlers on http (borrowed; the
 * transport must outlive its use) and sets http's max body size to
 * max_body, with EVHTTP_SERVER_LINGERING_CLOSE so that an oversized
 * request is read to its end and its sender sees the 413.  Also sets
 * TCP_NODELAY on http's bound sockets (accepted
 * sockets inherit it on Linux; each request sets it again anyway).
 * Returns 0 or -EEXIST if a route was already registered.
 */
int	 transport_bind(struct transport *t, struct evhttp *http);

/*
 * Copies the stats of up to cap peers into out (caller-owned), in id
 * order.  Returns the number of peers (which may exceed cap).
 */
size_t	 transport_peer_stats(const struct transport *t,
	    struct transport_peer_stats *out, size_t cap);

/* Copies the server-side counters into *out (caller-owned). */
void	 transport_server_stats(const struct transport *t,
	    struct transport_server_stats *out);


#endif /* RAFTKV_TRANSPORT_H */
