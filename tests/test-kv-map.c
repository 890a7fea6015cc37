/*
 * test-kv-map.c -- the AVL map against a trivially correct reference (a
 * presence array over a small key space), with seeded random operations.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kvmap.h"
#include "tap.h"

#define SPACE	2000	/* distinct keys in the random test */

/* Advances a xorshift64 generator; deterministic for a given seed. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Formats key number i so that byte order equals numeric order. */
static size_t
make_key(char *buf, size_t cap, unsigned i)
{
	return (size_t)snprintf(buf, cap, "k%05u", i);
}

/* Runs the map tests and prints TAP. */
int
main(void)
{
	struct tap		 t = {0};
	struct kvmap		 m;
	struct kvmap_iter	 it;
	const struct kvmap_node	*n;
	static uint64_t		 present[SPACE];	/* 0 or mod index+1 */
	uint64_t		 seed = 0x9e3779b97f4a7c15ULL, op;
	unsigned		 i, k, mismatches = 0, order_bad = 0, step;
	unsigned		 overwrites = 0;
	char			 key[32], val[32];
	size_t			 klen, count = 0;
	const char		 nul_a[] = { 'a', 0, 'b' }, nul_b[] = { 'a', 0 };

	kvmap_init(&m);
	ok(&t, kvmap_find(&m, "x", 1) == NULL, "empty map finds nothing");
	is_int(&t, kvmap_delete(&m, "x", 1), -ENOENT, "delete on empty");

	/* Binary keys: NUL bytes are data, and a prefix sorts first. */
	is_int(&t, kvmap_put(&m, nul_a, 3, "1", 1, 1, 1, 0), 0, "put a\\0b");
	is_int(&t, kvmap_put(&m, nul_b, 2, "2", 1, 2, 2, 0), 0, "put a\\0");
	is_int(&t, kvmap_put(&m, "a", 1, "3", 1, 3, 3, 0), 0, "put a");
	kvmap_iter_seek(&it, &m, NULL, 0, true);
	n = kvmap_iter_next(&it);
	ok(&t, n != NULL && n->key_len == 1, "a first");
	n = kvmap_iter_next(&it);
	ok(&t, n != NULL && n->key_len == 2, "a\\0 second");
	n = kvmap_iter_next(&it);
	ok(&t, n != NULL && n->key_len == 3, "a\\0b third");
	ok(&t, kvmap_iter_next(&it) == NULL, "then the end");
	n = kvmap_find(&m, nul_b, 2);
	ok(&t, n != NULL && n->value_len == 1 && kvmap_node_value(n)[0] == '2',
	    "find a\\0 gives its own value");
	is_int(&t, kvmap_put(&m, nul_b, 2, "longer value", 12, 4, 2, 0), 0,
	    "replace with a longer value");
	n = kvmap_find(&m, nul_b, 2);
	ok(&t, n != NULL && n->value_len == 12 && n->mod_index == 4 &&
	    n->create_index == 2, "replacement keeps key, new value");
	is_u64(&t, m.count, 3, "replace does not add");
	is_u64(&t, m.data_bytes, 3 + 1 + 2 + 12 + 1 + 1, "data bytes tracked");
	kvmap_clear(&m);
	is_u64(&t, m.count, 0, "clear empties");

	/* Random operations against the reference. */
	for (step = 0; step < 60000; step++) {
		op = next_rand(&seed);
		k = (unsigned)((op >> 8) % SPACE);
		klen = make_key(key, sizeof key, k);
		if (op % 3 != 0) {
			snprintf(val, sizeof val, "v%u", step);
			n = kvmap_find(&m, key, klen);
			if (n != NULL && n->value_len == strlen(val) &&
			    (op & 16) != 0) {
				/* The same length: overwritten in place. */
				kvmap_overwrite(&m, n, val, step + 1, step + 1);
				overwrites++;
			} else if (kvmap_put(&m, key, klen, val, strlen(val),
			    step + 1, 1, step + 1) != 0)
				mismatches++;
			if (present[k] == 0)
				count++;
			present[k] = step + 2;
		} else {
			int rc = kvmap_delete(&m, key, klen);

			if ((rc == 0) != (present[k] != 0))
				mismatches++;
			if (present[k] != 0)
				count--;
			present[k] = 0;
		}
		if (step % 500 == 0 && kvmap_check(&m) != 0)
			order_bad++;
	}
	is_int(&t, mismatches, 0, "put/delete results match the reference");
	is_int(&t, order_bad, 0, "AVL and index invariants held throughout "
	    "(checked every 500 steps)");
	ok(&t, overwrites > 1000, "%u of the puts overwrote in place",
	    overwrites);
	is_int(&t, kvmap_check(&m), 0, "AVL invariants at the end");
	is_u64(&t, m.count, count, "count matches the reference");
	mismatches = 0;
	for (i = 0; i < SPACE; i++) {
		klen = make_key(key, sizeof key, i);
		n = kvmap_find(&m, key, klen);
		if ((n != NULL) != (present[i] != 0) ||
		    (n != NULL && (n->mod_index + 1 != present[i] ||
		    n->tag != n->mod_index)))	/* both puts tag step + 1 */
			mismatches++;
		else if (n != NULL) {
			/* The value is the one the last put wrote. */
			snprintf(val, sizeof val, "v%u",
			    (unsigned)(present[i] - 2));
			if (n->value_len != strlen(val) || memcmp(
			    kvmap_node_value(n), val, n->value_len) != 0)
				mismatches++;
		}
	}
	is_int(&t, mismatches, 0, "every lookup matches the reference, value "
	    "and tag included");

	/* Seeks: inclusive and exclusive, from every key of the space. */
	mismatches = 0;
	for (i = 0; i < SPACE; i += 7) {
		unsigned want = i;

		klen = make_key(key, sizeof key, i);
		kvmap_iter_seek(&it, &m, key, klen, (i & 1) != 0);
		if ((i & 1) == 0)
			want++;
		while (want < SPACE && present[want] == 0)
			want++;
		n = kvmap_iter_next(&it);
		if (want == SPACE ? n != NULL : (n == NULL ||
		    (klen = make_key(key, sizeof key, want),
		    n->key_len != klen || memcmp(kvmap_node_key(n), key,
		    klen) != 0)))
			mismatches++;
	}
	is_int(&t, mismatches, 0, "seek finds the first key >= / > target");

	/* Sequential inserts (the snapshot-restore pattern) stay balanced. */
	kvmap_clear(&m);
	is_int(&t, kvmap_reserve(&m, 100000), 0, "index sized for 100000");
	ok(&t, m.n_slots >= 100000 / 3 * 4 && m.n_slots <= 262144,
	    "  %zu slots, at most 3/4 full when they are in", m.n_slots);
	for (i = 0; i < 100000; i++) {
		klen = (size_t)snprintf(key, sizeof key, "%08u", i);
		kvmap_put(&m, key, klen, "", 0, 1, 1, 0);
	}
	is_int(&t, kvmap_check(&m), 0, "100000 sorted inserts: balanced");
	is_u64(&t, m.n_slots, 262144, "and the index never had to grow");
	ok(&t, m.root->height <= 25, "height %d <= 1.44 log2(n)",
	    m.root->height);
	/* Deleting every other key keeps every survivor findable. */
	for (i = 0; i < 100000; i += 2) {
		klen = (size_t)snprintf(key, sizeof key, "%08u", i);
		kvmap_delete(&m, key, klen);
	}
	mismatches = 0;
	for (i = 0; i < 100000; i++) {
		klen = (size_t)snprintf(key, sizeof key, "%08u", i);
		if ((kvmap_find(&m, key, klen) != NULL) != (i % 2 == 1))
			mismatches++;
	}
	is_int(&t, mismatches, 0, "after 50000 deletes the index finds "
	    "exactly the survivors");
	is_int(&t, kvmap_check(&m), 0, "and its invariants hold");
	kvmap_clear(&m);
	return tap_done(&t);
}
