/*
 * transport.c -- the evhttp peer transport.
 *
 * Each peer is a small state machine (enum peer_state, changed only in
 * peer_set_state()):
 *
 *	IDLE --(a message queued)--> RESOLVING --(address)--> CONNECTED
 *	  ^                              |                       |
 *	  |                          (dns error)          (request failed)
 *	  |                              v                       v
 *	  +-----(backoff timer)------- BACKOFF <-----------------+
 *
 * A name is resolved on every pass through RESOLVING, so a peer that comes
 * back at a new address is found again; the evhttp_connection is made for
 * the numeric address, which lets us set TCP_NODELAY on its socket as soon
 * as evhttp creates it, before the first byte leaves.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "log.h"
#include "monotime.h"
#include "raft.h"
#include "sendnow.h"
#include "textfmt.h"
#include "transport.h"
#include "wire.h"

#define ROUTE_PREFIX		"/raft/v1/"
#define MAX_HOST		255
#define RESPONSE_MAX_BODY	(64 * 1024)
#define RESPONSE_MAX_HEADERS	(8 * 1024)
#define HOLD_HEADER		"X-Raftkv-Hold"

enum peer_state {
	PEER_IDLE = 0,		/* no connection, nothing pending */
	PEER_RESOLVING,		/* waiting for evdns */
	PEER_CONNECTED,		/* conn exists; evhttp connects on demand */
	PEER_BACKOFF,		/* failed; retry_ev will reset the peer */
};

static const char *const peer_state_names[] = {
	[PEER_IDLE] = "idle",
	[PEER_RESOLVING] = "resolving",
	[PEER_CONNECTED] = "connected",
	[PEER_BACKOFF] = "backoff",
};

/* One encoded message waiting to be sent. */
struct outmsg {
	TAILQ_ENTRY(outmsg)	 link;
	struct evbuffer		*body;
	uint8_t			 type;
	bool			 heartbeat;	/* APPEND without entries */
};
TAILQ_HEAD(outmsg_queue, outmsg);

/* A rate limiter for one kind of warning. */
struct warn_slot {
	char		 key[128];	/* what makes two warnings identical */
	uint64_t	 last_ms;
	uint64_t	 suppressed;
};

struct peer {
	struct transport *t;
	raft_id_t	 id;
	char		 url[RAFT_MAX_URL + 1];
	char		 host[MAX_HOST + 1];	/* without brackets */
	char		 host_header[MAX_HOST + 16];
	uint16_t	 port;

	enum peer_state	 state;
	struct evdns_getaddrinfo_request *dns_req;
	struct evhttp_connection *conn;
	char		 addr[INET6_ADDRSTRLEN];	/* numeric, resolved */
	struct event	*retry_ev;
	unsigned	 backoff_ms;
	unsigned	 addr_turn;	/* which resolved address to try */

	struct outmsg_queue queue;
	unsigned	 queued;
	unsigned	 inflight_msgs;	/* messages in the one request handed
					   to conn; 0: none out */
	bool		 no_batch;	/* the peer has no batch route */

	struct evhttp_request *held;	/* the peer's request, held open to
					   carry our answer; NULL: none */
	struct event	*hold_ev;	/* answers held 204 at hold_ms */

	struct transport_peer_stats stats;
	struct warn_slot warn;
};

/* Why the server side refused a request. */
enum reject {
	REJECT_METHOD = 0,
	REJECT_CONTENT_TYPE,
	REJECT_TOO_BIG,
	REJECT_DECODE,		/* wire_decode() said why */
	REJECT_ROUTE,		/* body type differs from the route */
	REJECT_CLUSTER,
	REJECT_NODE,
	REJECT_MAX = REJECT_NODE,
};

static const struct {
	int		 status;
	const char	*reason;
	const char	*code;	/* JSON "error"; REJECT_DECODE uses wire's */
} reject_info[REJECT_MAX + 1] = {
	[REJECT_METHOD] = { 405, "Method Not Allowed", "method_not_allowed" },
	[REJECT_CONTENT_TYPE] = { 415, "Unsupported Media Type",
	    "bad_content_type" },
	[REJECT_TOO_BIG] = { 413, "Payload Too Large", "too_big" },
	[REJECT_DECODE] = { 400, "Bad Request", NULL },
	[REJECT_ROUTE] = { 400, "Bad Request", "type_mismatch" },
	[REJECT_CLUSTER] = { 400, "Bad Request", "foreign_cluster" },
	[REJECT_NODE] = { 400, "Bad Request", "wrong_node" },
};

/* What one evhttp_set_cb() registration points at. */
struct route_binding {
	struct transport *t;
	int		 type;	/* enum raft_msg_type */
};

struct transport {
	struct event_base *base;
	struct evdns_base *dns;
	const struct logger *lg;
	struct transport_config cfg;
	struct wire_limits limits;
	transport_recv_fn *recv_cb;
	void		*recv_ctx;

	struct peer	**peers;	/* sorted by id */
	size_t		 n_peers;
	size_t		 cap_peers;

	struct route_binding bindings[RAFT_MSG_TYPE_MAX + 1];
	struct transport_server_stats server;
	struct wire_cache *wcache;	/* entries encoded, by index */
	struct sendnow *sendnow;	/* the owner's; NULL with make_bev */
	bool		 unbound;	/* transport_unbind(): hold nothing */
	struct warn_slot server_warn[REJECT_MAX + 1];
};

