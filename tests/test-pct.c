/*
 * test-pct.c -- percent-encoding of binary keys.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "pct.h"
#include "tap.h"

/* Checks that src is refused with -EINVAL at offset want_off. */
static void
check_reject(struct tap *t, const char *src, size_t want_off)
{
	uint8_t	 out[64];
	size_t	 n, off = 999;

	is_int(t, pct_decode(src, strlen(src), out, sizeof(out), &n, &off),
	    -EINVAL, "reject \"%s\"", src);
	is_u64(t, off, want_off, "reject \"%s\" at offset %zu", src, want_off);
}

int
main(void)
{
	struct tap t = {0};
	uint8_t	 all[256], dec[256];
	char	 enc[3 * 256 + 1];
	size_t	 i, n;

	pct_encode((const uint8_t *)"a b/c~d.e_f-g", 13, enc);
	is_str(&t, enc, "a%20b%2Fc~d.e_f-g", "unreserved stay, others escape");
	is_u64(&t, pct_encoded_len((const uint8_t *)"a b/c", 5), 9,
	    "encoded_len");
	pct_encode((const uint8_t *)"\x00\xff+%", 4, enc);
	is_str(&t, enc, "%00%FF%2B%25", "binary bytes, upper-case hex");

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	n = pct_encode(all, 256, enc);
	is_u64(&t, n, pct_encoded_len(all, 256), "length of all 256 bytes");
	is_int(&t, pct_decode(enc, n, dec, sizeof(dec), &n, NULL), 0,
	    "decode all 256 bytes");
	ok(&t, n == 256 && memcmp(all, dec, 256) == 0,
	    "all 256 bytes round-trip");

	is_int(&t, pct_decode("a%2fb+c/d:e@f", 13, dec, sizeof(dec), &n,
	    NULL), 0, "lower-case hex and literal sub-delims decode");
	ok(&t, n == 11 && memcmp(dec, "a/b+c/d:e@f", 11) == 0,
	    "'+' stays a plus, %%2f is a slash");
	is_int(&t, pct_decode("", 0, dec, sizeof(dec), &n, NULL), 0,
	    "empty decodes");
	is_u64(&t, n, 0, "to nothing");

	check_reject(&t, "%", 0);
	check_reject(&t, "ab%2", 2);
	check_reject(&t, "%zz", 0);
	check_reject(&t, "%2g", 0);
	check_reject(&t, "a b", 1);
	check_reject(&t, "a?b", 1);
	check_reject(&t, "a#b", 1);
	check_reject(&t, "a\"b", 1);
	check_reject(&t, "\xc3\xa9", 0);

	is_int(&t, pct_decode("abc", 3, dec, 2, &n, NULL), -ENOBUFS,
	    "a too small buffer is refused");
	return tap_done(&t);
}
