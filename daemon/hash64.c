/*
 * hash64.c -- SipHash-2-4, written from the published description
 * (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012).
 */
#include "config.h"

#include <string.h>

#include "hash64.h"

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Runs one SipRound over the four state words. */
static void
hash64_round(struct hash64 *h)
{
	h->v0 += h->v1;
	h->v1 = ROTL(h->v1, 13);
	h->v1 ^= h->v0;
	h->v0 = ROTL(h->v0, 32);
	h->v2 += h->v3;
	h->v3 = ROTL(h->v3, 16);
	h->v3 ^= h->v2;
	h->v0 += h->v3;
	h->v3 = ROTL(h->v3, 21);
	h->v3 ^= h->v0;
	h->v2 += h->v1;
	h->v1 = ROTL(h->v1, 17);
	h->v1 ^= h->v2;
	h->v2 = ROTL(h->v2, 32);
}

/* Absorbs one complete 64-bit message word. */
static void
hash64_word(struct hash64 *h, uint64_t m)
{
	h->v3 ^= m;
	hash64_round(h);
	hash64_round(h);
	h->v0 ^= m;
}

/* Reads 8 bytes little-endian, independent of host byte order. */
static uint64_t
hash64_load(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
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
	while (len >= 8) {
		hash64_word(h, hash64_load(p));
		p += 8;
		len -= 8;
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

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	hash64_update(h, b, sizeof b);
}

/* Finishes with the length byte and the four finalisation rounds. */
uint64_t
hash64_final(struct hash64 *h)
{
	uint64_t	 b;

	b = h->tail | (h->total << 56);
	hash64_word(h, b);
	h->v2 ^= 0xff;
	hash64_round(h);
	hash64_round(h);
	hash64_round(h);
	hash64_round(h);
	return h->v0 ^ h->v1 ^ h->v2 ^ h->v3;
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
