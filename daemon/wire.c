/*
 * wire.c -- JSON encoding and strict decoding of Raft messages.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "base64.h"
#include "textfmt.h"
#include "raft.h"
#include "wire.h"

#define TYPE_BIT(t)	(1u << (t))
#define VOTE_REQS	(TYPE_BIT(RAFT_MSG_PREVOTE) | TYPE_BIT(RAFT_MSG_VOTE))
#define RESPONSES	(TYPE_BIT(RAFT_MSG_PREVOTE_RESP) | \
			 TYPE_BIT(RAFT_MSG_VOTE_RESP) | \
			 TYPE_BIT(RAFT_MSG_APPEND_RESP))
#define ALL_TYPES	0xffffu

/* Entry types on the wire; index is enum raft_entry_type. */
static const char *const wire_entry_types[] = {
	[RAFT_ENTRY_NORMAL] = "normal",
	[RAFT_ENTRY_CONFIG] = "config",
	[RAFT_ENTRY_NOOP] = "noop",
};
#define WIRE_ENTRY_TYPE_MAX RAFT_ENTRY_NOOP

static const char *const wire_errnames[WIRE_ERR_MAX + 1] = {
	[WIRE_OK] = "ok",
	[WIRE_ERR_JSON] = "bad_json",
	[WIRE_ERR_TOO_BIG] = "too_big",
	[WIRE_ERR_VERSION] = "bad_version",
	[WIRE_ERR_TYPE] = "bad_type",
	[WIRE_ERR_FIELD] = "bad_field",
	[WIRE_ERR_RANGE] = "bad_range",
	[WIRE_ERR_ENTRIES] = "bad_entries",
	[WIRE_ERR_BASE64] = "bad_base64",
	[WIRE_ERR_NOMEM] = "no_memory",
};

enum wire_kind {
	WIRE_U64,	/* a uint64_t in struct raft_msg, JSON integer */
	WIRE_NONZERO,	/* same, and 0 is refused (node ids) */
	WIRE_BOOL,	/* a bool in struct raft_msg */
};

/* The scalar fields of a message: which types carry them and where. */
struct wire_field {
	const char	*name;
	enum wire_kind	 kind;
	size_t		 offset;
	unsigned	 types;	/* TYPE_BIT mask */
};

static const struct wire_field wire_fields[] = {
	{ "from", WIRE_NONZERO, offsetof(struct raft_msg, from), ALL_TYPES },
	{ "to", WIRE_NONZERO, offsetof(struct raft_msg, to), ALL_TYPES },
	{ "term", WIRE_U64, offsetof(struct raft_msg, term), ALL_TYPES },
	{ "last_log_index", WIRE_U64,
	    offsetof(struct raft_msg, last_log_index), VOTE_REQS },
	{ "last_log_term", WIRE_U64,
	    offsetof(struct raft_msg, last_log_term), VOTE_REQS },
	{ "reject", WIRE_BOOL, offsetof(struct raft_msg, reject), RESPONSES },
	{ "prev_index", WIRE_U64, offsetof(struct raft_msg, prev_index),
	    TYPE_BIT(RAFT_MSG_APPEND) | TYPE_BIT(RAFT_MSG_APPEND_RESP) },
	{ "prev_term", WIRE_U64, offsetof(struct raft_msg, prev_term),
	    TYPE_BIT(RAFT_MSG_APPEND) },
	{ "commit", WIRE_U64, offsetof(struct raft_msg, commit),
	    TYPE_BIT(RAFT_MSG_APPEND) },
	{ "seq", WIRE_U64, offsetof(struct raft_msg, seq),
	    TYPE_BIT(RAFT_MSG_APPEND) | TYPE_BIT(RAFT_MSG_APPEND_RESP) },
	{ "lazy", WIRE_BOOL, offsetof(struct raft_msg, lazy),
	    TYPE_BIT(RAFT_MSG_APPEND) },
	{ "match_index", WIRE_U64, offsetof(struct raft_msg, match_index),
	    TYPE_BIT(RAFT_MSG_APPEND_RESP) },
	{ "hint_index", WIRE_U64, offsetof(struct raft_msg, hint_index),
	    TYPE_BIT(RAFT_MSG_APPEND_RESP) },
	{ "hint_term", WIRE_U64, offsetof(struct raft_msg, hint_term),
	    TYPE_BIT(RAFT_MSG_APPEND_RESP) },
};
#define WIRE_NFIELDS (sizeof(wire_fields) / sizeof(wire_fields[0]))

/* Keys every message has besides wire_fields; "entries" is APPEND only. */
static const char *const wire_header_keys[] = { "v", "type", "cluster" };

/* Returns the stable name of an error code. */
const char *
wire_errcode_name(enum wire_errcode code)
{
	if ((unsigned)code > WIRE_ERR_MAX)
		return "unknown";
	return wire_errnames[code];
}

/* Fills lim with the default limits. */
void
wire_limits_defaults(struct wire_limits *lim)
{
	lim->max_body = WIRE_MAX_BODY_DEFAULT;
	lim->max_entries = WIRE_MAX_ENTRIES_DEFAULT;
}

/* Returns the route name of a message type, or NULL. */
const char *
wire_type_route(int type)
{
	/*
	 * The route is the type's name in the core, e.g. "append_entries".
	 * InstallSnapshot has none: it travels as a chunked file transfer
	 * (daemon/snapxfer.c), never as a JSON message.
	 */
	if (type < 1 || type > RAFT_MSG_TYPE_MAX || type == RAFT_MSG_SNAPSHOT)
		return NULL;
	return raft_msg_type_name(type);
}

/* Returns the message type a route names, or 0. */
int
wire_type_from_route(const char *route, size_t n)
{
	int	 type;

	for (type = 1; type <= RAFT_MSG_TYPE_MAX; type++) {
		const char *name = wire_type_route(type);

		if (name == NULL)
			continue;

		if (strlen(name) == n && memcmp(name, route, n) == 0)
			return type;
	}
	return 0;
}

