/*
 * snapxfer.c -- InstallSnapshot's chunked file transfer (see snapxfer.h).
 *
 * A sender is one small state machine per peer:
 *
 *	IDLE --send()--> SENDING --(last chunk 204)--> DONE --> IDLE
 *	                    |  ^                          (callback ok)
 *	              (409) +--+ resume at the offset the follower wants
 *	                    |
 *	             (error, timeout) --> FAILED --> IDLE (callback !ok)
 *
 * DONE and FAILED are left from a zero-delay timer, which frees the
 * connection outside its own callback and reports to the node from a
 * fresh event-loop pass.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "log.h"
#include "monotime.h"
#include "snapload.h"
#include "snapxfer.h"
#include "storage.h"

#define ROUTE		"/raft/v1/snapshot"
/* Header 48 bytes + trailer 24: the smallest valid snapshot file. */
#define MIN_FILE	72
#define MAX_FILE	(1ULL << 40)

enum send_state {
	SEND_IDLE = 0,
	SEND_SENDING,
	SEND_DONE,
	SEND_FAILED,
};

struct sender {
	struct snapxfer	*x;
	raft_id_t	 peer;
	enum send_state	 state;
	char		 host[RAFT_MAX_URL + 1];
	uint16_t	 port;
	struct evhttp_connection *conn;
	struct event	*finish_ev;
	int		 fd;
	/* The file's identity, sent with every chunk. */
	raft_term_t	 term;
	raft_index_t	 index;
	raft_term_t	 snap_term;
	uint64_t	 size;
	uint32_t	 crc;
	uint64_t	 off;		/* the next byte to send */
	size_t		 chunk_len;	/* bytes of the request in flight */
	uint64_t	 started_ms;
	char		 why[200];
};

struct receiver {
	bool		 active;
	raft_id_t	 from;
	raft_term_t	 term;
	raft_index_t	 index;
	raft_term_t	 snap_term;
	uint64_t	 size;
	uint32_t	 crc;
	uint64_t	 off;
	struct storage_snapshot_writer *w;
	uint64_t	 started_ms;
};

struct snapxfer {
	struct event_base *base;
	struct evdns_base *dns;
	const struct logger *lg;
	struct snapxfer_config cfg;
	struct sender	*senders[RAFT_MAX_MEMBERS];
	size_t		 n_senders;
	struct receiver	 rx;
	bool		 busy;
	struct snapxfer_stats stats;
	/* Received files waiting to be handed to the node. */
	struct event	*recv_ev;
	struct raft_msg	 recv_msg;
	struct raft_cluster recv_cluster;
	bool		 recv_pending;
};

static void	 sender_send_chunk(struct sender *s);

/* Sets TCP_NODELAY under an evhttp_connection, if it has a socket yet. */
static void
conn_nodelay(struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	int	 one = 1, fd;

	if (bev != NULL && (fd = bufferevent_getfd(bev)) >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
}

/* Splits "http://host:port[/]" into host and port.  0 or -EINVAL. */
static int
split_url(const char *url, char *host, size_t hostlen, uint16_t *port)
{
	const char *h, *colon, *end;
	char	*e;
	unsigned long p;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return -EINVAL;
		colon = end + 1;
		h++;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			return -EINVAL;
		end = colon;
	}
	if (end == h || (size_t)(end - h) >= hostlen)
		return -EINVAL;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &e, 10);
	if (errno != 0 || e == colon + 1 || p == 0 || p > 65535 ||
	    (*e != '\0' && strcmp(e, "/") != 0))
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

/* Parses a decimal header value strictly.  0 or -EINVAL. */
static int
header_u64(struct evkeyvalq *h, const char *name, uint64_t *v)
{
	const char *s = evhttp_find_header(h, name);
	char	*e;
	unsigned long long x;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &e, 10);
	if (errno != 0 || *e != '\0')
		return -EINVAL;
	*v = x;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sending.                                                           */

