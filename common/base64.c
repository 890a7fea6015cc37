/*
 * base64.c -- strict standard base64.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Maps one character to its 6-bit value, or returns -1 if it is not in
 * the alphabet ('=' included). */
static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Returns the encoded length of n bytes. */
size_t
base64_encoded_len(size_t n)
{
	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return 0;
	return (n + 2) / 3 * 4;
}

/* Encodes n bytes into dst and NUL-terminates it. */
size_t
base64_encode(const uint8_t *src, size_t n, char *dst)
{
	size_t	 i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
		    src[i + 2];
		dst[o++] = base64_alphabet[v >> 18];
		dst[o++] = base64_alphabet[(v >> 12) & 0x3f];
		dst[o++] = base64_alphabet[(v >> 6) & 0x3f];
		dst[o++] = base64_alphabet[v & 0x3f];
	}
	if (n - i == 1) {
		v = (uint32_t)src[i] << 16;
		dst[o++] = base64_alphabet[v >> 18];
		dst[o++] = base64_alphabet[(v >> 12) & 0x3f];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = base64_alphabet[v >> 18];
		dst[o++] = base64_alphabet[(v >> 12) & 0x3f];
		dst[o++] = base64_alphabet[(v >> 6) & 0x3f];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

/* Returns the largest number of bytes n characters can decode to. */
size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

/* Decodes strictly; see base64.h for the rules. */
int
base64_decode(const char *src, size_t n, uint8_t *dst, size_t cap,
    size_t *outlen, size_t *bad_offset)
{
	size_t	 i, j, o = 0, pad = 0, bad = 0;
	int	 d[4], rc = 0;
	uint32_t v;

	if (n % 4 != 0) {
		bad = n;
		rc = -EINVAL;
		goto out;
	}
	if (n > 0 && src[n - 1] == '=')
		pad = src[n - 2] == '=' ? 2 : 1;
	if (base64_decoded_max(n) - pad > cap) {
		rc = -ENOBUFS;
		goto out;
	}
	for (i = 0; i < n; i += 4) {
		for (j = 0; j < 4; j++) {
			if (i + j >= n - pad) {
				d[j] = 0;
				continue;
			}
			d[j] = base64_value((unsigned char)src[i + j]);
			if (d[j] < 0) {
				bad = i + j;
				rc = -EINVAL;
				goto out;
			}
		}
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 |
		    (uint32_t)d[2] << 6 | (uint32_t)d[3];
		if (i + 4 < n || pad == 0) {
			dst[o++] = v >> 16;
			dst[o++] = (v >> 8) & 0xff;
			dst[o++] = v & 0xff;
		} else if (pad == 1) {
			if ((v & 0xff) != 0) {		/* non-canonical */
				bad = i + 2;
				rc = -EINVAL;
				goto out;
			}
			dst[o++] = v >> 16;
			dst[o++] = (v >> 8) & 0xff;
		} else {
			if ((v & 0xffff) != 0) {
				bad = i + 1;
				rc = -EINVAL;
				goto out;
			}
			dst[o++] = v >> 16;
		}
	}
out:
	if (rc == 0 && outlen != NULL)
		*outlen = o;
	if (rc == -EINVAL && bad_offset != NULL)
		*bad_offset = bad;
	return rc;
}
