/*
 * test-sendnow.c -- writing evhttp's queued output at the end of a pass.
 *
 * An evhttp server and its clients share one event base on loopback.  The
 * server answers "/defer" from a later "ready pass" (a zero timeout) that
 * opens a sendnow queue, notes the connection, replies and flushes, as the
 * node's Ready loop does; the checks look at the connection right after
 * the flush: the reply went (or, when too big for the socket, was left
 * to evhttp), evhttp finished the request (and read the next one, or
 * freed the connection on "Connection: close").  Client requests are
 * flushed the same way, and the queue's bookkeeping is checked alone.
 * The event base is raftkvd's: locking on, epoll's change list on.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "sendnow.h"
#include "transport.h"
#include "tap.h"

#define SMALL_BODY	1000
#define BIG_BODY	(8 * 1024 * 1024)
#define WAIT_SECONDS	5
#define MANY_CONNS	130	/* more than the queue's first 64 slots */

/* What a ready pass saw, read right after sendnow_flush(). */
struct pass {
	bool		 ran;
	size_t		 out_before;	/* output queued before the flush */
	/* What the flush did: */
	unsigned long long sent;	/* q->sent gained */
	unsigned long long left;	/* q->left gained */
	size_t		 n_after;	/* q->n after it */
	bool		 open_after;	/* q->open after it */
	unsigned	 completed;	/* replies finished in it */
	unsigned	 closed;	/* connections freed in it */
	/* The connection, unless freed: */
	bool		 alive;
	size_t		 out_after;	/* its output after the flush */
	short		 enabled;	/* EV_READ/EV_WRITE */
};

/* One client request and what came back. */
struct reply {
	bool		 done;
	int		 status;	/* -1: failed */
	size_t		 len;
	bool		 intact;	/* the body is pattern() */
	char		 connection[16];	/* Connection: */
};

struct test {
	struct tap	 t;
	struct event_base *base;
	struct evhttp	*http;
	uint16_t	 port;
	struct event	*timeout;
	bool		 timed_out;
	struct sendnow	 q;

	/* Server side. */
	size_t		 reply_len;	/* body size of every reply */
	bool		 small_sndbuf;	/* shrink the next one's SO_SNDBUF */
	bool		 got_request;	/* set by each request */
	unsigned	 completed;	/* replies evhttp finished */
	unsigned	 closed;	/* server connections freed */
	struct evhttp_request *held;	/* a request without reply yet */
	struct evhttp_connection *sconn;	/* the last request's */
	struct pass	 pass;
};

/* The body byte at offset i. */
static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 11));
}

/* Adds len bytes of the pattern to b. */
static int
add_pattern(struct evbuffer *b, size_t len)
{
	uint8_t	*p;
	size_t	 i;
	int	 rc;

	if ((p = malloc(len)) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		p[i] = pattern(i);
	rc = evbuffer_add(b, p, len);
	free(p);
	return rc;
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct test *st = arg;

	(void)fd;
	(void)what;
	st->timed_out = true;
	event_base_loopbreak(st->base);
}

/* Runs the loop until *flag is set, for at most WAIT_SECONDS. */
static bool
wait_for(struct test *st, const bool *flag)
{
	struct timeval tv = { WAIT_SECONDS, 0 };

	st->timed_out = false;
	evtimer_add(st->timeout, &tv);
	while (!*flag && !st->timed_out)
		if (event_base_loop(st->base, EVLOOP_ONCE) < 0)
			break;
	evtimer_del(st->timeout);
	return *flag;
}

/* ------------------------------------------------------------------ */
/* The server.                                                         */

static void
server_done(struct evhttp_request *req, void *arg)
{
	struct test *st = arg;

	(void)req;
	st->completed++;
}

static void
server_closed(struct evhttp_connection *c, void *arg)
{
	struct test *st = arg;

	(void)c;
	st->closed++;
}

static bool
bev_output(struct evhttp_connection *c, size_t *len, short *enabled)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c);

	if (bev == NULL)
		return false;
	*len = evbuffer_get_length(bufferevent_get_output(bev));
	*enabled = bufferevent_get_enabled(bev);
	return true;
}

/*
 * The ready pass: replies to the held request with the queue open and
 * flushes it, then records what the flush did.  After the flush the
 * request may be freed, and the connection too if st->closed moved.
 */