/* Returns the entry type named by s (n bytes, borrowed), or 0 if none. */
static int
wire_entry_type_from_name(const char *s, size_t n)
{
	int	 t;

	for (t = 1; t <= WIRE_ENTRY_TYPE_MAX; t++)
		if (strlen(wire_entry_types[t]) == n &&
		    memcmp(wire_entry_types[t], s, n) == 0)
			return t;
	return 0;
}

/*
 * Reads 16 lower-case hex digits at s into *out.  Returns 16, or the
 * offset of the first character that is not one.
 */
static size_t
wire_hex16(const char *s, uint64_t *out)
{
	uint64_t id = 0;
	size_t	 i;

	for (i = 0; i < 16; i++) {
		unsigned d;

		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else
			return i;
		id = id << 4 | d;
	}
	*out = id;
	return 16;
}

/* Records an error in err (may be NULL) and returns rc. */
static int __attribute__((format(printf, 5, 6)))
wire_fail(struct wire_error *err, int rc, enum wire_errcode code,
    const char *path, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[160];

	if (err == NULL)
		return rc;
	err->code = code;
	snprintf(err->path, sizeof(err->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (*path != '\0')
		snprintf(err->text, sizeof(err->text), "%s: %s", path, msg);
	else
		snprintf(err->text, sizeof(err->text), "%s", msg);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Encoding.                                                          */

/*
 * Writes the path of entry i, "entries[i]", into path (cap bytes) and
 * returns it.  The encoder calls it only on an error: formatting it for
 * every entry sent cost 2.5 % of a leader's instructions.
 */
static const char *
wire_entry_path(char *path, size_t cap, uint32_t i)
{
	snprintf(path, cap, "entries[%" PRIu32 "]", i);
	return path;
}

/* An entry's JSON besides its base64: {"term":N,"index":N,"type":"..",
 * "data":""} with two 20-digit integers, and the comma before it. */
#define WIRE_ENTRY_JSON_MAX	96

/*
 * Checks the entries of an APPEND and returns the bytes their JSON takes
 * at most (in *need), so that the body is allocated once.
 */
static int
wire_check_entries(const struct raft_msg *m, size_t *need,
    struct wire_error *err)
{
	uint32_t i;
	size_t	 b64;
	char	 path[32];

	/* ,"entries":[ ... ]} and per entry {"term":N,"index":N,...}, */
	*need = 16;
	if (m->n_entries > 0 && m->entries == NULL)
		return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES, "entries",
		    "%" PRIu32 " entries but no array", m->n_entries);
	for (i = 0; i < m->n_entries; i++) {
		const struct raft_entry *ent = &m->entries[i];

		if (ent->type < 1 || ent->type > WIRE_ENTRY_TYPE_MAX)
			return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES,
			    wire_entry_path(path, sizeof(path), i),
			    "unknown entry type %u", ent->type);
		if (ent->term > INT64_MAX || ent->index > INT64_MAX)
			return wire_fail(err, -ERANGE, WIRE_ERR_RANGE,
			    wire_entry_path(path, sizeof(path), i),
			    "term or index above INT64_MAX");
		if (ent->len > 0 && ent->data == NULL)
			return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES,
			    wire_entry_path(path, sizeof(path), i),
			    "%" PRIu32 " bytes but no data", ent->len);
		b64 = base64_encoded_len(ent->len);
		if (b64 > SIZE_MAX / 2 - *need - 128)
			return wire_fail(err, -E2BIG, WIRE_ERR_TOO_BIG,
			    wire_entry_path(path, sizeof(path), i),
			    "message too large");
		*need += WIRE_ENTRY_JSON_MAX + b64;
	}
	return 0;
}

/*
 * The encoder's memory of entries it wrote: slot index % WIRE_CACHE_SLOTS
 * holds the JSON of that entry, {"term":..,"index":..,"type":..,"data":..}.
 * A leader sends each new entry to every follower, usually in spans that
 * differ per follower (each is acknowledged at its own pace), so entries
 * are remembered one by one, not as spans.
 */
#define WIRE_CACHE_SLOTS	1024u
#define WIRE_CACHE_TEXT_MAX	4096u	/* longer entries are not kept */

struct wire_cache_slot {
	uint64_t	 index;
	uint64_t	 term;
	uint32_t	 len;		/* payload bytes, checked on a hit */
	uint8_t		 type;
	size_t		 text_len;	/* 0: empty */
	size_t		 text_cap;
	char		*text;
};

struct wire_cache {
	struct wire_cache_slot slots[WIRE_CACHE_SLOTS];
	struct wire_cache_stats stats;
};

struct wire_cache *
wire_cache_new(void)
{
	return calloc(1, sizeof(struct wire_cache));
}

void
wire_cache_free(struct wire_cache *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < WIRE_CACHE_SLOTS; i++)
		free(c->slots[i].text);
	free(c);
}

void
wire_cache_get_stats(const struct wire_cache *c, struct wire_cache_stats *st)
{
	*st = c->stats;
}

/*
 * The slot holding ent's JSON, or NULL.  An entry is named by its index
 * and term: only the leader of a term creates entries of that term, and
 * it never rewrites its own, so two entries with the same index and term
 * are the same entry (type, length and bytes), whatever follower they go
 * to.  The type and length are compared as well, as a cheap guard.
 */
static const struct wire_cache_slot *
wire_cache_find(const struct wire_cache *c, const struct raft_entry *ent)
{
	const struct wire_cache_slot *sl = &c->slots[ent->index %
	    WIRE_CACHE_SLOTS];

	if (sl->text_len == 0 || sl->index != ent->index ||
	    sl->term != ent->term || sl->len != ent->len ||
	    sl->type != ent->type ||
	    /* never more than wire_check_entries() made room for */
	    sl->text_len > WIRE_ENTRY_JSON_MAX + base64_encoded_len(ent->len))
		return NULL;
	return sl;
}

