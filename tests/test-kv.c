/*
 * test-kv.c -- the state machine's rules: put/get/delete, binary keys,
 * ordered prefix listing, compare-and-set, exactly-once sessions with their
 * expiry and tombstones, and the state hash.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "tap.h"

/* The fields of one command, for the helpers below. */
struct op {
	enum kvcmd_op	 op;
	const char	*key;
	size_t		 key_len;	/* strlen(key) when 0 */
	const char	*value;
	int		 cas;		/* -1: unconditional */
	uint64_t	 client, seq;
};

/* Encodes o and applies it at index through the byte path; returns res. */
static struct kv_result
run(struct kv *kv, uint64_t index, struct op o)
{
	struct kvcmd		 cmd;
	struct kv_result	 res;
	unsigned char		 buf[512];
	char			 err[256];
	long long		 n;

	memset(&cmd, 0, sizeof cmd);
	memset(&res, 0xff, sizeof res);
	cmd.op = o.op;
	cmd.key = o.key;
	cmd.key_len = o.key_len ? o.key_len : strlen(o.key);
	cmd.value = o.value;
	cmd.value_len = o.value ? strlen(o.value) : 0;
	cmd.has_cas = o.cas >= 0;
	cmd.cas = o.cas >= 0 ? (uint64_t)o.cas : 0;
	cmd.client_id = o.client;
	cmd.seq = o.seq;
	n = kvcmd_encode(&cmd, buf, sizeof buf, err, sizeof err);
	if (n < 0 || kv_apply(kv, index, buf, (size_t)n, &res, err,
	    sizeof err) != 0) {
		diag("apply at %llu failed: %s", (unsigned long long)index,
		    err);
		res.status = (enum kv_status)-1;
	}
	return res;
}

#define PUT(k, v)		((struct op){ KVCMD_PUT, (k), 0, (v), -1, 0, 0 })
#define DEL(k)			((struct op){ KVCMD_DELETE, (k), 0, NULL, -1, 0, 0 })
#define PUTC(k, v, c)		((struct op){ KVCMD_PUT, (k), 0, (v), (c), 0, 0 })
#define DELC(k, c)		((struct op){ KVCMD_DELETE, (k), 0, NULL, (c), 0, 0 })
#define PUTS(k, v, c, id, s)	((struct op){ KVCMD_PUT, (k), 0, (v), (c), (id), (s) })

/* Returns a state machine with the given session parameters. */
static struct kv *
make_kv(uint64_t window, size_t max_sessions, size_t tombs, uint64_t seed)
{
	struct kv_config	 cfg;
	struct kv		*kv = NULL;
	char			 err[128];

	kv_config_default(&cfg);
	cfg.session_window = window;
	cfg.max_sessions = max_sessions;
	cfg.tombstone_capacity = tombs;
	cfg.table_seed = seed;
	if (kv_new(&cfg, &kv, err, sizeof err) != 0)
		abort();
	return kv;
}

/* True if key holds value with the given mod index. */
static int
holds(struct kv *kv, const char *key, const char *value, uint64_t mod)
{
	struct kv_entry	 e;

	if (kv_get(kv, key, strlen(key), &e) != 0)
		return 0;
	return e.value_len == strlen(value) &&
	    memcmp(e.value, value, e.value_len) == 0 && e.mod_index == mod;
}

/* True if client id has a live session in both, with the same activity. */
static int
same_session(const struct kv *a, const struct kv *b, uint64_t id)
{
	uint64_t	 seq_a, seq_b, last_a, last_b;

	return kv_session_get(a, id, &seq_a, &last_a) == 0 &&
	    kv_session_get(b, id, &seq_b, &last_b) == 0 && last_a == last_b;
}

