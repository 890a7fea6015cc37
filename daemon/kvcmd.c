/*
 * kvcmd.c -- encoding and validating decoding of key-value commands.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "kvcmd.h"

/* Stores v little-endian in 4 bytes. */
static void
kvcmd_put32(unsigned char *p, uint32_t v)
{
	int	 i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Stores v little-endian in 8 bytes. */
static void
kvcmd_put64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Loads 4 little-endian bytes. */
static uint32_t
kvcmd_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Loads 8 little-endian bytes. */
static uint64_t
kvcmd_get64(const unsigned char *p)
{
	return (uint64_t)kvcmd_get32(p) | (uint64_t)kvcmd_get32(p + 4) << 32;
}

/* Returns a constant name for op. */
const char *
kvcmd_op_name(enum kvcmd_op op)
{
	switch (op) {
	case KVCMD_PUT:
		return "PUT";
	case KVCMD_DELETE:
		return "DELETE";
	}
	return "?";
}

/* Returns the encoded size of cmd, or -EINVAL if it cannot be encoded. */
int
kvcmd_encoded_len(const struct kvcmd *cmd, size_t *len, char *err,
    size_t errlen)
{
	size_t	 n = KVCMD_HEADER_LEN;

	if (cmd->op != KVCMD_PUT && cmd->op != KVCMD_DELETE) {
		errbuf_set(err, errlen, "kvcmd: unknown op %d", (int)cmd->op);
		return -EINVAL;
	}
	if (cmd->key_len == 0 || cmd->key_len > UINT32_MAX) {
		errbuf_set(err, errlen, "kvcmd: key length %zu out of range",
		    cmd->key_len);
		return -EINVAL;
	}
	if (cmd->value_len > UINT32_MAX ||
	    (cmd->op == KVCMD_DELETE && cmd->value_len != 0)) {
		errbuf_set(err, errlen, "kvcmd: value length %zu invalid for %s",
		    cmd->value_len, kvcmd_op_name(cmd->op));
		return -EINVAL;
	}
	if (cmd->client_id != 0 && cmd->seq == 0) {
		errbuf_set(err, errlen, "kvcmd: client %" PRIu64 " with seq 0",
		    cmd->client_id);
		return -EINVAL;
	}
	if (cmd->has_cas)
		n += 8;
	if (cmd->client_id != 0)
		n += 16;
	if (cmd->key_len + cmd->value_len > SIZE_MAX - n) {
		errbuf_set(err, errlen, "kvcmd: command too large");
		return -EINVAL;
	}
	*len = n + cmd->key_len + cmd->value_len;
	return 0;
}

/* Encodes cmd into buf; returns the length written or a negative code. */
long long
kvcmd_encode(const struct kvcmd *cmd, void *buf, size_t cap, char *err,
    size_t errlen)
{
	unsigned char	*p = buf;
	size_t		 len;
	int		 rc;

	if ((rc = kvcmd_encoded_len(cmd, &len, err, errlen)) != 0)
		return rc;
	if (len > cap) {
		errbuf_set(err, errlen, "kvcmd: %zu bytes needed, %zu given",
		    len, cap);
		return -ENOSPC;
	}
	p[0] = KVCMD_VERSION;
	p[1] = (unsigned char)cmd->op;
	p[2] = (unsigned char)((cmd->has_cas ? KVCMD_F_CAS : 0) |
	    (cmd->client_id != 0 ? KVCMD_F_SESSION : 0));
	p[3] = 0;
	kvcmd_put32(p + 4, (uint32_t)cmd->key_len);
	kvcmd_put32(p + 8, (uint32_t)cmd->value_len);
	p += KVCMD_HEADER_LEN;
	if (cmd->has_cas) {
		kvcmd_put64(p, cmd->cas);
		p += 8;
	}
	if (cmd->client_id != 0) {
		kvcmd_put64(p, cmd->client_id);
		kvcmd_put64(p + 8, cmd->seq);
		p += 16;
	}
	memcpy(p, cmd->key, cmd->key_len);
	p += cmd->key_len;
	if (cmd->value_len > 0)
		memcpy(p, cmd->value, cmd->value_len);
	return (long long)len;
}

/* Encodes cmd into a newly allocated buffer. */
int
kvcmd_encode_alloc(const struct kvcmd *cmd, void **out, size_t *len,
    char *err, size_t errlen)
{
	void		*buf;
	long long	 n;
	int		 rc;

	if ((rc = kvcmd_encoded_len(cmd, len, err, errlen)) != 0)
		return rc;
	if ((buf = malloc(*len)) == NULL) {
		errbuf_set(err, errlen, "kvcmd: out of memory for %zu bytes",
		    *len);
		return -ENOMEM;
	}
	n = kvcmd_encode(cmd, buf, *len, err, errlen);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*out = buf;
	return 0;
}

/* Decodes and validates one command from buf. */
int
kvcmd_decode(const void *buf, size_t len, struct kvcmd *cmd, char *err,
    size_t errlen)
{
	const unsigned char	*p = buf;
	size_t			 off = KVCMD_HEADER_LEN, need;
	uint64_t		 key_len, value_len;
	unsigned		 flags;

	memset(cmd, 0, sizeof(*cmd));
	if (len < KVCMD_HEADER_LEN) {
		errbuf_set(err, errlen, "kvcmd: %zu bytes, shorter than the "
		    "%d-byte header", len, KVCMD_HEADER_LEN);
		return -EINVAL;
	}
	if (p[0] != KVCMD_VERSION) {
		errbuf_set(err, errlen, "kvcmd: offset 0: unsupported version "
		    "%u", p[0]);
		return -EINVAL;
	}
	if (p[1] != KVCMD_PUT && p[1] != KVCMD_DELETE) {
		errbuf_set(err, errlen, "kvcmd: offset 1: unknown op %u", p[1]);
		return -EINVAL;
	}
	cmd->op = (enum kvcmd_op)p[1];
	flags = p[2];
	if ((flags & ~(unsigned)KVCMD_F_ALL) != 0) {
		errbuf_set(err, errlen, "kvcmd: offset 2: unknown flags 0x%02x",
		    flags);
		return -EINVAL;
	}
	if (p[3] != 0) {
		errbuf_set(err, errlen, "kvcmd: offset 3: reserved byte is "
		    "0x%02x, not 0", p[3]);
		return -EINVAL;
	}
	key_len = kvcmd_get32(p + 4);
	value_len = kvcmd_get32(p + 8);
	if (key_len == 0) {
		errbuf_set(err, errlen, "kvcmd: offset 4: empty key");
		return -EINVAL;
	}
	if (cmd->op == KVCMD_DELETE && value_len != 0) {
		errbuf_set(err, errlen, "kvcmd: offset 8: DELETE with a "
		    "%" PRIu64 "-byte value", value_len);
		return -EINVAL;
	}
	need = KVCMD_HEADER_LEN + ((flags & KVCMD_F_CAS) ? 8 : 0) +
	    ((flags & KVCMD_F_SESSION) ? 16 : 0);
	/* Both lengths are below 2^32, so the sum cannot overflow 64 bits. */
	if (len < need || (uint64_t)(len - need) != key_len + value_len) {
		errbuf_set(err, errlen, "kvcmd: %zu bytes, but the header "
		    "announces %" PRIu64, len, (uint64_t)need + key_len +
		    value_len);
		return -EINVAL;
	}
	if (flags & KVCMD_F_CAS) {
		cmd->has_cas = true;
		cmd->cas = kvcmd_get64(p + off);
		off += 8;
	}
	if (flags & KVCMD_F_SESSION) {
		cmd->client_id = kvcmd_get64(p + off);
		cmd->seq = kvcmd_get64(p + off + 8);
		if (cmd->client_id == 0 || cmd->seq == 0) {
			errbuf_set(err, errlen, "kvcmd: offset %zu: session "
			    "with client id %" PRIu64 " and seq %" PRIu64
			    " (both must be non-zero)", off, cmd->client_id,
			    cmd->seq);
			return -EINVAL;
		}
		off += 16;
	}
	cmd->key = p + off;
	cmd->key_len = (size_t)key_len;
	cmd->value = p + off + key_len;
	cmd->value_len = (size_t)value_len;
	return 0;
}