static void	peer_pump(struct peer *);
static void	peer_fail(struct peer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Fills *cfg with the defaults documented in docs/protocol.md. */
void
transport_config_defaults(struct transport_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_body = WIRE_MAX_BODY_DEFAULT;
	cfg->max_entries = WIRE_MAX_ENTRIES_DEFAULT;
	cfg->request_timeout_ms = 2000;
	cfg->backoff_min_ms = 20;
	cfg->backoff_max_ms = 1000;
	cfg->max_queue = 256;
	cfg->hold_ms = 20;
	cfg->warn_interval_ms = 10000;
}

/*
 * Logs a warning unless an identical one (same slot and key) was logged
 * less than warn_interval_ms ago; then it is only counted.
 */
static void __attribute__((format(printf, 4, 5)))
transport_warn(struct transport *t, struct warn_slot *slot, const char *key,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 line[512];
	uint64_t now = monotime_ms();

	if (slot->last_ms != 0 && strcmp(slot->key, key) == 0 &&
	    now - slot->last_ms < t->cfg.warn_interval_ms) {
		slot->suppressed++;
		t->server.warnings_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (slot->suppressed > 0)
		log_warn(t->lg, "%s (%" PRIu64 " similar suppressed)", line,
		    slot->suppressed);
	else
		log_warn(t->lg, "%s", line);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->last_ms = now;
	slot->suppressed = 0;
}

/* Sets TCP_NODELAY on fd; harmless on non-TCP sockets. */
static void
set_nodelay(evutil_socket_t fd)
{
	int	 one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
}

/* Sets TCP_NODELAY on the socket under an evhttp_connection, if any. */
static void
conn_set_nodelay(struct evhttp_connection *conn)
{
	struct bufferevent *bev;

	if (conn != NULL && (bev = evhttp_connection_get_bufferevent(conn)) !=
	    NULL)
		set_nodelay(bufferevent_getfd(bev));
}

/* ------------------------------------------------------------------ */
/* Creation and configuration.                                        */

/* Creates a transport; see transport.h. */
int
transport_new(struct event_base *base, struct evdns_base *dns,
    const struct logger *lg, const struct transport_config *cfg,
    transport_recv_fn *cb, void *cb_ctx, struct transport **out,
    char *err, size_t errlen)
{
	struct transport *t;
	int	 type;

	*out = NULL;
	if (base == NULL || lg == NULL || cfg == NULL || cb == NULL) {
		snprintf(err, errlen, "transport: missing base, logger, "
		    "config or callback");
		return -EINVAL;
	}
	if (cfg->cluster_id == 0 || cfg->self_id == 0 ||
	    cfg->self_id > INT64_MAX) {
		snprintf(err, errlen, "transport: cluster id and node id "
		    "must be nonzero (node id <= INT64_MAX)");
		return -EINVAL;
	}
	if (cfg->max_body < 1024 || cfg->max_body > INT32_MAX ||
	    cfg->max_entries == 0 || cfg->request_timeout_ms == 0 ||
	    cfg->backoff_min_ms == 0 ||
	    cfg->backoff_max_ms < cfg->backoff_min_ms ||
	    cfg->max_queue == 0 || cfg->hold_ms >= cfg->request_timeout_ms) {
		snprintf(err, errlen, "transport: a limit is out of range "
		    "(max_body %zu, max_entries %" PRIu32 ", timeout %u ms, "
		    "backoff %u..%u ms, queue %u, hold %u ms below the "
		    "timeout)", cfg->max_body, cfg->max_entries,
		    cfg->request_timeout_ms, cfg->backoff_min_ms,
		    cfg->backoff_max_ms, cfg->max_queue, cfg->hold_ms);
		return -EINVAL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->wcache = wire_cache_new()) == NULL) {
		free(t);
		snprintf(err, errlen, "transport: out of memory");
		return -ENOMEM;
	}
	t->base = base;
	t->dns = dns;
	t->lg = lg;
	t->cfg = *cfg;
	t->limits.max_body = cfg->max_body;
	t->limits.max_entries = cfg->max_entries;
	t->recv_cb = cb;
	t->recv_ctx = cb_ctx;
	for (type = 1; type <= RAFT_MSG_TYPE_MAX; type++) {
		t->bindings[type].t = t;
		t->bindings[type].type = type;
	}
	*out = t;
	return 0;
}

/* Changes a peer's state; the one place that does. */
static void
peer_set_state(struct peer *p, enum peer_state next)
{
	if (p->state == next)
		return;
	log_debug(p->t->lg, "peer %" PRIu64 " (%s): %s -> %s", p->id, p->url,
	    peer_state_names[p->state], peer_state_names[next]);
	p->state = next;
	p->stats.backoff_ms = next == PEER_BACKOFF ? p->backoff_ms : 0;
}

/* Drops every queued message of p, counting them. */
static void
peer_drop_queue(struct peer *p)
{
	struct outmsg *om;

	while ((om = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, om, link);
		evbuffer_free(om->body);
		free(om);
		p->stats.dropped++;
	}
	p->queued = 0;
}

/*
 * Frees p's connection and cancels its resolution; requests still inside
 * the connection are freed by evhttp without callbacks and counted as
 * dropped.  The peer ends IDLE (or stays in BACKOFF: the caller decides).
 */
static void
peer_disconnect(struct peer *p)
{
	struct evdns_getaddrinfo_request *req;

	if ((req = p->dns_req) != NULL) {
		p->dns_req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	if (p->conn != NULL) {
		sendnow_forget(p->t->sendnow, p->conn);
		evhttp_connection_free(p->conn);
		p->conn = NULL;
	}
	p->stats.dropped += p->inflight_msgs;
	p->inflight_msgs = 0;
	p->stats.connected = 0;
}

/* Takes p's held request (NULL if none) off p and stops its timer. */
static struct evhttp_request *
peer_unhold(struct peer *p)
{
	struct evhttp_request *req = p->held;

	if (req != NULL) {
		p->held = NULL;
		evtimer_del(p->hold_ev);
	}
	return req;
}

/* Answers p's held request, if any, with 204: no answer in it. */
static void
peer_release(struct peer *p)
{
	struct evhttp_request *req = peer_unhold(p);

	if (req != NULL)
		transport_send_reply(req, 204, "No Content");
}

/*
 * Frees a peer and everything it holds.  A held request is forgotten,
 * not answered: the caller released it first, or its evhttp is gone.
 */
static void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	peer_disconnect(p);
	peer_drop_queue(p);
	if (p->retry_ev != NULL)
		event_free(p->retry_ev);
	if (p->hold_ev != NULL)
		event_free(p->hold_ev);
	free(p);
}

/* Frees t; see transport.h. */
void
transport_free(struct transport *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_peers; i++)
		peer_free(t->peers[i]);
	free(t->peers);
	wire_cache_free(t->wcache);
	free(t);
}