/* Releases a sender's connection and file. */
static void
sender_close(struct sender *s)
{
	if (s->conn != NULL) {
		evhttp_connection_free(s->conn);
		s->conn = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/* Timer: leaves DONE or FAILED and reports to the node. */
static void
sender_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sender	*s = arg;
	struct snapxfer	*x = s->x;
	bool		 ok = s->state == SEND_DONE;

	(void)fd;
	(void)what;
	if (s->state != SEND_DONE && s->state != SEND_FAILED)
		return;
	sender_close(s);
	s->state = SEND_IDLE;
	if (ok) {
		x->stats.sent++;
		log_info(x->lg, "snapshot %" PRIu64 " (%" PRIu64 " bytes) sent "
		    "to %" PRIu64 " in %" PRIu64 " ms", s->index, s->size,
		    s->peer, monotime_ms() - s->started_ms);
	} else {
		x->stats.send_failed++;
		log_warn(x->lg, "snapshot %" PRIu64 " to %" PRIu64 ": %s "
		    "(at byte %" PRIu64 " of %" PRIu64 ")", s->index, s->peer,
		    s->why, s->off, s->size);
	}
	x->cfg.sent(x->cfg.ctx, s->peer, ok);
}

/* Moves s to DONE or FAILED; the timer does the rest. */
static void __attribute__((format(printf, 3, 4)))
sender_end(struct sender *s, bool ok, const char *fmt, ...)
{
	struct timeval	 now = { 0, 0 };
	va_list		 ap;

	s->state = ok ? SEND_DONE : SEND_FAILED;
	s->why[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(s->why, sizeof(s->why), fmt, ap);
		va_end(ap);
	}
	evtimer_add(s->finish_ev, &now);
}

/* A chunk's reply arrived (req NULL or code 0: the connection failed). */
static void
sender_chunk_done(struct evhttp_request *req, void *arg)
{
	struct sender	*s = arg;
	struct snapxfer	*x = s->x;
	uint64_t	 want;
	int		 code = req != NULL ? evhttp_request_get_response_code(req) :
			    0;

	if (s->state != SEND_SENDING)
		return;
	if (code == 204) {
		s->off += s->chunk_len;
		x->stats.bytes_sent += s->chunk_len;
		if (s->off == s->size)
			sender_end(s, true, NULL);
		else
			sender_send_chunk(s);
		return;
	}
	if (code == 409 && header_u64(evhttp_request_get_input_headers(req),
	    "X-Raftkv-Offset", &want) == 0 && want < s->size) {
		/* The follower holds a different prefix: resume there. */
		if (want != s->off)
			log_info(x->lg, "snapshot %" PRIu64 " to %" PRIu64
			    ": resuming at byte %" PRIu64, s->index, s->peer,
			    want);
		s->off = want;
		sender_send_chunk(s);
		return;
	}
	if (code == 0)
		sender_end(s, false, "connection failed or timed out");
	else
		sender_end(s, false, "refused with HTTP %d", code);
}

/* Reads the next chunk from the file and posts it. */
static void
sender_send_chunk(struct sender *s)
{
	struct snapxfer	*x = s->x;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	struct evbuffer	*body;
	struct evbuffer_iovec iov;
	uint64_t	 left = s->size - s->off;
	size_t		 len = left < x->cfg.chunk ? (size_t)left : x->cfg.chunk;
	ssize_t		 got;
	char		 v[32];

	if ((req = evhttp_request_new(sender_chunk_done, s)) == NULL) {
		sender_end(s, false, "out of memory");
		return;
	}
	body = evhttp_request_get_output_buffer(req);
	if (evbuffer_reserve_space(body, (ev_ssize_t)len, &iov, 1) < 1 ||
	    iov.iov_len < len) {
		evhttp_request_free(req);
		sender_end(s, false, "out of memory");
		return;
	}
	got = pread(s->fd, iov.iov_base, len, (off_t)s->off);
	if (got != (ssize_t)len) {
		evhttp_request_free(req);
		sender_end(s, false, "cannot read the snapshot file: %s",
		    got < 0 ? strerror(errno) : "short read");
		return;
	}
	iov.iov_len = len;
	evbuffer_commit_space(body, &iov, 1);
	s->chunk_len = len;

	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", s->host);
	evhttp_add_header(h, "Content-Type", "application/octet-stream");
#define ADD(name, val)	do {						\
	snprintf(v, sizeof(v), "%" PRIu64, (uint64_t)(val));		\
	evhttp_add_header(h, name, v);					\
} while (0)
	ADD("X-Raftkv-Cluster", x->cfg.cluster_id);
	ADD("X-Raftkv-From", x->cfg.self_id);
	ADD("X-Raftkv-To", s->peer);
	ADD("X-Raftkv-Term", s->term);
	ADD("X-Raftkv-Snap-Index", s->index);
	ADD("X-Raftkv-Snap-Term", s->snap_term);
	ADD("X-Raftkv-Size", s->size);
	ADD("X-Raftkv-Crc", s->crc);
	ADD("X-Raftkv-Offset", s->off);
#undef ADD
	conn_nodelay(s->conn);
	if (evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, ROUTE) != 0) {
		/* evhttp has freed req. */
		sender_end(s, false, "cannot send a request");
		return;
	}
	conn_nodelay(s->conn);
}