/* Basic writes and reads. */
static void
test_basic(struct tap *t)
{
	struct kv		*kv = make_kv(100, 10, 10, 0);
	struct kv_result	 r;
	struct kv_entry		 e;
	char			 err[128];
	const char		 k1[] = { 'a', 0, 'b' }, k2[] = { 'a', 0, 'c' };

	r = run(kv, 1, PUT("x", "1"));
	ok(t, r.status == KV_OK && r.index == 1 && r.mod_index == 1 &&
	    !r.existed, "PUT new key: OK at index 1");
	ok(t, holds(kv, "x", "1", 1), "GET sees it with mod index 1");
	r = run(kv, 5, PUT("x", "22"));
	ok(t, r.status == KV_OK && r.existed && r.index == 5,
	    "overwrite: OK, existed");
	kv_get(kv, "x", 1, &e);
	ok(t, e.mod_index == 5 && e.create_index == 1, "mod 5, create 1");
	r = run(kv, 6, DEL("x"));
	ok(t, r.status == KV_OK && r.existed && r.mod_index == 5,
	    "DELETE existing: OK with its last mod index");
	is_int(t, kv_get(kv, "x", 1, &e), -ENOENT, "GET after delete");
	r = run(kv, 7, DEL("x"));
	ok(t, r.status == KV_NOT_FOUND && !r.existed,
	    "DELETE missing: NOT_FOUND");
	is_u64(t, kv_applied_index(kv), 7, "applied index follows entries");
	r = run(kv, 8, PUT("x", "new"));
	kv_get(kv, "x", 1, &e);
	ok(t, e.create_index == 8, "re-created key gets a new create index");

	/* Binary keys with NUL bytes are distinct keys. */
	r = run(kv, 9, ((struct op){ KVCMD_PUT, k1, 3, "B", -1, 0, 0 }));
	r = run(kv, 10, ((struct op){ KVCMD_PUT, k2, 3, "C", -1, 0, 0 }));
	ok(t, kv_get(kv, k1, 3, &e) == 0 && e.value_len == 1 &&
	    ((const char *)e.value)[0] == 'B', "binary key a\\0b");
	ok(t, kv_get(kv, k2, 3, &e) == 0 && ((const char *)e.value)[0] == 'C',
	    "binary key a\\0c");
	is_int(t, kv_get(kv, "a", 1, &e), -ENOENT, "prefix 'a' is not a key");

	/* Index ordering and no-ops. */
	is_int(t, kv_apply_noop(kv, 10, err, sizeof err), -EINVAL,
	    "a repeated index is refused");
	diag("%s", err);
	is_int(t, kv_apply_noop(kv, 12, err, sizeof err), 0, "noop at 12");
	is_u64(t, kv_applied_index(kv), 12, "noop advances the index");

	/* Garbage payloads are applied as INVALID no-ops. */
	r.status = KV_OK;
	is_int(t, kv_apply(kv, 13, "junk", 4, &r, err, sizeof err), 0,
	    "garbage payload applies");
	ok(t, r.status == KV_INVALID && kv_applied_index(kv) == 13,
	    "as INVALID, advancing the index (%s)", err);
	kv_free(kv);
}

/* Limits are re-checked at apply time. */
static void
test_limits(struct tap *t)
{
	struct kv_config	 cfg;
	struct kv		*kv;
	struct kv_result	 r;
	char			 err[128];

	kv_config_default(&cfg);
	cfg.max_key_len = 4;
	cfg.max_value_len = 3;
	if (kv_new(&cfg, &kv, err, sizeof err) != 0)
		abort();
	r = run(kv, 1, PUT("abcde", "v"));
	ok(t, r.status == KV_INVALID, "key above the limit: INVALID");
	r = run(kv, 2, PUT("abcd", "vvvv"));
	ok(t, r.status == KV_INVALID, "value above the limit: INVALID");
	r = run(kv, 3, PUT("abcd", "vvv"));
	ok(t, r.status == KV_OK, "at the limits: OK");
	is_u64(t, kv_count(kv), 1, "only the valid one stored");
	kv_free(kv);
	cfg.session_window = 0;
	is_int(t, kv_new(&cfg, &kv, err, sizeof err), -EINVAL,
	    "window 0 refused");
}

