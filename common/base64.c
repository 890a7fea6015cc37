/*
 * base64.c -- strict standard base64.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Returns the encoded length of n bytes. */
size_t
base64_encoded_len(size_t n)
{
	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return 0;
	return (n + 2) / 3 * 4;
}

/*
 * The two characters of every 12-bit value, so that three bytes take two
 * lookups, not four: entries are base64-encoded for every AppendEntries,
 * and this halves the instructions.  Built by the preprocessor from the
 * alphabet's arithmetic (A-Z, a-z, 0-9, +, /).
 */
#define B64C(v)	((v) < 26 ? 'A' + (v) : (v) < 52 ? 'a' + (v) - 26 : \
		 (v) < 62 ? '0' + (v) - 52 : (v) == 62 ? '+' : '/')
#define B64P(i)		{ B64C((i) >> 6), B64C((i) & 63) }
#define B64P4(i)	B64P(i), B64P((i) + 1), B64P((i) + 2), B64P((i) + 3)
#define B64P16(i)	B64P4(i), B64P4((i) + 4), B64P4((i) + 8), \
			B64P4((i) + 12)
#define B64P64(i)	B64P16(i), B64P16((i) + 16), B64P16((i) + 32), \
			B64P16((i) + 48)
#define B64P256(i)	B64P64(i), B64P64((i) + 64), B64P64((i) + 128), \
			B64P64((i) + 192)
#define B64P1024(i)	B64P256(i), B64P256((i) + 256), B64P256((i) + 512), \
			B64P256((i) + 768)

static const char base64_pairs[4096][2] = {
	B64P1024(0), B64P1024(1024), B64P1024(2048), B64P1024(3072)
};

/* Each byte's 6-bit value, or 0xff for a byte outside the alphabet. */
#define B64V(c)	((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' : \
		 (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 : \
		 (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 : \
		 (c) == '+' ? 62 : (c) == '/' ? 63 : 0xff)
#define B64V4(c)	B64V(c), B64V((c) + 1), B64V((c) + 2), B64V((c) + 3)
#define B64V16(c)	B64V4(c), B64V4((c) + 4), B64V4((c) + 8), \
			B64V4((c) + 12)
#define B64V64(c)	B64V16(c), B64V16((c) + 16), B64V16((c) + 32), \
			B64V16((c) + 48)

static const uint8_t base64_values[256] = {
	B64V64(0), B64V64(64), B64V64(128), B64V64(192)
};

/* Encodes n bytes into dst and NUL-terminates it. */
size_t
base64_encode(const uint8_t *src, size_t n, char *dst)
{
	const uint8_t *end = src + n / 3 * 3;
	char	*p = dst;
	uint32_t v;

	for (; src < end; src += 3, p += 4) {
		v = (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8 | src[2];
		memcpy(p, base64_pairs[v >> 12], 2);
		memcpy(p + 2, base64_pairs[v & 0xfff], 2);
	}
	if (n % 3 == 1) {
		v = (uint32_t)src[0] << 16;
		*p++ = base64_alphabet[v >> 18];
		*p++ = base64_alphabet[(v >> 12) & 0x3f];
		*p++ = '=';
		*p++ = '=';
	} else if (n % 3 == 2) {
		v = (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8;
		*p++ = base64_alphabet[v >> 18];
		*p++ = base64_alphabet[(v >> 12) & 0x3f];
		*p++ = base64_alphabet[(v >> 6) & 0x3f];
		*p++ = '=';
	}
	*p = '\0';
	return (size_t)(p - dst);
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
	/* Every quad but the last has no padding: four lookups, one test. */
	for (i = 0; i + 4 < n; i += 4) {
		const unsigned char *q = (const unsigned char *)src + i;
		uint32_t a = base64_values[q[0]], b = base64_values[q[1]];
		uint32_t c = base64_values[q[2]], e = base64_values[q[3]];

		if (((a | b | c | e) & 0x80) != 0)
			break;		/* the loop below finds the offset */
		v = a << 18 | b << 12 | c << 6 | e;
		dst[o++] = v >> 16;
		dst[o++] = (v >> 8) & 0xff;
		dst[o++] = v & 0xff;
	}
	for (; i < n; i += 4) {
		for (j = 0; j < 4; j++) {
			if (i + j >= n - pad) {
				d[j] = 0;
				continue;
			}
			d[j] = base64_values[(unsigned char)src[i + j]];
			if (d[j] == 0xff) {
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
