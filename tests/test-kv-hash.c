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
	ok(&t, hash64_u64(K0, K1, 1) != hash64_u64(K0, K1, 2),
	    "integer mix distinguishes 1 and 2");
	ok(&t, hash64_u64(K0, K1, 1) != hash64_u64(K0 + 1, K1, 1),
	    "the key matters");
	return tap_done(&t);
}