/* Ordered listing by prefix with limits and continuation. */
static void
test_list(struct tap *t)
{
	struct kv	*kv = make_kv(100, 10, 10, 0);
	struct kv_entry	 out[8];
	const char	*keys[] = { "b/3", "a", "b/1", "b", "b/2", "c", "b/10",
	    "b0" };
	size_t		 i, n, total = 0;
	bool		 more;
	char		 cont[16];
	size_t		 cont_len = 0;
	int		 order_ok = 1;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		run(kv, i + 1, PUT(keys[i], keys[i]));
	n = kv_list(kv, "b/", 2, NULL, 0, out, 2, &more);
	ok(t, n == 2 && more, "first page: 2 and more");
	ok(t, n == 2 && out[0].key_len == 3 &&
	    memcmp(out[0].key, "b/1", 3) == 0 && out[1].key_len == 4 &&
	    memcmp(out[1].key, "b/10", 4) == 0, "b/1, b/10 in byte order");
	memcpy(cont, out[1].key, out[1].key_len);
	cont_len = out[1].key_len;
	n = kv_list(kv, "b/", 2, cont, cont_len, out, 2, &more);
	ok(t, n == 2 && !more && memcmp(out[0].key, "b/2", 3) == 0 &&
	    memcmp(out[1].key, "b/3", 3) == 0, "second page: b/2, b/3, done");
	n = kv_list(kv, "b/", 2, "b/3", 3, out, 2, &more);
	ok(t, n == 0 && !more, "after the last: empty");
	n = kv_list(kv, "b/", 2, "a", 1, out, 8, &more);
	is_u64(t, n, 4, "start_after before the prefix: whole prefix");
	n = kv_list(kv, "b/", 2, NULL, 0, out, 0, &more);
	ok(t, n == 0 && more, "limit 0 only says whether any exist");
	n = kv_list(kv, "zz", 2, NULL, 0, out, 8, &more);
	ok(t, n == 0 && !more, "no match");
	/* Paging over everything with limit 3 visits each key once. */
	cont_len = 0;
	do {
		n = kv_list(kv, "", 0, cont, cont_len, out, 3, &more);
		for (i = 0; i < n; i++) {
			if (cont_len > 0 && (memcmp(out[i].key, cont,
			    out[i].key_len < cont_len ? out[i].key_len :
			    cont_len) < 0))
				order_ok = 0;
			memcpy(cont, out[i].key, out[i].key_len);
			cont_len = out[i].key_len;
		}
		total += n;
	} while (more);
	ok(t, total == 8 && order_ok, "paging visits all 8 keys in order");
	kv_free(kv);
}

/* Compare-and-set, evaluated at apply time. */
static void
test_cas(struct tap *t)
{
	struct kv		*kv = make_kv(100, 10, 10, 0);
	struct kv_result	 r;

	r = run(kv, 1, PUTC("k", "a", 0));
	ok(t, r.status == KV_OK, "create-only on a missing key: OK");
	r = run(kv, 2, PUTC("k", "b", 0));
	ok(t, r.status == KV_CAS_FAILED && r.mod_index == 1,
	    "create-only on an existing key: CAS_FAILED, current 1");
	ok(t, holds(kv, "k", "a", 1), "value unchanged");
	r = run(kv, 3, PUTC("k", "c", 1));
	ok(t, r.status == KV_OK && r.mod_index == 3, "cas match: OK");
	r = run(kv, 4, PUTC("k", "d", 1));
	ok(t, r.status == KV_CAS_FAILED && r.mod_index == 3,
	    "cas mismatch: CAS_FAILED with current 3");
	r = run(kv, 5, PUTC("nokey", "d", 7));
	ok(t, r.status == KV_CAS_FAILED && r.mod_index == 0 && !r.existed,
	    "cas on a missing key: CAS_FAILED with 0");
	r = run(kv, 6, DELC("k", 1));
	ok(t, r.status == KV_CAS_FAILED && r.mod_index == 3,
	    "delete with a wrong cas: CAS_FAILED");
	ok(t, holds(kv, "k", "c", 3), "still there");
	r = run(kv, 7, DELC("k", 3));
	ok(t, r.status == KV_OK && r.existed, "delete with the right cas: OK");
	r = run(kv, 8, DELC("k", 0));
	ok(t, r.status == KV_NOT_FOUND, "delete cas=0 of a missing key: "
	    "condition holds, NOT_FOUND");
	kv_free(kv);
}