/* Answers the held requests and holds no more; see transport.h. */
void
transport_unbind(struct transport *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	t->unbound = true;
	for (i = 0; i < t->n_peers; i++)
		peer_release(t->peers[i]);
}

/* Returns the index of peer id in t->peers, or where it would go. */
static size_t
peer_slot(const struct transport *t, raft_id_t id, bool *found)
{
	size_t	 lo = 0, hi = t->n_peers, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->peers[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < t->n_peers && t->peers[lo]->id == id;
	return lo;
}

/* Returns peer id or NULL. */
static struct peer *
peer_find(const struct transport *t, raft_id_t id)
{
	bool	 found;
	size_t	 i = peer_slot(t, id, &found);

	return found ? t->peers[i] : NULL;
}

/*
 * Parses "http://host:port[/]" into host (without IPv6 brackets), the
 * Host header value and port.  Returns 0 or -EINVAL with err filled.
 */
static int
parse_peer_url(const char *url, char *host, size_t hostcap, char *hosthdr,
    size_t hdrcap, uint16_t *port, char *err, size_t errlen)
{
	struct evhttp_uri *uri = NULL;
	const char *scheme, *h, *path;
	size_t	 hl;
	int	 p, rc = -EINVAL;

	if (strlen(url) > RAFT_MAX_URL) {
		snprintf(err, errlen, "peer url longer than %d bytes",
		    RAFT_MAX_URL);
		goto out;
	}
	if ((uri = evhttp_uri_parse_with_flags(url, 0)) == NULL) {
		snprintf(err, errlen, "peer url \"%s\" does not parse", url);
		goto out;
	}
	scheme = evhttp_uri_get_scheme(uri);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0) {
		snprintf(err, errlen, "peer url \"%s\": scheme must be http",
		    url);
		goto out;
	}
	h = evhttp_uri_get_host(uri);
	if (h == NULL || *h == '\0') {
		snprintf(err, errlen, "peer url \"%s\": no host", url);
		goto out;
	}
	path = evhttp_uri_get_path(uri);
	if (evhttp_uri_get_userinfo(uri) != NULL ||
	    evhttp_uri_get_query(uri) != NULL ||
	    evhttp_uri_get_fragment(uri) != NULL ||
	    (path != NULL && *path != '\0' && strcmp(path, "/") != 0)) {
		snprintf(err, errlen, "peer url \"%s\": only http://host:port "
		    "is allowed (no user, path, query or fragment)", url);
		goto out;
	}
	p = evhttp_uri_get_port(uri);
	if (p == -1)
		p = 80;
	if (p <= 0 || p > 65535) {
		snprintf(err, errlen, "peer url \"%s\": bad port", url);
		goto out;
	}
	hl = strlen(h);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hostcap) {
		snprintf(err, errlen, "peer url \"%s\": host too long", url);
		goto out;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strchr(host, ':') != NULL)
		snprintf(hosthdr, hdrcap, "[%s]:%d", host, p);
	else
		snprintf(hosthdr, hdrcap, "%s:%d", host, p);
	*port = (uint16_t)p;
	rc = 0;
out:
	if (uri != NULL)
		evhttp_uri_free(uri);
	return rc;
}

/* The hold timer: no answer came in time; the reply goes without one. */
static void
peer_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	(void)what;
	p->t->server.hold_expired++;
	peer_release(p);
}

/* The backoff timer: forget the failed connection and try again. */
static void
peer_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	(void)what;
	peer_disconnect(p);
	peer_set_state(p, PEER_IDLE);
	peer_pump(p);
}

/*
 * Sends req's reply with a Date header from the loop's cached clock:
 * evhttp would format one itself through its own date function, 3,500
 * instructions of the 35,000 a follower spends per write.
 */
void
transport_send_reply(struct evhttp_request *req, int code, const char *reason)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct timeval	 tv;
	char		 date[TEXTFMT_HTTP_DATE_LEN + 1];

	if (conn != NULL && event_base_gettimeofday_cached(
	    evhttp_connection_get_base(conn), &tv) == 0) {
		textfmt_http_date(date, tv.tv_sec);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Date", date);
	}
	evhttp_send_reply(req, code, reason, NULL);
}

/*
 * The event loop of raftkvd (and of the tests that stand in for it).
 * With epoll's change list, a socket's interest changes within one loop
 * iteration (evhttp turns reading and writing on and off around every
 * request) cost one epoll_ctl() at most, not one each.  The change list
 * mishandles dup()ed descriptors, which raftkvd never adds.
 */
struct event_base *
transport_event_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

void
transport_set_sendnow(struct transport *t, struct sendnow *q)
{
	/* A bufferevent of make_bev's (TLS) must be written through it. */
	t->sendnow = t->cfg.make_bev == NULL ? q : NULL;
}