/* Keeps the n bytes of text as ent's JSON, replacing the slot's entry. */
static void
wire_cache_keep(struct wire_cache *c, const struct raft_entry *ent,
    const char *text, size_t n)
{
	struct wire_cache_slot *sl = &c->slots[ent->index % WIRE_CACHE_SLOTS];
	char	*t;

	if (n > WIRE_CACHE_TEXT_MAX)
		return;
	sl->text_len = 0;
	if (sl->text_cap < n) {
		if ((t = realloc(sl->text, n)) == NULL)
			return;		/* only a cache: encode next time */
		sl->text = t;
		sl->text_cap = n;
	}
	memcpy(sl->text, text, n);
	sl->index = ent->index;
	sl->term = ent->term;
	sl->len = ent->len;
	sl->type = ent->type;
	sl->text_len = n;
}

/* Frees a body handed to an evbuffer by reference. */
static void
wire_body_free(const void *data, size_t len, void *extra)
{
	(void)len;
	(void)extra;
	free((void *)(uintptr_t)data);
}

/* Writes ent's JSON at p; returns the end. */
static char *
wire_write_entry(char *p, const struct raft_entry *ent)
{
	p = textfmt_put(p, "{\"term\":");
	p += textfmt_u64(p, ent->term);
	p = textfmt_put(p, ",\"index\":");
	p += textfmt_u64(p, ent->index);
	p = textfmt_put(p, ",\"type\":\"");
	p = textfmt_put(p, wire_entry_types[ent->type]);
	p = textfmt_put(p, "\",\"data\":\"");
	p += base64_encode(ent->len > 0 ? ent->data : (const uint8_t *)"",
	    ent->len, p);
	*p++ = '"';
	*p++ = '}';
	return p;
}

/*
 * Writes the header object hdr (hlen bytes of compact JSON ending in '}')
 * and then the entries array of m (need bytes at most, from
 * wire_check_entries()) into one buffer, and hands it to out.  The
 * entries are written directly rather than through jansson: their JSON is
 * fixed (integers, constant names, base64 that needs no escaping), and
 * jansson's serialiser would scan every payload byte again.  With a cache
 * c, an entry already written is copied, not encoded again.
 */
static int
wire_write_append(const struct raft_msg *m, const char *hdr, size_t hlen,
    size_t need, struct wire_cache *c, struct evbuffer *out)
{
	const struct wire_cache_slot *sl;
	char	*buf, *p, *start;
	uint32_t i;

	if ((buf = malloc(hlen + need)) == NULL)
		return -ENOMEM;
	memcpy(buf, hdr, hlen - 1);	/* without the closing brace */
	p = textfmt_put(buf + hlen - 1, ",\"entries\":[");
	for (i = 0; i < m->n_entries; i++) {
		const struct raft_entry *ent = &m->entries[i];

		if (i > 0)
			*p++ = ',';
		if (c == NULL) {
			p = wire_write_entry(p, ent);
		} else if ((sl = wire_cache_find(c, ent)) != NULL) {
			memcpy(p, sl->text, sl->text_len);
			p += sl->text_len;
			c->stats.reused++;
		} else {
			start = p;
			p = wire_write_entry(p, ent);
			wire_cache_keep(c, ent, start, (size_t)(p - start));
			c->stats.encoded++;
		}
	}
	*p++ = ']';
	*p++ = '}';
	if (evbuffer_add_reference(out, buf, (size_t)(p - buf),
	    wire_body_free, NULL) != 0) {
		free(buf);
		return -ENOMEM;
	}
	return 0;
}

/* The most a header object takes: the fixed keys, then per field a key
 * of at most 31 bytes and 20 digits. */
#define WIRE_HEADER_MAX	(160 + WIRE_NFIELDS * (6 + 31 + 20))

/*
 * Writes the header object of m into hdr (WIRE_HEADER_MAX bytes at least):
 * {"v":2,"type":...,"cluster":...} and then the scalar fields of its type,
 * in wire_fields order, as jansson would write them (printf-free: this
 * runs for every message).  Returns its length, or 0 with *err filled if
 * a field does not fit the wire.
 */
static size_t
wire_write_header(const struct raft_msg *m, const char *route, char *hdr,
    int *rc, struct wire_error *err)
{
	static const char hex[] = "0123456789abcdef";
	char	*p = hdr;
	size_t	 i;
	int	 k;

	if (strlen(route) > 64) {
		*rc = wire_fail(err, -EINVAL, WIRE_ERR_TYPE, "type",
		    "route name too long");
		return 0;
	}
	p = textfmt_put(p, "{\"v\":");
	p += textfmt_u64(p, WIRE_VERSION);
	p = textfmt_put(p, ",\"type\":\"");
	p = textfmt_put(p, route);
	p = textfmt_put(p, "\",\"cluster\":\"");
	for (k = 60; k >= 0; k -= 4)
		*p++ = hex[(m->cluster_id >> k) & 0xf];
	*p++ = '"';
	for (i = 0; i < WIRE_NFIELDS; i++) {
		const struct wire_field *f = &wire_fields[i];
		const char *fp = (const char *)m + f->offset;
		uint64_t v;

		if ((f->types & TYPE_BIT(m->type)) == 0)
			continue;
		*p++ = ',';
		*p++ = '"';
		p = textfmt_put(p, f->name);
		*p++ = '"';
		*p++ = ':';
		if (f->kind == WIRE_BOOL) {
			p = textfmt_put(p, *(const bool *)(const void *)fp ?
			    "true" : "false");
			continue;
		}
		v = *(const uint64_t *)(const void *)fp;
		if (v > INT64_MAX) {
			*rc = wire_fail(err, -ERANGE, WIRE_ERR_RANGE, f->name,
			    "value above INT64_MAX");
			return 0;
		}
		p += textfmt_u64(p, v);
	}
	*p++ = '}';
	*p = '\0';
	return (size_t)(p - hdr);
}

/* Appends the JSON encoding of m to out. */
int
wire_encode(const struct raft_msg *m, struct evbuffer *out,
    struct wire_error *err)
{
	return wire_encode_cached(m, out, NULL, err);
}

/* The same, sharing the entries section through c; see wire.h. */
int
wire_encode_cached(const struct raft_msg *m, struct evbuffer *out,
    struct wire_cache *c, struct wire_error *err)
{
	char	 hdr[WIRE_HEADER_MAX];
	size_t	 hlen, need = 0;
	int	 rc = 0;
	const char *route;

