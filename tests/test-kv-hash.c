/*
 * test-kv-hash.c -- SipHash-2-4 against the published reference vectors, and
 * the streaming interface against the one-shot one.
 */
#include "config.h"

#include <stdint.h>

#include "hash64.h"
#include "tap.h"

#define K0	0x0706050403020100ULL
#define K1	0x0f0e0d0c0b0a0908ULL

/* Checks the reference vectors and the streaming interface. */
int
main(void)
{
	struct tap	 t = {0};
	struct hash64	 h;
	unsigned char	 msg[64];
	uint64_t	 whole;
	size_t		 i, split, len;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)i;
	/* The reference vectors for lengths 0, 8 and 15 (key 00..0f). */
	is_u64(&t, hash64_bytes(K0, K1, msg, 0), 0x726fdb47dd0e0e31ULL,
	    "reference vector, empty message");
	is_u64(&t, hash64_bytes(K0, K1, msg, 8), 0x93f5f5799a932462ULL,
	    "reference vector, 8 bytes");
	is_u64(&t, hash64_bytes(K0, K1, msg, 15), 0xa129ca6149be45e5ULL,
	    "reference vector, 15 bytes");

	for (len = 0; len <= sizeof msg; len += 7) {
		whole = hash64_bytes(K0, K1, msg, len);
		for (split = 0; split <= len; split++) {
			hash64_init(&h, K0, K1);
			hash64_update(&h, msg, split / 2);
			hash64_update(&h, msg + split / 2, split - split / 2);
			hash64_update(&h, msg + split, len - split);
			if (hash64_final(&h) != whole)
				break;
		}
		ok(&t, split == len + 1, "streaming in any split, %zu bytes",
		    len);
	}
	/* An integer is its 8 little-endian bytes, word-aligned or not. */
	for (split = 0; split < 16; split++) {
		uint64_t v = 0x1122334455667788ULL + split, a;
		unsigned char b[8];

		for (i = 0; i < 8; i++)
			b[i] = (unsigned char)(v >> (8 * i));
		hash64_init(&h, K0, K1);
		hash64_update(&h, msg, split);
		hash64_update_u64(&h, v);
		hash64_update(&h, msg, 3);
		a = hash64_final(&h);
		hash64_init(&h, K0, K1);
		hash64_update(&h, msg, split);
		hash64_update(&h, b, sizeof b);
		hash64_update(&h, msg, 3);
		if (hash64_final(&h) != a)
			break;
	}
	is_int(&t, (int)split, 16, "an integer hashes as its bytes after "
	    "0..15 bytes");
	/* A longer reference: 63 bytes (the last of the published table). */
	is_u64(&t, hash64_bytes(K0, K1, msg, 63), 0x958a324ceb064572ULL,
	    "reference vector, 63 bytes");
	ok(&t, hash64_u64(K0, K1, 1) != hash64_u64(K0, K1, 2),
	    "integer mix distinguishes 1 and 2");
	ok(&t, hash64_u64(K0, K1, 1) != hash64_u64(K0 + 1, K1, 1),
	    "the key matters");
	return tap_done(&t);
}
