/*
 * test-wire.c -- the JSON wire format: data-driven valid/invalid suites in
 * tests/wire/, seeded random round trips of every message type, limits,
 * and the encode+decode time of a 64-entry AppendEntries.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "file-util.h"
#include "raft.h"
#include "tap.h"
#include "wire.h"
#include "wire-util.h"

#ifndef WIRE_TESTDIR
#define WIRE_TESTDIR "tests/wire"
#endif

/* The limits the data-driven files are written against. */
static const struct wire_limits test_limits = {
	.max_body = 64 * 1024,
	.max_entries = 8,
};

/* xorshift64*: a seeded generator so that a failure replays. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Encodes m into a new NUL-terminated string (caller frees) or NULL. */
static char *
encode_string(const struct raft_msg *m, size_t *len)
{
	struct evbuffer *b = evbuffer_new();
	char	*s = NULL;

	if (b != NULL && wire_encode(m, b, NULL) == 0) {
		*len = evbuffer_get_length(b);
		if ((s = malloc(*len + 1)) != NULL) {
			evbuffer_remove(b, s, *len);
			s[*len] = '\0';
		}
	}
	evbuffer_free(b);
	return s;
}

/* The fast path agrees with the jansson path on body (wire-util.h). */
static bool
fast_agrees(const char *body, size_t len)
{
	return wire_paths_agree(body, len, &test_limits, false);
}

/* The same for batch bodies. */
static bool
fast_batch_agrees(const char *body, size_t len)
{
	return wire_paths_agree(body, len, &test_limits, true);
}

/* Checks one valid file: decodes, re-encodes to equal JSON and message. */
static void
check_valid(struct tap *t, const char *name, const char *body, size_t len)
{
	struct wire_msg wm, again;
	struct wire_error err;
	json_t	*orig = NULL, *re = NULL;
	char	*enc = NULL;
	size_t	 elen = 0;
	int	 rc;

	rc = wire_decode(body, len, &test_limits, &wm, &err);
	is_int(t, rc, 0, "valid/%s decodes", name);
	if (rc != 0) {
		diag("%s: %s", wire_errcode_name(err.code), err.text);
		return;
	}
	enc = encode_string(&wm.msg, &elen);
	orig = json_loadb(body, len, 0, NULL);
	re = enc != NULL ? json_loadb(enc, elen, 0, NULL) : NULL;
	ok(t, re != NULL && json_equal(orig, re),
	    "valid/%s re-encodes to equal JSON", name);
	ok(t, fast_agrees(body, len), "valid/%s: the fast path agrees",
	    name);
	if (enc != NULL) {
		ok(t, wire_decode_fast(enc, elen, &test_limits, &again),
		    "valid/%s: its canonical encoding takes the fast path",
		    name);
		if (again.mem != NULL || again.msg.type != 0)
			wire_msg_release(&again);
	}
	rc = enc != NULL ? wire_decode(enc, elen, &test_limits, &again, &err) :
	    -1;
	ok(t, rc == 0 && msg_equal(&wm.msg, &again.msg),
	    "valid/%s decodes again to the same message", name);
	if (rc == 0)
		wire_msg_release(&again);
	json_decref(orig);
	json_decref(re);
	free(enc);
	wire_msg_release(&wm);
}

/*
 * The files are pretty-printed, which the fast path declines at once; the
 * same message written compactly, in the file's key order, is what it
 * reads.  Such a compact copy of an invalid file must be refused with the
 * same code, and declined by the fast path.  (Files that are not JSON, or
 * have duplicate keys, have no compact copy.)
 */
static void
check_invalid_compact(struct tap *t, const char *name, const char *body,
    size_t len, size_t want_len)
{
	struct wire_msg wm;
	struct wire_error err;
	json_t	*j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	char	*c = j != NULL ? json_dumps(j, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) : NULL;
	const char *got;
	int	 rc;

	json_decref(j);
	if (c == NULL)
		return;
	rc = wire_decode(c, strlen(c), &test_limits, &wm, &err);
	got = wire_errcode_name(err.code);
	ok(t, rc < 0 && strlen(got) == want_len &&
	    strncmp(got, name, want_len) == 0 &&
	    !wire_decode_fast(c, strlen(c), &test_limits, &wm) &&
	    fast_agrees(c, strlen(c)), "invalid/%s written compactly: "
	    "refused the same way, and declined by the fast path", name);
	if (rc == 0)
		wire_msg_release(&wm);
	free(c);
}