	if ((route = wire_type_route(m->type)) == NULL)
		return wire_fail(err, -EINVAL, WIRE_ERR_TYPE, "type",
		    "unknown message type %u", m->type);
	if (m->type == RAFT_MSG_APPEND &&
	    (rc = wire_check_entries(m, &need, err)) != 0)
		return rc;
	/* The header is small and bounded: a few hundred bytes. */
	if ((hlen = wire_write_header(m, route, hdr, &rc, err)) == 0)
		return rc;
	if (m->type == RAFT_MSG_APPEND)
		rc = wire_write_append(m, hdr, hlen, need, c, out);
	else
		rc = evbuffer_add(out, hdr, hlen) == 0 ? 0 : -ENOMEM;
	if (rc != 0)
		rc = wire_fail(err, rc, WIRE_ERR_NOMEM, "",
		    "out of memory while writing the body");
	return rc;
}

/* ------------------------------------------------------------------ */
/* Decoding.                                                          */

/* Reads a required integer in [0, INT64_MAX] at key of obj. */
static int
wire_get_u64(const json_t *obj, const char *key, const char *path,
    uint64_t *out, struct wire_error *err)
{
	json_t	*v = json_object_get(obj, key);

	if (v == NULL)
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, path,
		    "missing");
	if (!json_is_integer(v))
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, path,
		    "not an integer");
	if (json_integer_value(v) < 0)
		return wire_fail(err, -ERANGE, WIRE_ERR_RANGE, path,
		    "negative (%" JSON_INTEGER_FORMAT ")",
		    json_integer_value(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Parses a cluster id: exactly 16 lower-case hex digits. */
static int
wire_parse_cluster(const json_t *v, uint64_t *out, struct wire_error *err)
{
	uint64_t id = 0;
	size_t	 i;

	if (v == NULL)
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, "cluster",
		    "missing");
	if (!json_is_string(v) || json_string_length(v) != 16)
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, "cluster",
		    "not a string of 16 hex digits");
	if ((i = wire_hex16(json_string_value(v), &id)) != 16)
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, "cluster",
		    "bad hex digit at offset %zu", i);
	if (id == 0)
		return wire_fail(err, -ERANGE, WIRE_ERR_RANGE, "cluster",
		    "cluster id 0");
	*out = id;
	return 0;
}

/* True if key is one a message of type may carry. */
static bool
wire_key_known(const char *key, int type)
{
	size_t	 i;

	for (i = 0; i < sizeof(wire_header_keys) / sizeof(wire_header_keys[0]);
	    i++)
		if (strcmp(key, wire_header_keys[i]) == 0)
			return true;
	if (type == RAFT_MSG_APPEND && strcmp(key, "entries") == 0)
		return true;
	for (i = 0; i < WIRE_NFIELDS; i++)
		if ((wire_fields[i].types & TYPE_BIT(type)) &&
		    strcmp(key, wire_fields[i].name) == 0)
			return true;
	return false;
}

/* Reads the scalar fields of type from obj into m. */
static int
wire_decode_fields(const json_t *obj, struct raft_msg *m,
    struct wire_error *err)
{
	const char *key;
	json_t	*v;
	size_t	 i;
	int	 rc;

	json_object_foreach((json_t *)obj, key, v) {
		if (!wire_key_known(key, m->type))
			return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, key,
			    "unknown field for %s", raft_msg_type_name(m->type));
	}
	for (i = 0; i < WIRE_NFIELDS; i++) {
		const struct wire_field *f = &wire_fields[i];
		char	*p = (char *)m + f->offset;

		if ((f->types & TYPE_BIT(m->type)) == 0)
			continue;
		if (f->kind == WIRE_BOOL) {
			v = json_object_get(obj, f->name);
			if (v == NULL)
				return wire_fail(err, -EINVAL, WIRE_ERR_FIELD,
				    f->name, "missing");
			if (!json_is_boolean(v))
				return wire_fail(err, -EINVAL, WIRE_ERR_FIELD,
				    f->name, "not a boolean");
			*(bool *)(void *)p = json_is_true(v);
			continue;
		}
		rc = wire_get_u64(obj, f->name, f->name,
		    (uint64_t *)(void *)p, err);
		if (rc != 0)
			return rc;
		if (f->kind == WIRE_NONZERO && *(uint64_t *)(void *)p == 0)
			return wire_fail(err, -ERANGE, WIRE_ERR_RANGE, f->name,
			    "node id 0");
	}
	return 0;
}

/* Decodes and checks one entry object into *ent, its data into dst. */
static int
wire_decode_entry(const json_t *jent, const struct raft_msg *m, uint32_t i,
    struct raft_entry *ent, uint8_t *dst, size_t cap, size_t *used,
    struct wire_error *err)
{
	char	 path[48], fpath[64];
	const char *key, *s;
	json_t	*v;
	size_t	 len, bad;
	int	 rc, t;

