/*
 * client.h -- raftkvctl's HTTP client of the raftkv client API.
 *
 * A client owns a list of endpoints (client URLs of nodes) and one private
 * event_base.  It discovers the leader by asking every node for
 * /v1/status, maps the leader id a node reports onto its own endpoint list
 * (following an advertised URL only when the id is unknown, since the URLs
 * nodes advertise may not resolve from here), caches it and rediscovers it
 * when a request to it fails.  Writes carry X-Raftkv-Client-Id (random,
 * one per client) and X-Raftkv-Seq; a retry of a write reuses its seq so
 * that the server applies it once.  Every call is bounded by the client's
 * timeout and may be interrupted with client_interrupt().
 */
#ifndef RAFTKV_CLI_CLIENT_H
#define RAFTKV_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct logger;
struct client;

/* What became of a call, beyond the HTTP answer itself. */
enum client_outcome {
	CLIENT_OK = 0,		/* a final HTTP answer is in the reply */
	CLIENT_UNREACHABLE,	/* no node or no leader answered in time */
	CLIENT_UNKNOWN,		/* a write may or may not have been applied */
	CLIENT_INTERRUPTED,	/* client_interrupt() cancelled it */
	CLIENT_FAILED,		/* a local error (bad URL, bad answer) */
};

enum client_method {
	CLIENT_GET,
	CLIENT_PUT,
	CLIENT_DELETE,
};

/* Where a request may be served. */
enum client_target {
	TARGET_LEADER,		/* the leader (writes, linearizable reads) */
	TARGET_ANY,		/* any node (stale reads) */
};

/*
 * Receives the body of a streamed answer in pieces (buf borrowed for the
 * call).  Returns 0, or a negative errno to abandon the transfer.
 */
typedef int client_sink_fn(void *arg, const uint8_t *buf, size_t len);

struct client_request {
	enum client_method method;
	const char	*path;		/* borrowed; "/v1/kv/..." with query */
	const uint8_t	*body;		/* borrowed; may be NULL */
	size_t		 body_len;
	enum client_target target;
	bool		 is_write;	/* carries a client id and a seq */
	/*
	 * Optional streaming of a large answer: the body of a 200 goes to
	 * sink (with sink_arg) as it arrives, not into the reply.  Once a
	 * byte was delivered the call is never retried: a transfer cut short
	 * fails with CLIENT_FAILED.  transfer_timeout_ms (0: the client's
	 * timeout) bounds the wait for the answer to start and each silence
	 * in the body, instead of the whole call.
	 */
	client_sink_fn	*sink;
	void		*sink_arg;
	uint64_t	 transfer_timeout_ms;
};

struct client_reply {
	int		 status;	/* HTTP status */
	uint8_t		*body;		/* owned; NUL-terminated */
	size_t		 body_len;
	json_t		*json;		/* owned; NULL unless a JSON body */
	uint64_t	 mod_index;	/* X-Raftkv-Mod-Index, 0 if absent */
	uint64_t	 create_index;	/* X-Raftkv-Create-Index */
	uint64_t	 leader_id;	/* X-Raftkv-Leader-Id */
	uint64_t	 retry_after_s;	/* Retry-After */
	char		*location;	/* owned; Location, or NULL */
	size_t		 endpoint;	/* index of the endpoint that answered */
	json_t		*headers;	/* owned; lower-case name -> value */
	uint64_t	 body_streamed;	/* bytes given to the request's sink */
};

/* One node as seen by client_probe_all(). */
struct client_node {
	const char	*url;		/* borrowed from the client */
	bool		 reachable;
	json_t		*status;	/* owned; the /v1/status object or NULL */
	int		 health;	/* /v1/health HTTP status, 0 if none */
	char		 error[256];	/* why it is unreachable */
};

/*
 * Creates a client for the comma-separated endpoint list (borrowed), with a
 * per-call timeout in milliseconds and a logger (borrowed; must outlive the
 * client).  Returns a new client, or NULL with a message naming the bad
 * URL.
 */
struct client	*client_new(const char *endpoints, uint64_t timeout_ms,
		    const struct logger *lg, char *err, size_t errlen);
/* Frees c and its connections. */
void		 client_free(struct client *c);

/* Returns the client's event_base (borrowed), for the shell and bench. */
struct event_base *client_base(struct client *c);
size_t		 client_endpoint_count(const struct client *c);
/* Returns endpoint i's URL (borrowed). */
const char	*client_endpoint_url(const struct client *c, size_t i);
/* Returns the URL of any endpoint, listed or learned (borrowed). */
const char	*client_endpoint_url_any(const struct client *c, size_t i);
uint64_t	 client_timeout_ms(const struct client *c);

/*
 * Sends rq (borrowed) to a suitable node, following leader changes and
 * retrying until the timeout.  On CLIENT_OK fills rep (caller-owned; free
 * its contents with client_reply_clear()).  Otherwise err says why, naming
 * every endpoint tried and what went wrong with it.
 */
enum client_outcome client_call(struct client *c,
		    const struct client_request *rq, struct client_reply *rep,
		    char *err, size_t errlen);
void		 client_reply_clear(struct client_reply *rep);
/* Returns header name (any case) of rep, borrowed, or NULL. */
const char	*client_reply_header(const struct client_reply *rep,
		    const char *name);

/*
 * Asks every endpoint for /v1/status and /v1/health at once, within
 * timeout_ms (0: the client's timeout).  Fills nodes (caller-owned array of client_endpoint_count()
 * entries; free their contents with client_nodes_clear()).  Returns 0 or
 * CLIENT_INTERRUPTED.
 */
enum client_outcome client_probe_all(struct client *c,
		    struct client_node *nodes, uint64_t timeout_ms);
void		 client_nodes_clear(struct client_node *nodes, size_t n);

/*
 * Finds the leader.  Returns CLIENT_OK and stores its endpoint index in
 * *endpoint and its id in *id, or another outcome with a message.
 */
enum client_outcome client_find_leader(struct client *c, size_t *endpoint,
		    uint64_t *id, char *err, size_t errlen);

/*
 * Describes the node the client last talked to, for the shell prompt:
 * stores its URL (borrowed) and role (borrowed, e.g. "leader") and returns
 * true, or returns false when no node has answered yet.
 */
bool		 client_current(const struct client *c, const char **url,
		    const char **role);

/* Returns the client id sent with writes. */
uint64_t	 client_id(const struct client *c);

/*
 * Cancels the call in flight, if any, from a callback on client_base()
 * (the shell's SIGINT handler).  The call returns CLIENT_INTERRUPTED.
 */
void		 client_interrupt(struct client *c);
/* Returns true if client_interrupt() was called since the last take. */
bool		 client_interrupted(const struct client *c);
/* Returns true (and clears it) if client_interrupt() was called. */
bool		 client_take_interrupt(struct client *c);

/*
 * Splits url (borrowed) "http://HOST:PORT[/]" into host (new) and port.
 * Returns 0 or -EINVAL with a message.
 */
int		 client_parse_url(const char *url, char **host, uint16_t *port,
		    char *err, size_t errlen);

#endif /* RAFTKV_CLI_CLIENT_H */