/* Adds or updates a peer; see transport.h. */
int
transport_set_peer(struct transport *t, raft_id_t id, const char *url,
    char *err, size_t errlen)
{
	struct peer *p, **grown;
	char	 host[MAX_HOST + 1], hosthdr[MAX_HOST + 16];
	uint16_t port;
	size_t	 i, cap;
	bool	 found;
	int	 rc;

	if (id == 0 || id > INT64_MAX || id == t->cfg.self_id) {
		snprintf(err, errlen, "peer id %" PRIu64 " is 0, too large "
		    "or this node's own", id);
		return -EINVAL;
	}
	if ((rc = parse_peer_url(url, host, sizeof(host), hosthdr,
	    sizeof(hosthdr), &port, err, errlen)) != 0)
		return rc;
	i = peer_slot(t, id, &found);
	if (found) {
		p = t->peers[i];
		if (strcmp(p->url, url) == 0)
			return 0;
		log_info(t->lg, "peer %" PRIu64 ": url %s -> %s", id, p->url,
		    url);
		peer_release(p);
		peer_disconnect(p);
		peer_drop_queue(p);
		event_del(p->retry_ev);
		p->backoff_ms = 0;
		peer_set_state(p, PEER_IDLE);
	} else {
		if (t->n_peers == t->cap_peers) {
			cap = t->cap_peers == 0 ? 8 : t->cap_peers * 2;
			grown = realloc(t->peers, cap * sizeof(*grown));
			if (grown == NULL)
				goto nomem;
			t->peers = grown;
			t->cap_peers = cap;
		}
		if ((p = calloc(1, sizeof(*p))) == NULL)
			goto nomem;
		p->retry_ev = evtimer_new(t->base, peer_retry_cb, p);
		p->hold_ev = evtimer_new(t->base, peer_hold_cb, p);
		if (p->retry_ev == NULL || p->hold_ev == NULL) {
			peer_free(p);
			goto nomem;
		}
		p->t = t;
		p->id = id;
		p->stats.id = id;
		TAILQ_INIT(&p->queue);
		memmove(&t->peers[i + 1], &t->peers[i],
		    (t->n_peers - i) * sizeof(*t->peers));
		t->peers[i] = p;
		t->n_peers++;
	}
	snprintf(p->url, sizeof(p->url), "%s", url);
	snprintf(p->stats.url, sizeof(p->stats.url), "%s", url);
	snprintf(p->host, sizeof(p->host), "%s", host);
	snprintf(p->host_header, sizeof(p->host_header), "%s", hosthdr);
	p->port = port;
	return 0;
nomem:
	snprintf(err, errlen, "peer %" PRIu64 ": out of memory", id);
	return -ENOMEM;
}

/* Removes a peer; see transport.h. */
int
transport_remove_peer(struct transport *t, raft_id_t id)
{
	bool	 found;
	size_t	 i = peer_slot(t, id, &found);

	if (!found)
		return -ENOENT;
	peer_release(t->peers[i]);
	peer_free(t->peers[i]);
	memmove(&t->peers[i], &t->peers[i + 1],
	    (t->n_peers - i - 1) * sizeof(*t->peers));
	t->n_peers--;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sending.                                                           */

/*
 * Enters BACKOFF after a failure: the connection is dropped and the peer
 * reset when the timer fires.  Only the first failure of a burst counts
 * for the delay; later ones (other requests of the same connection) only
 * add to the error count.
 */
static void
peer_fail(struct peer *p, const char *fmt, ...)
{
	struct transport *t = p->t;
	struct timeval tv;
	va_list	 ap;
	char	 why[256];

	p->stats.errors++;
	p->stats.connected = 0;
	if (p->state == PEER_BACKOFF)
		return;
	p->addr_turn++;		/* the next resolution tries another address */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->backoff_ms == 0)
		p->backoff_ms = t->cfg.backoff_min_ms;
	else if (p->backoff_ms < t->cfg.backoff_max_ms / 2)
		p->backoff_ms *= 2;
	else
		p->backoff_ms = t->cfg.backoff_max_ms;
	peer_set_state(p, PEER_BACKOFF);
	transport_warn(t, &p->warn, why, "peer %" PRIu64 " (%s): %s; "
	    "retrying in %u ms", p->id, p->url, why, p->backoff_ms);
	tv.tv_sec = p->backoff_ms / 1000;
	tv.tv_usec = (p->backoff_ms % 1000) * 1000;
	evtimer_add(p->retry_ev, &tv);
}