/* Finds (or with create, makes) the sender of peer. */
static struct sender *
sender_find(struct snapxfer *x, raft_id_t peer, bool create)
{
	struct sender	*s;
	size_t		 i;

	for (i = 0; i < x->n_senders; i++)
		if (x->senders[i]->peer == peer)
			return x->senders[i];
	if (!create || x->n_senders == RAFT_MAX_MEMBERS)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->x = x;
	s->peer = peer;
	s->fd = -1;
	if ((s->finish_ev = evtimer_new(x->base, sender_finish_cb, s)) ==
	    NULL) {
		free(s);
		return NULL;
	}
	x->senders[x->n_senders++] = s;
	return s;
}

int
snapxfer_send(struct snapxfer *x, const struct raft_msg *m, const char *url,
    const struct storage_snapshot_info *info)
{
	struct sender	*s;
	struct bufferevent *bev = NULL;
	struct timeval	 tv;

	if ((s = sender_find(x, m->to, true)) == NULL)
		return -ENOMEM;
	if (s->state == SEND_SENDING && info->exists &&
	    s->index == info->index && s->crc == info->file_crc &&
	    s->size == info->file_size) {
		s->term = m->term;
		return 0;	/* already on its way */
	}
	evtimer_del(s->finish_ev);
	sender_close(s);
	s->state = SEND_SENDING;
	s->term = m->term;
	s->index = info->index;
	s->snap_term = info->term;
	s->size = info->file_size;
	s->crc = info->file_crc;
	s->off = 0;
	s->started_ms = monotime_ms();
	if (!info->exists || info->index != m->snap_index) {
		sender_end(s, false, "no snapshot file at index %" PRIu64,
		    m->snap_index);
		return 0;
	}
	if (split_url(url, s->host, sizeof(s->host), &s->port) != 0) {
		sender_end(s, false, "bad peer URL %s", url);
		return 0;
	}
	if ((s->fd = open(info->path, O_RDONLY | O_CLOEXEC)) < 0) {
		sender_end(s, false, "%s: %s", info->path, strerror(errno));
		return 0;
	}
	if (x->cfg.make_bev != NULL &&
	    (bev = x->cfg.make_bev(x->base, x->cfg.make_bev_ctx)) == NULL) {
		sender_end(s, false, "cannot make a connection");
		return 0;
	}
	s->conn = evhttp_connection_base_bufferevent_new(x->base, x->dns, bev,
	    s->host, s->port);
	if (s->conn == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		sender_end(s, false, "cannot make a connection");
		return 0;
	}
	tv.tv_sec = x->cfg.timeout_ms / 1000;
	tv.tv_usec = (x->cfg.timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(s->conn, &tv);
	evhttp_connection_set_retries(s->conn, 0);
	evhttp_connection_set_max_body_size(s->conn, 64 * 1024);
	log_info(x->lg, "sending snapshot %" PRIu64 " (term %" PRIu64 ", %"
	    PRIu64 " bytes) to %" PRIu64, s->index, s->snap_term, s->size,
	    s->peer);
	sender_send_chunk(s);
	return 0;
}

void
snapxfer_cancel(struct snapxfer *x, raft_id_t peer)
{
	struct sender	*s = sender_find(x, peer, false);

	if (s == NULL)
		return;
	evtimer_del(s->finish_ev);
	sender_close(s);
	s->state = SEND_IDLE;
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                         */

/* Drops the transfer being received, deleting its partial file. */
static void
receiver_reset(struct snapxfer *x)
{
	if (x->rx.w != NULL)
		storage_snapshot_abort(x->rx.w);
	memset(&x->rx, 0, sizeof(x->rx));
}

/* Answers req with status and a JSON error body. */
static void __attribute__((format(printf, 5, 6)))
reply_error(struct snapxfer *x, struct evhttp_request *req, int status,
    const char *code, const char *fmt, ...)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	json_t		*body;
	char		 msg[300], *text;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	x->stats.recv_rejected++;
	if (status >= 500 || status == 422)
		log_warn(x->lg, "snapshot transfer: %s: %s", code, msg);
	else
		log_debug(x->lg, "snapshot transfer: %s: %s", code, msg);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	body = json_pack("{ssss}", "error", code, "message", msg);
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) != NULL) {
		evbuffer_add(out, text, strlen(text));
		free(text);
	}
	json_decref(body);
	evhttp_send_reply(req, status, NULL, NULL);
}

