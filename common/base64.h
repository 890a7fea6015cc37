/*
 * base64.h -- standard base64 (RFC 4648 section 4, with '=' padding).
 *
 * Shared by raftkvd (log entries on the peer wire, values in the client
 * API) and raftkvctl.  Pure functions: no allocation, no global state.
 * Decoding is strict: the length must be a multiple of four, padding may
 * only close the last quantum, only the 64 alphabet characters are allowed,
 * and the unused bits of the last quantum must be zero, so that every byte
 * string has exactly one accepted encoding.
 */
#ifndef RAFTKV_BASE64_H
#define RAFTKV_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Returns the encoded length of n bytes (without a NUL), or 0 on overflow
 * when n > 0. */
size_t	 base64_encoded_len(size_t n);

/*
 * Encodes n bytes of src (borrowed) into dst (caller-owned, capacity at
 * least base64_encoded_len(n) + 1).  Writes a terminating NUL and returns
 * the number of characters written before it.
 */
size_t	 base64_encode(const uint8_t *src, size_t n, char *dst);

/* Returns an upper bound of the decoded length of n characters. */
size_t	 base64_decoded_max(size_t n);

/*
 * Decodes n characters of src (borrowed; no NUL needed) into dst
 * (caller-owned, capacity cap).  Returns 0 and stores the decoded length in
 * *outlen, or -EINVAL for malformed input, with the offending character's
 * offset in *bad_offset (may be NULL), or -ENOBUFS when cap is too small.
 */
int	 base64_decode(const char *src, size_t n, uint8_t *dst, size_t cap,
	    size_t *outlen, size_t *bad_offset);

#endif /* RAFTKV_BASE64_H */
