/*
 * client.c -- leader discovery, retries and timeouts over evhttp.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "client.h"
#include "log.h"
#include "monotime.h"
#include "xmalloc.h"

#define NO_ENDPOINT	SIZE_MAX
#define MAX_REDIRECTS	8
#define BACKOFF_MIN_MS	50
#define BACKOFF_MAX_MS	500
#define REFUSED_ROUNDS	3	/* give up after this many all-refused rounds */
#define ATTEMPT_MIN_MS	1000	/* the shortest wait for one attempt */
#define CONNECT_FAILED	"cannot connect (refused or unreachable)"

struct endpoint {
	char		*url;		/* owned; without a trailing '/' */
	char		*host;		/* owned */
	uint16_t	 port;
	uint64_t	 id;		/* node id, 0 while unknown */
	char		 role[16];	/* last reported role, "" if unknown */
	bool		 advertised;	/* learned from a node, not listed */
	struct evhttp_connection *conn;	/* owned; kept alive between calls */
	bool		 conn_broken;	/* free conn once the loop is idle */
	char		 error[256];	/* what went wrong in the current call */
};

/* A call's life: started, then answered or failed, exactly once. */
enum call_state {
	CALL_PENDING,
	CALL_ANSWERED,
	CALL_FAILED,
};

struct batch;

/* One HTTP request in flight. */
struct call {
	struct batch	*batch;		/* borrowed */
	size_t		 endpoint;
	enum call_state	 state;
	struct evhttp_request *req;	/* libevent's while pending */
	struct client_reply reply;
	bool		 is_status;	/* a /v1/status probe */
	bool		 maybe_sent;	/* a failed request may have arrived */
	char		 error[200];
	/* Streaming (client_request.sink). */
	client_sink_fn	*sink;
	void		*sink_arg;
	uint64_t	 streamed;	/* bytes given to sink */
	int		 sink_err;	/* the sink's error, 0 if none */
	struct evbuffer	*err_body;	/* owned; the body of a non-200 */
};

/* Calls waited for together, until done, a deadline or an interrupt. */
struct batch {
	struct client	*c;		/* borrowed */
	struct call	*calls;		/* borrowed array of n */
	size_t		 n;
	size_t		 pending;
	bool		 stop_on_leader;
	bool		 stopped;
	uint64_t	 timeout_ms;
	struct event	*timer;		/* the deadline, while waiting */
};

struct client {
	const struct logger *lg;	/* borrowed */
	struct event_base *base;	/* owned */
	struct endpoint	*endpoints;	/* owned array of n */
	size_t		 n;
	size_t		 n_listed;	/* the first n_listed came from the user */
	uint64_t	 timeout_ms;
	size_t		 leader;	/* cached leader endpoint or NO_ENDPOINT */
	size_t		 current;	/* endpoint last heard from */
	uint64_t	 client_id;
	uint64_t	 seq;		/* last seq sent with a write */
	struct batch	*batch;		/* the batch being waited for */
	bool		 interrupted;
};

int
client_parse_url(const char *url, char **host, uint16_t *port, char *err,
    size_t errlen)
{
	const char	*start, *colon, *end;
	char		*stop;
	unsigned long	 p;

	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "endpoint \"%s\" must start with http://",
		    url);
		return -EINVAL;
	}
	start = url + 7;
	end = start + strcspn(start, "/");
	if (*end != '\0' && strcmp(end, "/") != 0) {
		snprintf(err, errlen, "endpoint \"%s\" must have no path", url);
		return -EINVAL;
	}
	colon = NULL;
	for (const char *p2 = start; p2 < end; p2++)
		if (*p2 == ':')
			colon = p2;
	if (colon == NULL || colon == start || colon + 1 == end) {
		snprintf(err, errlen, "endpoint \"%s\" needs a host and a port",
		    url);
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(colon + 1, &stop, 10);
	if (errno != 0 || stop != end || p == 0 || p > 65535 ||
	    colon[1] == '-' || colon[1] == '+') {
		snprintf(err, errlen, "endpoint \"%s\" has a bad port", url);
		return -EINVAL;
	}
	*host = xstrndup(start, (size_t)(colon - start));
	*port = (uint16_t)p;
	return 0;
}

/* Appends an endpoint for url (borrowed).  Returns its index or -1. */
static int
add_endpoint(struct client *c, const char *url, size_t url_len,
    bool advertised, char *err, size_t errlen)
{
	struct endpoint	*ep;
	char		*copy = xstrndup(url, url_len);
	char		*host;
	uint16_t	 port;

	if (client_parse_url(copy, &host, &port, err, errlen) != 0) {
		free(copy);
		return -1;
	}
	if (url_len > 0 && copy[url_len - 1] == '/')
		copy[url_len - 1] = '\0';
	c->endpoints = xrealloc(c->endpoints, (c->n + 1) *
	    sizeof(*c->endpoints));
	ep = &c->endpoints[c->n];
	memset(ep, 0, sizeof(*ep));
	ep->url = copy;
	ep->host = host;
	ep->port = port;
	ep->advertised = advertised;
	return (int)c->n++;
}