	wire_entry_path(path, sizeof(path), i);
	if (!json_is_object(jent))
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, path,
		    "not an object");
	json_object_foreach((json_t *)jent, key, v) {
		if (strcmp(key, "term") != 0 && strcmp(key, "index") != 0 &&
		    strcmp(key, "type") != 0 && strcmp(key, "data") != 0) {
			snprintf(fpath, sizeof(fpath), "%s.%s", path, key);
			return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, fpath,
			    "unknown field");
		}
	}
	snprintf(fpath, sizeof(fpath), "%s.term", path);
	if ((rc = wire_get_u64(jent, "term", fpath, &ent->term, err)) != 0)
		return rc;
	snprintf(fpath, sizeof(fpath), "%s.index", path);
	if ((rc = wire_get_u64(jent, "index", fpath, &ent->index, err)) != 0)
		return rc;
	if (ent->index != m->prev_index + 1 + i)
		return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES, fpath,
		    "%" PRIu64 " does not follow prev_index %" PRIu64
		    " (want %" PRIu64 ")", ent->index, m->prev_index,
		    m->prev_index + 1 + i);
	snprintf(fpath, sizeof(fpath), "%s.term", path);
	if (ent->term == 0)
		return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES, fpath,
		    "term 0 is not a real term");
	if (ent->term > m->term)
		return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES, fpath,
		    "%" PRIu64 " is above the message term %" PRIu64,
		    ent->term, m->term);
	if (ent->term < (i == 0 ? m->prev_term : ent[-1].term))
		return wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES, fpath,
		    "%" PRIu64 " is below the term before it", ent->term);

	snprintf(fpath, sizeof(fpath), "%s.type", path);
	v = json_object_get(jent, "type");
	if (v == NULL || !json_is_string(v))
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, fpath,
		    v == NULL ? "missing" : "not a string");
	/* strlen(): a name is read up to its first NUL, as it always was. */
	if ((t = wire_entry_type_from_name(json_string_value(v),
	    strlen(json_string_value(v)))) == 0)
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, fpath,
		    "unknown entry type");
	ent->type = (uint8_t)t;

	snprintf(fpath, sizeof(fpath), "%s.data", path);
	v = json_object_get(jent, "data");
	if (v == NULL || !json_is_string(v))
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, fpath,
		    v == NULL ? "missing" : "not a string");
	s = json_string_value(v);
	rc = base64_decode(s, json_string_length(v), dst, cap, &len, &bad);
	if (rc != 0)
		return wire_fail(err, -EINVAL, WIRE_ERR_BASE64, fpath,
		    "invalid base64 at offset %zu", bad);
	if (len > UINT32_MAX)
		return wire_fail(err, -E2BIG, WIRE_ERR_TOO_BIG, fpath,
		    "payload above 4 GiB");
	ent->len = (uint32_t)len;
	ent->data = len > 0 ? dst : NULL;
	*used = len;
	return 0;
}

/* Decodes the "entries" array of an APPEND into one allocation in wm. */
static int
wire_decode_entries(const json_t *obj, const struct wire_limits *lim,
    struct wire_msg *wm, struct wire_error *err)
{
	struct raft_msg *m = &wm->msg;
	struct raft_entry *ents;
	json_t	*arr, *v;
	uint8_t	*data;
	size_t	 n, i, total = 0, used = 0;
	int	 rc;

	arr = json_object_get(obj, "entries");
	if (arr == NULL)
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, "entries",
		    "missing");
	if (!json_is_array(arr))
		return wire_fail(err, -EINVAL, WIRE_ERR_FIELD, "entries",
		    "not an array");
	n = json_array_size(arr);
	if (n > lim->max_entries)
		return wire_fail(err, -E2BIG, WIRE_ERR_TOO_BIG, "entries",
		    "%zu entries, limit %" PRIu32, n, lim->max_entries);
	if (m->prev_index > (uint64_t)INT64_MAX - n)
		return wire_fail(err, -ERANGE, WIRE_ERR_RANGE, "prev_index",
		    "last entry index would pass INT64_MAX");
	if (n == 0)
		return 0;
	json_array_foreach(arr, i, v) {
		json_t	*d = json_is_object(v) ?
		    json_object_get(v, "data") : NULL;

		if (d != NULL && json_is_string(d))
			total += base64_decoded_max(json_string_length(d));
	}
	/* Bounded by max_body: total and n cannot overflow here. */
	if ((wm->mem = malloc(n * sizeof(*ents) + total + 1)) == NULL)
		return wire_fail(err, -ENOMEM, WIRE_ERR_NOMEM, "entries",
		    "out of memory for %zu entries", n);
	ents = wm->mem;
	memset(ents, 0, n * sizeof(*ents));
	data = (uint8_t *)(ents + n);
	json_array_foreach(arr, i, v) {
		rc = wire_decode_entry(v, m, (uint32_t)i, &ents[i], data,
		    total, &used, err);
		if (rc != 0)
			return rc;
		data += used;
		total -= used;
	}
	m->entries = ents;
	m->n_entries = (uint32_t)n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The fast path: the canonical form wire_encode() writes.             */

/*
 * A follower decodes every entry it is sent; through jansson that is a
 * tree of about seventeen allocations per entry.  The fast path reads the
 * one form our encoder writes (no whitespace, no escapes, ASCII strings,
 * unsigned integers) without allocating anything but the message's own
 * memory, and applies the same checks.  Whatever it does not recognise,
 * valid or not, it declines, and the jansson path decides: so the fast
 * path never accepts what the jansson path refuses, and never changes an
 * error (tests/test-wire.c checks both on every corpus file and on
 * thousands of mutations).
 */

/* A value scanned by the fast path. */
struct fp_val {
	enum { FP_INT, FP_BOOL, FP_STR, FP_ARR } kind;
	uint64_t	 u;		/* FP_INT, FP_BOOL */
	const char	*s;		/* FP_STR: the characters; FP_ARR: '[' */
	size_t		 n;		/* FP_STR, FP_ARR: length */
};

/* Scans a key or string value: '"', ASCII without escapes, '"'. */
static bool
fp_string(const char **pp, const char *end, const char **s, size_t *n)
{
	const char *p = *pp, *q;

	if (p >= end || *p != '"')
		return false;
	for (q = ++p; q < end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20 ||
		    (unsigned char)*q >= 0x80)
			return false;
	if (q >= end)
		return false;
	*s = p;
	*n = (size_t)(q - p);
	*pp = q + 1;
	return true;
}

/*
 * Scans one value.  Arrays are skipped over (balanced brackets, strings
 * respected); their contents are read later by whoever wants them.
 */