/* Creates the evhttp_connection to the resolved numeric p->addr. */
static int
peer_connect(struct peer *p)
{
	struct transport *t = p->t;
	struct bufferevent *bev = NULL;
	struct timeval tv;

	if (t->cfg.make_bev != NULL &&
	    (bev = t->cfg.make_bev(t->base, t->cfg.make_bev_ctx)) == NULL)
		return -ENOMEM;
	p->conn = evhttp_connection_base_bufferevent_new(t->base, NULL, bev,
	    p->addr, p->port);
	if (p->conn == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		return -ENOMEM;
	}
	tv.tv_sec = t->cfg.request_timeout_ms / 1000;
	tv.tv_usec = (t->cfg.request_timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(p->conn, &tv);
	evhttp_connection_set_retries(p->conn, 0);
	/* A reply may carry answers: up to max_body of them. */
	evhttp_connection_set_max_body_size(p->conn,
	    (ev_ssize_t)(t->cfg.max_body > RESPONSE_MAX_BODY ?
	    t->cfg.max_body : RESPONSE_MAX_BODY));
	evhttp_connection_set_max_headers_size(p->conn, RESPONSE_MAX_HEADERS);
	return 0;
}

/* evdns callback: connect to the first address, or back off. */
static void
peer_resolved_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct peer *p = arg;
	struct evutil_addrinfo *ai;
	const void *a = NULL;
	unsigned n;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* the peer is going away: do not touch it */
	p->dns_req = NULL;
	if (result != 0 || res == NULL) {
		peer_fail(p, "cannot resolve %s: %s", p->host,
		    evutil_gai_strerror(result));
		goto out;
	}
	/*
	 * Take the addresses in turn across failures: a name with an IPv6
	 * and an IPv4 address, only one of them served, is still reached.
	 */
	for (ai = res, n = 0; ai != NULL; ai = ai->ai_next)
		n++;
	for (ai = res, n = p->addr_turn % n; n > 0; n--)
		ai = ai->ai_next;
	if (ai->ai_family == AF_INET)
		a = &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;
	else if (ai->ai_family == AF_INET6)
		a = &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
	if (a == NULL || evutil_inet_ntop(ai->ai_family, a, p->addr,
	    sizeof(p->addr)) == NULL) {
		peer_fail(p, "cannot resolve %s: no usable address", p->host);
		goto out;
	}
	if (peer_connect(p) != 0) {
		peer_fail(p, "cannot create a connection to %s", p->addr);
		goto out;
	}
	peer_set_state(p, PEER_CONNECTED);
	peer_pump(p);
out:
	if (res != NULL)
		evutil_freeaddrinfo(res);
}

/* Starts resolving p->host; numeric hosts skip evdns. */
static void
peer_resolve(struct peer *p)
{
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	struct in6_addr a6;
	struct in_addr a4;
	char	 portstr[8];

	if (strlen(p->host) < sizeof(p->addr) &&
	    (evutil_inet_pton(AF_INET, p->host, &a4) == 1 ||
	    evutil_inet_pton(AF_INET6, p->host, &a6) == 1)) {
		memcpy(p->addr, p->host, strlen(p->host) + 1);
		if (peer_connect(p) != 0) {
			peer_fail(p, "cannot create a connection to %s",
			    p->addr);
			return;
		}
		peer_set_state(p, PEER_CONNECTED);
		return;
	}
	if (p->t->dns == NULL) {
		peer_fail(p, "cannot resolve %s: no DNS base", p->host);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%u", p->port);
	peer_set_state(p, PEER_RESOLVING);
	req = evdns_getaddrinfo(p->t->dns, p->host, portstr, &hints,
	    peer_resolved_cb, p);
	/* The callback may already have run and moved the state on. */
	if (p->state == PEER_RESOLVING)
		p->dns_req = req;
}

/*
 * Delivers the messages a 200 reply from p carries, a batch (JSON array)
 * of messages from p to this node: all of them or, if any is bad, none.
 */
static void
peer_read_reply(struct peer *p, struct evhttp_request *req)
{
	struct transport *t = p->t;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct wire_error werr;
	struct wire_batch b;
	const struct raft_msg *m;
	const char *body;
	size_t	 len = in != NULL ? evbuffer_get_length(in) : 0, i;

	if (len == 0)
		return;
	if ((body = (const char *)evbuffer_pullup(in, -1)) == NULL) {
		transport_warn(t, &p->warn, "reply", "peer %" PRIu64 " (%s): "
		    "cannot buffer a reply of %zu bytes", p->id, p->url, len);
		p->stats.errors++;
		return;
	}
	if (wire_decode_batch(body, len, &t->limits, &b, &werr) != 0) {
		transport_warn(t, &p->warn, wire_errcode_name(werr.code),
		    "peer %" PRIu64 " (%s): bad reply: %s", p->id, p->url,
		    werr.text);
		p->stats.errors++;
		return;
	}
	for (i = 0; i < b.n; i++) {
		m = &b.msgs[i].msg;
		if (m->cluster_id != t->cfg.cluster_id || m->from != p->id ||
		    m->to != t->cfg.self_id) {
			transport_warn(t, &p->warn, "reply sender", "peer %"
			    PRIu64 " (%s): reply [%zu] is from %" PRIu64 " to %"
			    PRIu64 " in cluster %016" PRIx64 ": dropped",
			    p->id, p->url, i, m->from, m->to, m->cluster_id);
			p->stats.errors++;
			goto out;
		}
	}
	p->stats.replies_in += b.n;
	for (i = 0; i < b.n; i++)
		(void)t->recv_cb(t->recv_ctx, &b.msgs[i].msg);
out:
	wire_batch_release(&b);
}

/* evhttp callback: one request to a peer finished or failed. */
static void
peer_request_done(struct evhttp_request *req, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in;
	int	 code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	unsigned nmsgs = p->inflight_msgs;
	char	 body[160];
	size_t	 n;

	p->inflight_msgs = 0;
	p->stats.inflight = 0;
	if (code >= 200 && code < 300) {
		p->stats.sent += nmsgs;
		p->stats.requests++;
		p->stats.last_contact_ms = monotime_ms();
		p->stats.connected = 1;
		p->backoff_ms = 0;
		if (code == 200)
			peer_read_reply(p, req);
	} else if (code == 0) {
		p->stats.dropped += nmsgs;
		peer_fail(p, "request failed (connection refused, reset or "
		    "timed out)");
		return;
	} else {
		/* The peer is up but refused the message: log its reason. */
		p->stats.errors++;
		p->stats.dropped += nmsgs;
		if (code == 404 && nmsgs > 1 && !p->no_batch) {
			/* An older node without the batch route. */
			p->no_batch = true;
			log_warn(p->t->lg, "peer %" PRIu64 " (%s) has no "
			    "batch route: sending one message per request",
			    p->id, p->url);
		}
		body[0] = '\0';
		if ((in = evhttp_request_get_input_buffer(req)) != NULL) {
			n = evbuffer_copyout(in, body, sizeof(body) - 1);
			body[n == (size_t)-1 ? 0 : n] = '\0';
		}
		transport_warn(p->t, &p->warn, "status", "peer %" PRIu64
		    " (%s) refused a message: HTTP %d %s", p->id, p->url,
		    code, body);
	}
	peer_pump(p);
}

/*
 * Moves the queued messages that fit one request into body: the first
 * alone, or up to max of them that fit max_body joined into a batch
 * ("[a,b,...]").  Returns how many it took.
 */
static unsigned
peer_take(struct peer *p, struct evbuffer *body, unsigned max)
{
	struct outmsg *om;
	size_t	 total = 0, len;
	unsigned n = 0;

	while ((om = TAILQ_FIRST(&p->queue)) != NULL) {
		len = evbuffer_get_length(om->body);
		if (n > 0 && (n >= max || total + len + 2 > p->t->cfg.max_body))
			break;
		if (n == 1) {
			/* A second message: the first becomes element 0. */
			evbuffer_prepend(body, "[", 1);
			total++;
		}
		if (n >= 1) {
			evbuffer_add(body, ",", 1);
			total++;
		}
		evbuffer_add_buffer(body, om->body);
		total += len;
		TAILQ_REMOVE(&p->queue, om, link);
		p->queued--;
		evbuffer_free(om->body);
		free(om);
		n++;
	}
	if (n > 1)
		evbuffer_add(body, "]", 1);
	return n;
}

/*
 * Sends what waits, one request at a time: evhttp does not pipeline, so
 * whatever queues up while a request is out leaves in the next one, as a
 * batch.
 */
static void
peer_pump(struct peer *p)
{
	struct evhttp_request *req;
	struct evkeyvalq *hdrs;
	char	 path[64];
	unsigned n;
	uint8_t	 type;

	if (!TAILQ_EMPTY(&p->queue) && p->state == PEER_IDLE)
		peer_resolve(p);
	if (TAILQ_EMPTY(&p->queue) || p->state != PEER_CONNECTED ||
	    p->inflight_msgs > 0)
		goto out;
	if ((req = evhttp_request_new(peer_request_done, p)) == NULL) {
		peer_fail(p, "out of memory for a request");
		goto out;
	}
	type = TAILQ_FIRST(&p->queue)->type;
	/*
	 * Until a request has succeeded on this connection, probe with one
	 * message: a dead peer then costs one connection attempt per backoff
	 * period, and a batch is not lost with it.
	 */
	n = peer_take(p, evhttp_request_get_output_buffer(req),
	    p->stats.connected && !p->no_batch ? WIRE_MAX_BATCH : 1);
	snprintf(path, sizeof(path), ROUTE_PREFIX "%s", n > 1 ?
	    WIRE_BATCH_ROUTE : wire_type_route(type));
	hdrs = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdrs, "Host", p->host_header);
	evhttp_add_header(hdrs, "Content-Type", "application/json");
	evhttp_add_header(hdrs, HOLD_HEADER, "1");
	/*
	 * On failure evhttp has either freed req or failed it through its
	 * callback; either way it is not ours any more.
	 */
	p->inflight_msgs = n;
	if (evhttp_make_request(p->conn, req, EVHTTP_REQ_POST, path) != 0) {
		/* Unless its callback already counted them. */
		p->stats.dropped += p->inflight_msgs;
		p->inflight_msgs = 0;
		peer_fail(p, "cannot start a request to %s", p->addr);
		goto out;
	}
	/*
	 * The address is numeric, so evhttp has just created the socket of
	 * a (re)connection synchronously: turn Nagle off before the first
	 * byte leaves.
	 */
	conn_set_nodelay(p->conn);
	sendnow_note_owned(p->t->sendnow, p->conn);
out:
	p->stats.queued = p->queued;
	p->stats.inflight = p->inflight_msgs > 0;
}