/*
 * Checks one invalid file: it must be refused, with the error code its
 * name starts with (e.g. "bad_base64-...").
 */
static void
check_invalid(struct tap *t, const char *name, const char *body, size_t len)
{
	struct wire_msg wm;
	struct wire_error err;
	const char *want_end = strchr(name, '-');
	size_t	 want_len = want_end != NULL ? (size_t)(want_end - name) : 0;
	const char *got;
	int	 rc;

	memset(&err, 0, sizeof(err));
	rc = wire_decode(body, len, &test_limits, &wm, &err);
	ok(t, rc < 0, "invalid/%s is refused", name);
	ok(t, !wire_decode_fast(body, len, &test_limits, &wm) &&
	    fast_agrees(body, len), "invalid/%s: the fast path declines it",
	    name);
	check_invalid_compact(t, name, body, len, want_len);
	got = wire_errcode_name(err.code);
	ok(t, strlen(got) == want_len && strncmp(got, name, want_len) == 0 &&
	    err.text[0] != '\0', "invalid/%s says %s: %s", name, got, err.text);
	if (rc == 0)
		wire_msg_release(&wm);
}

/* Runs every *.json file of dir through fn; returns how many ran. */
static unsigned
run_dir(struct tap *t, const char *dir,
    void (*fn)(struct tap *, const char *, const char *, size_t))
{
	char	 path[1024];
	struct dirent **names = NULL;
	char	*body;
	size_t	 len, l;
	unsigned count = 0;
	int	 n, i;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		ok(t, 0, "cannot read %s: %s", dir, strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		l = strlen(names[i]->d_name);
		if (l > 5 && strcmp(names[i]->d_name + l - 5, ".json") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    names[i]->d_name);
			if ((body = tf_read_file(path, &len)) == NULL)
				ok(t, 0, "cannot read %s", path);
			else {
				fn(t, names[i]->d_name, body, len);
				free(body);
				count++;
			}
		}
		free(names[i]);
	}
	free(names);
	return count;
}

/* Fills m with a random but valid message of type (entries in ents). */
static void
random_msg(uint64_t *s, int type, struct raft_msg *m, struct raft_entry *ents,
    uint8_t *pool, size_t pool_len)
{
	uint32_t i, n;
	uint64_t lim = INT64_MAX;

	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	m->cluster_id = next_rand(s) | 1;
	m->from = next_rand(s) % lim + 1;
	m->to = next_rand(s) % lim + 1;
	m->term = next_rand(s) % 2 ? next_rand(s) % 1000 + 1 :
	    next_rand(s) % (lim - 1) + 1;
	switch (type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		m->last_log_index = next_rand(s) % lim;
		m->last_log_term = next_rand(s) % lim;
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		m->reject = next_rand(s) % 2;
		break;
	case RAFT_MSG_APPEND:
		n = (uint32_t)(next_rand(s) % 9);
		m->prev_index = next_rand(s) % 1000000;
		m->prev_term = m->prev_index == 0 ? 0 :
		    next_rand(s) % m->term + 1;
		m->commit = next_rand(s) % lim;
		m->seq = next_rand(s) % lim;
		for (i = 0; i < n; i++) {
			raft_term_t lo = i == 0 ? m->prev_term : ents[i - 1].term;

			if (lo == 0)
				lo = 1;
			ents[i].term = lo + next_rand(s) % (m->term - lo + 1);
			ents[i].index = m->prev_index + 1 + i;
			ents[i].type = (uint8_t)(next_rand(s) % 3 + 1);
			ents[i].len = (uint32_t)(next_rand(s) % 300);
			ents[i].data = pool + next_rand(s) %
			    (pool_len - ents[i].len);
		}
		m->n_entries = n;
		m->entries = n > 0 ? ents : NULL;
		break;
	case RAFT_MSG_APPEND_RESP:
		m->reject = next_rand(s) % 2;
		m->prev_index = next_rand(s) % lim;
		m->match_index = next_rand(s) % lim;
		m->hint_index = next_rand(s) % lim;
		m->hint_term = next_rand(s) % lim;
		m->seq = next_rand(s) % lim;
		break;
	}
}

