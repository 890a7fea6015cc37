/*
 * api.c -- the client HTTP API of raftkvd (docs/api.md).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "base64.h"
#include "kv.h"
#include "kvcmd.h"
#include "log.h"
#include "monotime.h"
#include "node.h"
#include "options.h"
#include "pct.h"
#include "sendnow.h"
#include "storage.h"
#include "textfmt.h"
#include "transport.h"
#include "xmalloc.h"

#define KV_PREFIX	"/v1/kv/"
#define LIST_DEFAULT	100
#define LIST_MAX	10000
#define LIST_MAX_BYTES	(4u * 1024 * 1024)	/* keys + values per page */

#define SNAPSHOT_CHUNK		(1024 * 1024)	/* read and queued at a time */
#define SNAPSHOT_WAIT_MIN_MS	60000	/* a backup waits at least this long */
#define SNAPSHOT_WATCH_MS	100	/* how often a stream looks at its client */

static bool	 stream_claim_read(struct op *op, bool ready,
		    enum api_failure why);

/* ------------------------------------------------------------------ */
/* Replies.                                                            */

/* Sends a JSON body (stolen) with status code. */
static void
reply_json(struct evhttp_request *req, int code, const char *reason,
    json_t *body)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	char		 small[512], *text = NULL;
	size_t		 n;

	/* Most replies are small: serialise them on the stack. */
	n = body != NULL ? json_dumpb(body, small, sizeof(small) - 1,
	    JSON_COMPACT) : 0;
	if (n > 0 && n <= sizeof(small) - 1) {
		small[n++] = '\n';
		text = small;
	} else if (body != NULL && (text = json_dumps(body,
	    JSON_COMPACT)) != NULL) {
		n = strlen(text);
		text[n++] = '\n';	/* over the NUL: the length is explicit */
	}
	json_decref(body);
	if (text == NULL || evbuffer_add(out, text, n) != 0) {
		if (text != small)
			free(text);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	if (text != small)
		free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	transport_send_reply(req, code, reason);
}

/* Sends {"error": code, "message": ...} with an HTTP status. */
static void
reply_error(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
reply_error(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status == 503)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
	reply_json(req, status, code, json_pack("{s:s, s:s}", "error", code,
	    "message", msg));
}

/* Adds a decimal header. */
static void
add_u64_header(struct evhttp_request *req, const char *name, uint64_t v)
{
	char	 buf[TEXTFMT_U64_MAX + 1];

	textfmt_u64(buf, v);
	evhttp_add_header(evhttp_request_get_output_headers(req), name, buf);
}

/* Returns a new JSON string holding the base64 of len bytes. */
static json_t *
json_b64(const void *data, size_t len)
{
	char	*s = xmalloc(base64_encoded_len(len) + 1);
	json_t	*j;

	base64_encode(data, len, s);
	j = json_string(s);
	free(s);
	return j;
}

/*
 * Answers a request on a node that is not the leader: 307 to the leader's
 * advertised client URL with its id and term, or 503 with no leader.
 */
static void
reply_not_leader(struct node *n, struct evhttp_request *req)
{
	const struct raft_status *st = node_raft_status(n);
	const struct raft_member *m = NULL;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char	*uri = evhttp_request_get_uri(req);
	char		*loc;
	size_t		 base_len;

	if (st->leader != 0)
		m = raft_cluster_find(raft_get_cluster(node_raft(n)),
		    st->leader);
	if (m == NULL) {
		reply_error(req, 503, "no_leader", "no leader is known; "
		    "an election is probably under way");
		return;
	}
	add_u64_header(req, "X-Raftkv-Leader-Id", st->leader);
	add_u64_header(req, "X-Raftkv-Term", st->term);
	base_len = strlen(m->client_url);
	if (base_len > 0 && m->client_url[base_len - 1] == '/')
		base_len--;
	/* Any URI the client port accepted can be redirected, however long. */
	loc = xasprintf("%.*s%s", (int)base_len, m->client_url, uri);
	evhttp_add_header(h, "Location", loc);
	free(loc);
	reply_json(req, 307, "Temporary Redirect", json_pack("{s:s, s:I, s:I, "
	    "s:s}", "error", "not_leader", "leader_id", (json_int_t)st->leader,
	    "term", (json_int_t)st->term, "leader_url", m->client_url));
}

/* How each kind of failure is answered. */
static const struct {
	int		 status;
	const char	*code;
	const char	*message;
} failures[] = {
	[API_FAIL_UNKNOWN] = { 504, "outcome_unknown", "the write was proposed "
	    "but its fate is not known (leadership lost, timeout or shutdown); "
	    "it may still be applied" },
	[API_FAIL_LOST] = { 503, "not_committed", "the write was replaced by "
	    "a new leader's entry and was not applied; retry" },
	[API_FAIL_NOT_LEADER] = { 503, "leadership_lost", "leadership changed "
	    "before the read was confirmed; retry" },
	[API_FAIL_TIMEOUT] = { 503, "timeout", "the read timed out waiting "
	    "for a quorum; retry" },
	[API_FAIL_SHUTDOWN] = { 503, "shutting_down", "the node is shutting "
	    "down; retry on another node" },
	[API_FAIL_STORAGE] = { 503, "storage_failed", "this node's storage "
	    "failed; it accepts no requests until restarted" },
	[API_FAIL_SNAPSHOT_TIMEOUT] = { 504, "snapshot_timeout", "no snapshot "
	    "covering the request was ready in time; retry" },
	[API_FAIL_SNAPSHOT] = { 503, "snapshot_failed", "the snapshot could "
	    "not be made or read (see the node's log); retry" },
};

/*
 * Replies to parked requests come from the node's Ready pass (or a
 * timer); in the pass they are written at its end (sendnow.h).
 */
static void
note_reply(struct op *op)
{
	if (op->req != NULL)
		sendnow_note(node_sendnow(op->node),
		    evhttp_request_get_connection(op->req));
}