/* Picks the random 63-bit client id of this process (never 0). */
static uint64_t
random_client_id(void)
{
	uint64_t	 id = 0;
	struct timespec	 ts;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		id = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)ts.tv_sec;
	}
	id &= INT64_MAX;
	return id != 0 ? id : 1;
}

struct client *
client_new(const char *endpoints, uint64_t timeout_ms,
    const struct logger *lg, char *err, size_t errlen)
{
	struct client	*c = xcalloc(1, sizeof(*c));
	const char	*p = endpoints, *comma;

	c->lg = lg;
	c->timeout_ms = timeout_ms;
	c->leader = NO_ENDPOINT;
	c->current = NO_ENDPOINT;
	c->client_id = random_client_id();
	if ((c->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "cannot create an event base");
		goto fail;
	}
	while (*p != '\0') {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (comma > p && add_endpoint(c, p, (size_t)(comma - p), false,
		    err, errlen) < 0)
			goto fail;
		p = *comma == ',' ? comma + 1 : comma;
	}
	if (c->n == 0) {
		snprintf(err, errlen, "no endpoints given");
		goto fail;
	}
	c->n_listed = c->n;
	return c;
fail:
	client_free(c);
	return NULL;
}

void
client_free(struct client *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		if (c->endpoints[i].conn != NULL)
			evhttp_connection_free(c->endpoints[i].conn);
		free(c->endpoints[i].url);
		free(c->endpoints[i].host);
	}
	free(c->endpoints);
	if (c->base != NULL)
		event_base_free(c->base);
	free(c);
}

struct event_base *
client_base(struct client *c)
{
	return c->base;
}

size_t
client_endpoint_count(const struct client *c)
{
	return c->n_listed;
}

const char *
client_endpoint_url(const struct client *c, size_t i)
{
	return c->endpoints[i].url;
}

const char *
client_endpoint_url_any(const struct client *c, size_t i)
{
	return i < c->n ? c->endpoints[i].url : "?";
}

uint64_t
client_timeout_ms(const struct client *c)
{
	return c->timeout_ms;
}

uint64_t
client_id(const struct client *c)
{
	return c->client_id;
}

bool
client_current(const struct client *c, const char **url, const char **role)
{
	const struct endpoint *ep;

	if (c->current == NO_ENDPOINT)
		return false;
	ep = &c->endpoints[c->current];
	*url = ep->url;
	*role = ep->role[0] != '\0' ? ep->role : "unknown";
	return true;
}

void
client_reply_clear(struct client_reply *rep)
{
	free(rep->body);
	free(rep->location);
	if (rep->json != NULL)
		json_decref(rep->json);
	if (rep->headers != NULL)
		json_decref(rep->headers);
	memset(rep, 0, sizeof(*rep));
}

/* Writes the lower-case copy of name into buf (len bytes). */
static void
lower_name(const char *name, char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
		    name[i] - 'A' + 'a' : name[i]);
	buf[i] = '\0';
}

const char *
client_reply_header(const struct client_reply *rep, const char *name)
{
	char	 key[128];

	if (rep->headers == NULL)
		return NULL;
	lower_name(name, key, sizeof(key));
	return json_string_value(json_object_get(rep->headers, key));
}

/* ------------------------------------------------------------------ */
/* Calls and batches.                                                  */

/* Marks call finished (once) and stops the batch when it has enough. */
static void
call_finish(struct call *call, enum call_state state)
{
	struct batch	*b = call->batch;

	if (call->state != CALL_PENDING)
		return;
	call->state = state;
	call->req = NULL;
	if (state == CALL_FAILED)
		b->c->endpoints[call->endpoint].conn_broken = true;
	b->pending--;
	if (b->pending == 0)
		b->stopped = true;
	if (b->stop_on_leader && state == CALL_ANSWERED && call->is_status &&
	    call->reply.json != NULL) {
		const char *role = json_string_value(json_object_get(
		    call->reply.json, "role"));

		if (role != NULL && strcmp(role, "leader") == 0)
			b->stopped = true;
	}
}