/* Seeded round trips of every type. */
static void
check_random(struct tap *t, uint64_t seed)
{
	struct raft_entry ents[8];
	struct raft_msg m;
	struct wire_msg wm;
	uint8_t	 pool[4096];
	char	*enc;
	size_t	 i, len;
	int	 type, bad;

	diag("random round trips, seed 0x%" PRIx64, seed);
	for (i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)next_rand(&seed);
	for (type = 1; type <= RAFT_MSG_TYPE_MAX; type++) {
		if (type == RAFT_MSG_SNAPSHOT)
			continue;	/* a file transfer, not JSON */
		bad = 0;
		for (i = 0; i < 300; i++) {
			random_msg(&seed, type, &m, ents, pool, sizeof(pool));
			if ((enc = encode_string(&m, &len)) == NULL) {
				bad++;
				continue;
			}
			if (!wire_decode_fast(enc, len, &test_limits, &wm))
				bad++;
			else {
				if (!msg_equal(&m, &wm.msg))
					bad++;
				wire_msg_release(&wm);
			}
			if (wire_decode_json(enc, len, &test_limits, &wm,
			    NULL) != 0)
				bad++;
			else {
				if (!msg_equal(&m, &wm.msg))
					bad++;
				wire_msg_release(&wm);
			}
			free(enc);
		}
		is_int(t, bad, 0, "300 random %s round trips, fast path "
		    "and jansson path",
		    wire_type_route(type));
	}
}

/* Encodes m through cache c into b and returns it as a string (freed by
 * the caller), after checking it equals the uncached encoding. */
static bool
cached_equals_plain(const struct raft_msg *m, struct wire_cache *c,
    struct evbuffer *b)
{
	char	*plain;
	size_t	 len;
	bool	 same;

	if ((plain = encode_string(m, &len)) == NULL)
		return false;
	same = wire_encode_cached(m, b, c, NULL) == 0 &&
	    evbuffer_get_length(b) == len &&
	    memcmp(evbuffer_pullup(b, -1), plain, len) == 0;
	evbuffer_drain(b, evbuffer_get_length(b));
	free(plain);
	return same;
}

/*
 * The encoder's entry cache: an entry sent to another follower is copied
 * from it, a different entry at the same index is encoded anew, and the
 * bytes are always those the uncached encoder writes.
 */