static void
ready_pass(evutil_socket_t fd, short what, void *arg)
{
	struct test *st = arg;
	struct evhttp_request *req = st->held;
	struct evhttp_connection *c;
	struct pass *p = &st->pass;
	struct evbuffer *body;
	unsigned long long sent = st->q.sent, left = st->q.left;
	unsigned completed = st->completed, closed = st->closed;
	short	 enabled;

	(void)fd;
	(void)what;
	memset(p, 0, sizeof(*p));
	p->ran = true;
	st->held = NULL;
	if (req == NULL || (c = evhttp_request_get_connection(req)) == NULL ||
	    (body = evbuffer_new()) == NULL)
		return;
	/* Noted before and after the reply, as a pass may; flushed once. */
	sendnow_open(&st->q);
	sendnow_note(&st->q, c);
	if (add_pattern(body, st->reply_len) != 0)
		diag("out of memory for the reply");
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	sendnow_note(&st->q, c);
	(void)bev_output(c, &p->out_before, &enabled);
	sendnow_flush(&st->q);
	p->sent = st->q.sent - sent;
	p->left = st->q.left - left;
	p->n_after = st->q.n;
	p->open_after = st->q.open;
	p->completed = st->completed - completed;
	p->closed = st->closed - closed;
	if (p->closed == 0)
		p->alive = bev_output(c, &p->out_after, &p->enabled);
}

/*
 * "/now" is answered at once, "/defer" from a ready pass in the next
 * loop pass, "/hold" when the test says so.
 */
static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct test *st = arg;
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	const char *uri = evhttp_request_get_uri(req);
	struct timeval zero = { 0, 0 };
	struct evbuffer *body;
	int	 size = 64 * 1024;

	st->got_request = true;
	st->sconn = c;
	evhttp_connection_set_closecb(c, server_closed, st);
	evhttp_request_set_on_complete_cb(req, server_done, st);
	if (st->small_sndbuf && setsockopt(bufferevent_getfd(
	    evhttp_connection_get_bufferevent(c)), SOL_SOCKET, SO_SNDBUF,
	    &size, sizeof(size)) != 0)
		diag("cannot shrink SO_SNDBUF");
	if (strcmp(uri, "/now") == 0) {
		if ((body = evbuffer_new()) == NULL) {
			evhttp_send_error(req, 500, NULL);
			return;
		}
		(void)add_pattern(body, st->reply_len);
		evhttp_send_reply(req, 200, "OK", body);
		evbuffer_free(body);
	} else if (strcmp(uri, "/defer") == 0) {
		st->held = req;
		st->pass.ran = false;
		if (event_base_once(st->base, -1, EV_TIMEOUT, ready_pass, st,
		    &zero) != 0)
			evhttp_send_error(req, 500, NULL);
	} else if (strcmp(uri, "/hold") == 0) {
		st->held = req;
	} else
		evhttp_send_error(req, 404, NULL);
}

/* ------------------------------------------------------------------ */
/* The client.                                                         */

