/*
 * kvmap.h -- an ordered map of binary-safe byte strings (an AVL tree).
 *
 * Each record is one allocation: a small header followed by the key bytes
 * and the value bytes, so the per-key overhead is the header (56 bytes on
 * LP64) plus the allocator's own, plus 16 to 32 bytes of hash index.  Keys
 * order by memcmp() over the common length, a shorter key first on a tie.
 * Insert and delete are O(log n); iteration walks in key order from any
 * start key.  Point lookups go through a hash index over the same nodes
 * (keyed SipHash, open addressing): an AVL descent costs a cache miss per
 * level, about 14 at 10,000 keys, the index one or two.
 *
 * The map performs no I/O and never reads a clock.  Node pointers returned
 * by lookups and iterators are borrowed: they stay valid until the next
 * kvmap_put() or kvmap_delete() on the same map.
 */
#ifndef RAFTKV_KVMAP_H
#define RAFTKV_KVMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tallest AVL tree an iterator can walk (far above 2^64 nodes). */
#define KVMAP_MAX_HEIGHT	96

struct kvmap_node {
	struct kvmap_node	*left;
	struct kvmap_node	*right;
	uint64_t		 mod_index;	/* log index of the last write */
	uint64_t		 create_index;	/* log index of the creation */
	uint64_t		 tag;		/* the caller's; kept, not read */
	uint32_t		 key_len;
	uint32_t		 value_len;
	uint8_t			 height;	/* AVL height; a leaf is 1 */
	unsigned char		 data[];	/* key bytes, then value bytes */
};

/* One slot of the hash index: a node and its key's hash, or empty. */
struct kvmap_slot {
	struct kvmap_node	*node;		/* NULL: empty */
	uint64_t		 hash;
};

struct kvmap {
	struct kvmap_node	*root;
	size_t			 count;		/* records */
	uint64_t		 data_bytes;	/* sum of key and value lengths */
	/*
	 * The index: a power of two of slots (0 while the map has never
	 * held a record), linear probing, at most 3/4 full.  Every node of
	 * the tree has exactly one slot.
	 */
	struct kvmap_slot	*slots;
	size_t			 n_slots;
	uint64_t		 seed;		/* keys the index's hash */
};

struct kvmap_iter {
	const struct kvmap_node	*stack[KVMAP_MAX_HEIGHT];
	int			 depth;
};

/* Returns the node's key bytes (borrowed from the node). */
static inline const unsigned char *
kvmap_node_key(const struct kvmap_node *n)
{
	return n->data;
}

/* Returns the node's value bytes (borrowed from the node). */
static inline const unsigned char *
kvmap_node_value(const struct kvmap_node *n)
{
	return n->data + n->key_len;
}

/* Makes an empty map. */
void	 kvmap_init(struct kvmap *m);
/*
 * Keys the index's hash (before the first record; the layout only, never
 * what the map holds), so that keys chosen to collide cannot be.
 */
void	 kvmap_set_seed(struct kvmap *m, uint64_t seed);
/*
 * Sizes the index for n records in all, so that loading n records does
 * not rehash it again and again.  Only an optimisation: returns 0, or
 * -ENOMEM with the map unchanged and still usable.
 */
int	 kvmap_reserve(struct kvmap *m, size_t n);
/* Frees every record; the map is empty afterwards. */
void	 kvmap_clear(struct kvmap *m);
/* Compares two keys: <0, 0 or >0 like memcmp(), shorter first on a tie. */
int	 kvmap_key_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* Returns the record for key (borrowed), or NULL. */
const struct kvmap_node *kvmap_find(const struct kvmap *m, const void *key,
	    size_t key_len);
/*
 * Inserts or replaces the record for key, copying key and value, with the
 * caller's tag (kv.c keeps the record's state-hash term there).  Returns
 * 0, -EINVAL if a length does not fit in 32 bits, or -ENOMEM; on error the
 * map is unchanged.
 */
int	 kvmap_put(struct kvmap *m, const void *key, size_t key_len,
	    const void *value, size_t value_len, uint64_t mod_index,
	    uint64_t create_index, uint64_t tag);
/* Removes and frees the record for key.  Returns 0 or -ENOENT. */
int	 kvmap_delete(struct kvmap *m, const void *key, size_t key_len);
/*
 * Overwrites the value of n, a record of m, with value_len bytes, which
 * must be n's value length, and sets its mod_index and tag: in place, with
 * no allocation, so it cannot fail.  The node stays the same node.
 */
void	 kvmap_overwrite(struct kvmap *m, const struct kvmap_node *n,
	    const void *value, uint64_t mod_index, uint64_t tag);
/*
 * Positions it before the first record whose key is >= key (or > key when
 * !inclusive).  A NULL key with key_len 0 starts at the smallest record.
 */
void	 kvmap_iter_seek(struct kvmap_iter *it, const struct kvmap *m,
	    const void *key, size_t key_len, bool inclusive);
/* Returns the next record in key order (borrowed), or NULL at the end. */
const struct kvmap_node *kvmap_iter_next(struct kvmap_iter *it);
/* Checks the AVL and order invariants; returns 0 or -1 (for tests). */
int	 kvmap_check(const struct kvmap *m);

#endif /* RAFTKV_KVMAP_H */
