/*
 * api.c -- the client HTTP API of raftkvd (docs/api.md).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
#include "transport.h"
#include "xmalloc.h"

#define KV_PREFIX	"/v1/kv/"
#define LIST_DEFAULT	100
#define LIST_MAX	10000
#define LIST_MAX_BYTES	(4u * 1024 * 1024)	/* keys + values per page */

/* ------------------------------------------------------------------ */
/* Replies.                                                            */

/* Sends a JSON body (stolen) with status code. */
static void
reply_json(struct evhttp_request *req, int code, const char *reason,
    json_t *body)
{
	struct evbuffer	*buf = evbuffer_new();
	char		*text;

	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (buf == NULL || text == NULL) {
		free(text);
		if (buf != NULL)
			evbuffer_free(buf);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
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
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
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
};

void
api_op_failed(struct op *op, enum api_failure why)
{
	if (op->req == NULL)
		return;
	if (op->kind == OP_WRITE)
		add_u64_header(op->req, "X-Raftkv-Proposed-Index", op->index);
	reply_error(op->req, failures[why].status, failures[why].code, "%s",
	    failures[why].message);
	op->req = NULL;
}

void
api_write_done(struct op *op, const struct kv_result *res)
{
	struct evhttp_request *req = op->req;

	add_u64_header(req, "X-Raftkv-Index", res->index);
	switch (res->status) {
	case KV_OK:
		add_u64_header(req, "X-Raftkv-Mod-Index", res->mod_index);
		reply_json(req, 200, "OK", json_pack("{s:I, s:I, s:b, s:b}",
		    "index", (json_int_t)res->index, "mod_index",
		    (json_int_t)res->mod_index, "existed", res->existed,
		    "duplicate", res->duplicate));
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
	struct evbuffer	*buf;

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
	if ((buf = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(buf, e.value, e.value_len);
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
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

/* GET /v1/status: everything a person or a test wants to compare. */
static void
handle_status(struct node *n, struct evhttp_request *req)
{
	const struct raft_status *st = node_raft_status(n);
	struct raft_peer_status peers[RAFT_MAX_MEMBERS];
	struct transport_peer_stats tps[RAFT_MAX_MEMBERS];
	const struct raft_cluster *c = raft_get_cluster(node_raft(n));
	struct node_info info;
	json_t		*obj, *jp, *members;
	size_t		 np, nt, i, j;
	uint64_t	 now = monotime_ms();
	char		 hash[24];

	node_get_info(n, &info);
	snprintf(hash, sizeof(hash), "%016" PRIx64, info.state_hash);
	obj = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I}",
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
	    "entries_persisted", (json_int_t)info.entries_persisted);
	json_object_set_new(obj, "read_rounds",
	    json_integer((json_int_t)st->read_rounds));
	json_object_set_new(obj, "reads_confirmed",
	    json_integer((json_int_t)st->reads_confirmed));
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
		    (json_int_t)peers[i].next, "state", peers[i].replicating ?
		    "replicate" : "probe", "inflight",
		    (json_int_t)peers[i].inflight, "ms_since_heard",
		    (json_int_t)(peers[i].ticks_since_heard *
		    node_options(n)->tick_ms));

		for (j = 0; j < nt; j++) {
			if (tps[j].id != peers[i].id)
				continue;
			json_object_set_new(p, "ms_since_sent_ok",
			    tps[j].last_contact_ms == 0 ? json_null() :
			    json_integer((json_int_t)(now -
			    tps[j].last_contact_ms)));
		}
		json_array_append_new(jp, p);
	}
	json_object_set_new(obj, "peers", jp);
	reply_json(req, 200, "OK", obj);
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