static bool
fp_value(const char **pp, const char *end, struct fp_val *v)
{
	const char *p = *pp;
	int	 depth;

	if (p >= end)
		return false;
	if (*p >= '0' && *p <= '9') {
		v->kind = FP_INT;
		v->u = 0;
		if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
			return false;		/* leading zero */
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (v->u > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0'))
			    / 10)
				return false;	/* above INT64_MAX */
			v->u = v->u * 10 + (uint64_t)(*p - '0');
		}
		if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
			return false;		/* a real */
		*pp = p;
		return true;
	}
	if (*p == '"') {
		v->kind = FP_STR;
		return fp_string(pp, end, &v->s, &v->n);
	}
	if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
		v->kind = FP_BOOL;
		v->u = 1;
		*pp = p + 4;
		return true;
	}
	if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
		v->kind = FP_BOOL;
		v->u = 0;
		*pp = p + 5;
		return true;
	}
	if (*p != '[')
		return false;
	/*
	 * Skipped without checking its strings: whoever reads the array
	 * checks them, and that it ends here.
	 */
	v->kind = FP_ARR;
	v->s = p;
	for (depth = 0; p < end; p++) {
		if (*p == '"') {
			if ((p = memchr(p + 1, '"', (size_t)(end - p - 1))) ==
			    NULL)
				return false;
		} else if (*p == '[' || *p == '{')
			depth++;
		else if ((*p == ']' || *p == '}') && --depth == 0) {
			v->n = (size_t)(p + 1 - v->s);
			*pp = p + 1;
			return true;
		}
	}
	return false;
}

/*
 * Scans one object's members into vals, by the index of each key in keys
 * (nkeys of them, at most 32).  Declines an unknown or repeated key.
 * Returns the bit set of the keys seen, or -1.
 */
static long
fp_object(const char **pp, const char *end, const char *const *keys,
    size_t nkeys, struct fp_val *vals)
{
	const char *p = *pp, *k;
	unsigned long seen = 0;
	size_t	 kn, i;

	if (p >= end || *p++ != '{')
		return -1;
	if (p < end && *p == '}') {
		*pp = p + 1;
		return 0;
	}
	for (;;) {
		if (!fp_string(&p, end, &k, &kn) || p >= end || *p++ != ':')
			return -1;
		for (i = 0; i < nkeys; i++)
			if (strncmp(keys[i], k, kn) == 0 && keys[i][kn] == '\0')
				break;
		if (i == nkeys || (seen & (1ul << i)) != 0)
			return -1;
		seen |= 1ul << i;
		if (!fp_value(&p, end, &vals[i]) || p >= end)
			return -1;
		if (*p == '}')
			break;
		if (*p++ != ',')
			return -1;
	}
	*pp = p + 1;
	return (long)seen;
}

/* Matches the literal lit at *pp and moves past it. */
static bool
fp_lit(const char **pp, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n) != 0)
		return false;
	*pp += n;
	return true;
}

/* Reads an unsigned integer at *pp (as fp_value() does). */
static bool
fp_uint(const char **pp, const char *end, uint64_t *u)
{
	struct fp_val v;

	if (!fp_value(pp, end, &v) || v.kind != FP_INT)
		return false;
	*u = v.u;
	return true;
}

/*
 * Reads the entries array at arr (its '[', the array ending at arr_end)
 * into wm, or declines.  Entries are read only in the encoder's form,
 * {"term":N,"index":N,"type":"T","data":"B64"}, in one pass into one
 * allocation sized from the array's length: at most one entry per 43
 * bytes (the shortest one), and at most 3/4 of its bytes of payload.  The
 * payload is not scanned for escapes: strict base64 has no '\', no
 * control and no non-ASCII character, so base64_decode() refuses them.
 */
static bool
fp_entries(const char *arr, const char *arr_end, const struct wire_limits *lim,
    struct wire_msg *wm)
{
	struct raft_msg *m = &wm->msg;
	struct raft_entry *ents, *e;
	const char *p = arr + 1, *q, *ty;
	size_t	 span = (size_t)(arr_end - arr), cap, room, n = 0, len, bad;
	uint8_t	*data;
	int	 t;

	cap = span / 43 + 1;
	room = base64_decoded_max(span);
	if ((wm->mem = malloc(cap * sizeof(*ents) + room + 1)) == NULL)
		return false;
	ents = wm->mem;
	data = (uint8_t *)(ents + cap);
	while (p < arr_end && *p != ']') {
		if (n > 0 && *p++ != ',')
			return false;
		if (n >= cap || n >= lim->max_entries)
			return false;
		e = &ents[n];
		memset(e, 0, sizeof(*e));
		if (!fp_lit(&p, arr_end, "{\"term\":", 8) ||
		    !fp_uint(&p, arr_end, &e->term) ||
		    !fp_lit(&p, arr_end, ",\"index\":", 9) ||
		    !fp_uint(&p, arr_end, &e->index) ||
		    !fp_lit(&p, arr_end, ",\"type\":", 8) ||
		    !fp_string(&p, arr_end, &ty, &len))
			return false;
		if ((t = wire_entry_type_from_name(ty, len)) == 0 ||
		    !fp_lit(&p, arr_end, ",\"data\":\"", 9) ||
		    (q = memchr(p, '"', (size_t)(arr_end - p))) == NULL)
			return false;
		e->type = (uint8_t)t;
		if (e->index != m->prev_index + 1 + n || e->term == 0 ||
		    e->term > m->term ||
		    e->term < (n == 0 ? m->prev_term : e[-1].term))
			return false;
		if (base64_decode(p, (size_t)(q - p), data, room, &len,
		    &bad) != 0 || len > UINT32_MAX)
			return false;
		e->len = (uint32_t)len;
		e->data = len > 0 ? data : NULL;
		data += len;
		room -= len;
		p = q + 1;
		if (!fp_lit(&p, arr_end, "}", 1))
			return false;
		n++;
	}
	/* The array must end where the skip over it ended. */
	if (p + 1 != arr_end || m->prev_index > (uint64_t)INT64_MAX - n)
		return false;
	if (n == 0) {
		free(wm->mem);
		wm->mem = NULL;
		return true;
	}
	m->entries = ents;
	m->n_entries = (uint32_t)n;
	return true;
}

/* All keys a message may have: the header, the fields, "entries". */
#define FP_NKEYS	(3 + WIRE_NFIELDS + 1)

/*
 * Decodes one canonical message object at *pp into *out (zeroed by the
 * caller) and moves *pp past it, or declines (returns false; *out may
 * then hold memory to release).
 */