void
api_op_failed(struct op *op, enum api_failure why)
{
	if (op->req == NULL || stream_claim_read(op, false, why))
		return;
	note_reply(op);
	if (op->kind == OP_WRITE)
		add_u64_header(op->req, "X-Raftkv-Proposed-Index", op->index);
	reply_error(op->req, failures[why].status, failures[why].code, "%s",
	    failures[why].message);
	op->req = NULL;
}

/*
 * The reply to every successful write, formatted without building a JSON
 * tree or calling printf: {"index":N,"mod_index":N,"existed":B,
 * "duplicate":B}, the same text json_pack() and json_dumps() would give.
 */
static void
reply_write_ok(struct evhttp_request *req, const struct kv_result *res)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	char		 body[128], *p = body;

	p = textfmt_put(p, "{\"index\":");
	p += textfmt_u64(p, res->index);
	p = textfmt_put(p, ",\"mod_index\":");
	p += textfmt_u64(p, res->mod_index);
	p = textfmt_put(p, ",\"existed\":");
	p = textfmt_put(p, res->existed ? "true" : "false");
	p = textfmt_put(p, ",\"duplicate\":");
	p = textfmt_put(p, res->duplicate ? "true" : "false");
	p = textfmt_put(p, "}\n");
	if (evbuffer_add(out, body, (size_t)(p - body)) != 0) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	transport_send_reply(req, 200, "OK");
}

void
api_write_done(struct op *op, const struct kv_result *res)
{
	struct evhttp_request *req = op->req;

	note_reply(op);
	add_u64_header(req, "X-Raftkv-Index", res->index);
	switch (res->status) {
	case KV_OK:
		add_u64_header(req, "X-Raftkv-Mod-Index", res->mod_index);
		reply_write_ok(req, res);
		break;
	case KV_NOT_FOUND:
		reply_json(req, 404, "Not Found", json_pack("{s:s, s:s, s:I}",
		    "error", "not_found", "message", "no such key", "index",
		    (json_int_t)res->index));
		break;
	case KV_CAS_FAILED:
		add_u64_header(req, "X-Raftkv-Mod-Index", res->mod_index);
		reply_json(req, 412, "Precondition Failed", json_pack("{s:s, "
		    "s:s, s:I, s:I}", "error", "cas_failed", "message",
		    "the key's modification index did not match", "mod_index",
		    (json_int_t)res->mod_index, "index",
		    (json_int_t)res->index));
		break;
	case KV_STALE:
		reply_error(req, 409, "stale_request", "a later request of "
		    "this client session was already applied");
		break;
	case KV_SESSION_EXPIRED:
		reply_error(req, 409, "session_expired", "the client session "
		    "expired; its retries can no longer be deduplicated");
		break;
	case KV_INVALID:
		reply_error(req, 400, "invalid_command", "the command was "
		    "rejected by the state machine");
		break;
	}
	op->req = NULL;
}

/* Serves GET of one key from the local state machine. */
static void
serve_get(struct node *n, struct evhttp_request *req, const uint8_t *key,
    size_t key_len)
{
	struct kv_entry	 e;

	add_u64_header(req, "X-Raftkv-Applied-Index",
	    kv_applied_index(node_kv(n)));
	if (kv_get(node_kv(n), key, key_len, &e) != 0) {
		reply_error(req, 404, "not_found", "no such key");
		return;
	}
	add_u64_header(req, "X-Raftkv-Mod-Index", e.mod_index);
	add_u64_header(req, "X-Raftkv-Create-Index", e.create_index);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/octet-stream");
	if (evbuffer_add(evhttp_request_get_output_buffer(req), e.value,
	    e.value_len) != 0) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	transport_send_reply(req, 200, "OK");
}

/* Serves a listing by prefix from the local state machine. */
static void
serve_list(struct node *n, struct evhttp_request *req, const uint8_t *prefix,
    size_t prefix_len, const uint8_t *after, size_t after_len, size_t limit,
    bool keys_only)
{
	struct kv_entry	*out = xcalloc(limit, sizeof(*out));
	json_t		*arr = json_array(), *obj;
	size_t		 got, i, bytes = 0;
	bool		 more = false;

	got = kv_list(node_kv(n), prefix, prefix_len, after, after_len, out,
	    limit, &more);
	/*
	 * A page holds at most LIST_MAX_BYTES of keys and values (but always
	 * one record), so that a listing of large values cannot build a
	 * reply of gigabytes: the rest follows through "next".
	 */
	for (i = 0; i < got; i++) {
		bytes += out[i].key_len + (keys_only ? 0 : out[i].value_len);
		if (i > 0 && bytes > LIST_MAX_BYTES) {
			got = i;
			more = true;
			break;
		}
	}
	for (i = 0; i < got; i++) {
		json_t *item = json_pack("{s:o, s:I, s:I}", "key",
		    json_b64(out[i].key, out[i].key_len), "mod_index",
		    (json_int_t)out[i].mod_index, "create_index",
		    (json_int_t)out[i].create_index);

		if (!keys_only)
			json_object_set_new(item, "value",
			    json_b64(out[i].value, out[i].value_len));
		json_array_append_new(arr, item);
	}
	obj = json_pack("{s:o, s:b, s:I}", "kvs", arr, "more", more,
	    "applied_index", (json_int_t)kv_applied_index(node_kv(n)));
	if (more && got > 0)
		json_object_set_new(obj, "next", json_b64(out[got - 1].key,
		    out[got - 1].key_len));
	free(out);
	reply_json(req, 200, "OK", obj);
}

void
api_read_ready(struct op *op)
{
	if (stream_claim_read(op, true, 0))
		return;
	note_reply(op);
	if (op->kind == OP_GET)
		serve_get(op->node, op->req, op->key, op->key_len);
	else
		serve_list(op->node, op->req, op->key, op->key_len,
		    op->start_after, op->start_after_len, op->limit,
		    op->keys_only);
	op->req = NULL;
}

/* ------------------------------------------------------------------ */
/* Request parsing.                                                    */