/*
 * Answers p's held request with what waits for p, as a batch (a JSON
 * array even for one message, so the reply has one form).
 */
static void
peer_answer(struct peer *p)
{
	struct evhttp_request *req = peer_unhold(p);
	struct evbuffer *body = evhttp_request_get_output_buffer(req);
	unsigned n;

	n = peer_take(p, body, WIRE_MAX_BATCH);
	if (n == 1) {
		evbuffer_prepend(body, "[", 1);
		evbuffer_add(body, "]", 1);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	sendnow_note(p->t->sendnow, evhttp_request_get_connection(req));
	transport_send_reply(req, 200, "OK");
	p->stats.sent += n;
	p->t->server.replied += n;
}

/* Queues om on p, dropping the oldest heartbeat (or message) when full. */
static void
peer_enqueue(struct peer *p, struct outmsg *om)
{
	struct outmsg *victim = NULL, *it;

	if (p->queued >= p->t->cfg.max_queue) {
		TAILQ_FOREACH(it, &p->queue, link) {
			if (it->heartbeat) {
				victim = it;
				break;
			}
		}
		if (victim == NULL)
			victim = TAILQ_FIRST(&p->queue);
		TAILQ_REMOVE(&p->queue, victim, link);
		evbuffer_free(victim->body);
		free(victim);
		p->queued--;
		p->stats.dropped++;
	}
	TAILQ_INSERT_TAIL(&p->queue, om, link);
	p->queued++;
}

/* Encodes and queues a message; see transport.h. */
int
transport_send(struct transport *t, const struct raft_msg *m)
{
	struct wire_error werr;
	struct outmsg *om = NULL;
	struct peer *p;
	size_t	 len;
	int	 rc;

	if ((p = peer_find(t, m->to)) == NULL)
		return -ENOENT;
	if (m->cluster_id != t->cfg.cluster_id || m->from != t->cfg.self_id) {
		log_error(t->lg, "transport: refusing to send %s to %" PRIu64
		    " with cluster %016" PRIx64 " from %" PRIu64,
		    raft_msg_type_name(m->type), m->to, m->cluster_id,
		    m->from);
		return -EINVAL;
	}
	if ((om = calloc(1, sizeof(*om))) == NULL ||
	    (om->body = evbuffer_new()) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = wire_encode_cached(m, om->body, t->wcache, &werr)) != 0) {
		log_error(t->lg, "transport: cannot encode %s to %" PRIu64
		    ": %s", raft_msg_type_name(m->type), m->to, werr.text);
		goto fail;
	}
	len = evbuffer_get_length(om->body);
	if (len > t->cfg.max_body) {
		log_error(t->lg, "transport: %s to %" PRIu64 " is %zu bytes, "
		    "above max_body %zu", raft_msg_type_name(m->type), m->to,
		    len, t->cfg.max_body);
		rc = -E2BIG;
		goto fail;
	}
	om->type = m->type;
	om->heartbeat = m->type == RAFT_MSG_APPEND && m->n_entries == 0;
	peer_enqueue(p, om);
	if (p->held != NULL)
		peer_answer(p);
	peer_pump(p);
	return 0;
fail:
	if (om != NULL && om->body != NULL)
		evbuffer_free(om->body);
	free(om);
	p->stats.dropped++;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                         */

/* Answers req with a JSON error body and logs one rate-limited line. */
static void
server_reject(struct transport *t, struct evhttp_request *req,
    enum reject why, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
server_reject(struct transport *t, struct evhttp_request *req,
    enum reject why, const char *code, const char *fmt, ...)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	json_t	*body;
	va_list	 ap;
	char	 msg[256], key[128], *addr = NULL, *text;
	uint16_t port = 0;
	int	 status = reject_info[why].status;

	if (code == NULL)
		code = reject_info[why].code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (conn != NULL)
		evhttp_connection_get_peer(conn, &addr, &port);
	t->server.rejected++;
	snprintf(key, sizeof(key), "%s %s", code, addr != NULL ? addr : "?");
	transport_warn(t, &t->server_warn[why], key, "peer transport: "
	    "rejected %s from %s:%u: %s: %s", evhttp_request_get_uri(req),
	    addr != NULL ? addr : "?", port, code, msg);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (why == REJECT_METHOD)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
	body = json_pack("{ssss}", "error", code, "message", msg);
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) != NULL) {
		evbuffer_add(out, text, strlen(text));
		free(text);
	}
	json_decref(body);
	transport_send_reply(req, status, reject_info[why].reason);
}