static void
client_done(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	struct evbuffer *b;
	const unsigned char *p;
	const char *v;
	size_t	 i;

	r->done = true;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		r->status = -1;
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	b = evhttp_request_get_input_buffer(req);
	r->len = evbuffer_get_length(b);
	r->intact = true;
	if (r->len > 0 && (p = evbuffer_pullup(b, -1)) != NULL) {
		for (i = 0; i < r->len; i++)
			if (p[i] != pattern(i)) {
				r->intact = false;
				break;
			}
	} else if (r->len > 0)
		r->intact = false;
	if ((v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Connection")) != NULL)
		snprintf(r->connection, sizeof(r->connection), "%s", v);
}

/* Starts GET path on c; the answer goes to r. */
static int
send_get(struct evhttp_connection *c, const char *path, bool conn_close,
    struct reply *r)
{
	struct evhttp_request *req;
	struct evkeyvalq *h;

	memset(r, 0, sizeof(*r));
	if ((req = evhttp_request_new(client_done, r)) == NULL)
		return -1;
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	if (conn_close)
		evhttp_add_header(h, "Connection", "close");
	return evhttp_make_request(c, req, EVHTTP_REQ_GET, path);
}

/* GETs path on c and waits for the answer; true if it is 200 and whole. */
static bool
get_ok(struct test *st, struct evhttp_connection *c, const char *path)
{
	struct reply r;

	if (send_get(c, path, false, &r) != 0 || !wait_for(st, &r.done))
		return false;
	return r.status == 200 && r.len == st->reply_len && r.intact;
}

static struct evhttp_connection *
client_new(struct test *st)
{
	return evhttp_connection_base_new(st->base, NULL, "127.0.0.1",
	    st->port);
}

/* ------------------------------------------------------------------ */
/* The cases.                                                          */

/* Case 1: a deferred reply leaves in the flush; keep-alive goes on. */
static void
check_deferred_reply(struct test *st, struct evhttp_connection *c)
{
	struct tap *t = &st->t;
	struct pass *p = &st->pass;
	struct evhttp_connection *first = NULL;
	struct reply r;
	int	 i;

	st->reply_len = SMALL_BODY;
	for (i = 1; i <= 2; i++) {
		st->pass.ran = false;
		is_int(t, send_get(c, "/defer", false, &r), 0,
		    "keep-alive request %d sent", i);
		ok(t, wait_for(st, &p->ran), "request %d: the ready pass ran",
		    i);
		if (i == 1)
			first = st->sconn;
		ok(t, p->out_before > SMALL_BODY,
		    "request %d: the reply was queued before the flush (%zu "
		    "bytes)", i, p->out_before);
		is_u64(t, p->sent, 1, "request %d: the flush counts it sent",
		    i);
		is_u64(t, p->left, 0, "request %d: nothing left to evhttp", i);
		ok(t, p->n_after == 0 && !p->open_after,
		    "request %d: the flush empties and closes the queue", i);
		is_int(t, p->completed, 1, "request %d: evhttp finished the "
		    "request inside the flush", i);
		is_int(t, p->closed, 0, "request %d: the connection stays", i);
		ok(t, p->alive && p->out_after == 0,
		    "request %d: its output is empty after the flush", i);
		ok(t, (p->enabled & (EV_READ | EV_WRITE)) == EV_READ,
		    "request %d: evhttp reads the next request (enabled %#x)",
		    i, (unsigned)p->enabled);
		ok(t, wait_for(st, &r.done), "request %d: the client hears "
		    "back", i);
		is_int(t, r.status, 200, "request %d: 200", i);
		ok(t, r.len == SMALL_BODY && r.intact,
		    "request %d: the body is intact (%zu bytes)", i, r.len);
	}
	ok(t, st->sconn == first && st->closed == 0,
	    "the second request came on the same server connection");
}

/* Case 2: with "Connection: close" the flush frees the connection. */
static void
check_close(struct test *st)
{
	struct tap *t = &st->t;
	struct pass *p = &st->pass;
	struct evhttp_connection *c = client_new(st);
	unsigned closed = st->closed;
	struct reply r;

	st->reply_len = SMALL_BODY;
	st->pass.ran = false;
	ok(t, c != NULL && send_get(c, "/defer", true, &r) == 0,
	    "a \"Connection: close\" request sent");
	ok(t, wait_for(st, &p->ran), "close: the ready pass ran");
	is_u64(t, p->sent, 1, "close: the flush counts the reply sent");
	is_u64(t, p->left, 0, "close: nothing left to evhttp");
	is_int(t, p->completed, 1, "close: evhttp finished the request");
	is_int(t, p->closed, 1,
	    "close: evhttp freed the server connection inside the flush");
	ok(t, wait_for(st, &r.done), "close: the client hears back");
	is_int(t, r.status, 200, "close: 200");
	ok(t, r.len == SMALL_BODY && r.intact, "close: the body is intact");
	is_str(t, r.connection, "close", "close: the reply says so");
	is_int(t, st->closed - closed, 1,
	    "close: the server connection closed once");
	if (c != NULL)
		evhttp_connection_free(c);
}

/* Case 3: a reply the socket cannot take whole is left to evhttp. */
static void
check_large(struct test *st, struct evhttp_connection *c)
{
	struct tap *t = &st->t;
	struct pass *p = &st->pass;
	unsigned completed;
	struct reply r;

	st->reply_len = BIG_BODY;
	st->small_sndbuf = true;
	st->pass.ran = false;
	is_int(t, send_get(c, "/defer", false, &r), 0,
	    "a request for %d bytes sent", BIG_BODY);
	ok(t, wait_for(st, &p->ran), "large: the ready pass ran");
	st->small_sndbuf = false;
	completed = st->completed;
	is_u64(t, p->sent, 0, "large: not counted sent");
	is_u64(t, p->left, 1, "large: counted left to evhttp");
	is_int(t, p->completed, 0, "large: the request is not finished");
	ok(t, p->alive && p->out_after > 0 && p->out_after < p->out_before,
	    "large: part went, %zu of %zu bytes wait", p->out_after,
	    p->out_before);
	ok(t, p->enabled & EV_WRITE, "large: evhttp still waits to write");
	ok(t, wait_for(st, &r.done), "large: the client hears back");
	is_int(t, r.status, 200, "large: 200");
	is_u64(t, r.len, BIG_BODY, "large: every byte arrives");
	ok(t, r.intact, "large: the body is intact");
	is_int(t, st->completed - completed, 1,
	    "large: evhttp finished the request itself");
	st->reply_len = SMALL_BODY;
	ok(t, get_ok(st, c, "/now"), "large: the connection serves on");
}

/* Case 4: a client request on a connected connection leaves at once. */
static void
check_client(struct test *st)
{
	struct tap *t = &st->t;
	struct evhttp_connection *c = client_new(st);
	unsigned long long sent = st->q.sent, left = st->q.left;
	size_t	 before = 0, after = 1;
	short	 enabled = 0;
	struct reply r;

	st->reply_len = SMALL_BODY;
	ok(t, c != NULL && get_ok(st, c, "/now"),
	    "client: a first request connects");
	if (c == NULL)
		return;
	st->got_request = false;
	sendnow_open(&st->q);
	is_int(t, send_get(c, "/now", false, &r), 0,
	    "client: a second request started");
	sendnow_note(&st->q, c);
	(void)bev_output(c, &before, &enabled);
	ok(t, before > 0 && (enabled & EV_WRITE),
	    "client: it waits in the output (%zu bytes)", before);
	sendnow_flush(&st->q);
	is_u64(t, st->q.sent - sent, 1, "client: the flush counts it sent");
	is_u64(t, st->q.left - left, 0, "client: nothing left to evhttp");
	ok(t, bev_output(c, &after, &enabled) && after == 0,
	    "client: the output is empty after the flush");
	ok(t, (enabled & (EV_READ | EV_WRITE)) == EV_READ,
	    "client: evhttp reads the response (enabled %#x)",
	    (unsigned)enabled);
	ok(t, !r.done, "client: no answer yet");
	ok(t, wait_for(st, &r.done), "client: the response arrives");
	ok(t, st->got_request, "client: the server got the request");
	ok(t, r.status == 200 && r.len == SMALL_BODY && r.intact,
	    "client: 200 with the body intact");

	/* Noted as owned outside a pass, written by the next flush. */
	sent = st->q.sent;
	is_int(t, send_get(c, "/now", false, &r), 0,
	    "client: a third request started outside a pass");
	sendnow_note_owned(&st->q, c);
	sendnow_open(&st->q);
	sendnow_flush(&st->q);
	is_u64(t, st->q.sent - sent, 1, "client: the next flush sends it");
	ok(t, wait_for(st, &r.done) && r.status == 200,
	    "client: its response arrives");
	evhttp_connection_free(c);
}

/* Case 5: the queue alone. */
static void
check_queue(struct test *st)
{
	struct tap *t = &st->t;
	struct sendnow q;
	struct evhttp_connection *c[MANY_CONNS];
	size_t	 i, j, n = 0;
	bool	 has0 = false, has2 = false;

	memset(&q, 0, sizeof(q));
	for (i = 0; i < MANY_CONNS; i++)
		if ((c[i] = client_new(st)) != NULL)
			n++;
	is_u64(t, n, MANY_CONNS, "queue: %d unconnected connections",
	    MANY_CONNS);
	if (n != MANY_CONNS)
		goto out;

	sendnow_note(&q, c[0]);
	is_u64(t, q.n, 0, "queue: a note before sendnow_open() is ignored");
	/* A NULL queue is ignored (or this crashes). */
	sendnow_note(NULL, c[0]);
	sendnow_forget(NULL, c[0]);
	sendnow_open(&q);
	ok(t, q.open, "queue: open");
	sendnow_note(&q, NULL);
	is_u64(t, q.n, 0, "queue: NULL is not noted");
	sendnow_note(&q, c[0]);
	sendnow_note(&q, c[0]);
	is_u64(t, q.n, 1, "queue: a connection is noted once");
	sendnow_note(&q, c[1]);
	sendnow_note(&q, c[2]);
	sendnow_note(&q, c[1]);
	is_u64(t, q.n, 3, "queue: three connections");
	sendnow_forget(&q, c[1]);
	is_u64(t, q.n, 2, "queue: forgetting one drops it");
	for (i = 0; i < q.n; i++) {
		has0 |= q.conns[i] == c[0];
		has2 |= q.conns[i] == c[2];
	}
	ok(t, has0 && has2, "queue: and keeps the others");
	sendnow_forget(&q, c[1]);
	sendnow_forget(&q, c[3]);
	is_u64(t, q.n, 2, "queue: forgetting unknown ones is harmless");
	sendnow_note(&q, c[1]);
	is_u64(t, q.n, 3, "queue: a forgotten one can be noted again");
	sendnow_flush(&q);
	ok(t, q.n == 0 && !q.open, "queue: the flush empties and closes it");
	ok(t, q.sent == 0 && q.left == 3,
	    "queue: unconnected ones are left (sent %llu, left %llu)",
	    q.sent, q.left);
	sendnow_note(&q, c[0]);
	is_u64(t, q.n, 0, "queue: a note after the flush is ignored");

	/* An owned connection is noted while closed and kept by open. */
	sendnow_note_owned(&q, NULL);
	sendnow_note_owned(&q, c[0]);
	sendnow_note_owned(&q, c[0]);
	is_u64(t, q.n, 1, "queue: an owned connection is noted while closed, "
	    "once");
	sendnow_open(&q);
	is_u64(t, q.n, 1, "queue: opening keeps it");
	sendnow_note(&q, c[0]);
	is_u64(t, q.n, 1, "queue: and a note in the pass does not double it");
	sendnow_flush(&q);
	ok(t, q.n == 0 && q.left == 4, "queue: the next flush takes it "
	    "(left %llu)", q.left);

	/* Past the first allocation, and each once. */
	sendnow_open(&q);
	for (i = 0; i < MANY_CONNS; i++) {
		sendnow_note(&q, c[i]);
		sendnow_note(&q, c[i / 2]);
	}
	is_u64(t, q.n, MANY_CONNS, "queue: %d connections noted once each",
	    MANY_CONNS);
	for (i = 0, n = 0; i < q.n; i++)
		n += q.conns[i] == c[MANY_CONNS - 1];
	is_u64(t, n, 1, "queue: the last one is there");
	for (i = 0; i < MANY_CONNS; i += 2)
		sendnow_forget(&q, c[i]);
	is_u64(t, q.n, MANY_CONNS / 2, "queue: half forgotten");
	for (i = 0, n = 0; i < q.n; i++)
		for (j = 1; j < MANY_CONNS; j += 2)
			n += q.conns[i] == c[j];
	is_u64(t, n, MANY_CONNS / 2, "queue: the other half is kept");
	sendnow_flush(&q);
	ok(t, q.sent == 0 && q.left == 4 + MANY_CONNS / 2,
	    "queue: the rest flushed as left (left %llu)", q.left);
	sendnow_open(&q);
	sendnow_note(&q, c[0]);
	sendnow_free(&q);
	ok(t, q.conns == NULL && q.n == 0 && !q.open,
	    "queue: sendnow_free() empties it");
	sendnow_free(&q);	/* twice is fine */
out:
	for (i = 0; i < MANY_CONNS; i++)
		if (c[i] != NULL)
			evhttp_connection_free(c[i]);
}

/*
 * Case 6: nothing to write (a connection still connecting, an idle one,
 * a server connection whose reply is not given yet) is left to evhttp
 * and goes on normally.
 */
static void
check_nothing_to_write(struct test *st)
{
	struct tap *t = &st->t;
	struct evhttp_connection *c = client_new(st);
	unsigned long long sent = st->q.sent, left = st->q.left;
	struct evbuffer *body;
	unsigned completed;
	size_t	 len = 1;
	short	 enabled = 0;
	struct reply r;

	st->reply_len = SMALL_BODY;
	if (c == NULL) {
		ok(t, 0, "a client connection");
		return;
	}
	sendnow_open(&st->q);
	is_int(t, send_get(c, "/now", false, &r), 0,
	    "connecting: a request on a fresh connection");
	sendnow_note(&st->q, c);
	is_u64(t, st->q.n, 1, "connecting: noted");
	sendnow_flush(&st->q);
	is_u64(t, st->q.sent - sent, 0, "connecting: not counted sent");
	is_u64(t, st->q.left - left, 1, "connecting: counted left");
	ok(t, bev_output(c, &len, &enabled) && len == 0 &&
	    (enabled & EV_WRITE), "connecting: evhttp still waits to connect");
	ok(t, !r.done, "connecting: no answer yet");
	ok(t, wait_for(st, &r.done), "connecting: the request completes");
	ok(t, r.status == 200 && r.len == SMALL_BODY && r.intact,
	    "connecting: 200 with the body intact");

	/* Connected and idle. */
	sent = st->q.sent;
	left = st->q.left;
	sendnow_open(&st->q);
	sendnow_note(&st->q, c);
	sendnow_flush(&st->q);
	ok(t, st->q.sent == sent && st->q.left == left + 1,
	    "idle: an empty output is left");
	ok(t, get_ok(st, c, "/now"), "idle: the connection serves on");

	/* A server connection whose reply is not given yet. */
	st->held = NULL;
	st->got_request = false;
	is_int(t, send_get(c, "/hold", false, &r), 0, "held: request sent");
	ok(t, wait_for(st, &st->got_request) && st->held != NULL,
	    "held: the server holds it");
	if (st->held == NULL)
		goto out;
	sent = st->q.sent;
	left = st->q.left;
	completed = st->completed;
	sendnow_open(&st->q);
	sendnow_note(&st->q, evhttp_request_get_connection(st->held));
	sendnow_flush(&st->q);
	ok(t, st->q.sent == sent && st->q.left == left + 1 &&
	    st->completed == completed,
	    "held: nothing to write is left, nothing finished");
	if ((body = evbuffer_new()) == NULL ||
	    add_pattern(body, SMALL_BODY) != 0)
		diag("out of memory for the reply");
	evhttp_send_reply(st->held, 200, "OK", body);
	if (body != NULL)
		evbuffer_free(body);
	st->held = NULL;
	ok(t, wait_for(st, &r.done), "held: the reply given later arrives");
	ok(t, r.status == 200 && r.len == SMALL_BODY && r.intact,
	    "held: 200 with the body intact");
	ok(t, st->completed == completed + 1, "held: evhttp finished it");
out:
	evhttp_connection_free(c);
}

int
main(void)
{
	struct test *st;
	struct evhttp_bound_socket *b;
	struct evhttp_connection *c;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int	 rc;

	signal(SIGPIPE, SIG_IGN);
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return 1;
	if (evthread_use_pthreads() != 0 ||
	    (st->base = transport_event_base_new()) == NULL ||
	    (st->timeout = evtimer_new(st->base, timeout_cb, st)) == NULL ||
	    (st->http = evhttp_new(st->base)) == NULL ||
	    (b = evhttp_bind_socket_with_handle(st->http, "127.0.0.1", 0)) ==
	    NULL || getsockname(evhttp_bound_socket_get_fd(b),
	    (struct sockaddr *)&sin, &len) != 0) {
		ok(&st->t, 0, "a server on 127.0.0.1");
		return tap_done(&st->t);
	}
	st->port = ntohs(sin.sin_port);
	evhttp_set_gencb(st->http, server_cb, st);
	ok(&st->t, st->port != 0, "a server on 127.0.0.1:%u", st->port);

	if ((c = client_new(st)) != NULL) {
		check_deferred_reply(st, c);
		check_close(st);
		check_large(st, c);
		evhttp_connection_free(c);
	} else
		ok(&st->t, 0, "a client connection");
	check_client(st);
	check_queue(st);
	check_nothing_to_write(st);

	evhttp_free(st->http);
	event_free(st->timeout);
	event_base_free(st->base);
	sendnow_free(&st->q);
	rc = tap_done(&st->t);
	free(st);
	return rc;
}