/* One query parameter, percent-decoded (binary-safe). */
struct param {
	const char	*name;
	bool		 present;
	uint8_t		*value;		/* owned */
	size_t		 len;
};

/*
 * Decodes the query string of req into params (a NULL-name-terminated
 * table).  Unknown parameters are an error, so typos do not pass silently.
 */
static int
parse_query(struct evhttp_request *req, struct param *params, char *err,
    size_t errlen)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char	*q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	const char	*p, *amp, *eq;
	size_t		 i;

	for (p = q; p != NULL && *p != '\0'; p = amp != NULL ? amp + 1 : NULL) {
		size_t	 name_len, val_len;

		amp = strchr(p, '&');
		eq = memchr(p, '=', amp != NULL ? (size_t)(amp - p) : strlen(p));
		name_len = eq != NULL ? (size_t)(eq - p) :
		    amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (name_len == 0)
			continue;
		for (i = 0; params[i].name != NULL; i++)
			if (strlen(params[i].name) == name_len &&
			    strncmp(params[i].name, p, name_len) == 0)
				break;
		if (params[i].name == NULL) {
			snprintf(err, errlen, "unknown query parameter "
			    "\"%.*s\"", (int)name_len, p);
			return -1;
		}
		params[i].present = true;
		if (eq == NULL)
			continue;
		val_len = amp != NULL ? (size_t)(amp - eq - 1) :
		    strlen(eq + 1);
		free(params[i].value);
		params[i].value = xmalloc(val_len + 1);
		if (pct_decode(eq + 1, val_len, params[i].value, val_len + 1,
		    &params[i].len, NULL) != 0) {
			snprintf(err, errlen, "query parameter \"%s\" is not "
			    "valid percent-encoding", params[i].name);
			return -1;
		}
		params[i].value[params[i].len] = '\0';
	}
	return 0;
}

static void
free_params(struct param *params)
{
	size_t	 i;

	for (i = 0; params[i].name != NULL; i++)
		free(params[i].value);
}