/* Asks the sender to continue at our offset. */
static void
reply_offset(struct snapxfer *x, struct evhttp_request *req, uint64_t off)
{
	char	 v[32];

	snprintf(v, sizeof(v), "%" PRIu64, off);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Raftkv-Offset", v);
	reply_error(x, req, 409, "offset", "expected offset %" PRIu64, off);
}

/* Timer: hands a received, verified file to the node. */
static void
recv_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct snapxfer	*x = arg;

	(void)fd;
	(void)what;
	if (!x->recv_pending)
		return;
	x->recv_pending = false;
	x->recv_msg.snap_cluster = &x->recv_cluster;
	x->cfg.recv(x->cfg.ctx, &x->recv_msg);
}

/* The last byte is in: finish, verify and queue the file for the node. */
static int
receiver_complete(struct snapxfer *x, char *why, size_t whylen)
{
	struct storage_snapshot_meta meta;
	struct receiver	*rx = &x->rx;
	struct timeval	 now = { 0, 0 };
	char		 path[PATH_MAX], err[256];
	int		 rc;

	rc = storage_snapshot_finish(rx->w, err, sizeof(err));
	rx->w = NULL;
	storage_snapshot_tmp_path(path, sizeof(path), x->cfg.dir, rx->index,
	    SNAPLOAD_TAG_RECEIVED);
	if (rc != 0) {
		snprintf(why, whylen, "%s", err);
		(void)unlink(path);
		return rc;
	}
	memset(&meta, 0, sizeof(meta));
	rc = storage_snapshot_file_verify(path, &meta, err, sizeof(err));
	if (rc == 0 && (meta.index != rx->index || meta.term != rx->snap_term ||
	    meta.file_crc != rx->crc || meta.file_size != rx->size)) {
		snprintf(err, sizeof(err), "the file is snapshot %" PRIu64
		    " term %" PRIu64 " crc %08" PRIx32 ", announced %" PRIu64
		    " term %" PRIu64 " crc %08" PRIx32, meta.index, meta.term,
		    meta.file_crc, rx->index, rx->snap_term, rx->crc);
		rc = -EBADMSG;
	}
	if (rc == 0 && raft_cluster_decode(meta.config, meta.config_len,
	    &x->recv_cluster) != 0) {
		snprintf(err, sizeof(err), "its configuration does not decode");
		rc = -EBADMSG;
	}
	free(meta.config);
	if (rc != 0) {
		snprintf(why, whylen, "%s", err);
		(void)unlink(path);
		return rc;
	}
	memset(&x->recv_msg, 0, sizeof(x->recv_msg));
	x->recv_msg.type = RAFT_MSG_SNAPSHOT;
	x->recv_msg.cluster_id = x->cfg.cluster_id;
	x->recv_msg.from = rx->from;
	x->recv_msg.to = x->cfg.self_id;
	x->recv_msg.term = rx->term;
	x->recv_msg.snap_index = rx->index;
	x->recv_msg.snap_term = rx->snap_term;
	x->recv_pending = true;
	x->stats.received++;
	log_info(x->lg, "received snapshot %" PRIu64 " (term %" PRIu64 ", %"
	    PRIu64 " bytes) from %" PRIu64 " in %" PRIu64 " ms", rx->index,
	    rx->snap_term, rx->size, rx->from, monotime_ms() - rx->started_ms);
	memset(rx, 0, sizeof(*rx));
	evtimer_add(x->recv_ev, &now);
	return 0;
}

