/*
 * test-base64.c -- RFC 4648 vectors, seeded round trips, strict rejects.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "tap.h"

/* A small seeded generator so that failures replay (xorshift64*). */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Checks one RFC 4648 vector both ways. */
static void
check_vector(struct tap *t, const char *plain, const char *enc)
{
	char	 out[64];
	uint8_t	 dec[64];
	size_t	 n = 0;

	base64_encode((const uint8_t *)plain, strlen(plain), out);
	is_str(t, out, enc, "encode \"%s\"", plain);
	is_u64(t, base64_encoded_len(strlen(plain)), strlen(enc),
	    "encoded_len \"%s\"", plain);
	is_int(t, base64_decode(enc, strlen(enc), dec, sizeof(dec), &n, NULL),
	    0, "decode \"%s\"", enc);
	ok(t, n == strlen(plain) && memcmp(dec, plain, n) == 0,
	    "decode \"%s\" gives \"%s\"", enc, plain);
}

/* Checks that enc is refused with -EINVAL at offset want_off. */
static void
check_reject(struct tap *t, const char *enc, size_t want_off)
{
	uint8_t	 dec[64];
	size_t	 n = 12345, off = 999;
	int	 rc;

	rc = base64_decode(enc, strlen(enc), dec, sizeof(dec), &n, &off);
	is_int(t, rc, -EINVAL, "reject \"%s\"", enc);
	is_u64(t, off, want_off, "reject \"%s\" at offset %zu", enc, want_off);
	is_u64(t, n, 12345, "reject \"%s\" leaves outlen alone", enc);
}

int
main(void)
{
	struct tap t = {0};
	uint64_t seed = 0x5eed5eedULL;
	uint8_t	 src[300], dec[300];
	char	 enc[512];
	size_t	 len, n, i, bad_roundtrips = 0;

	check_vector(&t, "", "");
	check_vector(&t, "f", "Zg==");
	check_vector(&t, "fo", "Zm8=");
	check_vector(&t, "foo", "Zm9v");
	check_vector(&t, "foob", "Zm9vYg==");
	check_vector(&t, "fooba", "Zm9vYmE=");
	check_vector(&t, "foobar", "Zm9vYmFy");

	check_reject(&t, "Zg=", 3);		/* length not a multiple of 4 */
	check_reject(&t, "Zm9", 3);
	check_reject(&t, "Zm9v!A==", 4);	/* not in the alphabet */
	check_reject(&t, "Zm 9", 2);
	check_reject(&t, "Z=9v", 1);		/* padding in the middle */
	check_reject(&t, "Zg==Zm9v", 2);	/* padding before the end */
	check_reject(&t, "Zh==", 1);		/* non-zero unused bits */
	check_reject(&t, "Zm9=", 2);
	check_reject(&t, "====", 0);
	check_reject(&t, "A===", 1);
	check_reject(&t, "Zm9v-_==", 4);	/* the URL alphabet is not ours */

	is_int(&t, base64_decode("Zm9vYmFy", 8, dec, 5, &n, NULL), -ENOBUFS,
	    "a too small buffer is refused");
	is_int(&t, base64_decode("Zm9vYg==", 8, dec, 4, &n, NULL), 0,
	    "an exactly sized buffer is enough");

	diag("seed 0x%llx", (unsigned long long)seed);
	for (i = 0; i < 2000; i++) {
		len = next_rand(&seed) % sizeof(src);
		for (n = 0; n < len; n++)
			src[n] = (uint8_t)next_rand(&seed);
		if (base64_encode(src, len, enc) != base64_encoded_len(len) ||
		    base64_decode(enc, strlen(enc), dec, sizeof(dec), &n,
		    NULL) != 0 || n != len || memcmp(src, dec, len) != 0)
			bad_roundtrips++;
	}
	is_u64(&t, bad_roundtrips, 0, "2000 random round trips");
	return tap_done(&t);
}