static void
check_cache(struct tap *t, uint64_t seed)
{
	struct raft_entry ents[8], copy[8], big;
	struct raft_msg m, hb, part;
	struct wire_cache *c = wire_cache_new();
	struct wire_cache_stats st;
	struct evbuffer *b = evbuffer_new(), *held = evbuffer_new();
	uint8_t	 pool[4096], *large = calloc(1, 8192);
	char	*plain;
	size_t	 i, len;
	uint32_t n;
	int	 bad = 0;

	for (i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)next_rand(&seed);
	do
		random_msg(&seed, RAFT_MSG_APPEND, &m, ents, pool,
		    sizeof(pool));
	while (m.n_entries < 4);
	n = m.n_entries;
	m.to = 2;
	ok(t, cached_equals_plain(&m, c, b), "new entries: the plain bytes");
	m.to = 3;
	ok(t, cached_equals_plain(&m, c, b), "the same entries to another "
	    "follower: the plain bytes");
	wire_cache_get_stats(c, &st);
	ok(t, st.encoded == n && st.reused == n, "each encoded once, copied "
	    "once (%" PRIu64 ", %" PRIu64 " of %" PRIu32 ")", st.encoded,
	    st.reused, n);

	/* Another follower's span: the last two, then one more. */
	part = m;
	part.prev_index = ents[n - 3].index;
	part.prev_term = ents[n - 3].term;
	memcpy(copy, ents + n - 2, 2 * sizeof(copy[0]));
	copy[2] = copy[1];
	copy[2].index++;
	part.entries = copy;
	part.n_entries = 3;
	ok(t, cached_equals_plain(&part, c, b), "an overlapping span: the "
	    "plain bytes");
	wire_cache_get_stats(c, &st);
	ok(t, st.encoded == n + 1 && st.reused == n + 2, "only the new entry "
	    "is encoded (%" PRIu64 ", %" PRIu64 ")", st.encoded, st.reused);

	/* The same indexes in a later term (a new leader's entries). */
	memcpy(copy, ents, sizeof(copy));
	m.entries = copy;
	copy[n - 1].term++;
	m.term = copy[n - 1].term;
	ok(t, cached_equals_plain(&m, c, b), "another term at an index: the "
	    "plain bytes");
	/* A heartbeat has no entries: it neither uses nor fills the cache. */
	hb = m;
	hb.n_entries = 0;
	hb.entries = NULL;
	ok(t, cached_equals_plain(&hb, c, b), "a heartbeat: the plain bytes");
	wire_cache_get_stats(c, &st);
	ok(t, st.encoded == n + 2 && st.reused == 2 * n + 1, "a different "
	    "entry at a cached index is encoded (%" PRIu64 ", %" PRIu64 ")",
	    st.encoded, st.reused);

	/* An entry too long to keep is encoded each time. */
	big = copy[0];
	big.index = 1000000;
	big.len = 8000;
	big.data = large;
	part.prev_index = big.index - 1;
	part.entries = &big;
	part.n_entries = 1;
	ok(t, cached_equals_plain(&part, c, b) &&
	    cached_equals_plain(&part, c, b), "a long entry: the plain bytes");
	wire_cache_get_stats(c, &st);
	ok(t, st.encoded == n + 4 && st.reused == 2 * n + 1, "a long entry "
	    "is not kept (%" PRIu64 ", %" PRIu64 ")", st.encoded, st.reused);

	/* A body outlives the cache that encoded it. */
	if (wire_encode_cached(&m, held, c, NULL) != 0)
		bad++;
	wire_cache_free(c);
	if ((plain = encode_string(&m, &len)) == NULL ||
	    evbuffer_get_length(held) != len ||
	    memcmp(evbuffer_pullup(held, -1), plain, len) != 0)
		bad++;
	free(plain);
	is_int(t, bad, 0, "a body outlives the cache that encoded it");

	/* Random messages, each sent to one to three followers. */
	c = wire_cache_new();
	for (i = 0, bad = 0; i < 300; i++) {
		unsigned k, copies = (unsigned)(next_rand(&seed) % 3) + 1;

		random_msg(&seed, RAFT_MSG_APPEND, &m, ents, pool,
		    sizeof(pool));
		for (k = 0; k < copies; k++) {
			m.to = k + 2;
			if (!cached_equals_plain(&m, c, b))
				bad++;
		}
	}
	is_int(t, bad, 0, "300 random messages to 1-3 followers: the plain "
	    "bytes");
	wire_cache_free(c);
	free(large);
	evbuffer_free(held);
	evbuffer_free(b);
}

/* Encoding refuses what the wire cannot carry. */
static void
check_encode_errors(struct tap *t)
{
	struct evbuffer *b = evbuffer_new();
	struct wire_error err;
	struct raft_msg m;
	struct raft_entry e = { .term = 1, .index = 1, .type = 9 };

	memset(&m, 0, sizeof(m));
	m.type = 0;
	is_int(t, wire_encode(&m, b, &err), -EINVAL, "encode: unknown type");
	m.type = RAFT_MSG_VOTE;
	m.cluster_id = 1;
	m.from = 1;
	m.to = 2;
	m.term = (uint64_t)INT64_MAX + 1;
	is_int(t, wire_encode(&m, b, &err), -ERANGE, "encode: term > INT64_MAX");
	is_str(t, err.path, "term", "encode: the path names the field");
	m.term = 1;
	m.type = RAFT_MSG_APPEND;
	m.n_entries = 1;
	m.entries = &e;
	is_int(t, wire_encode(&m, b, &err), -EINVAL,
	    "encode: unknown entry type");
	is_str(t, err.path, "entries[0]", "encode: path of the bad entry");
	evbuffer_free(b);
}