/* Exactly-once: duplicates, stale seqs, expiry and tombstones. */
static void
test_sessions(struct tap *t)
{
	struct kv		*kv = make_kv(10, 3, 2, 0);
	struct kv_result	 r, first;
	uint64_t		 seq, last;

	first = run(kv, 1, PUTS("k", "v1", 0, 100, 1));
	ok(t, first.status == KV_OK && !first.duplicate, "seq 1 applies");
	r = run(kv, 2, PUTS("k", "v1", 0, 100, 1));
	ok(t, r.status == KV_OK && r.duplicate && r.index == 1,
	    "retry of a create-only CAS: original OK at index 1, not "
	    "CAS_FAILED");
	run(kv, 3, PUT("k", "other"));
	r = run(kv, 4, PUTS("k", "v1", 0, 100, 1));
	ok(t, r.status == KV_OK && r.duplicate && r.index == 1,
	    "retry after the key changed: still the original result");
	ok(t, holds(kv, "k", "other", 3), "and nothing re-applied");
	r = run(kv, 5, PUTS("k", "v2", 3, 100, 2));
	ok(t, r.status == KV_OK && r.index == 5, "seq 2 (cas 3) applies");
	r = run(kv, 6, PUTS("k", "v2", 3, 100, 2));
	ok(t, r.status == KV_OK && r.duplicate && r.index == 5,
	    "retried successful CAS returns its index 5, not CAS_FAILED");
	r = run(kv, 7, PUTS("k", "zzz", 3, 100, 1));
	ok(t, r.status == KV_STALE, "seq below the last: STALE");
	r = run(kv, 8, PUTS("k", "x", 99, 100, 3));
	ok(t, r.status == KV_CAS_FAILED, "seq 3 fails its CAS");
	r = run(kv, 9, PUTS("k", "x", 99, 100, 3));
	ok(t, r.status == KV_CAS_FAILED && r.duplicate && r.index == 8,
	    "a failed result is replayed too");
	r = run(kv, 10, PUTS("k", "x", -1, 200, 2));
	ok(t, r.status == KV_SESSION_EXPIRED,
	    "unknown client with seq 2: SESSION_EXPIRED");
	is_int(t, kv_session_get(kv, 200, &seq, &last), -ENOENT,
	    "and no session was created");

	/* Expiry: window 10, last activity of client 100 is 9. */
	kv_apply_noop(kv, 19, NULL, 0);
	ok(t, kv_session_get(kv, 100, &seq, &last) == 0 && last == 9,
	    "alive at 19 (10 indexes after its last activity)");
	kv_apply_noop(kv, 20, NULL, 0);
	is_int(t, kv_session_get(kv, 100, &seq, &last), -ESTALE,
	    "expired at 20: a tombstone");
	r = run(kv, 21, PUTS("k", "x", 99, 100, 3));
	ok(t, r.status == KV_SESSION_EXPIRED, "late retry: SESSION_EXPIRED");
	r = run(kv, 22, PUTS("k", "again", -1, 100, 1));
	ok(t, r.status == KV_SESSION_EXPIRED && holds(kv, "k", "v2", 5),
	    "late seq 1 of the expired client is not applied twice");

	/* max_sessions 3: the least recently active is expired first. */
	run(kv, 23, PUTS("a", "1", -1, 1, 1));
	run(kv, 24, PUTS("b", "1", -1, 2, 1));
	run(kv, 25, PUTS("c", "1", -1, 3, 1));
	run(kv, 26, PUTS("a", "2", -1, 1, 2));	/* 1 is now the newest */
	run(kv, 27, PUTS("d", "1", -1, 4, 1));
	is_int(t, kv_session_get(kv, 2, &seq, &last), -ESTALE,
	    "fourth session pushes out the least recently active (2)");
	ok(t, kv_session_get(kv, 1, &seq, &last) == 0 && seq == 2,
	    "client 1 kept, seq 2");
	is_u64(t, kv_session_count(kv), 3, "3 live sessions");
	/* Tombstone FIFO of 2: 100, then 2; one more evicts 100. */
	is_u64(t, kv_tombstone_count(kv), 2, "2 tombstones");
	kv_apply_noop(kv, 40, NULL, 0);	/* expires 3, 1, 4 */
	is_u64(t, kv_session_count(kv), 0, "all sessions expired at 40");
	is_u64(t, kv_tombstone_count(kv), 2, "tombstones bounded at 2");
	is_int(t, kv_session_get(kv, 100, &seq, &last), -ENOENT,
	    "the oldest tombstone (100) was forgotten");
	r = run(kv, 41, PUTS("k", "dup", -1, 100, 1));
	ok(t, r.status == KV_OK, "so its seq 1 would now apply (the "
	    "documented limit)");
	r = run(kv, 42, PUTS("k", "x", -1, 4, 1));
	ok(t, r.status == KV_SESSION_EXPIRED, "a remembered id still gets "
	    "SESSION_EXPIRED");
	kv_free(kv);
}

