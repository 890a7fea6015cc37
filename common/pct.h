/*
 * pct.h -- percent-encoding of binary keys in URL paths (RFC 3986).
 *
 * Encoding leaves the unreserved characters (ALPHA DIGIT - . _ ~) as they
 * are and writes every other byte as %XX with upper-case hex digits.
 * Decoding accepts what a path segment may hold literally -- unreserved,
 * sub-delims (!$&'()*+,;=), ':' and '@' -- plus '/', so that
 * /v1/kv/a/b names the key "a/b"; both hex cases are accepted.  A '%' not
 * followed by two hex digits, or any other byte (space, '?', '#', '"',
 * controls, bytes >= 0x80), is rejected.  '+' is a literal plus, never a
 * space.  Pure functions: no allocation.
 */
#ifndef RAFTKV_PCT_H
#define RAFTKV_PCT_H

#include <stddef.h>
#include <stdint.h>

/* Returns the value of one hexadecimal digit (either case), or -1. */
int	 pct_hex_value(unsigned char c);
/* Returns the encoded length of n bytes of src (borrowed), without a NUL. */
size_t	 pct_encoded_len(const uint8_t *src, size_t n);

/*
 * Encodes n bytes of src (borrowed) into dst (caller-owned, capacity at
 * least pct_encoded_len() + 1), NUL-terminated.  Returns the length.
 */
size_t	 pct_encode(const uint8_t *src, size_t n, char *dst);

/*
 * Decodes n characters of src (borrowed) into dst (caller-owned, capacity
 * cap; n bytes always suffice).  Returns 0 and stores the length in
 * *outlen, -EINVAL with the offset of the bad character in *bad_offset
 * (may be NULL), or -ENOBUFS when cap is too small.
 */
int	 pct_decode(const char *src, size_t n, uint8_t *dst, size_t cap,
	    size_t *outlen, size_t *bad_offset);

#endif /* RAFTKV_PCT_H */
