/*
 * hash64.h -- keyed 64-bit hashing (SipHash-2-4) for state hashes,
 * checksums and hash-table layout.
 *
 * Pure and deterministic: the same key and bytes give the same value on
 * every node and every platform (all words are read little-endian).  The
 * streaming form accepts input in any split and gives the same result as
 * one call over the concatenation.
 */
#ifndef RAFTKV_HASH64_H
#define RAFTKV_HASH64_H

#include <stddef.h>
#include <stdint.h>

struct hash64 {
	uint64_t	 v0, v1, v2, v3;
	uint64_t	 tail;		/* up to 7 pending bytes, little-endian */
	size_t		 ntail;
	uint64_t	 total;		/* bytes hashed so far */
};

/* Starts a hash keyed with (k0, k1). */
void		 hash64_init(struct hash64 *h, uint64_t k0, uint64_t k1);
/* Adds len bytes from data (borrowed). */
void		 hash64_update(struct hash64 *h, const void *data, size_t len);
/* Adds one 64-bit integer, encoded little-endian. */
void		 hash64_update_u64(struct hash64 *h, uint64_t v);
/* Returns the hash of everything added; h may not be updated afterwards. */
uint64_t	 hash64_final(struct hash64 *h);
/* Returns the SipHash-2-4 of len bytes of data (borrowed). */
uint64_t	 hash64_bytes(uint64_t k0, uint64_t k1, const void *data,
		    size_t len);
/* Returns a keyed 64-bit mix of one integer. */
uint64_t	 hash64_u64(uint64_t k0, uint64_t k1, uint64_t v);

#endif /* RAFTKV_HASH64_H */
