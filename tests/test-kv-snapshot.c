/*
 * test-kv-snapshot.c -- snapshot round trips and hostile snapshots: every
 * byte flipped, every truncation, corruption behind a valid checksum, short
 * reads, and I/O errors from the callbacks.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash64.h"
#include "kv.h"
#include "tap.h"

/* The checksum key documented in docs/kv.md. */
#define CHECK_K0	0x434845434b530005ULL
#define CHECK_K1	0x7261667466766b76ULL

struct membuf {
	unsigned char	*data;
	size_t		 len, cap, pos;
	size_t		 chunk;		/* reader: bytes per call, 0 = any */
	int		 fail_at;	/* fail the call when pos >= this, -1 */
};

/* Appends to a growing memory buffer (a kv_write_fn). */
static int
mem_write(void *arg, const void *buf, size_t len)
{
	struct membuf	*m = arg;

	if (m->fail_at >= 0 && m->len + len >= (size_t)m->fail_at)
		return -ENOSPC;
	if (m->len + len > m->cap) {
		size_t cap = (m->len + len) * 2;
		unsigned char *p = realloc(m->data, cap);

		if (p == NULL)
			return -ENOMEM;
		m->data = p;
		m->cap = cap;
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

/* Reads from a memory buffer, chunk bytes at a time (a kv_read_fn). */
static ssize_t
mem_read(void *arg, void *buf, size_t len)
{
	struct membuf	*m = arg;
	size_t		 n = m->len - m->pos;

	if (m->fail_at >= 0 && m->pos >= (size_t)m->fail_at)
		return -EIO;
	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* Advances a xorshift64 generator; deterministic for a given seed. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Applies one encoded command; aborts on a caller error. */
static void
apply(struct kv *kv, uint64_t index, enum kvcmd_op op, const void *key,
    size_t key_len, const char *value, int cas, uint64_t client, uint64_t seq)
{
	struct kvcmd		 cmd;
	struct kv_result	 res;
	char			 err[256];

	memset(&cmd, 0, sizeof cmd);
	cmd.op = op;
	cmd.key = key;
	cmd.key_len = key_len;
	cmd.value = value;
	cmd.value_len = value != NULL ? strlen(value) : 0;
	cmd.has_cas = cas >= 0;
	cmd.cas = cas >= 0 ? (uint64_t)cas : 0;
	cmd.client_id = client;
	cmd.seq = seq;
	if (kv_apply_cmd(kv, index, &cmd, &res, err, sizeof err) != 0) {
		diag("apply: %s", err);
		abort();
	}
}

/* Applies the random entry r at index i (the generator of build()). */
static void
step(struct kv *kv, uint64_t i, uint64_t r)
{
	char	 key[3], value[64];

	key[0] = (char)('a' + r % 5);
	key[1] = '\0';			/* NUL inside the key */
	key[2] = (char)('0' + (r >> 8) % 10);
	snprintf(value, sizeof value, "value-%llu",
	    (unsigned long long)(r >> 20) % 1000);
	switch (r % 7) {
	case 0:
		apply(kv, i, KVCMD_DELETE, key, 3, NULL, -1, 0, 0);
		break;
	case 1:
		kv_apply_noop(kv, i, NULL, 0);
		break;
	case 2: case 3:
		apply(kv, i, KVCMD_PUT, key, 3, value, -1, 1 + (r >> 32) % 12,
		    1 + (r >> 40) % 3);
		break;
	default:
		apply(kv, i, KVCMD_PUT, key, 3, value,
		    (r >> 12) % 2 ? -1 : (int)((r >> 13) % 4), 0, 0);
		break;
	}
}

/* Returns a kv with the given seed's random history up to index last. */
static struct kv *
build(uint64_t seed, uint64_t last, size_t tombs)
{
	struct kv_config	 cfg;
	struct kv		*kv;
	uint64_t		 i;

	kv_config_default(&cfg);
	cfg.session_window = 50;
	cfg.max_sessions = 8;
	cfg.tombstone_capacity = tombs;
	if (kv_new(&cfg, &kv, NULL, 0) != 0)
		abort();
	for (i = 1; i <= last; i++)
		step(kv, i, next_rand(&seed));
	return kv;
}

/* Serialises kv into m. */
static int
snap(const struct kv *kv, struct membuf *m)
{
	char	 err[256];

	memset(m, 0, sizeof(*m));
	m->fail_at = -1;
	return kv_snapshot_write(kv, mem_write, m, err, sizeof err);
}

/* Parses m from the start; returns the code and the kv or NULL. */
static int
load(struct membuf *m, struct kv **out, char *err, size_t errlen)
{
	struct kv_config	 cfg;

	kv_config_default(&cfg);
	m->pos = 0;
	*out = NULL;
	err[0] = '\0';
	return kv_snapshot_read(&cfg, mem_read, m, out, err, errlen);
}

/* True if two state machines hold the same records. */
static int
same_records(const struct kv *a, const struct kv *b)
{
	struct kv_entry	 ea[64], eb[64];
	size_t		 na, nb, i;
	bool		 more;

	na = kv_list(a, "", 0, NULL, 0, ea, 64, &more);
	nb = kv_list(b, "", 0, NULL, 0, eb, 64, &more);
	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (ea[i].key_len != eb[i].key_len || ea[i].value_len !=
		    eb[i].value_len || ea[i].mod_index != eb[i].mod_index ||
		    ea[i].create_index != eb[i].create_index ||
		    memcmp(ea[i].key, eb[i].key, ea[i].key_len) != 0 ||
		    memcmp(ea[i].value, eb[i].value, ea[i].value_len) != 0)
			return 0;
	return 1;
}

/* Rewrites the trailing checksum of a snapshot image. */
static void
fix_checksum(struct membuf *m)
{
	uint64_t	 sum = hash64_bytes(CHECK_K0, CHECK_K1, m->data,
			    m->len - 8);
	int		 i;

	for (i = 0; i < 8; i++)
		m->data[m->len - 8 + i] = (unsigned char)(sum >> (8 * i));
}

/* Runs the snapshot tests and prints TAP. */
int
main(void)
{
	struct tap	 t = {0};
	struct kv	*a, *b, *full;
	struct membuf	 m, m2;
	char		 err[256];
	size_t		 i, cut;
	unsigned	 bad, accepted;
	uint64_t	 seed, idx;
	int		 rc;

	/* Empty state. */
	a = build(1, 0, 4);
	is_int(&t, snap(a, &m), 0, "empty snapshot written");
	is_int(&t, load(&m, &b, err, sizeof err), 0, "empty snapshot read");
	ok(&t, b != NULL && kv_state_hash(a) == kv_state_hash(b),
	    "empty: equal hashes");
	kv_free(a);
	kv_free(b);
	free(m.data);

	/* A random history with sessions and tombstones. */
	a = build(7, 3000, 4);
	diag("%zu records, %zu sessions, %zu tombstones", kv_count(a),
	    kv_session_count(a), kv_tombstone_count(a));
	ok(&t, kv_session_count(a) > 0 && kv_tombstone_count(a) > 0,
	    "history left sessions and tombstones");
	is_int(&t, snap(a, &m), 0, "snapshot written");
	rc = load(&m, &b, err, sizeof err);
	is_int(&t, rc, 0, "snapshot read back (%s)", err);
	ok(&t, b != NULL && kv_state_hash(a) == kv_state_hash(b),
	    "round trip: equal hashes");
	ok(&t, b != NULL && kv_applied_index(b) == 3000 &&
	    kv_count(a) == kv_count(b) && kv_session_count(a) ==
	    kv_session_count(b) && kv_tombstone_count(a) ==
	    kv_tombstone_count(b), "same counts and index");
	ok(&t, b != NULL && same_records(a, b), "same records");
	/* Both continue identically: the session table and the tombstone
	 * FIFO survived with their order. */
	full = build(7, 3400, 4);
	seed = 7;
	for (idx = 1; idx <= 3400; idx++) {
		uint64_t r = next_rand(&seed);

		if (idx > 3000 && b != NULL)
			step(b, idx, r);
	}
	ok(&t, b != NULL && kv_state_hash(b) == kv_state_hash(full),
	    "restored replica continues in lockstep (400 more entries)");
	ok(&t, b != NULL && same_records(b, full), "with the same records");
	kv_free(full);
	kv_free(b);

	/* Short reads: one byte per call. */
	m.chunk = 1;
	is_int(&t, load(&m, &b, err, sizeof err), 0, "1-byte reads work");
	ok(&t, b != NULL && kv_state_hash(a) == kv_state_hash(b),
	    "and give the same state");
	kv_free(b);
	m.chunk = 0;

	/* Callback errors propagate. */
	m.fail_at = 100;
	is_int(&t, load(&m, &b, err, sizeof err), -EIO, "reader error");
	ok(&t, b == NULL && strstr(err, "read error") != NULL, "reported: %s",
	    err);
	m.fail_at = -1;
	memset(&m2, 0, sizeof m2);
	m2.fail_at = 10;
	is_int(&t, kv_snapshot_write(a, mem_write, &m2, err, sizeof err),
	    -ENOSPC, "writer error: %s", err);
	free(m2.data);
	kv_free(a);
	free(m.data);

	/* A small snapshot for the exhaustive corruption loops. */
	a = build(3, 130, 2);
	snap(a, &m);
	diag("small snapshot: %zu bytes, %zu records, %zu sessions, %zu "
	    "tombstones", m.len, kv_count(a), kv_session_count(a),
	    kv_tombstone_count(a));
	bad = 0;
	for (i = 0; i < m.len; i++) {
		m.data[i] ^= 0x01;
		if (load(&m, &b, err, sizeof err) != -EINVAL || b != NULL ||
		    err[0] == '\0')
			bad++;
		kv_free(b);
		m.data[i] ^= 0x01;
		m.data[i] ^= 0xff;
		if (load(&m, &b, err, sizeof err) != -EINVAL || b != NULL)
			bad++;
		kv_free(b);
		m.data[i] ^= 0xff;
	}
	is_int(&t, bad, 0, "every flipped byte is rejected (%zu bytes x 2)",
	    m.len);
	diag("last message: %s", err);
	bad = 0;
	for (cut = 0; cut < m.len; cut++) {
		size_t whole = m.len;

		m.len = cut;
		if (load(&m, &b, err, sizeof err) != -EINVAL || b != NULL)
			bad++;
		kv_free(b);
		m.len = whole;
	}
	is_int(&t, bad, 0, "every truncation is rejected");
	mem_write(&m, "", 1);
	is_int(&t, load(&m, &b, err, sizeof err), -EINVAL,
	    "a trailing byte is rejected: %s", err);
	m.len--;
	is_int(&t, load(&m, &b, err, sizeof err), 0, "the original loads");
	kv_free(b);

	/* Corruption behind a valid checksum: the structural checks and the
	 * state hash must catch every byte the checksum no longer guards. */
	bad = 0;
	accepted = 0;
	for (i = 0; i + 8 < m.len; i++) {
		unsigned char save = m.data[i];
		unsigned v;

		for (v = 1; v < 256; v <<= 1) {
			m.data[i] = (unsigned char)(save ^ v);
			fix_checksum(&m);
			rc = load(&m, &b, err, sizeof err);
			if (rc == 0) {
				accepted++;
				if (kv_state_hash(b) != kv_state_hash(a) ||
				    !same_records(a, b))
					bad++;
			} else if (rc != -EINVAL || err[0] == '\0')
				bad++;
			kv_free(b);
		}
		m.data[i] = save;
	}
	fix_checksum(&m);
	is_int(&t, bad, 0, "checksum-valid corruption: error or identical "
	    "state, never a crash");
	is_int(&t, accepted, 0, "in fact every such change is rejected");
	kv_free(a);

	/* Records swapped behind a valid checksum: the same set of records,
	 * so the state hash agrees, but the order rule rejects it. */
	{
		unsigned char	 rec[26];
		struct kv	*two = build(1, 0, 1);

		apply(two, 1, KVCMD_PUT, "a", 1, "1", -1, 0, 0);
		apply(two, 2, KVCMD_PUT, "b", 1, "2", -1, 0, 0);
		free(m.data);
		snap(two, &m);
		memcpy(rec, m.data + 96, 26);
		memmove(m.data + 96, m.data + 96 + 26, 26);
		memcpy(m.data + 96 + 26, rec, 26);
		fix_checksum(&m);
		is_int(&t, load(&m, &b, err, sizeof err), -EINVAL,
		    "swapped records rejected");
		ok(&t, strstr(err, "out of order") != NULL, "as: %s", err);
		kv_free(b);
		kv_free(two);
	}

	/* Random garbage with a valid magic. */
	seed = 5;
	bad = 0;
	for (i = 0; i < 3000; i++) {
		size_t len = 8 + next_rand(&seed) % 300, j;

		for (j = 8; j < len && j < m.len; j++)
			m.data[j] = (unsigned char)next_rand(&seed);
		if (len < m.len)
			m.len = len;
		if (load(&m, &b, err, sizeof err) != -EINVAL)
			bad++;
		kv_free(b);
	}
	is_int(&t, bad, 0, "random streams are rejected");
	free(m.data);
	return tap_done(&t);
}