static bool
fp_message(const char **pp, const char *end, const struct wire_limits *lim,
    struct wire_msg *out)
{
	const char *keys[FP_NKEYS];
	struct fp_val vals[FP_NKEYS];
	struct raft_msg *m = &out->msg;
	unsigned long want;
	size_t	 i;
	long	 seen;
	int	 type;

	keys[0] = "v";
	keys[1] = "type";
	keys[2] = "cluster";
	for (i = 0; i < WIRE_NFIELDS; i++)
		keys[3 + i] = wire_fields[i].name;
	keys[FP_NKEYS - 1] = "entries";
	if ((seen = fp_object(pp, end, keys, FP_NKEYS, vals)) < 0 ||
	    (seen & 7) != 7 || vals[0].kind != FP_INT ||
	    vals[0].u != WIRE_VERSION || vals[1].kind != FP_STR ||
	    vals[2].kind != FP_STR || vals[2].n != 16)
		return false;
	if ((type = wire_type_from_route(vals[1].s, vals[1].n)) == 0)
		return false;
	m->type = (uint8_t)type;
	if (wire_hex16(vals[2].s, &m->cluster_id) != 16 ||
	    m->cluster_id == 0)
		return false;
	/* Exactly the keys this type carries, each of the right kind. */
	want = 7;
	for (i = 0; i < WIRE_NFIELDS; i++) {
		const struct wire_field *f = &wire_fields[i];
		const struct fp_val *v = &vals[3 + i];
		char	*p = (char *)m + f->offset;

		if ((f->types & TYPE_BIT(type)) == 0)
			continue;
		want |= 1ul << (3 + i);
		if ((seen & (1ul << (3 + i))) == 0)
			return false;
		if (f->kind == WIRE_BOOL) {
			if (v->kind != FP_BOOL)
				return false;
			*(bool *)(void *)p = v->u != 0;
			continue;
		}
		if (v->kind != FP_INT || (f->kind == WIRE_NONZERO && v->u == 0))
			return false;
		*(uint64_t *)(void *)p = v->u;
	}
	if (type == RAFT_MSG_APPEND)
		want |= 1ul << (FP_NKEYS - 1);
	if ((unsigned long)seen != want)
		return false;
	if (type != RAFT_MSG_APPEND)
		return true;
	if (m->prev_term > m->term || (m->prev_index == 0 && m->prev_term != 0))
		return false;
	return vals[FP_NKEYS - 1].kind == FP_ARR &&
	    fp_entries(vals[FP_NKEYS - 1].s, vals[FP_NKEYS - 1].s +
	    vals[FP_NKEYS - 1].n, lim, out);
}

/* The fast path for one body; see wire.h. */
bool
wire_decode_fast(const char *body, size_t len, const struct wire_limits *lim,
    struct wire_msg *out)
{
	const char *p = body;

	memset(out, 0, sizeof(*out));
	if (len <= lim->max_body && fp_message(&p, body + len, lim, out) &&
	    p == body + len)
		return true;
	wire_msg_release(out);
	return false;
}

/* The fast path for a batch body; see wire.h. */
bool
wire_decode_batch_fast(const char *body, size_t len,
    const struct wire_limits *lim, struct wire_batch *out)
{
	const char *p = body + 1, *end = body + len;
	struct wire_msg *grown;
	size_t	 cap = 0;

	memset(out, 0, sizeof(*out));
	if (len > lim->max_body || len < 2 || body[0] != '[')
		return false;
	/* Message by message, up to WIRE_MAX_BATCH, comma-separated. */
	for (;;) {
		if (out->n == WIRE_MAX_BATCH)
			goto decline;
		if (out->n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			if ((grown = realloc(out->msgs, cap *
			    sizeof(*grown))) == NULL)
				goto decline;
			out->msgs = grown;
		}
		memset(&out->msgs[out->n], 0, sizeof(*out->msgs));
		if (!fp_message(&p, end, lim, &out->msgs[out->n++]))
			goto decline;
		if (p >= end || *p != ',')
			break;
		p++;
	}
	if (p + 1 == end && *p == ']')
		return true;
decline:
	wire_batch_release(out);
	return false;
}

/* Parses len bytes of body (within lim's max_body) into a JSON value. */
static json_t *
wire_parse_body(const char *body, size_t len, const struct wire_limits *lim,
    int *rc, struct wire_error *err)
{
	json_error_t jerr;
	json_t	*v;

	if (len > lim->max_body) {
		*rc = wire_fail(err, -E2BIG, WIRE_ERR_TOO_BIG, "",
		    "body of %zu bytes, limit %zu", len, lim->max_body);
		return NULL;
	}
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		*rc = wire_fail(err, -EINVAL, WIRE_ERR_JSON, "",
		    "invalid JSON at line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
	return v;
}

/*
 * Decodes and validates one message object (borrowed) into *out, which
 * the caller has zeroed.  On error *out may hold memory to release.
 */
static int
wire_decode_obj(const json_t *obj, const struct wire_limits *lim,
    struct wire_msg *out, struct wire_error *err)
{
	struct raft_msg *m = &out->msg;
	json_t	*v;
	int	 rc = 0, type;

	if (!json_is_object(obj))
		return wire_fail(err, -EINVAL, WIRE_ERR_JSON, "",
		    "message is not a JSON object");
	v = json_object_get(obj, "v");
	if (v == NULL || !json_is_integer(v)) {
		rc = wire_fail(err, -EINVAL, WIRE_ERR_VERSION, "v",
		    v == NULL ? "missing protocol version" :
		    "protocol version is not an integer");
		goto out;
	}
	if (json_integer_value(v) != WIRE_VERSION) {
		rc = wire_fail(err, -EPROTONOSUPPORT, WIRE_ERR_VERSION, "v",
		    "protocol version %" JSON_INTEGER_FORMAT
		    ", this node speaks %d", json_integer_value(v),
		    WIRE_VERSION);
		goto out;
	}
	v = json_object_get(obj, "type");
	if (v == NULL || !json_is_string(v)) {
		rc = wire_fail(err, -EINVAL, WIRE_ERR_TYPE, "type",
		    v == NULL ? "missing" : "not a string");
		goto out;
	}
	type = wire_type_from_route(json_string_value(v),
	    json_string_length(v));
	if (type == 0) {
		rc = wire_fail(err, -EINVAL, WIRE_ERR_TYPE, "type",
		    "unknown message type \"%.40s\"", json_string_value(v));
		goto out;
	}
	m->type = (uint8_t)type;
	if ((rc = wire_parse_cluster(json_object_get(obj, "cluster"),
	    &m->cluster_id, err)) != 0)
		goto out;
	if ((rc = wire_decode_fields(obj, m, err)) != 0)
		goto out;
	if (m->type == RAFT_MSG_APPEND) {
		if (m->prev_term > m->term) {
			rc = wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES,
			    "prev_term", "%" PRIu64 " above the message term %"
			    PRIu64, m->prev_term, m->term);
			goto out;
		}
		if (m->prev_index == 0 && m->prev_term != 0) {
			rc = wire_fail(err, -EINVAL, WIRE_ERR_ENTRIES,
			    "prev_term", "prev_index %" PRIu64 " with "
			    "prev_term %" PRIu64, m->prev_index, m->prev_term);
			goto out;
		}
		rc = wire_decode_entries(obj, lim, out, err);
	}
out:
	return rc;
}