/* True if the Content-Type header names application/json. */
static bool
content_type_ok(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(
	    req), "Content-Type");
	size_t	 n = strlen("application/json");

	return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Checks a peer request's method, Content-Type and size and returns its
 * body (len bytes, owned by req), or NULL after answering it.
 */
static const char *
server_body(struct transport *t, struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in;
	const char *body;

	/*
	 * No setsockopt() here: accepted sockets inherit TCP_NODELAY from
	 * the listener (transport_bind()), which test-transport checks.
	 */
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		server_reject(t, req, REJECT_METHOD, NULL,
		    "only POST is allowed");
		return NULL;
	}
	if (!content_type_ok(req)) {
		server_reject(t, req, REJECT_CONTENT_TYPE, NULL,
		    "Content-Type must be application/json");
		return NULL;
	}
	in = evhttp_request_get_input_buffer(req);
	*len = evbuffer_get_length(in);
	if (*len > t->cfg.max_body) {
		server_reject(t, req, REJECT_TOO_BIG, NULL,
		    "body of %zu bytes, limit %zu", *len, t->cfg.max_body);
		return NULL;
	}
	body = *len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (body == NULL)
		server_reject(t, req, REJECT_TOO_BIG, NULL,
		    "cannot buffer a body of %zu bytes", *len);
	return body;
}

/*
 * Checks that a decoded message belongs on this route (type 0: any, in a
 * batch), to this cluster and to this node; answers req and returns false
 * if not.  what names it in the answer ("" or "[3] ").
 */
static bool
server_accepts(struct transport *t, struct evhttp_request *req, int type,
    const struct raft_msg *m, const char *what)
{
	if (type != 0 && m->type != type)
		server_reject(t, req, REJECT_ROUTE, NULL, "%sa %s message "
		    "posted to the %s route", what, wire_type_route(m->type),
		    wire_type_route(type));
	else if (m->cluster_id != t->cfg.cluster_id)
		server_reject(t, req, REJECT_CLUSTER, NULL, "%scluster %016"
		    PRIx64 ", this node belongs to %016" PRIx64, what,
		    m->cluster_id, t->cfg.cluster_id);
	else if (m->to != t->cfg.self_id || m->from == t->cfg.self_id)
		server_reject(t, req, REJECT_NODE, NULL, "%smessage from %"
		    PRIu64 " to %" PRIu64 ", this node is %" PRIu64, what,
		    m->from, m->to, t->cfg.self_id);
	else
		return true;
	return false;
}

/* Answers a body wire_decode*() refused. */
static void
server_refuse(struct transport *t, struct evhttp_request *req,
    const struct wire_error *werr)
{
	server_reject(t, req, werr->code == WIRE_ERR_TOO_BIG ?
	    REJECT_TOO_BIG : REJECT_DECODE, wire_errcode_name(werr->code),
	    "%s", werr->text);
}

/*
 * Before delivering the messages of req, all from peer id from: if the
 * sender allows it, holds req open for this node's answer and returns the
 * peer it is held for.  NULL: answer 204 after delivery.
 */