/* Parses a decimal parameter value.  Returns 0 or -1. */
static int
param_u64(const struct param *p, uint64_t *out)
{
	char		*stop;
	unsigned long long v;

	if (p->value == NULL || p->len == 0 || p->value[0] == '-' ||
	    p->value[0] == '+')
		return -1;
	errno = 0;
	v = strtoull((const char *)p->value, &stop, 10);
	if (errno != 0 || *stop != '\0' || v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Parses a decimal header, if present.  Returns 0, 1 when absent, or -1. */
static int
header_u64(struct evhttp_request *req, const char *name, uint64_t *out)
{
	const char	*v = evhttp_find_header(
	    evhttp_request_get_input_headers(req), name);
	char		*stop;
	unsigned long long x;

	if (v == NULL)
		return 1;
	if (*v == '\0' || *v == '-' || *v == '+')
		return -1;
	errno = 0;
	x = strtoull(v, &stop, 10);
	if (errno != 0 || *stop != '\0' || x == 0)
		return -1;
	*out = x;
	return 0;
}

/* Decodes the key from the path after /v1/kv/.  Returns 0 or -1. */
static int
path_key(struct node *n, struct evhttp_request *req, uint8_t **key,
    size_t *key_len)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char	*path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char	*enc;
	size_t		 enc_len, bad = 0;

	if (path == NULL || strncmp(path, KV_PREFIX, strlen(KV_PREFIX)) != 0) {
		reply_error(req, 404, "not_found", "no such route");
		return -1;
	}
	enc = path + strlen(KV_PREFIX);
	enc_len = strlen(enc);
	if (enc_len == 0) {
		reply_error(req, 400, "bad_key", "the key is empty");
		return -1;
	}
	*key = xmalloc(enc_len + 1);
	if (pct_decode(enc, enc_len, *key, enc_len + 1, key_len, &bad) != 0) {
		free(*key);
		*key = NULL;
		reply_error(req, 400, "bad_key", "the key is not valid "
		    "percent-encoding (at offset %zu)", bad);
		return -1;
	}
	if (*key_len > node_options(n)->max_key_size) {
		free(*key);
		*key = NULL;
		reply_error(req, 413, "key_too_large", "the key is %zu bytes; "
		    "the limit is %" PRIu64, *key_len,
		    node_options(n)->max_key_size);
		return -1;
	}
	return 0;
}

/* Maps a core refusal onto an HTTP answer. */
static void
reply_refused(struct node *n, struct evhttp_request *req, int rc)
{
	if (rc == -RAFT_ENOTLEADER)
		reply_not_leader(n, req);
	else if (rc == -RAFT_EBUSY)
		reply_error(req, 503, "overloaded", "too many pending "
		    "requests; retry later");
	else if (rc == -RAFT_ETOOBIG)
		reply_error(req, 413, "too_large", "the request is too large");
	else
		reply_error(req, 500, "internal", "%s", raft_strerror(rc));
}

/* Refuses requests when the node cannot serve; returns true if refused. */
static bool
refuse_unavailable(struct node *n, struct evhttp_request *req)
{
	struct node_info info;

	if (node_accepting(n))
		return false;
	node_get_info(n, &info);
	if (info.storage_failed)
		reply_error(req, 503, "storage_failed", "this node's storage "
		    "failed: %s", info.storage_error);
	else
		reply_error(req, 503, "shutting_down", "the node is shutting "
		    "down");
	return true;
}

/* PUT or DELETE /v1/kv/<key>[?cas=N] */
static void
handle_write(struct node *n, struct evhttp_request *req, bool is_delete)
{
	struct param	 params[] = { { .name = "cas" }, { .name = NULL } };
	struct kvcmd	 cmd;
	struct evbuffer	*body = evhttp_request_get_input_buffer(req);
	uint8_t		*key = NULL, *value = NULL;
	void		*enc = NULL;
	size_t		 key_len, value_len, enc_len;
	char		 err[256];
	struct op	*op;
	int		 rc, seq_rc;

	if (refuse_unavailable(n, req))
		return;
	if (node_raft_status(n)->role != RAFT_LEADER) {
		reply_not_leader(n, req);
		return;
	}
	if (parse_query(req, params, err, sizeof(err)) != 0) {
		reply_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	if (path_key(n, req, &key, &key_len) != 0)
		goto out;
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = is_delete ? KVCMD_DELETE : KVCMD_PUT;
	cmd.key = key;
	cmd.key_len = key_len;
	if (params[0].present) {
		if (param_u64(&params[0], &cmd.cas) != 0) {
			reply_error(req, 400, "bad_request", "cas must be a "
			    "modification index (0 = create only)");
			goto out;
		}
		cmd.has_cas = true;
	}
	/* Both exactly-once headers, or neither. */
	rc = header_u64(req, "X-Raftkv-Client-Id", &cmd.client_id);
	seq_rc = header_u64(req, "X-Raftkv-Seq", &cmd.seq);
	if (rc < 0 || seq_rc < 0 || rc != seq_rc) {
		reply_error(req, 400, "bad_request", "X-Raftkv-Client-Id and "
		    "X-Raftkv-Seq must both be given, as positive decimals");
		goto out;
	}
	value_len = evbuffer_get_length(body);
	if (is_delete && value_len > 0) {
		reply_error(req, 400, "bad_request", "DELETE takes no body");
		goto out;
	}
	if (value_len > node_options(n)->max_value_size) {
		reply_error(req, 413, "value_too_large", "the value is %zu "
		    "bytes; the limit is %" PRIu64, value_len,
		    node_options(n)->max_value_size);
		goto out;
	}
	if (!is_delete) {
		value = xmalloc(value_len + 1);
		evbuffer_remove(body, value, value_len);
		cmd.value = value;
		cmd.value_len = value_len;
	}
	if (kvcmd_encode_alloc(&cmd, &enc, &enc_len, err, sizeof(err)) != 0) {
		reply_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	op = op_new(n, OP_WRITE, req);
	op->is_delete = is_delete;
	if ((rc = node_submit_write(n, op, enc, enc_len)) != 0) {
		op_free(op);
		reply_refused(n, req, rc);
	}
out:
	free(enc);
	free(key);
	free(value);
	free_params(params);
}

/* Parks a linearizable read, or serves a ?stale one at once. */
static void
start_read(struct node *n, struct evhttp_request *req, struct op *op,
    bool stale)
{
	int	 rc;

	if (stale) {
		api_read_ready(op);
		op_free(op);
		return;
	}
	if (node_raft_status(n)->role != RAFT_LEADER) {
		op_free(op);
		reply_not_leader(n, req);
		return;
	}
	if ((rc = node_submit_read(n, op)) != 0) {
		op_free(op);
		reply_refused(n, req, rc);
	}
}

/* GET /v1/kv/<key>[?stale] */
static void
handle_get(struct node *n, struct evhttp_request *req)
{
	struct param	 params[] = { { .name = "stale" }, { .name = NULL } };
	char		 err[256];
	struct op	*op;
	uint8_t		*key = NULL;
	size_t		 key_len;

	if (refuse_unavailable(n, req))
		return;
	if (parse_query(req, params, err, sizeof(err)) != 0) {
		reply_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	if (path_key(n, req, &key, &key_len) != 0)
		goto out;
	op = op_new(n, OP_GET, req);
	op->key = key;
	op->key_len = key_len;
	key = NULL;
	start_read(n, req, op, params[0].present);
out:
	free(key);
	free_params(params);
}

/* GET /v1/kv?prefix=P&start_after=K&limit=N&keys_only[&stale] */
static void
handle_list(struct node *n, struct evhttp_request *req)
{
	struct param	 params[] = { { .name = "prefix" },
	    { .name = "start_after" }, { .name = "limit" },
	    { .name = "keys_only" }, { .name = "stale" }, { .name = NULL } };
	char		 err[256];
	uint64_t	 limit = LIST_DEFAULT;
	struct op	*op;

	if (refuse_unavailable(n, req))
		return;
	if (parse_query(req, params, err, sizeof(err)) != 0) {
		reply_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	if (params[2].present && (param_u64(&params[2], &limit) != 0 ||
	    limit == 0 || limit > LIST_MAX)) {
		reply_error(req, 400, "bad_request", "limit must be from 1 to "
		    "%d", LIST_MAX);
		goto out;
	}
	op = op_new(n, OP_LIST, req);
	op->key = params[0].value;
	op->key_len = params[0].len;
	params[0].value = NULL;
	op->start_after = params[1].value;
	op->start_after_len = params[1].len;
	params[1].value = NULL;
	op->limit = (size_t)limit;
	op->keys_only = params[3].present;
	start_read(n, req, op, params[4].present);
out:
	free_params(params);
}

/* GET /v1/health: 200 only with a known leader and nothing left to apply. */
static void
handle_health(struct node *n, struct evhttp_request *req)
{
	const struct raft_status *st = node_raft_status(n);
	struct node_info info;
	const char	*why = NULL;

	node_get_info(n, &info);
	if (info.storage_failed)
		why = "storage failed";
	else if (!node_accepting(n))
		why = "shutting down";
	else if (st->leader == 0)
		why = "no known leader";
	else if (info.applied < st->commit)
		why = "catching up";
	if (why != NULL) {
		reply_json(req, 503, "Service Unavailable", json_pack("{s:b, "
		    "s:s}", "healthy", 0, "reason", why));
		return;
	}
	reply_json(req, 200, "OK", json_pack("{s:b, s:I, s:I}", "healthy", 1,
	    "leader", (json_int_t)st->leader, "term", (json_int_t)st->term));
}

/* The counters of the "snapshot" object of /v1/status, in its order. */
static const struct {
	const char	*name;
	size_t		 offset;	/* of a uint64_t in struct node_info */
} snapshot_fields[] = {
	{ "index", offsetof(struct node_info, snapshot_index) },
	{ "term", offsetof(struct node_info, snapshot_term) },
	{ "file_bytes", offsetof(struct node_info, snapshot_bytes) },
	{ "log_first_index", offsetof(struct node_info, log_first_index) },
	{ "taken", offsetof(struct node_info, snapshots_taken) },
	{ "failed", offsetof(struct node_info, snapshots_failed) },
	{ "last_duration_ms", offsetof(struct node_info, last_snapshot_ms) },
	{ "last_pause_us", offsetof(struct node_info, last_snapshot_pause_us) },
	{ "sent", offsetof(struct node_info, snapshots_sent) },
	{ "installed", offsetof(struct node_info, snapshots_installed) },
	{ "bytes_sent", offsetof(struct node_info, snapshot_bytes_sent) },
	{ "bytes_received", offsetof(struct node_info,
	    snapshot_bytes_received) },
};

/* Returns the "snapshot" object of /v1/status (new). */
static json_t *
status_snapshot(const struct node_info *info)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < sizeof(snapshot_fields) / sizeof(snapshot_fields[0]);
	    i++) {
		uint64_t v = *(const uint64_t *)(const void *)
		    ((const char *)info + snapshot_fields[i].offset);

		json_object_set_new(o, snapshot_fields[i].name,
		    json_integer((json_int_t)v));
	}
	json_object_set_new(o, "running", json_boolean(
	    info->snapshot_running));
	return o;
}

/* GET /v1/status: everything a person or a test wants to compare. */
static void
handle_status(struct node *n, struct evhttp_request *req)
{
	const struct raft_status *st = node_raft_status(n);
	struct raft_peer_status peers[RAFT_MAX_MEMBERS];
	struct transport_peer_stats tps[RAFT_MAX_MEMBERS];
	struct transport_server_stats tss;
	const struct raft_cluster *c = raft_get_cluster(node_raft(n));
	struct node_info info;
	json_t		*obj, *jp, *members;
	size_t		 np, nt, i, j;
	uint64_t	 now = monotime_ms();
	char		 hash[24];

	node_get_info(n, &info);
	snprintf(hash, sizeof(hash), "%016" PRIx64, info.state_hash);
	obj = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I}",
	    "id", (json_int_t)info.id,
	    "cluster", info.cluster_name,
	    "role", raft_role_name(st->role),
	    "term", (json_int_t)st->term,
	    "leader", (json_int_t)st->leader,
	    "vote", (json_int_t)st->vote,
	    "commit_index", (json_int_t)st->commit,
	    "applied_index", (json_int_t)info.applied,
	    "last_index", (json_int_t)st->last_index,
	    "last_term", (json_int_t)st->last_term,
	    "first_index", (json_int_t)st->first_index,
	    "state_hash", hash,
	    "keys", (json_int_t)info.keys,
	    "uptime_ms", (json_int_t)info.uptime_ms,
	    "version", PACKAGE_VERSION,
	    "pending_writes", (json_int_t)info.pending_writes,
	    "pending_reads", (json_int_t)info.pending_reads,
	    "disk_syncs", (json_int_t)info.syncs,
	    "fdatasyncs", (json_int_t)info.fdatasyncs,
	    "entries_persisted", (json_int_t)info.entries_persisted);
	json_object_set_new(obj, "lazy_syncs",
	    json_integer((json_int_t)info.lazy_syncs));
	json_object_set_new(obj, "read_rounds",
	    json_integer((json_int_t)st->read_rounds));
	json_object_set_new(obj, "reads_confirmed",
	    json_integer((json_int_t)st->reads_confirmed));
	json_object_set_new(obj, "snapshot", status_snapshot(&info));
	json_object_set_new(obj, "storage_ok", json_boolean(!info.storage_failed));
	if (info.storage_failed)
		json_object_set_new(obj, "storage_error",
		    json_string(info.storage_error));
	members = json_array();
	for (i = 0; i < c->n; i++)
		json_array_append_new(members, json_pack("{s:I, s:s, s:s, s:b}",
		    "id", (json_int_t)c->members[i].id, "peer_url",
		    c->members[i].peer_url, "client_url",
		    c->members[i].client_url, "voter", c->members[i].voter));
	json_object_set_new(obj, "members", members);
	np = raft_get_peers(node_raft(n), peers, RAFT_MAX_MEMBERS);
	nt = transport_peer_stats(node_transport(n), tps, RAFT_MAX_MEMBERS);
	if (nt > RAFT_MAX_MEMBERS)
		nt = RAFT_MAX_MEMBERS;
	jp = json_array();
	for (i = 0; i < np; i++) {
		json_t	*p = json_pack("{s:I, s:I, s:I, s:s, s:I, s:I}", "id",
		    (json_int_t)peers[i].id, "match_index",
		    (json_int_t)peers[i].match, "next_index",
		    (json_int_t)peers[i].next, "state",
		    peers[i].snapshotting ? "snapshot" : peers[i].replicating ?
		    "replicate" : "probe", "inflight",
		    (json_int_t)peers[i].inflight, "ms_since_heard",
		    (json_int_t)(peers[i].ticks_since_heard *
		    node_options(n)->tick_ms));

		json_object_set_new(p, "spare", json_boolean(peers[i].spare));
		if (peers[i].snapshotting)
			json_object_set_new(p, "pending_snapshot", json_integer(
			    (json_int_t)peers[i].pending_snapshot));
		for (j = 0; j < nt; j++) {
			if (tps[j].id != peers[i].id)
				continue;
			json_object_set_new(p, "ms_since_sent_ok",
			    tps[j].last_contact_ms == 0 ? json_null() :
			    json_integer((json_int_t)(now -
			    tps[j].last_contact_ms)));
			json_object_set_new(p, "messages_sent",
			    json_integer((json_int_t)tps[j].sent));
			json_object_set_new(p, "requests_sent",
			    json_integer((json_int_t)tps[j].requests));
			json_object_set_new(p, "messages_in_replies",
			    json_integer((json_int_t)tps[j].replies_in));
			json_object_set_new(p, "messages_dropped",
			    json_integer((json_int_t)tps[j].dropped));
		}
		json_array_append_new(jp, p);
	}
	json_object_set_new(obj, "peers", jp);
	transport_server_stats(node_transport(n), &tss);
	json_object_set_new(obj, "transport", json_pack("{s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I}", "received", (json_int_t)tss.received,
	    "batches", (json_int_t)tss.batches, "held", (json_int_t)tss.held,
	    "hold_expired", (json_int_t)tss.hold_expired, "replied",
	    (json_int_t)tss.replied, "rejected", (json_int_t)tss.rejected,
	    "entries_encoded", (json_int_t)tss.entries_encoded,
	    "entries_reused", (json_int_t)tss.entries_reused));
	json_object_set_new(obj, "sendnow", json_pack("{s:I, s:I}", "sent",
	    (json_int_t)node_sendnow(n)->sent, "left",
	    (json_int_t)node_sendnow(n)->left));
	reply_json(req, 200, "OK", obj);
}

/* ------------------------------------------------------------------ */
/* Backups: GET /v1/snapshot streams a snapshot file.                  */

/* A download's life; changed only in stream_set_state(). */
enum stream_state {
	STREAM_BARRIER,		/* waiting for a read index (leader only) */
	STREAM_WAITING,		/* for node_snapshot_wait()'s callback */
	STREAM_SENDING,		/* the file goes out, one chunk at a time */
	STREAM_DONE,		/* answered or abandoned; being freed */
};

/* One GET /v1/snapshot. */
struct snap_stream {
	enum stream_state state;
	struct node	*node;		/* borrowed */
	struct evhttp_request *req;	/* libevent's; NULL once handed back */
	struct op	*barrier;	/* the node's, while BARRIER */
	struct node_snap_waiter *waiter; /* the node's, while WAITING */
	struct event_base *base;	/* borrowed: the node's */
	struct event	*timer;		/* owned: deadline, then watchdog */
	int		 fd;		/* the file while SENDING, else -1 */
	uint64_t	 index, size, sent;
	bool		 stale;
	uint64_t	 started_ms;
	struct snap_stream *prev, *next;
};

/* Every live download, of every node in this process. */
static struct snap_stream *streams;

static const char *const stream_state_names[] = {
	[STREAM_BARRIER] = "barrier",
	[STREAM_WAITING] = "waiting",
	[STREAM_SENDING] = "sending",
	[STREAM_DONE] = "done",
};

/* Moves ss to state, asserting that the transition is legal. */
static void
stream_set_state(struct snap_stream *ss, enum stream_state state)
{
	assert(state == STREAM_DONE ||
	    (ss->state == STREAM_BARRIER && state == STREAM_WAITING) ||
	    (ss->state == STREAM_WAITING && state == STREAM_SENDING));
	assert(ss->state != STREAM_DONE);
	log_debug(node_logger(ss->node), "snapshot download %p: %s -> %s",
	    (void *)ss, stream_state_names[ss->state],
	    stream_state_names[state]);
	ss->state = state;
}

/* Unlinks and frees ss and whatever it still holds (not req). */
static void
stream_free(struct snap_stream *ss)
{
	if (ss->prev != NULL)
		ss->prev->next = ss->next;
	else
		streams = ss->next;
	if (ss->next != NULL)
		ss->next->prev = ss->prev;
	if (ss->barrier != NULL)
		ss->barrier->req = NULL;	/* the node frees it later */
	node_snapshot_cancel(ss->waiter);
	if (ss->timer != NULL)
		event_free(ss->timer);
	if (ss->fd >= 0)
		close(ss->fd);
	free(ss);
}

/* Answers a download that has not started streaming with an error. */
static void
stream_fail(struct snap_stream *ss, enum api_failure why, const char *detail)
{
	assert(ss->state != STREAM_SENDING && ss->state != STREAM_DONE);
	stream_set_state(ss, STREAM_DONE);
	reply_error(ss->req, failures[why].status, failures[why].code, "%s%s%s",
	    failures[why].message, detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
	ss->req = NULL;
	stream_free(ss);
}

/*
 * Ends a download that is streaming.  When it is cut short the reply ends
 * early; since it carries Content-Length and "Connection: close", the
 * client sees the connection close before the promised length.  If the
 * client is gone, libevent frees the detached request here.
 */
static void
stream_end(struct snap_stream *ss, const char *why)
{
	const struct logger *lg = node_logger(ss->node);

	assert(ss->state == STREAM_SENDING);
	stream_set_state(ss, STREAM_DONE);
	if (why == NULL)
		log_info(lg, "backup of snapshot %" PRIu64 " sent: %" PRIu64
		    " bytes in %" PRIu64 " ms%s", ss->index, ss->size,
		    monotime_ms() - ss->started_ms, ss->stale ?
		    " (stale, from this node)" : "");
	else
		log_warn(lg, "backup of snapshot %" PRIu64 " abandoned after %"
		    PRIu64 " of %" PRIu64 " bytes: %s", ss->index, ss->sent,
		    ss->size, why);
	evhttp_send_reply_end(ss->req);
	ss->req = NULL;
	stream_free(ss);
}

static void	 stream_send_chunk(struct snap_stream *ss);

/* The previous chunk left the output buffer: queue the next one. */
static void
on_chunk_written(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	stream_send_chunk(arg);
}

/* Reads the next chunk of the file and queues it, or ends the reply. */
static void
stream_send_chunk(struct snap_stream *ss)
{
	struct evbuffer	*buf;
	struct evbuffer_iovec v;
	size_t		 want, got = 0;
	ssize_t		 k;
	char		 why[128];

	if (ss->sent == ss->size) {
		stream_end(ss, NULL);
		return;
	}
	want = ss->size - ss->sent < SNAPSHOT_CHUNK ?
	    (size_t)(ss->size - ss->sent) : SNAPSHOT_CHUNK;
	if ((buf = evbuffer_new()) == NULL ||
	    evbuffer_reserve_space(buf, (ev_ssize_t)want, &v, 1) < 1) {
		if (buf != NULL)
			evbuffer_free(buf);
		stream_end(ss, "out of memory");
		return;
	}
	while (got < want) {
		k = pread(ss->fd, (char *)v.iov_base + got, want - got,
		    (off_t)(ss->sent + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			snprintf(why, sizeof(why), "reading the snapshot file "
			    "at offset %" PRIu64 ": %s", ss->sent + got,
			    k == 0 ? "unexpected end of file" :
			    strerror(errno));
			evbuffer_free(buf);
			stream_end(ss, why);
			return;
		}
		got += (size_t)k;
	}
	v.iov_len = want;
	evbuffer_commit_space(buf, &v, 1);
	ss->sent += want;
	evhttp_send_reply_chunk_with_cb(ss->req, buf, on_chunk_written, ss);
	evbuffer_free(buf);
}

/*
 * Watches a streaming download: when the client went away (libevent then
 * detaches the request from its failed connection and never calls back)
 * or the node is stopping, the download is ended.
 */
static void
on_stream_watch(evutil_socket_t fd, short what, void *arg)
{
	struct snap_stream *ss = arg;

	(void)fd;
	(void)what;
	if (evhttp_request_get_connection(ss->req) == NULL)
		stream_end(ss, "the client went away");
	else if (!node_accepting(ss->node))
		stream_end(ss, "the node is stopping");
}

/* The wait for a read index or a snapshot took too long. */
static void
on_stream_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct snap_stream *ss = arg;

	(void)fd;
	(void)what;
	log_warn(node_logger(ss->node), "backup: no snapshot ready within "
	    "the wait");
	stream_fail(ss, API_FAIL_SNAPSHOT_TIMEOUT, NULL);
}

/* Adds a header with a formatted value. */
static void
add_header_fmt(struct evhttp_request *req, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
add_header_fmt(struct evhttp_request *req, const char *name,
    const char *fmt, ...)
{
	char	 buf[128];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	evhttp_add_header(evhttp_request_get_output_headers(req), name, buf);
}

/*
 * node_snapshot_wait()'s callback: opens the file now (a newer snapshot
 * may delete it later; the open descriptor keeps it readable) and starts
 * the reply.
 */
static void
on_snapshot_ready(void *arg, int err, const struct storage_snapshot_info *info)
{
	struct snap_stream *ss = arg;
	struct timeval	 tv = { 0, SNAPSHOT_WATCH_MS * 1000 };
	struct stat	 sb;
	char		 why[4096 + 128];

	ss->waiter = NULL;		/* the node frees it after this call */
	if (err != 0 || info == NULL || !info->exists) {
		snprintf(why, sizeof(why), "%s", err != 0 ? strerror(-err) :
		    "no snapshot");
		stream_fail(ss, err == -ESHUTDOWN ? API_FAIL_SHUTDOWN :
		    API_FAIL_SNAPSHOT, why);
		return;
	}
	ss->fd = open(info->path, O_RDONLY | O_CLOEXEC);
	if (ss->fd < 0 || fstat(ss->fd, &sb) != 0 ||
	    (uint64_t)sb.st_size != info->file_size) {
		snprintf(why, sizeof(why), "%s: %s", info->path, ss->fd < 0 ?
		    strerror(errno) : "its size is not the recorded one");
		log_error(node_logger(ss->node), "backup: cannot read %s",
		    why);
		stream_fail(ss, API_FAIL_SNAPSHOT, why);
		return;
	}
	/* From now on a watchdog replaces the deadline. */
	event_free(ss->timer);
	ss->timer = event_new(ss->base, -1, EV_PERSIST, on_stream_watch, ss);
	if (ss->timer == NULL || event_add(ss->timer, &tv) != 0) {
		stream_fail(ss, API_FAIL_SNAPSHOT, "out of memory");
		return;
	}
	ss->index = info->index;
	ss->size = info->file_size;
	stream_set_state(ss, STREAM_SENDING);
	log_info(node_logger(ss->node), "backup: sending snapshot %" PRIu64
	    " (term %" PRIu64 ", %" PRIu64 " bytes, crc %08" PRIx32 ")%s",
	    info->index, info->term, info->file_size, info->file_crc,
	    ss->stale ? ", stale" : "");
	evhttp_add_header(evhttp_request_get_output_headers(ss->req),
	    "Content-Type", "application/octet-stream");
	add_header_fmt(ss->req, "Content-Length", "%" PRIu64, ss->size);
	add_header_fmt(ss->req, "Content-Disposition", "attachment; "
	    "filename=\"raftkv-snapshot-%" PRIu64 "\"", info->index);
	add_u64_header(ss->req, "X-Raftkv-Snapshot-Index", info->index);
	add_u64_header(ss->req, "X-Raftkv-Snapshot-Term", info->term);
	add_u64_header(ss->req, "X-Raftkv-Snapshot-Size", info->file_size);
	add_header_fmt(ss->req, "X-Raftkv-Snapshot-Crc", "%08" PRIx32,
	    info->file_crc);
	add_header_fmt(ss->req, "X-Raftkv-Snapshot-Stale", "%d", ss->stale);
	add_u64_header(ss->req, "X-Raftkv-Node-Id", node_options(ss->node)->
	    node_id);
	add_u64_header(ss->req, "X-Raftkv-Commit-Index",
	    node_raft_status(ss->node)->commit);
	/* One download per connection: a cut-short body is then visible. */
	evhttp_add_header(evhttp_request_get_output_headers(ss->req),
	    "Connection", "close");
	evhttp_send_reply_start(ss->req, 200, "OK");
	stream_send_chunk(ss);
}

/* Asks the node for a snapshot covering what it has applied by now. */
static void
stream_wait_snapshot(struct snap_stream *ss)
{
	ss->waiter = node_snapshot_wait(ss->node, on_snapshot_ready, ss);
	if (ss->waiter == NULL)
		stream_fail(ss, node_accepting(ss->node) ? API_FAIL_SNAPSHOT :
		    API_FAIL_SHUTDOWN, "no snapshot can be started");
}

/*
 * The node hands back a read it parked: if it is a download's barrier,
 * the download moves on (ready: everything acknowledged before the
 * request is now applied here) or fails, and true is returned.
 */
static bool
stream_claim_read(struct op *op, bool ready, enum api_failure why)
{
	struct snap_stream *ss;

	for (ss = streams; ss != NULL; ss = ss->next)
		if (ss->barrier == op)
			break;
	if (ss == NULL)
		return false;
	ss->barrier = NULL;
	op->req = NULL;
	if (!ready) {
		stream_fail(ss, why, NULL);
		return true;
	}
	stream_set_state(ss, STREAM_WAITING);
	stream_wait_snapshot(ss);
	return true;
}

/*
 * GET /v1/snapshot[?stale]: on the leader, confirms leadership (a read
 * index, so that every write acknowledged before the request is in the
 * snapshot), waits for a durable snapshot covering it and streams the whole
 * snapshot file.  ?stale: any node, its own latest state, no check.
 */
static void
handle_snapshot(struct node *n, struct evhttp_request *req)
{
	struct param	 params[] = { { .name = "stale" }, { .name = NULL } };
	const struct options *o = node_options(n);
	struct snap_stream *ss;
	struct timeval	 tv;
	uint64_t	 wait_ms;
	char		 err[256];
	int		 rc;

	if (refuse_unavailable(n, req))
		return;
	if (parse_query(req, params, err, sizeof(err)) != 0) {
		reply_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	if (!params[0].present && node_raft_status(n)->role != RAFT_LEADER) {
		reply_not_leader(n, req);
		goto out;
	}
	if (evhttp_request_get_connection(req) == NULL) {
		reply_error(req, 400, "bad_request", "no connection");
		goto out;
	}
	ss = xcalloc(1, sizeof(*ss));
	ss->node = n;
	ss->base = evhttp_connection_get_base(evhttp_request_get_connection(
	    req));
	ss->req = req;
	ss->fd = -1;
	ss->stale = params[0].present;
	ss->started_ms = monotime_ms();
	ss->state = ss->stale ? STREAM_WAITING : STREAM_BARRIER;
	ss->next = streams;
	if (streams != NULL)
		streams->prev = ss;
	streams = ss;
	wait_ms = o->request_timeout_ms > SNAPSHOT_WAIT_MIN_MS ?
	    o->request_timeout_ms : SNAPSHOT_WAIT_MIN_MS;
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
	ss->timer = evtimer_new(ss->base, on_stream_deadline, ss);
	if (ss->timer == NULL || evtimer_add(ss->timer, &tv) != 0) {
		stream_fail(ss, API_FAIL_SNAPSHOT, "out of memory");
		goto out;
	}
	log_info(node_logger(n), "backup requested%s", ss->stale ?
	    " (stale: this node's own state)" : "");
	if (ss->stale) {
		stream_wait_snapshot(ss);
		goto out;
	}
	ss->barrier = op_new(n, OP_GET, req);
	if ((rc = node_submit_read(n, ss->barrier)) != 0) {
		op_free(ss->barrier);
		ss->barrier = NULL;
		stream_set_state(ss, STREAM_DONE);
		ss->req = NULL;
		stream_free(ss);
		reply_refused(n, req, rc);
	}
out:
	free_params(params);
}

void
api_shutdown(struct node *n)
{
	struct snap_stream *ss, *next;

	for (ss = streams; ss != NULL; ss = next) {
		next = ss->next;
		if (ss->node != n)
			continue;
		if (ss->state == STREAM_SENDING)
			stream_end(ss, "the node is stopping");
		else
			stream_fail(ss, API_FAIL_SHUTDOWN, NULL);
	}
}

/* ------------------------------------------------------------------ */
/* Routing: a table of method, path and handler.                       */

typedef void route_fn(struct node *n, struct evhttp_request *req);

static void
route_put(struct node *n, struct evhttp_request *req)
{
	handle_write(n, req, false);
}

static void
route_delete(struct node *n, struct evhttp_request *req)
{
	handle_write(n, req, true);
}

struct route {
	enum evhttp_cmd_type method;
	const char	*path;
	bool		 prefix;	/* path is a prefix */
	route_fn	*fn;
};

static const struct route routes[] = {
	{ EVHTTP_REQ_GET, "/v1/health", false, handle_health },
	{ EVHTTP_REQ_GET, "/v1/status", false, handle_status },
	{ EVHTTP_REQ_GET, "/v1/snapshot", false, handle_snapshot },
	{ EVHTTP_REQ_GET, "/v1/kv", false, handle_list },
	{ EVHTTP_REQ_GET, KV_PREFIX, true, handle_get },
	{ EVHTTP_REQ_PUT, KV_PREFIX, true, route_put },
	{ EVHTTP_REQ_DELETE, KV_PREFIX, true, route_delete },
};

/* Dispatches every client request through the route table. */
static void
on_request(struct evhttp_request *req, void *arg)
{
	struct node	*n = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char	*path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	bool		 path_known = false;
	size_t		 i;

	if (!node_conn_admit(n, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_error(req, 503, "too_many_connections", "this node already "
		    "serves --max-connections clients");
		return;
	}
	if (path == NULL) {
		reply_error(req, 400, "bad_request", "unparseable URI");
		return;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		bool match = r->prefix ?
		    strncmp(path, r->path, strlen(r->path)) == 0 :
		    strcmp(path, r->path) == 0;

		if (!match)
			continue;
		path_known = true;
		if (r->method == method) {
			r->fn(n, req);
			return;
		}
	}
	if (path_known) {
		reply_error(req, 405, "method_not_allowed", "method not allowed "
		    "on %s", path);
		return;
	}
	reply_error(req, 404, "not_found", "no route for %s", path);
}

void
api_bind(struct node *n, struct evhttp *http)
{
	const struct options *o = node_options(n);

	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(http, 16384);
	evhttp_set_max_body_size(http, (ev_ssize_t)(o->max_value_size + 1));
	evhttp_set_timeout(http, (int)o->idle_timeout_s);
	evhttp_set_gencb(http, on_request, n);
}
