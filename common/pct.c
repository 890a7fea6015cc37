/*
 * pct.c -- percent-encoding of binary keys.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pct.h"

/* True for RFC 3986 unreserved characters. */
static int
pct_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* True for characters a decoder accepts literally (see pct.h). */
static int
pct_literal(unsigned char c)
{
	return pct_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@/",
	    c) != NULL);
}

int
pct_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Returns the encoded length of n bytes. */
size_t
pct_encoded_len(const uint8_t *src, size_t n)
{
	size_t	 i, len = 0;

	for (i = 0; i < n; i++)
		len += pct_unreserved(src[i]) ? 1 : 3;
	return len;
}

/* Encodes n bytes into dst and NUL-terminates it. */
size_t
pct_encode(const uint8_t *src, size_t n, char *dst)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		if (pct_unreserved(src[i]))
			dst[o++] = (char)src[i];
		else {
			dst[o++] = '%';
			dst[o++] = hex[src[i] >> 4];
			dst[o++] = hex[src[i] & 0x0f];
		}
	}
	dst[o] = '\0';
	return o;
}

/* Decodes strictly; see pct.h for the rules. */
int
pct_decode(const char *src, size_t n, uint8_t *dst, size_t cap,
    size_t *outlen, size_t *bad_offset)
{
	size_t	 i = 0, o = 0, bad = 0;
	int	 hi, lo, rc = 0;

	while (i < n) {
		if (o >= cap) {
			rc = -ENOBUFS;
			goto out;
		}
		if (src[i] == '%') {
			if (n - i < 3 ||
			    (hi = pct_hex_value((unsigned char)src[i + 1])) < 0 ||
			    (lo = pct_hex_value((unsigned char)src[i + 2])) < 0) {
				bad = i;
				rc = -EINVAL;
				goto out;
			}
			dst[o++] = (uint8_t)(hi << 4 | lo);
			i += 3;
		} else if (pct_literal((unsigned char)src[i]))
			dst[o++] = (uint8_t)src[i++];
		else {
			bad = i;
			rc = -EINVAL;
			goto out;
		}
	}
out:
	if (rc == 0 && outlen != NULL)
		*outlen = o;
	if (rc == -EINVAL && bad_offset != NULL)
		*bad_offset = bad;
	return rc;
}