/* Parses a decimal header value, or returns 0. */
static uint64_t
header_u64(struct evkeyvalq *h, const char *name)
{
	const char	*v = evhttp_find_header(h, name);

	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* Copies what matters of an HTTP answer into call->reply. */
static void
on_response(struct evhttp_request *req, void *arg)
{
	struct call	*call = arg;
	struct client_reply *rep = &call->reply;
	struct evkeyvalq *h;
	struct evkeyval	*kv;
	struct evbuffer	*in;
	const char	*ctype, *loc;

	if (call->state != CALL_PENDING)
		return;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		/*
		 * evhttp reports a failed connect through this callback
		 * alone, without the error callback or errno.
		 */
		if (call->error[0] == '\0') {
			snprintf(call->error, sizeof(call->error), "%s",
			    CONNECT_FAILED);
			call->maybe_sent = false;
		}
		call_finish(call, CALL_FAILED);
		return;
	}
	h = evhttp_request_get_input_headers(req);
	in = call->err_body != NULL && evbuffer_get_length(call->err_body) > 0 ?
	    call->err_body : evhttp_request_get_input_buffer(req);
	rep->status = evhttp_request_get_response_code(req);
	rep->body_streamed = call->streamed;
	rep->headers = json_object();
	for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		char	 key[128];

		lower_name(kv->key, key, sizeof(key));
		json_object_set_new(rep->headers, key, json_string(kv->value));
	}
	rep->body_len = evbuffer_get_length(in);
	rep->body = xmalloc(rep->body_len + 1);
	evbuffer_remove(in, rep->body, rep->body_len);
	rep->body[rep->body_len] = '\0';
	rep->mod_index = header_u64(h, "X-Raftkv-Mod-Index");
	rep->create_index = header_u64(h, "X-Raftkv-Create-Index");
	rep->leader_id = header_u64(h, "X-Raftkv-Leader-Id");
	rep->retry_after_s = header_u64(h, "Retry-After");
	if ((loc = evhttp_find_header(h, "Location")) != NULL)
		rep->location = xstrdup(loc);
	ctype = evhttp_find_header(h, "Content-Type");
	if (ctype != NULL && strncmp(ctype, "application/json", 16) == 0)
		rep->json = json_loadb((const char *)rep->body, rep->body_len,
		    0, NULL);
	rep->endpoint = call->endpoint;
	call_finish(call, CALL_ANSWERED);
}

/*
 * A piece of a streamed answer arrived (libevent drains the input buffer
 * after this returns): a 200's body goes to the sink, any other answer's
 * is kept for on_response().  Each piece restarts the batch's deadline, so
 * that it bounds silences, not the whole transfer.
 */