/* POST /raft/v1/snapshot: one chunk of a snapshot file. */
static void
receive_chunk(struct evhttp_request *req, void *arg)
{
	struct snapxfer	*x = arg;
	struct receiver	*rx = &x->rx;
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	uint64_t	 cluster, from, to, term, index, sterm, size, crc, off;
	size_t		 len = evbuffer_get_length(in);
	char		 err[256];
	int		 rc;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		reply_error(x, req, 405, "method", "use POST");
		return;
	}
	if (header_u64(h, "X-Raftkv-Cluster", &cluster) != 0 ||
	    header_u64(h, "X-Raftkv-From", &from) != 0 ||
	    header_u64(h, "X-Raftkv-To", &to) != 0 ||
	    header_u64(h, "X-Raftkv-Term", &term) != 0 ||
	    header_u64(h, "X-Raftkv-Snap-Index", &index) != 0 ||
	    header_u64(h, "X-Raftkv-Snap-Term", &sterm) != 0 ||
	    header_u64(h, "X-Raftkv-Size", &size) != 0 ||
	    header_u64(h, "X-Raftkv-Crc", &crc) != 0 ||
	    header_u64(h, "X-Raftkv-Offset", &off) != 0) {
		reply_error(x, req, 400, "bad_header", "every X-Raftkv-* "
		    "header must be present and a decimal number");
		return;
	}
	if (cluster != x->cfg.cluster_id || to != x->cfg.self_id) {
		reply_error(x, req, 403, "wrong_node", "for cluster %016"
		    PRIx64 " node %" PRIu64 ", this is %016" PRIx64 " node %"
		    PRIu64, cluster, to, x->cfg.cluster_id, x->cfg.self_id);
		return;
	}
	if (from == 0 || from == x->cfg.self_id || term == 0 || index == 0 ||
	    sterm == 0 || sterm > term || crc > UINT32_MAX ||
	    size < MIN_FILE || size > MAX_FILE || off > size ||
	    len > size - off || (len == 0 && off < size)) {
		reply_error(x, req, 400, "bad_range", "inconsistent transfer "
		    "fields (offset %" PRIu64 ", %zu bytes, size %" PRIu64 ")",
		    off, len, size);
		return;
	}
	if (term < x->cfg.term(x->cfg.ctx)) {
		reply_error(x, req, 403, "stale_term", "term %" PRIu64 " is "
		    "behind ours", term);
		return;
	}
	if (x->busy || x->recv_pending) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
		reply_error(x, req, 503, "busy", "installing a snapshot");
		return;
	}
	if (!rx->active || rx->from != from || rx->index != index ||
	    rx->snap_term != sterm || rx->size != size || rx->crc != crc) {
		if (off != 0) {
			reply_offset(x, req, 0);
			return;
		}
		receiver_reset(x);
		rc = storage_snapshot_receive(x->cfg.dir, x->cfg.vfs,
		    SNAPLOAD_TAG_RECEIVED,
		    index, &rx->w, err, sizeof(err));
		if (rc != 0) {
			reply_error(x, req, rc == -ENOSPC ? 507 : 500,
			    "storage", "%s", err);
			return;
		}
		rx->active = true;
		rx->from = from;
		rx->index = index;
		rx->snap_term = sterm;
		rx->size = size;
		rx->crc = (uint32_t)crc;
		rx->started_ms = monotime_ms();
		log_info(x->lg, "receiving snapshot %" PRIu64 " (term %" PRIu64
		    ", %" PRIu64 " bytes) from %" PRIu64, index, sterm, size,
		    from);
	} else if (off != rx->off) {
		reply_offset(x, req, rx->off);
		return;
	}
	rx->term = term;
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rc = storage_snapshot_write(rx->w, v.iov_base, v.iov_len, err,
		    sizeof(err));
		if (rc != 0) {
			receiver_reset(x);
			reply_error(x, req, rc == -ENOSPC ? 507 : 500,
			    "storage", "%s", err);
			return;
		}
		rx->off += v.iov_len;
		x->stats.bytes_received += v.iov_len;
		evbuffer_drain(in, v.iov_len);
	}
	if (rx->off == rx->size &&
	    (rc = receiver_complete(x, err, sizeof(err))) != 0) {
		receiver_reset(x);
		reply_error(x, req, rc == -EBADMSG ? 422 : 500, "bad_snapshot",
		    "%s", err);
		return;
	}
	evhttp_send_reply(req, 204, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Life cycle.                                                         */

int
snapxfer_new(struct event_base *base, struct evdns_base *dns,
    const struct logger *lg, const struct snapxfer_config *cfg,
    struct snapxfer **out)
{
	struct snapxfer	*x;

	*out = NULL;
	if (cfg->chunk == 0 || cfg->sent == NULL || cfg->recv == NULL ||
	    cfg->term == NULL || cfg->dir == NULL)
		return -EINVAL;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -ENOMEM;
	x->base = base;
	x->dns = dns;
	x->lg = lg;
	x->cfg = *cfg;
	if ((x->recv_ev = evtimer_new(base, recv_deliver_cb, x)) == NULL) {
		free(x);
		return -ENOMEM;
	}
	*out = x;
	return 0;
}

void
snapxfer_free(struct snapxfer *x)
{
	size_t	 i;

	if (x == NULL)
		return;
	for (i = 0; i < x->n_senders; i++) {
		sender_close(x->senders[i]);
		event_free(x->senders[i]->finish_ev);
		free(x->senders[i]);
	}
	receiver_reset(x);
	event_free(x->recv_ev);
	free(x);
}

int
snapxfer_bind(struct snapxfer *x, struct evhttp *http)
{
	return evhttp_set_cb(http, ROUTE, receive_chunk, x) == 0 ? 0 : -EEXIST;
}

void
snapxfer_set_busy(struct snapxfer *x, bool busy)
{
	x->busy = busy;
}

void
snapxfer_get_stats(const struct snapxfer *x, struct snapxfer_stats *out)
{
	size_t	 i;

	*out = x->stats;
	out->sending = 0;
	for (i = 0; i < x->n_senders; i++)
		if (x->senders[i]->state == SEND_SENDING)
			out->sending++;
	out->receiving = x->rx.active;
}