static struct peer *
server_hold(struct transport *t, struct evhttp_request *req, raft_id_t from)
{
	const char *h;
	struct peer *p;

	if (t->cfg.hold_ms == 0 || t->unbound || from == 0)
		return NULL;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    HOLD_HEADER);
	if (h == NULL || strcmp(h, "1") != 0 ||
	    (p = peer_find(t, from)) == NULL)
		return NULL;
	/* An older request (from a connection since replaced) goes first. */
	peer_release(p);
	p->held = req;
	return p;
}

/*
 * After delivery: answers req with 204 unless it is held (p) and an
 * answer is coming (soon), or the answer already went in it.
 */
static void
server_done(struct transport *t, struct evhttp_request *req, struct peer *p,
    bool soon)
{
	struct timeval tv;

	if (p == NULL) {
		transport_send_reply(req, 204, "No Content");
		return;
	}
	if (p->held != req)
		return;		/* answered during delivery */
	if (!soon) {
		peer_release(p);
		return;
	}
	t->server.held++;
	tv.tv_sec = t->cfg.hold_ms / 1000;
	tv.tv_usec = (t->cfg.hold_ms % 1000) * 1000;
	evtimer_add(p->hold_ev, &tv);
}

/* evhttp handler of /raft/v1/<route>: check, decode, deliver. */
static void
server_handle(struct evhttp_request *req, void *arg)
{
	struct route_binding *rb = arg;
	struct transport *t = rb->t;
	struct wire_error werr;
	struct wire_msg wm;
	struct peer *p;
	const char *body;
	size_t	 len;
	bool	 soon;

	if ((body = server_body(t, req, &len)) == NULL)
		return;
	if (wire_decode(body, len, &t->limits, &wm, &werr) != 0) {
		server_refuse(t, req, &werr);
		return;
	}
	if (server_accepts(t, req, rb->type, &wm.msg, "")) {
		p = server_hold(t, req, wm.msg.from);
		t->server.received++;
		soon = t->recv_cb(t->recv_ctx, &wm.msg);
		server_done(t, req, p, soon);
	}
	wire_msg_release(&wm);
}

/*
 * evhttp handler of /raft/v1/batch: every message is checked before any
 * is delivered, so a batch is taken whole or refused whole.
 */
static void
server_handle_batch(struct evhttp_request *req, void *arg)
{
	struct transport *t = arg;
	struct wire_error werr;
	struct wire_batch b;
	struct peer *p;
	const char *body;
	char	 what[32];
	size_t	 len, i;
	raft_id_t from;
	bool	 soon = false;

	if ((body = server_body(t, req, &len)) == NULL)
		return;
	if (wire_decode_batch(body, len, &t->limits, &b, &werr) != 0) {
		server_refuse(t, req, &werr);
		return;
	}
	for (i = 0; i < b.n; i++) {
		snprintf(what, sizeof(what), "[%zu] ", i);
		if (!server_accepts(t, req, 0, &b.msgs[i].msg, what))
			goto out;
	}
	t->server.batches++;
	/* Held only for one sender's batch (there is no other kind yet). */
	from = b.n > 0 ? b.msgs[0].msg.from : 0;
	for (i = 1; i < b.n; i++)
		if (b.msgs[i].msg.from != from)
			from = 0;
	p = server_hold(t, req, from);
	for (i = 0; i < b.n; i++) {
		t->server.received++;
		if (t->recv_cb(t->recv_ctx, &b.msgs[i].msg))
			soon = true;
	}
	server_done(t, req, p, soon);
out:
	wire_batch_release(&b);
}

/* evhttp_foreach_bound_socket() callback: no Nagle on the listeners. */
static void
bound_set_nodelay(struct evhttp_bound_socket *bound, void *arg)
{
	(void)arg;
	set_nodelay(evhttp_bound_socket_get_fd(bound));
}

/* Registers the routes on http; see transport.h. */
int
transport_bind(struct transport *t, struct evhttp *http)
{
	char	 path[64];
	int	 type;

	snprintf(path, sizeof(path), ROUTE_PREFIX "%s", WIRE_BATCH_ROUTE);
	if (evhttp_set_cb(http, path, server_handle_batch, t) != 0) {
		log_error(t->lg, "transport: route %s is already registered",
		    path);
		return -EEXIST;
	}
	for (type = 1; type <= RAFT_MSG_TYPE_MAX; type++) {
		if (wire_type_route(type) == NULL)
			continue;	/* no JSON route (InstallSnapshot) */
		snprintf(path, sizeof(path), ROUTE_PREFIX "%s",
		    wire_type_route(type));
		if (evhttp_set_cb(http, path, server_handle,
		    &t->bindings[type]) != 0) {
			log_error(t->lg, "transport: route %s is already "
			    "registered", path);
			return -EEXIST;
		}
	}
	evhttp_set_max_body_size(http, (ev_ssize_t)t->cfg.max_body);
	/* Read a too-large body to its end so the sender sees the 413. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_foreach_bound_socket(http, bound_set_nodelay, NULL);
	return 0;
}

/* Copies the per-peer counters; see transport.h. */
size_t
transport_peer_stats(const struct transport *t,
    struct transport_peer_stats *out, size_t cap)
{
	size_t	 i;

	for (i = 0; i < t->n_peers && i < cap; i++)
		out[i] = t->peers[i]->stats;
	return t->n_peers;
}

/* Copies the server-side counters; see transport.h. */
void
transport_server_stats(const struct transport *t,
    struct transport_server_stats *out)
{
	struct wire_cache_stats ws;

	wire_cache_get_stats(t->wcache, &ws);
	*out = t->server;
	out->entries_encoded = ws.encoded;
	out->entries_reused = ws.reused;
}