static void
on_chunk(struct evhttp_request *req, void *arg)
{
	struct call	*call = arg;
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct timeval	 tv;
	size_t		 n;
	int		 rc;

	if (call->state != CALL_PENDING || call->sink_err != 0)
		return;
	if (evhttp_request_get_response_code(req) != 200) {
		if (call->err_body == NULL)
			call->err_body = evbuffer_new();
		if (call->err_body != NULL)
			evbuffer_add_buffer(call->err_body, in);
		return;
	}
	while ((n = evbuffer_get_contiguous_space(in)) > 0) {
		rc = call->sink(call->sink_arg, evbuffer_pullup(in,
		    (ev_ssize_t)n), n);
		if (rc != 0) {
			/* Cancelled by batch_wait(), outside this callback. */
			call->sink_err = rc;
			call->batch->stopped = true;
			return;
		}
		call->streamed += n;
		evbuffer_drain(in, n);
	}
	if (call->batch->timer != NULL) {
		tv.tv_sec = (time_t)(call->batch->timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(call->batch->timeout_ms % 1000) *
		    1000;
		evtimer_add(call->batch->timer, &tv);
	}
}

/* Records why a request failed; on_response(NULL) follows. */
static void
on_error(enum evhttp_request_error what, void *arg)
{
	struct call	*call = arg;
	int		 saved = EVUTIL_SOCKET_ERROR();

	call->maybe_sent = true;
	switch (what) {
	case EVREQ_HTTP_TIMEOUT:
		snprintf(call->error, sizeof(call->error), "timed out");
		break;
	case EVREQ_HTTP_EOF:
		if (saved == ECONNREFUSED || saved == ENETUNREACH ||
		    saved == EHOSTUNREACH || saved == EADDRNOTAVAIL) {
			call->maybe_sent = false;
			snprintf(call->error, sizeof(call->error), "%s",
			    strerror(saved));
		} else if (saved != 0)
			snprintf(call->error, sizeof(call->error), "connection "
			    "closed (%s)", strerror(saved));
		else
			snprintf(call->error, sizeof(call->error),
			    "connection closed");
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		snprintf(call->error, sizeof(call->error), "invalid HTTP "
		    "answer");
		break;
	case EVREQ_HTTP_BUFFER_ERROR:
		snprintf(call->error, sizeof(call->error), "I/O error (%s)",
		    saved != 0 ? strerror(saved) : "unknown");
		break;
	case EVREQ_HTTP_REQUEST_CANCEL:
		snprintf(call->error, sizeof(call->error), "cancelled");
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		snprintf(call->error, sizeof(call->error), "answer too long");
		break;
	}
}

/* Returns endpoint ep's connection, creating it with a timeout. */
static struct evhttp_connection *
endpoint_conn(struct client *c, struct endpoint *ep, uint64_t timeout_ms)
{
	struct timeval	 tv;

	if (ep->conn == NULL) {
		ep->conn = evhttp_connection_base_new(c->base, NULL, ep->host,
		    ep->port);
		if (ep->conn == NULL)
			return NULL;
		evhttp_connection_set_retries(ep->conn, 0);
	}
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(ep->conn, &tv);
	return ep->conn;
}

/*
 * Starts call on its endpoint: method, path (borrowed), body (borrowed)
 * and, when seq is not 0, the exactly-once headers.
 */
static void
call_start(struct client *c, struct call *call, enum client_method method,
    const char *path, const uint8_t *body, size_t body_len, uint64_t seq)
{
	static const enum evhttp_cmd_type methods[] = {
		[CLIENT_GET] = EVHTTP_REQ_GET,
		[CLIENT_PUT] = EVHTTP_REQ_PUT,
		[CLIENT_DELETE] = EVHTTP_REQ_DELETE,
	};
	struct endpoint	*ep = &c->endpoints[call->endpoint];
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char		 num[32], hostport[300];

	call->state = CALL_PENDING;
	call->batch->pending++;
	conn = endpoint_conn(c, ep, call->batch->timeout_ms);
	req = conn != NULL ? evhttp_request_new(on_response, call) : NULL;
	if (req == NULL) {
		snprintf(call->error, sizeof(call->error), "cannot create a "
		    "request");
		call_finish(call, CALL_FAILED);
		return;
	}
	evhttp_request_set_error_cb(req, on_error);
	if (call->sink != NULL)
		evhttp_request_set_chunked_cb(req, on_chunk);
	h = evhttp_request_get_output_headers(req);
	snprintf(hostport, sizeof(hostport), "%s:%u", ep->host,
	    (unsigned)ep->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "User-Agent", "raftkvctl/" PACKAGE_VERSION);
	if (seq != 0) {
		snprintf(num, sizeof(num), "%" PRIu64, c->client_id);
		evhttp_add_header(h, "X-Raftkv-Client-Id", num);
		snprintf(num, sizeof(num), "%" PRIu64, seq);
		evhttp_add_header(h, "X-Raftkv-Seq", num);
	}
	if (method == CLIENT_PUT) {
		evhttp_add_header(h, "Content-Type",
		    "application/octet-stream");
		if (body_len > 0)
			evbuffer_add(evhttp_request_get_output_buffer(req),
			    body, body_len);
	}
	call->req = req;
	if (evhttp_make_request(conn, req, methods[method], path) != 0) {
		/* evhttp_make_request frees req on failure. */
		snprintf(call->error, sizeof(call->error), "cannot send the "
		    "request");
		call_finish(call, CALL_FAILED);
	}
}

/* Cancels every pending call of b with reason (borrowed). */
static void
batch_cancel(struct batch *b, const char *reason)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		struct call *call = &b->calls[i];
		struct evhttp_request *req = call->req;

		if (call->state != CALL_PENDING)
			continue;
		call->req = NULL;
		if (req != NULL)
			evhttp_cancel_request(req);
		snprintf(call->error, sizeof(call->error), "%s", reason);
		call->maybe_sent = true;
		call_finish(call, CALL_FAILED);
	}
	b->stopped = true;
}

/* Fires at a batch's deadline. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct batch	*b = arg;
	char		 reason[64];

	(void)fd;
	(void)what;
	snprintf(reason, sizeof(reason), "timed out after %" PRIu64 " ms",
	    b->timeout_ms);
	batch_cancel(b, reason);
}

/* Frees the connections that failed, now that no callback is running. */
static void
drop_broken_conns(struct client *c)
{
	size_t	 i;

	for (i = 0; i < c->n; i++) {
		struct endpoint *ep = &c->endpoints[i];

		if (ep->conn_broken && ep->conn != NULL) {
			evhttp_connection_free(ep->conn);
			ep->conn = NULL;
		}
		ep->conn_broken = false;
	}
}

/* Runs the event loop until b is done, its deadline passes or an interrupt. */
static void
batch_wait(struct client *c, struct batch *b)
{
	struct event	*timer;
	struct timeval	 tv;

	timer = evtimer_new(c->base, on_deadline, b);
	tv.tv_sec = (time_t)(b->timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(b->timeout_ms % 1000) * 1000;
	if (timer != NULL)
		evtimer_add(timer, &tv);
	b->timer = timer;
	c->batch = b;
	if (c->interrupted)
		batch_cancel(b, "interrupted");
	while (!b->stopped && b->pending > 0 && timer != NULL)
		event_base_loop(c->base, EVLOOP_ONCE);
	if (timer == NULL)
		batch_cancel(b, "cannot arm a timer");
	batch_cancel(b, c->interrupted ? "interrupted" : "not needed");
	c->batch = NULL;
	b->timer = NULL;
	if (timer != NULL)
		event_free(timer);
	drop_broken_conns(c);
}

void
client_interrupt(struct client *c)
{
	c->interrupted = true;
	if (c->batch != NULL)
		batch_cancel(c->batch, "interrupted");
}

bool
client_interrupted(const struct client *c)
{
	return c->interrupted;
}

bool
client_take_interrupt(struct client *c)
{
	bool	 was = c->interrupted;

	c->interrupted = false;
	return was;
}

/* Wakes client_sleep(). */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	bool	*woke = arg;

	(void)fd;
	(void)what;
	*woke = true;
}