/* Limits: body size against max_body. */
static void
check_limits(struct tap *t)
{
	struct wire_limits lim = { .max_body = 100, .max_entries = 8 };
	struct wire_error err;
	struct wire_msg wm;
	char	 big[101];

	memset(big, ' ', sizeof(big));
	is_int(t, wire_decode(big, sizeof(big), &lim, &wm, &err), -E2BIG,
	    "a body over max_body is refused before parsing");
	is_str(t, wire_errcode_name(err.code), "too_big", "as too_big");
	is_int(t, wire_decode("{}", 2, NULL, &wm, &err), -EINVAL,
	    "NULL limits use the defaults");
	is_str(t, err.path, "v", "{} lacks the version");
	is_int(t, wire_type_from_route("append_entries", 14), RAFT_MSG_APPEND,
	    "route table: append_entries");
	is_int(t, wire_type_from_route("append_entries_x", 16), 0,
	    "route table: unknown route");
	ok(t, wire_type_route(RAFT_MSG_SNAPSHOT) == NULL &&
	    wire_type_from_route(raft_msg_type_name(RAFT_MSG_SNAPSHOT),
	    strlen(raft_msg_type_name(RAFT_MSG_SNAPSHOT))) == 0,
	    "InstallSnapshot has no JSON route (it is a file transfer)");
	{
		struct raft_msg sm;
		struct evbuffer *eb = evbuffer_new();

		memset(&sm, 0, sizeof(sm));
		sm.type = RAFT_MSG_SNAPSHOT;
		sm.cluster_id = 1;
		sm.from = 1;
		sm.to = 2;
		sm.term = 3;
		sm.snap_index = 10;
		sm.snap_term = 2;
		is_int(t, wire_encode(&sm, eb, &err), -EINVAL,
		    "an InstallSnapshot message is never encoded as JSON");
		evbuffer_free(eb);
	}
}

/* Characters a mutation writes: JSON's own, and a few that break it. */
static const char mut_chars[] = "{}[]\":,0123456789-+.eEtrufalsn \\/abcxyz\x01\x80";

/* Applies 1..3 random edits to buf (len bytes, room for 16 more). */
static size_t
mutate(uint64_t *s, char *buf, size_t len)
{
	int	 edits = 1 + (int)(next_rand(s) % 3), e;
	size_t	 at;

	for (e = 0; e < edits && len > 0; e++) {
		at = next_rand(s) % len;
		switch (next_rand(s) % 4) {
		case 0:		/* overwrite */
			buf[at] = mut_chars[next_rand(s) %
			    (sizeof(mut_chars) - 1)];
			break;
		case 1:		/* delete */
			memmove(buf + at, buf + at + 1, len - at - 1);
			len--;
			break;
		case 2:		/* insert */
			memmove(buf + at + 1, buf + at, len - at);
			buf[at] = mut_chars[next_rand(s) %
			    (sizeof(mut_chars) - 1)];
			len++;
			break;
		default:	/* a digit becomes another */
			if (buf[at] >= '0' && buf[at] <= '9')
				buf[at] = (char)('0' + next_rand(s) % 10);
			break;
		}
	}
	return len;
}

/*
 * Differential check of the fast path: thousands of mutated encodings of
 * random messages and batches, each decoded by both paths.
 */
static void
check_fast_mutations(struct tap *t, uint64_t seed)
{
	struct raft_entry ents[8];
	struct raft_msg m;
	uint8_t	 pool[4096];
	char	*enc, *buf, *batch;
	size_t	 i, j, len, blen;
	unsigned disagree = 0, bdisagree = 0, took = 0;
	struct wire_msg wm;
	int	 type;

	for (i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)next_rand(&seed);
	for (i = 0; i < 6000; i++) {
		do
			type = 1 + (int)(next_rand(&seed) % RAFT_MSG_TYPE_MAX);
		while (type == RAFT_MSG_SNAPSHOT);
		random_msg(&seed, type, &m, ents, pool, sizeof(pool));
		if ((enc = encode_string(&m, &len)) == NULL)
			continue;
		if ((buf = malloc(len + 16)) == NULL) {
			free(enc);
			continue;
		}
		memcpy(buf, enc, len);
		len = mutate(&seed, buf, len);
		if (!fast_agrees(buf, len))
			disagree++;
		if (wire_decode_fast(buf, len, &test_limits, &wm)) {
			took++;
			wire_msg_release(&wm);
		}
		/* A batch of the original and the mutant, both ways round. */
		blen = 2 * len + 64;
		if ((batch = malloc(blen)) != NULL) {
			j = (size_t)snprintf(batch, blen, "[%s,%.*s]", enc,
			    (int)len, buf);
			if (j < blen && !fast_batch_agrees(batch, j))
				bdisagree++;
			free(batch);
		}
		free(buf);
		free(enc);
	}
	is_int(t, disagree, 0, "6000 mutated messages: the fast path never "
	    "accepts what jansson refuses, nor decodes differently");
	is_int(t, bdisagree, 0, "6000 mutated batches: the same");
	ok(t, took > 0, "some mutants are still canonical and valid (%u)",
	    took);
}