/* Clears *err after a success (err may be NULL). */
static void
wire_ok(struct wire_error *err)
{
	if (err != NULL) {
		err->code = WIRE_OK;
		err->path[0] = err->text[0] = '\0';
	}
}

/* Returns lim, or the defaults written into *buf when lim is NULL. */
static const struct wire_limits *
wire_limits_or(const struct wire_limits *lim, struct wire_limits *buf)
{
	if (lim != NULL)
		return lim;
	wire_limits_defaults(buf);
	return buf;
}

/* Decodes and validates one message body: the fast path, else jansson. */
int
wire_decode(const char *body, size_t len, const struct wire_limits *lim,
    struct wire_msg *out, struct wire_error *err)
{
	struct wire_limits defaults;

	lim = wire_limits_or(lim, &defaults);
	if (wire_decode_fast(body, len, lim, out)) {
		wire_ok(err);
		return 0;
	}
	return wire_decode_json(body, len, lim, out, err);
}

/* The jansson path alone; see wire.h. */
int
wire_decode_json(const char *body, size_t len, const struct wire_limits *lim,
    struct wire_msg *out, struct wire_error *err)
{
	struct wire_limits defaults;
	json_t	*obj;
	int	 rc = 0;

	memset(out, 0, sizeof(*out));
	lim = wire_limits_or(lim, &defaults);
	if ((obj = wire_parse_body(body, len, lim, &rc, err)) == NULL)
		return rc;
	if (!json_is_object(obj))
		rc = wire_fail(err, -EINVAL, WIRE_ERR_JSON, "",
		    "body is not a JSON object");
	else
		rc = wire_decode_obj(obj, lim, out, err);
	json_decref(obj);
	if (rc != 0)
		wire_msg_release(out);
	else
		wire_ok(err);
	return rc;
}

/* Decodes and validates a batch body: the fast path, else jansson. */
int
wire_decode_batch(const char *body, size_t len, const struct wire_limits *lim,
    struct wire_batch *out, struct wire_error *err)
{
	struct wire_limits defaults;

	lim = wire_limits_or(lim, &defaults);
	if (wire_decode_batch_fast(body, len, lim, out)) {
		wire_ok(err);
		return 0;
	}
	return wire_decode_batch_json(body, len, lim, out, err);
}

/* The jansson path alone for a batch; see wire.h. */
int
wire_decode_batch_json(const char *body, size_t len,
    const struct wire_limits *lim, struct wire_batch *out,
    struct wire_error *err)
{
	struct wire_limits defaults;
	struct wire_error inner;
	json_t	*arr;
	size_t	 i, n;
	int	 rc = 0;

	memset(out, 0, sizeof(*out));
	lim = wire_limits_or(lim, &defaults);
	if ((arr = wire_parse_body(body, len, lim, &rc, err)) == NULL)
		return rc;
	n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (!json_is_array(arr)) {
		rc = wire_fail(err, -EINVAL, WIRE_ERR_JSON, "",
		    "batch body is not a JSON array");
		goto out;
	}
	if (n == 0 || n > WIRE_MAX_BATCH) {
		rc = wire_fail(err, n == 0 ? -EINVAL : -E2BIG,
		    n == 0 ? WIRE_ERR_JSON : WIRE_ERR_TOO_BIG, "",
		    "a batch of %zu messages (1..%u allowed)", n,
		    WIRE_MAX_BATCH);
		goto out;
	}
	if ((out->msgs = calloc(n, sizeof(*out->msgs))) == NULL) {
		rc = wire_fail(err, -ENOMEM, WIRE_ERR_NOMEM, "",
		    "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		out->n = i + 1;
		rc = wire_decode_obj(json_array_get(arr, i), lim,
		    &out->msgs[i], &inner);
		if (rc == 0)
			continue;
		/* Name the element: "[3].entries[0].data: ...". */
		if (err != NULL) {
			err->code = inner.code;
			snprintf(err->path, sizeof(err->path), "[%zu]%s%.48s", i,
			    inner.path[0] != '\0' ? "." : "", inner.path);
			snprintf(err->text, sizeof(err->text), "[%zu]%s%.180s",
			    i, inner.path[0] != '\0' ? "." : ": ", inner.text);
		}
		goto out;
	}
out:
	json_decref(arr);
	if (rc != 0)
		wire_batch_release(out);
	else
		wire_ok(err);
	return rc;
}

/* Frees every message of a decoded batch and zeroes it.  NULL-safe. */
void
wire_batch_release(struct wire_batch *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		wire_msg_release(&b->msgs[i]);
	free(b->msgs);
	memset(b, 0, sizeof(*b));
}

/* Frees the memory of a decoded message. */
void
wire_msg_release(struct wire_msg *wm)
{
	if (wm == NULL)
		return;
	free(wm->mem);
	memset(wm, 0, sizeof(*wm));
}
