/*
 * sendnow.h -- write evhttp's queued output before the loop sleeps.
 *
 * evhttp queues a reply (or a request) in the connection's output buffer
 * and asks epoll for writability; the bytes leave in the next loop pass,
 * after an epoll_ctl() and an epoll_wait() that return at once.  A
 * sendnow queue collects the connections written to while it is open
 * (the node opens it for one pass of its Ready loop, where no evhttp
 * callback is on the stack) and sendnow_flush() writes each one's output
 * to its socket there and then, telling evhttp the write is done when
 * all of it went.  What the socket does not take is left to evhttp.  A
 * connection its owner keeps track of (the transport's own connections
 * to its peers) may also be noted outside the pass, for the next flush.
 *
 * Plain TCP only: a connection with a filter (TLS) underneath must not
 * be noted.
 */
#ifndef RAFTKV_SENDNOW_H
#define RAFTKV_SENDNOW_H

#include <stdbool.h>
#include <stddef.h>

struct evhttp_connection;

struct sendnow {
	struct evhttp_connection **conns;
	size_t		 n;
	size_t		 cap;
	bool		 open;
	bool		 flushing;
	/* Counters for /v1/status: flushed whole, or left to evhttp. */
	unsigned long long sent;
	unsigned long long left;
};

/* Starts collecting. */
void	 sendnow_open(struct sendnow *q);
/*
 * Notes c, which has just been given a reply or a request to send; does
 * nothing unless q is open (q may be NULL).
 */
void	 sendnow_note(struct sendnow *q, struct evhttp_connection *c);
/*
 * Notes c even while q is closed, for the next flush: for a connection
 * whose owner forgets it (sendnow_forget) before freeing it.
 */
void	 sendnow_note_owned(struct sendnow *q, struct evhttp_connection *c);
/* Drops c, which its owner is about to free (q may be NULL). */
void	 sendnow_forget(struct sendnow *q, struct evhttp_connection *c);
/* Writes every noted connection's output, then stops collecting. */
void	 sendnow_flush(struct sendnow *q);
void	 sendnow_free(struct sendnow *q);

#endif
