/*
 * wire.h -- the JSON encoding of Raft messages between peers.
 *
 * One struct raft_msg travels as one JSON object (schema in
 * docs/protocol.md): {"v":1,"type":"append_entries","cluster":"<16 hex>",
 * "from":1,"to":2,"term":3,...}.  Integers are JSON integers in
 * [0, INT64_MAX]; entry payloads are strict base64.  The decoder trusts
 * nothing: every field of the message type must be present with the right
 * JSON type, unknown fields are refused, and the log positions must make
 * sense.  A refusal fills a struct wire_error (like jansson's json_error_t)
 * with a stable code, the path of the bad field and a sentence.
 *
 * Errors are negative errno values: -EINVAL malformed, -EPROTONOSUPPORT a
 * version this node does not speak, -E2BIG over a limit, -ERANGE an integer
 * that does not fit the wire, -ENOMEM.
 */
#ifndef RAFTKV_WIRE_H
#define RAFTKV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

struct evbuffer;

#define WIRE_VERSION		2
#define WIRE_MAX_BODY_DEFAULT	(16u * 1024 * 1024)
#define WIRE_MAX_ENTRIES_DEFAULT 4096u

/* Why a body was refused; wire_errcode_name() gives the stable string. */
enum wire_errcode {
	WIRE_OK = 0,
	WIRE_ERR_JSON,		/* not JSON, or not an object */
	WIRE_ERR_TOO_BIG,	/* body or entry count over a limit */
	WIRE_ERR_VERSION,	/* "v" is not WIRE_VERSION */
	WIRE_ERR_TYPE,		/* unknown message type */
	WIRE_ERR_FIELD,		/* missing, unknown or mistyped field */
	WIRE_ERR_RANGE,		/* an integer out of range or a zero id */
	WIRE_ERR_ENTRIES,	/* entries inconsistent with the message */
	WIRE_ERR_BASE64,	/* an entry payload is not valid base64 */
	WIRE_ERR_NOMEM,
	WIRE_ERR_MAX = WIRE_ERR_NOMEM,
};

struct wire_error {
	enum wire_errcode code;
	char		 path[64];	/* e.g. "entries[3].data"; "" for the body */
	char		 text[192];	/* one sentence, path included */
};

/* Returns a constant snake_case name for code (e.g. "bad_version"). */
const char	*wire_errcode_name(enum wire_errcode code);

struct wire_limits {
	size_t		 max_body;	/* bytes of JSON */
	uint32_t	 max_entries;	/* entries in one APPEND */
};

/* Fills *lim with the defaults above. */
void	 wire_limits_defaults(struct wire_limits *lim);

/*
 * The route name of a message type ("append_entries", ...), used both as
 * the JSON "type" and as the last path segment of /raft/v1/<route>.
 * Returns a constant string, or NULL for an unknown type.
 */
const char	*wire_type_route(int type);
/* The message type named by route (n bytes, borrowed), or 0 if none. */
int	 wire_type_from_route(const char *route, size_t n);

/*
 * A decoded message.  msg.entries and the entries' data point into mem,
 * one allocation owned by the struct and freed by wire_msg_release().
 */
struct wire_msg {
	struct raft_msg	 msg;
	void		*mem;
};

/*
 * Appends the JSON encoding of m (borrowed) to out (borrowed).  Returns 0,
 * -EINVAL (unknown type, entries without an array), -ERANGE (an integer
 * above INT64_MAX) or -ENOMEM, with *err filled (err may be NULL).  On
 * error, out may hold a partial body: the caller discards it.
 */
int	 wire_encode(const struct raft_msg *m, struct evbuffer *out,
	    struct wire_error *err);

/*
 * An encoder's memory of the entries it wrote, so that a leader sending
 * the same entries to several followers base64-encodes each once and
 * copies it after.  It keeps the JSON of the last WIRE_CACHE_SLOTS (1024)
 * entries by index, each at most 4 KiB.  Owned by one event loop.
 */
struct wire_cache;

struct wire_cache_stats {
	uint64_t	 encoded;	/* entries encoded (and kept) */
	uint64_t	 reused;	/* entries copied from the cache */
};

/* Returns a new empty cache, or NULL without memory. */
struct wire_cache *wire_cache_new(void);
/* Frees c.  NULL-safe. */
void	 wire_cache_free(struct wire_cache *c);
void	 wire_cache_get_stats(const struct wire_cache *c,
	    struct wire_cache_stats *st);

/*
 * wire_encode(), but an APPEND entry that c holds (same index, term, type
 * and length) is copied from it instead of encoded again, and the others
 * are kept in it.  The bytes written are the same.  c may be NULL.
 */
int	 wire_encode_cached(const struct raft_msg *m, struct evbuffer *out,
	    struct wire_cache *c, struct wire_error *err);

/*
 * Decodes and validates len bytes of body (borrowed; no NUL needed) into
 * *out (caller-owned struct; on success it owns new memory, release it
 * with wire_msg_release()).  lim is borrowed.  Returns 0 or a negative
 * error with *err filled; on error *out holds nothing to release.
 */
int	 wire_decode(const char *body, size_t len, const struct wire_limits *lim,
	    struct wire_msg *out, struct wire_error *err);

/* Frees what wire_decode() allocated in wm and zeroes it.  NULL-safe. */
void	 wire_msg_release(struct wire_msg *wm);

/*
 * A batch: several messages to one peer in one request, the body a JSON
 * array of message objects, each exactly what wire_encode() writes, in
 * the order they were sent (POST /raft/v1/batch, docs/protocol.md).  The
 * sender joins encoded messages itself: "[" body "," body ... "]".
 */
#define WIRE_BATCH_ROUTE	"batch"
#define WIRE_MAX_BATCH		256u

struct wire_batch {
	struct wire_msg	*msgs;
	size_t		 n;
};

/*
 * Decodes and validates a batch body like wire_decode() does one message:
 * all of it or nothing.  An error in element i has path "[i]" or
 * "[i].<field>".  On success *out (caller-owned struct) owns new memory,
 * released with wire_batch_release(); on error it holds nothing.
 */
int	 wire_decode_batch(const char *body, size_t len,
	    const struct wire_limits *lim, struct wire_batch *out,
	    struct wire_error *err);

/* Frees what wire_decode_batch() allocated and zeroes *b.  NULL-safe. */
void	 wire_batch_release(struct wire_batch *b);

/*
 * The fast paths wire_decode() and wire_decode_batch() try first: they
 * read only the canonical form wire_encode() writes, allocate nothing but
 * the messages' own memory, and decline (return false, *out holding
 * nothing) anything else, valid or not.  What they accept, the jansson
 * path accepts with the same result.  lim must not be NULL.  Exposed for
 * tests/test-wire.c.
 */
bool	 wire_decode_fast(const char *body, size_t len,
	    const struct wire_limits *lim, struct wire_msg *out);
bool	 wire_decode_batch_fast(const char *body, size_t len,
	    const struct wire_limits *lim, struct wire_batch *out);
/* The jansson paths alone, for the same tests: the reference. */
int	 wire_decode_json(const char *body, size_t len,
	    const struct wire_limits *lim, struct wire_msg *out,
	    struct wire_error *err);
int	 wire_decode_batch_json(const char *body, size_t len,
	    const struct wire_limits *lim, struct wire_batch *out,
	    struct wire_error *err);

#endif /* RAFTKV_WIRE_H */