/* Waits ms milliseconds unless interrupted. */
static void
client_sleep(struct client *c, uint64_t ms)
{
	struct event	*timer;
	struct timeval	 tv;
	bool		 woke = false;

	if ((timer = evtimer_new(c->base, on_wake, &woke)) == NULL)
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(timer, &tv);
	while (!woke && !c->interrupted)
		event_base_loop(c->base, EVLOOP_ONCE);
	event_free(timer);
}

/* ------------------------------------------------------------------ */
/* Leader discovery.                                                   */

/* Returns the endpoint whose node id is id, or NO_ENDPOINT. */
static size_t
endpoint_by_id(const struct client *c, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < c->n; i++)
		if (c->endpoints[i].id == id)
			return i;
	return NO_ENDPOINT;
}

/* Returns the endpoint with URL url (borrowed, base only), or NO_ENDPOINT. */
static size_t
endpoint_by_url(const struct client *c, const char *url, size_t len)
{
	size_t	 i;

	if (len > 0 && url[len - 1] == '/')
		len--;
	for (i = 0; i < c->n; i++)
		if (strlen(c->endpoints[i].url) == len &&
		    strncmp(c->endpoints[i].url, url, len) == 0)
			return i;
	return NO_ENDPOINT;
}

/*
 * Maps leader id onto an endpoint: ours if we know a node with that id,
 * else the advertised url (borrowed; may be NULL), added as an endpoint.
 */
static size_t
map_leader(struct client *c, uint64_t id, const char *url, size_t url_len)
{
	size_t	 i;
	char	 err[256];
	int	 added;

	if (id != 0 && (i = endpoint_by_id(c, id)) != NO_ENDPOINT)
		return i;
	if (url == NULL)
		return NO_ENDPOINT;
	if ((i = endpoint_by_url(c, url, url_len)) != NO_ENDPOINT) {
		if (c->endpoints[i].id == 0)
			c->endpoints[i].id = id;
		return i;
	}
	added = add_endpoint(c, url, url_len, true, err, sizeof(err));
	if (added < 0) {
		log_debug(c->lg, "leader %" PRIu64 " advertises an unusable "
		    "URL: %s", id, err);
		return NO_ENDPOINT;
	}
	c->endpoints[added].id = id;
	log_debug(c->lg, "leader %" PRIu64 " is not among the endpoints; "
	    "using its advertised URL %s", id, c->endpoints[added].url);
	return (size_t)added;
}

/* Learns id and role of endpoint i from a /v1/status object (borrowed). */
static void
learn_status(struct client *c, size_t i, json_t *st)
{
	struct endpoint	*ep = &c->endpoints[i];
	const char	*role = json_string_value(json_object_get(st, "role"));
	json_int_t	 id = json_integer_value(json_object_get(st, "id"));

	if (id > 0)
		ep->id = (uint64_t)id;
	snprintf(ep->role, sizeof(ep->role), "%s", role != NULL ? role : "");
	c->current = i;
}

/* Finds the advertised client URL of member id in a status (borrowed). */
static const char *
member_url(json_t *st, uint64_t id)
{
	json_t	*m;
	size_t	 k;

	json_array_foreach(json_object_get(st, "members"), k, m) {
		if ((uint64_t)json_integer_value(json_object_get(m, "id")) ==
		    id)
			return json_string_value(json_object_get(m,
			    "client_url"));
	}
	return NULL;
}

