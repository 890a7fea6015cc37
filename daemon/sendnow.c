/*
 * sendnow.c -- write evhttp's queued output before the loop sleeps.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "sendnow.h"
#include "xmalloc.h"

void
sendnow_open(struct sendnow *q)
{
	q->open = true;
}

static void
note(struct sendnow *q, struct evhttp_connection *c)
{
	size_t	 i;

	/* Once each: a flush can free a connection (Connection: close). */
	for (i = 0; i < q->n; i++)
		if (q->conns[i] == c)
			return;
	if (q->n == q->cap) {
		q->cap = q->cap != 0 ? 2 * q->cap : 64;
		q->conns = xrealloc(q->conns, q->cap * sizeof(*q->conns));
	}
	q->conns[q->n++] = c;
}

void
sendnow_note(struct sendnow *q, struct evhttp_connection *c)
{
	if (q != NULL && q->open && c != NULL)
		note(q, c);
}

void
sendnow_note_owned(struct sendnow *q, struct evhttp_connection *c)
{
	if (q != NULL && c != NULL)
		note(q, c);
}

void
sendnow_forget(struct sendnow *q, struct evhttp_connection *c)
{
	size_t	 i;

	if (q == NULL)
		return;
	for (i = 0; i < q->n; i++)
		if (q->conns[i] == c) {
			/* During a flush the list keeps its order. */
			if (q->flushing)
				q->conns[i] = NULL;
			else
				q->conns[i] = q->conns[--q->n];
			return;
		}
}

/*
 * Writes c's output as bufferevent's own write callback would, and when
 * it all went, runs that callback's consequence: evhttp's write-done
 * callback, which finishes the request (a reply: frees it and reads the
 * next one; a request: starts reading the response).  Returns whether
 * the output is gone.
 */
static bool
flush_one(struct evhttp_connection *c)
{
	struct bufferevent	*bev = evhttp_connection_get_bufferevent(c);
	struct evbuffer		*out;
	evutil_socket_t		 fd;
	int			 rc;

	if (bev == NULL || (fd = bufferevent_getfd(bev)) < 0)
		return false;
	out = bufferevent_get_output(bev);
	/* Only output evhttp is waiting to write: nothing while connecting. */
	if (evbuffer_get_length(out) == 0 ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE))
		return false;
	evbuffer_unfreeze(out, 1);
	rc = evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	/* An error or a full socket: the loop's write event will see it. */
	if (rc <= 0 || evbuffer_get_length(out) != 0)
		return false;
	/* As bufferevent's write callback does once the output is empty. */
	bufferevent_disable(bev, EV_WRITE);
	bufferevent_trigger(bev, EV_WRITE, 0);
	return true;
}

void
sendnow_flush(struct sendnow *q)
{
	size_t	 i;

	q->open = false;
	q->flushing = true;
	for (i = 0; i < q->n; i++) {
		if (q->conns[i] == NULL)
			continue;
		if (flush_one(q->conns[i]))
			q->sent++;
		else
			q->left++;
	}
	q->flushing = false;
	q->n = 0;
}

void
sendnow_free(struct sendnow *q)
{
	free(q->conns);
	q->conns = NULL;
	q->n = q->cap = 0;
	q->open = false;
}
