/*
 * hash64.c -- SipHash-2-4, written from the published description
 * (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012).
 */
#include "config.h"

#include <string.h>

#include "hash64.h"

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/*
 * One SipRound over four state words held in locals: a macro, so that the
 * state stays in registers through a whole update (a function taking the
 * struct, not inlined, made every round a trip through memory; the state
 * hash runs this twice per applied write).
 */
#define SIPROUND(v0, v1, v2, v3) do {					\
	(v0) += (v1); (v1) = ROTL((v1), 13); (v1) ^= (v0);		\
	(v0) = ROTL((v0), 32);						\
	(v2) += (v3); (v3) = ROTL((v3), 16); (v3) ^= (v2);		\
	(v0) += (v3); (v3) = ROTL((v3), 21); (v3) ^= (v0);		\
	(v2) += (v1); (v1) = ROTL((v1), 17); (v1) ^= (v2);		\
	(v2) = ROTL((v2), 32);						\
} while (0)

/* Absorbs one complete 64-bit message word (two rounds: SipHash-2-x). */
#define SIPWORD(v0, v1, v2, v3, m) do {					\
	(v3) ^= (m);							\
	SIPROUND(v0, v1, v2, v3);					\
	SIPROUND(v0, v1, v2, v3);					\
	(v0) ^= (m);							\
} while (0)

/* Reads 8 bytes little-endian, independent of host byte order. */
static inline uint64_t
hash64_load(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

/* Absorbs one word into h. */
static void
hash64_word(struct hash64 *h, uint64_t m)
{
	uint64_t v0 = h->v0, v1 = h->v1, v2 = h->v2, v3 = h->v3;

	SIPWORD(v0, v1, v2, v3, m);
	h->v0 = v0;
	h->v1 = v1;
	h->v2 = v2;
	h->v3 = v3;
}

/* Starts a hash keyed with (k0, k1). */
void
hash64_init(struct hash64 *h, uint64_t k0, uint64_t k1)
{
	h->v0 = k0 ^ 0x736f6d6570736575ULL;
	h->v1 = k1 ^ 0x646f72616e646f6dULL;
	h->v2 = k0 ^ 0x6c7967656e657261ULL;
	h->v3 = k1 ^ 0x7465646279746573ULL;
	h->tail = 0;
	h->ntail = 0;
	h->total = 0;
}

/* Adds len bytes from data, buffering a partial trailing word. */
void
hash64_update(struct hash64 *h, const void *data, size_t len)
{
	const unsigned char	*p = data;

	h->total += len;
	while (len > 0 && h->ntail != 0) {
		h->tail |= (uint64_t)*p++ << (8 * h->ntail);
		len--;
		if (++h->ntail == 8) {
			hash64_word(h, h->tail);
			h->tail = 0;
			h->ntail = 0;
		}
	}
	if (len >= 8) {
		uint64_t v0 = h->v0, v1 = h->v1, v2 = h->v2, v3 = h->v3, m;

		do {
			m = hash64_load(p);
			SIPWORD(v0, v1, v2, v3, m);
			p += 8;
			len -= 8;
		} while (len >= 8);
		h->v0 = v0;
		h->v1 = v1;
		h->v2 = v2;
		h->v3 = v3;
	}
	while (len > 0) {
		h->tail |= (uint64_t)*p++ << (8 * h->ntail);
		h->ntail++;
		len--;
	}
}

/* Adds one 64-bit integer, encoded little-endian. */
void
hash64_update_u64(struct hash64 *h, uint64_t v)
{
	unsigned char	 b[8];
	int		 i;

	if (h->ntail == 0) {
		/* Word-aligned: the integer is the message word. */
		h->total += 8;
		hash64_word(h, v);
		return;
	}
	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	hash64_update(h, b, sizeof b);
}

/* Finishes with the length byte and the four finalisation rounds. */
uint64_t
hash64_final(struct hash64 *h)
{
	uint64_t	 b;
	uint64_t	 v0 = h->v0, v1 = h->v1, v2 = h->v2, v3 = h->v3;

	b = h->tail | (h->total << 56);
	SIPWORD(v0, v1, v2, v3, b);
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Returns the SipHash-2-4 of len bytes of data. */
uint64_t
hash64_bytes(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	struct hash64	 h;

	hash64_init(&h, k0, k1);
	hash64_update(&h, data, len);
	return hash64_final(&h);
}

/* Returns a keyed 64-bit mix of one integer. */
uint64_t
hash64_u64(uint64_t k0, uint64_t k1, uint64_t v)
{
	struct hash64	 h;

	hash64_init(&h, k0, k1);
	hash64_update_u64(&h, v);
	return hash64_final(&h);
}