/* Batches: round trips, and what is refused. */
static void
check_batches(struct tap *t, uint64_t seed)
{
	struct raft_entry ents[8];
	struct raft_msg msgs[5];
	struct raft_entry store[5][8];
	struct wire_batch b;
	struct wire_error err;
	struct evbuffer *body = evbuffer_new();
	uint8_t	 pool[4096];
	char	*text, *one;
	size_t	 i, len, olen;
	int	 rc, bad = 0;

	for (i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)next_rand(&seed);
	evbuffer_add(body, "[", 1);
	for (i = 0; i < 5; i++) {
		random_msg(&seed, i % 2 ? RAFT_MSG_APPEND_RESP :
		    RAFT_MSG_APPEND, &msgs[i], ents, pool, sizeof(pool));
		memcpy(store[i], ents, sizeof(ents));
		msgs[i].entries = msgs[i].n_entries > 0 ? store[i] : NULL;
		if (i > 0)
			evbuffer_add(body, ",", 1);
		if (wire_encode(&msgs[i], body, NULL) != 0)
			bad++;
	}
	evbuffer_add(body, "]", 1);
	len = evbuffer_get_length(body);
	text = (char *)evbuffer_pullup(body, -1);
	rc = wire_decode_batch(text, len, &test_limits, &b, &err);
	is_int(t, rc, 0, "a batch of 5 decodes");
	if (rc == 0) {
		ok(t, b.n == 5, "  into 5 messages");
		for (i = 0; i < b.n && i < 5; i++)
			if (!msg_equal(&msgs[i], &b.msgs[i].msg))
				bad++;
		is_int(t, bad, 0, "  each equal to what was encoded, in order");
		wire_batch_release(&b);
	}
	ok(t, wire_decode_batch_fast(text, len, &test_limits, &b),
	    "the canonical batch takes the fast path");
	wire_batch_release(&b);
	ok(t, fast_batch_agrees(text, len), "and both paths agree on it");

	/* A bad second message: the whole batch is refused. */
	olen = (size_t)snprintf(NULL, 0, "[%.*s,{\"v\":3}]", (int)len - 2,
	    text + 1);
	if ((one = malloc(olen + 1)) != NULL) {
		snprintf(one, olen + 1, "[%.*s,{\"v\":3}]", (int)len - 2,
		    text + 1);
		rc = wire_decode_batch(one, olen, &test_limits, &b, &err);
		ok(t, rc < 0 && b.n == 0 && b.msgs == NULL,
		    "a batch with one bad message is refused whole");
		ok(t, strcmp(err.path, "[5].v") == 0 &&
		    err.code == WIRE_ERR_VERSION, "  and the error names the "
		    "element: %s", err.text);
		free(one);
	}
	rc = wire_decode_batch("[]", 2, &test_limits, &b, &err);
	ok(t, rc < 0 && err.code == WIRE_ERR_JSON, "an empty batch is "
	    "refused: %s", err.text);
	rc = wire_decode_batch("{}", 2, &test_limits, &b, &err);
	ok(t, rc < 0 && err.code == WIRE_ERR_JSON, "a batch that is not an "
	    "array is refused: %s", err.text);
	evbuffer_drain(body, evbuffer_get_length(body));
	evbuffer_add(body, "[", 1);
	for (i = 0; i <= WIRE_MAX_BATCH; i++) {
		if (i > 0)
			evbuffer_add(body, ",", 1);
		(void)wire_encode(&msgs[1], body, NULL);
	}
	evbuffer_add(body, "]", 1);
	len = evbuffer_get_length(body);
	text = (char *)evbuffer_pullup(body, -1);
	rc = wire_decode_batch(text, len, &test_limits, &b, &err);
	ok(t, rc == -E2BIG && err.code == WIRE_ERR_TOO_BIG, "a batch of %u "
	    "messages is refused: %s", WIRE_MAX_BATCH + 1, err.text);
	evbuffer_free(body);
}