/* Asks the listed endpoints who leads; sets c->leader or records errors. */
static void
discover(struct client *c, uint64_t timeout_ms)
{
	struct call	*calls = xcalloc(c->n_listed, sizeof(*calls));
	struct batch	 b = { .c = c, .calls = calls, .n = c->n_listed,
	    .stop_on_leader = true, .timeout_ms = timeout_ms };
	size_t		 i, found = NO_ENDPOINT;
	uint64_t	 reported = 0;
	json_t		*reporter = NULL;

	for (i = 0; i < b.n; i++) {
		calls[i].batch = &b;
		calls[i].endpoint = i;
		calls[i].is_status = true;
		call_start(c, &calls[i], CLIENT_GET, "/v1/status", NULL, 0, 0);
	}
	batch_wait(c, &b);
	for (i = 0; i < b.n; i++) {
		struct call *call = &calls[i];
		struct endpoint *ep = &c->endpoints[i];
		json_t	*st = call->reply.json;
		uint64_t leader;

		if (call->state != CALL_ANSWERED) {
			if (strcmp(call->error, "not needed") != 0)
				snprintf(ep->error, sizeof(ep->error), "%s",
				    call->error);
			continue;
		}
		if (call->reply.status != 200 || !json_is_object(st)) {
			snprintf(ep->error, sizeof(ep->error), "status: HTTP "
			    "%d", call->reply.status);
			continue;
		}
		learn_status(c, i, st);
		leader = (uint64_t)json_integer_value(json_object_get(st,
		    "leader"));
		if (strcmp(ep->role, "leader") == 0)
			found = i;
		else if (leader != 0 && reported == 0) {
			reported = leader;
			reporter = st;
		}
		if (leader == 0)
			snprintf(ep->error, sizeof(ep->error), "no leader known "
			    "(%s, term %" PRId64 ")", ep->role, (int64_t)
			    json_integer_value(json_object_get(st, "term")));
	}
	if (found == NO_ENDPOINT && reported != 0) {
		const char *url = member_url(reporter, reported);

		found = map_leader(c, reported, url, url != NULL ?
		    strlen(url) : 0);
	}
	if (found != NO_ENDPOINT) {
		c->leader = found;
		log_debug(c->lg, "leader is %s (id %" PRIu64 ")",
		    c->endpoints[found].url, c->endpoints[found].id);
	}
	for (i = 0; i < b.n; i++)
		client_reply_clear(&calls[i].reply);
	free(calls);
}

/* ------------------------------------------------------------------ */
/* Calls with retries.                                                 */

/* Records role (borrowed) for endpoint i and makes it the current one. */
static void
learn_status_role(struct client *c, size_t i, const char *role)
{
	snprintf(c->endpoints[i].role, sizeof(c->endpoints[i].role), "%s",
	    role);
	c->current = i;
}

/* Returns true when every listed endpoint's node id is known. */
static bool
all_ids_known(const struct client *c)
{
	size_t	 i;

	for (i = 0; i < c->n_listed; i++)
		if (c->endpoints[i].id == 0)
			return false;
	return true;
}

/*
 * Counts rounds in which every listed endpoint refused the connection:
 * nothing listens there, so waiting out the timeout helps nobody.
 * Returns true when it is time to give up.
 */
static bool
refused_again(const struct client *c, unsigned *rounds)
{
	size_t	 i;

	for (i = 0; i < c->n_listed; i++)
		if (strcmp(c->endpoints[i].error, CONNECT_FAILED) != 0) {
			*rounds = 0;
			return false;
		}
	return ++*rounds >= REFUSED_ROUNDS;
}

/* Returns the remaining milliseconds until deadline, or 0. */
static uint64_t
remaining(uint64_t deadline)
{
	uint64_t	 now = monotime_ms();

	return now < deadline ? deadline - now : 0;
}

/*
 * How long one attempt (or one discovery round) may wait: a third of the
 * command's timeout, at least ATTEMPT_MIN_MS, never past the deadline.  A
 * node that accepts connections but never answers (paused, or cut off
 * after the handshake) then costs one attempt, not the whole command, and
 * the leader is looked for again in the time left.
 */
static uint64_t
attempt_budget(const struct client *c, uint64_t deadline)
{
	uint64_t	 left = remaining(deadline);
	uint64_t	 part = c->timeout_ms / 3;

	if (part < ATTEMPT_MIN_MS)
		part = ATTEMPT_MIN_MS;
	return part < left ? part : left;
}

/* Writes "URL: error; ..." for every endpoint with an error into err. */
static void
describe_errors(const struct client *c, const char *what, char *err,
    size_t errlen)
{
	size_t	 i, used;
	int	 k;

	k = snprintf(err, errlen, "%s; tried", what);
	used = k > 0 ? (size_t)k : 0;
	for (i = 0; i < c->n && used < errlen; i++) {
		const struct endpoint *ep = &c->endpoints[i];

		k = snprintf(err + used, errlen - used, "%s %s: %s",
		    i == 0 ? "" : ";", ep->url, ep->error[0] != '\0' ?
		    ep->error : "no answer");
		used += k > 0 ? (size_t)k : 0;
	}
}

/* Returns the "error" code of a JSON error reply, or "". */
static const char *
reply_code(const struct client_reply *rep)
{
	const char *code = json_string_value(json_object_get(rep->json,
	    "error"));

	return code != NULL ? code : "";
}

/* Picks the endpoint for attempt number attempt, or NO_ENDPOINT. */
static size_t
pick_endpoint(struct client *c, const struct client_request *rq,
    uint64_t deadline, unsigned attempt)
{
	if (rq->target == TARGET_ANY) {
		size_t first = c->current != NO_ENDPOINT &&
		    c->current < c->n_listed ? c->current : 0;

		return (first + attempt) % c->n_listed;
	}
	if (c->leader == NO_ENDPOINT)
		discover(c, attempt_budget(c, deadline));
	return c->leader;
}