/* The state hash: order independence and sensitivity. */
static void
test_hash(struct tap *t)
{
	struct kv	*a, *b;
	const char	*keys[] = { "alpha", "beta", "gamma", "delta", "eps" };
	uint64_t	 h0, h;
	int		 i, n = 5;

	/* The session table's layout (table_seed) is not state. */
	a = make_kv(1000, 10, 10, 1);
	for (i = 0; i < n; i++)
		run(a, (uint64_t)i + 1, PUTS(keys[i], keys[i], -1,
		    (uint64_t)i + 1, 1));
	kv_apply_noop(a, 20, NULL, 0);
	b = make_kv(1000, 10, 10, 777);
	for (i = 0; i < n; i++)
		run(b, (uint64_t)i + 1, PUTS(keys[i], keys[i], -1,
		    (uint64_t)i + 1, 1));
	kv_apply_noop(b, 20, NULL, 0);
	is_u64(t, kv_state_hash(a), kv_state_hash(b),
	    "same entries, different table seeds: equal hashes");
	kv_free(a);
	kv_free(b);

	/* Order independence proper: records with equal (key, value, mod,
	 * create) reached through different histories. */
	a = make_kv(1000, 10, 10, 1);
	b = make_kv(1000, 10, 10, 1);
	run(a, 1, PUT("x", "1"));
	run(a, 2, PUT("y", "2"));
	run(a, 3, PUT("z", "3"));
	run(a, 4, DEL("y"));
	run(b, 1, PUT("x", "1"));
	run(b, 2, PUT("q", "2"));
	run(b, 3, PUT("z", "3"));
	run(b, 4, DEL("q"));
	is_u64(t, kv_state_hash(a), kv_state_hash(b),
	    "different histories, same state: equal hashes");
	ok(t, kv_count(a) == 2 && kv_count(b) == 2, "both hold x and z");
	h0 = kv_state_hash(a);
	run(a, 5, PUT("x", "1"));
	run(b, 5, PUT("x", "2"));
	ok(t, kv_state_hash(a) != kv_state_hash(b), "one value byte differs: "
	    "hashes differ");
	ok(t, kv_state_hash(a) != h0, "a rewrite with the same value changes "
	    "the mod index and the hash");
	kv_free(a);
	kv_free(b);

	/* Sensitivity: each single change moves the hash. */
	a = make_kv(1000, 10, 10, 1);
	run(a, 1, PUT("k", "v"));
	h0 = kv_state_hash(a);
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, PUT("k", "w"));
	ok(t, kv_state_hash(b) != h0, "value differs");
	kv_free(b);
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, PUT("j", "v"));
	ok(t, kv_state_hash(b) != h0, "key differs");
	kv_free(b);
	b = make_kv(1000, 10, 10, 1);
	run(b, 2, PUT("k", "v"));
	ok(t, kv_state_hash(b) != h0, "index differs");
	kv_free(b);
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, PUTS("k", "v", -1, 5, 1));
	ok(t, kv_state_hash(b) != h0, "a session differs");
	kv_free(b);
	kv_free(a);
	a = make_kv(1000, 10, 10, 1);
	run(a, 1, PUTS("k", "v", -1, 5, 1));
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, PUTS("k", "v", -1, 5, 1));
	run(a, 2, PUTS("k", "v", -1, 5, 2));
	run(b, 2, PUTS("k", "v", -1, 5, 3));
	ok(t, same_session(a, b, 5), "same session but for its seq");
	ok(t, kv_state_hash(a) != kv_state_hash(b), "only a session's seq "
	    "differs");
	kv_free(a);
	a = make_kv(1000, 10, 10, 1);
	run(a, 1, PUTS("k", "v", -1, 5, 1));
	kv_free(b);
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, PUTS("k", "v", -1, 6, 1));
	ok(t, kv_state_hash(a) != kv_state_hash(b), "only a client id "
	    "differs");
	kv_free(b);
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, PUTS("k", "v", 0, 5, 1));
	is_u64(t, kv_state_hash(a), kv_state_hash(b), "a cas that held leaves "
	    "the same state");
	kv_free(b);
	kv_free(a);
	a = make_kv(1000, 10, 10, 1);
	run(a, 1, PUT("k", "v"));
	b = make_kv(1000, 10, 10, 1);
	run(b, 1, ((struct op){ KVCMD_PUT, "k\0", 2, "v", -1, 0, 0 }));
	ok(t, kv_state_hash(b) != h0, "a trailing NUL in the key differs");
	kv_free(b);
	h = kv_state_hash(a);
	kv_apply_noop(a, 2, NULL, 0);
	ok(t, kv_state_hash(a) != h, "the applied index is folded in");
	run(a, 3, DEL("k"));
	b = make_kv(1000, 10, 10, 1);
	kv_apply_noop(b, 3, NULL, 0);
	is_u64(t, kv_state_hash(a), kv_state_hash(b),
	    "put then delete equals never written (same index)");
	kv_free(a);
	kv_free(b);
}

/* Runs every rule group and prints TAP. */
int
main(void)
{
	struct tap	 t = {0};

	test_basic(&t);
	test_limits(&t);
	test_list(&t);
	test_cas(&t);
	test_sessions(&t);
	test_hash(&t);
	return tap_done(&t);
}