/* Times encode+decode of a 64-entry, 256-byte-payload AppendEntries. */
static void
bench(struct tap *t)
{
	struct raft_entry ents[64];
	struct raft_msg m;
	struct wire_msg wm;
	struct evbuffer *b = evbuffer_new();
	struct timespec t0, t1, t2, t3;
	uint8_t	 payload[256];
	double	 enc_us = 0, dec_us = 0, json_us = 0;
	size_t	 len = 0;
#if defined(__SANITIZE_ADDRESS__)
	int	 i, rounds = 100, bad = 0;	/* keep the test short */
#else
	int	 i, rounds = 1000, bad = 0;
#endif
	const char *body;

	for (i = 0; i < 256; i++)
		payload[i] = (uint8_t)(i * 7);
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND;
	m.cluster_id = 0xab;
	m.from = 1;
	m.to = 2;
	m.term = 7;
	m.prev_index = 1000;
	m.prev_term = 7;
	m.commit = 1000;
	for (i = 0; i < 64; i++) {
		ents[i].term = 7;
		ents[i].index = 1001 + (uint64_t)i;
		ents[i].type = RAFT_ENTRY_NORMAL;
		ents[i].len = sizeof(payload);
		ents[i].data = payload;
	}
	m.entries = ents;
	m.n_entries = 64;
	for (i = 0; i < rounds; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (wire_encode(&m, b, NULL) != 0)
			bad++;
		len = evbuffer_get_length(b);
		body = (const char *)evbuffer_pullup(b, -1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (wire_decode(body, len, NULL, &wm, NULL) != 0)
			bad++;
		else
			wire_msg_release(&wm);
		clock_gettime(CLOCK_MONOTONIC, &t2);
		if (wire_decode_json(body, len, NULL, &wm, NULL) != 0)
			bad++;
		else
			wire_msg_release(&wm);
		clock_gettime(CLOCK_MONOTONIC, &t3);
		json_us += (t3.tv_sec - t2.tv_sec) * 1e6 +
		    (t3.tv_nsec - t2.tv_nsec) / 1e3;
		evbuffer_drain(b, len);
		enc_us += (t1.tv_sec - t0.tv_sec) * 1e6 +
		    (t1.tv_nsec - t0.tv_nsec) / 1e3;
		dec_us += (t2.tv_sec - t1.tv_sec) * 1e6 +
		    (t2.tv_nsec - t1.tv_nsec) / 1e3;
	}
	is_int(t, bad, 0, "benchmark messages encode and decode");
	diag("64 x 256 B AppendEntries: %zu bytes of JSON; encode %.1f us, "
	    "decode %.1f us (through jansson %.1f us; mean of %d)", len,
	    enc_us / rounds, dec_us / rounds, json_us / rounds, rounds);
	evbuffer_free(b);
}

int
main(int argc, char **argv)
{
	struct tap t = {0};
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) :
	    0x7261667477697265ULL;
	unsigned n;

	n = run_dir(&t, WIRE_TESTDIR "/valid", check_valid);
	ok(&t, n >= 10, "%u valid files", n);
	n = run_dir(&t, WIRE_TESTDIR "/invalid", check_invalid);
	ok(&t, n >= 50, "%u invalid files", n);
	check_random(&t, seed);
	check_fast_mutations(&t, seed ^ 0x66617374);
	check_batches(&t, seed ^ 0x6261746368);
	check_cache(&t, seed ^ 0x6361636865);
	check_encode_errors(&t);
	check_limits(&t);
	bench(&t);
	return tap_done(&t);
}