enum client_outcome
client_call(struct client *c, const struct client_request *rq,
    struct client_reply *rep, char *err, size_t errlen)
{
	uint64_t	 deadline = monotime_ms() + c->timeout_ms;
	uint64_t	 seq = rq->is_write ? ++c->seq : 0;
	uint64_t	 backoff = BACKOFF_MIN_MS;
	bool		 maybe_applied = false;
	char		 what[128];
	unsigned	 attempt = 0, redirects = 0, refused_rounds = 0;
	size_t		 i, t;

	memset(rep, 0, sizeof(*rep));
	for (i = 0; i < c->n; i++)
		c->endpoints[i].error[0] = '\0';
	while (!c->interrupted && remaining(deadline) > 0) {
		struct call	 call = { .endpoint = 0 };
		struct batch	 b = { .c = c, .calls = &call, .n = 1 };
		bool		 retry_now = false;

		t = pick_endpoint(c, rq, deadline, attempt++);
		if (c->interrupted)
			break;
		if (t == NO_ENDPOINT) {
			if (refused_again(c, &refused_rounds))
				break;
			client_sleep(c, backoff < remaining(deadline) ?
			    backoff : remaining(deadline));
			backoff = backoff * 2 > BACKOFF_MAX_MS ?
			    BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		call.batch = &b;
		call.endpoint = t;
		call.sink = rq->sink;
		call.sink_arg = rq->sink_arg;
		b.timeout_ms = attempt_budget(c, deadline);
		if (b.timeout_ms == 0)
			break;
		if (rq->sink != NULL)
			b.timeout_ms = rq->transfer_timeout_ms != 0 ?
			    rq->transfer_timeout_ms : c->timeout_ms;
		call_start(c, &call, rq->method, rq->path, rq->body,
		    rq->body_len, seq);
		batch_wait(c, &b);
		if (call.err_body != NULL)
			evbuffer_free(call.err_body);
		if (call.sink_err != 0 || (call.state != CALL_ANSWERED &&
		    call.streamed > 0)) {
			/* Part of the body is out: never start again. */
			snprintf(err, errlen, "%s: the transfer stopped after %"
			    PRIu64 " bytes: %s", c->endpoints[t].url,
			    call.streamed, call.sink_err != 0 ?
			    strerror(-call.sink_err) : call.error);
			client_reply_clear(&call.reply);
			return c->interrupted ? CLIENT_INTERRUPTED :
			    CLIENT_FAILED;
		}
		if (call.state != CALL_ANSWERED) {
			snprintf(c->endpoints[t].error,
			    sizeof(c->endpoints[t].error), "%s", call.error);
			if (rq->is_write && call.maybe_sent)
				maybe_applied = true;
			if (c->leader == t)
				c->leader = NO_ENDPOINT;
			client_reply_clear(&call.reply);
			retry_now = true;
		} else if (call.reply.status == 307 &&
		    rq->target == TARGET_LEADER) {
			const char *loc = call.reply.location;
			size_t	 base_len = 0;

			snprintf(c->endpoints[t].error,
			    sizeof(c->endpoints[t].error), "not the leader "
			    "(leader is %" PRIu64 ")", call.reply.leader_id);
			learn_status_role(c, t, "follower");
			if (loc != NULL && strncmp(loc, "http://", 7) == 0)
				base_len = 7 + strcspn(loc + 7, "/");
			c->leader = endpoint_by_id(c, call.reply.leader_id);
			if (c->leader == NO_ENDPOINT && !all_ids_known(c))
				retry_now = true;	/* discover() next */
			else if (c->leader == NO_ENDPOINT)
				c->leader = map_leader(c, call.reply.leader_id,
				    base_len > 0 ? loc : NULL, base_len);
			client_reply_clear(&call.reply);
			if (++redirects > MAX_REDIRECTS) {
				describe_errors(c, "too many redirects", err,
				    errlen);
				return CLIENT_UNREACHABLE;
			}
			continue;
		} else if (call.reply.status == 503 ||
		    call.reply.status == 504) {
			snprintf(c->endpoints[t].error,
			    sizeof(c->endpoints[t].error), "HTTP %d %s: %s",
			    call.reply.status, reply_code(&call.reply),
			    json_string_value(json_object_get(call.reply.json,
			    "message")) != NULL ? json_string_value(
			    json_object_get(call.reply.json, "message")) : "");
			if (call.reply.status == 504 && rq->is_write)
				maybe_applied = true;
			if (c->leader == t)
				c->leader = NO_ENDPOINT;
			client_reply_clear(&call.reply);
		} else {
			*rep = call.reply;
			c->current = t;
			if (rq->target == TARGET_LEADER)
				learn_status_role(c, t, "leader");
			return CLIENT_OK;
		}
		if (rq->target == TARGET_ANY && retry_now &&
		    attempt % c->n_listed != 0)
			continue;
		if (rq->target == TARGET_ANY && refused_again(c,
		    &refused_rounds))
			break;
		if (rq->target == TARGET_LEADER && retry_now &&
		    c->leader == NO_ENDPOINT && backoff == BACKOFF_MIN_MS) {
			backoff++;	/* rediscover at once, once */
			continue;
		}
		client_sleep(c, backoff < remaining(deadline) ? backoff :
		    remaining(deadline));
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
	}
	if (c->interrupted) {
		snprintf(err, errlen, "interrupted%s", maybe_applied ?
		    "; the write may or may not have been applied" : "");
		return CLIENT_INTERRUPTED;
	}
	if (maybe_applied) {
		snprintf(what, sizeof(what), "no answer within %" PRIu64 " ms; "
		    "the write may or may not have been applied",
		    c->timeout_ms);
		describe_errors(c, what, err, errlen);
		return CLIENT_UNKNOWN;
	}
	if (refused_rounds >= REFUSED_ROUNDS)
		snprintf(what, sizeof(what), "no node is reachable");
	else
		snprintf(what, sizeof(what), "no %s answered within %" PRIu64
		    " ms", rq->target == TARGET_LEADER ? "leader" : "node",
		    c->timeout_ms);
	describe_errors(c, what, err, errlen);
	return CLIENT_UNREACHABLE;
}

enum client_outcome
client_find_leader(struct client *c, size_t *endpoint, uint64_t *id,
    char *err, size_t errlen)
{
	uint64_t	 deadline = monotime_ms() + c->timeout_ms;
	uint64_t	 backoff = BACKOFF_MIN_MS;
	unsigned	 refused_rounds = 0;
	size_t		 i;
	char		 what[96];

	for (i = 0; i < c->n; i++)
		c->endpoints[i].error[0] = '\0';
	c->leader = NO_ENDPOINT;
	while (!c->interrupted && remaining(deadline) > 0) {
		discover(c, remaining(deadline));
		if (c->leader != NO_ENDPOINT) {
			*endpoint = c->leader;
			*id = c->endpoints[c->leader].id;
			return CLIENT_OK;
		}
		if (c->interrupted || refused_again(c, &refused_rounds))
			break;
		client_sleep(c, backoff < remaining(deadline) ? backoff :
		    remaining(deadline));
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    backoff * 2;
	}
	if (c->interrupted) {
		snprintf(err, errlen, "interrupted");
		return CLIENT_INTERRUPTED;
	}
	if (refused_rounds >= REFUSED_ROUNDS)
		snprintf(what, sizeof(what), "no node is reachable");
	else
		snprintf(what, sizeof(what), "no leader found within %" PRIu64
		    " ms", c->timeout_ms);
	describe_errors(c, what, err, errlen);
	return CLIENT_UNREACHABLE;
}

enum client_outcome
client_probe_all(struct client *c, struct client_node *nodes,
    uint64_t timeout_ms)
{
	size_t		 n = c->n_listed, i;
	struct call	*calls = xcalloc(2 * n, sizeof(*calls));
	struct batch	 b = { .c = c, .calls = calls, .n = 2 * n,
	    .timeout_ms = timeout_ms != 0 ? timeout_ms : c->timeout_ms };

	for (i = 0; i < 2 * n; i++) {
		calls[i].batch = &b;
		calls[i].endpoint = i / 2;
		calls[i].is_status = i % 2 == 0;
		call_start(c, &calls[i], CLIENT_GET, i % 2 == 0 ?
		    "/v1/status" : "/v1/health", NULL, 0, 0);
	}
	batch_wait(c, &b);
	for (i = 0; i < n; i++) {
		struct call *st = &calls[2 * i], *health = &calls[2 * i + 1];
		struct client_node *node = &nodes[i];

		memset(node, 0, sizeof(*node));
		node->url = c->endpoints[i].url;
		if (health->state == CALL_ANSWERED)
			node->health = health->reply.status;
		if (st->state != CALL_ANSWERED)
			snprintf(node->error, sizeof(node->error), "%s",
			    st->error);
		else if (st->reply.status != 200 ||
		    !json_is_object(st->reply.json))
			snprintf(node->error, sizeof(node->error), "status: "
			    "HTTP %d", st->reply.status);
		else {
			node->reachable = true;
			node->status = json_incref(st->reply.json);
			learn_status(c, i, node->status);
			if (strcmp(c->endpoints[i].role, "leader") == 0)
				c->leader = i;
		}
	}
	if (c->leader != NO_ENDPOINT)
		c->current = c->leader;
	for (i = 0; i < 2 * n; i++)
		client_reply_clear(&calls[i].reply);
	free(calls);
	return c->interrupted ? CLIENT_INTERRUPTED : CLIENT_OK;
}

void
client_nodes_clear(struct client_node *nodes, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (nodes[i].status != NULL)
			json_decref(nodes[i].status);
		nodes[i].status = NULL;
	}
}
