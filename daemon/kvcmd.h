/*
 * kvcmd.h -- the binary encoding of key-value commands carried in Raft log
 * entries (RAFT_ENTRY_NORMAL payloads), and of their results.
 *
 * Layout (version 1, all integers little-endian), documented byte by byte
 * in docs/kv.md:
 *
 *	0	u8	version (1)
 *	1	u8	op (KVCMD_PUT, KVCMD_DELETE)
 *	2	u8	flags (KVCMD_F_CAS, KVCMD_F_SESSION; others must be 0)
 *	3	u8	reserved, 0
 *	4	u32	key length (>= 1)
 *	8	u32	value length (0 for DELETE)
 *	12	u64	cas                    (only with KVCMD_F_CAS)
 *	..	u64	client id, u64 seq     (only with KVCMD_F_SESSION; both != 0)
 *	..		key bytes, then value bytes; nothing after them.
 *
 * The payload comes from the log and possibly from a lying peer, so the
 * decoder checks every field and every length against the buffer.
 */
#ifndef RAFTKV_KVCMD_H
#define RAFTKV_KVCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVCMD_VERSION		1
#define KVCMD_HEADER_LEN	12
#define KVCMD_F_CAS		0x01	/* apply only if mod index == cas */
#define KVCMD_F_SESSION		0x02	/* carries client id and seq */
#define KVCMD_F_ALL		(KVCMD_F_CAS | KVCMD_F_SESSION)
/* The most bytes an encoding adds to its key and value. */
#define KVCMD_MAX_OVERHEAD	(KVCMD_HEADER_LEN + 8 + 16)

enum kvcmd_op {
	KVCMD_PUT = 1,
	KVCMD_DELETE = 2,
};

/*
 * A decoded (or to-be-encoded) command.  key and value are borrowed: after
 * kvcmd_decode() they point into the payload buffer and live as long as it.
 */
struct kvcmd {
	enum kvcmd_op		 op;
	bool			 has_cas;
	uint64_t		 cas;		/* 0 = create-only */
	uint64_t		 client_id;	/* 0 = no session */
	uint64_t		 seq;		/* >= 1 when client_id != 0 */
	const void		*key;
	size_t			 key_len;
	const void		*value;
	size_t			 value_len;
};

/* Returns "PUT", "DELETE" or "?" (a constant string). */
const char	*kvcmd_op_name(enum kvcmd_op op);
/*
 * Returns the encoded size of cmd in *len.  Returns 0, or -EINVAL (message in
 * err) when cmd cannot be encoded (unknown op, empty key, a length above
 * UINT32_MAX, a value on DELETE, a session with seq 0).
 */
int	 kvcmd_encoded_len(const struct kvcmd *cmd, size_t *len, char *err,
	    size_t errlen);
/*
 * Encodes cmd (borrowed) into buf (borrowed, cap bytes).  Returns the number
 * of bytes written, -ENOSPC if cap is too small, or -EINVAL as above.
 */
long long kvcmd_encode(const struct kvcmd *cmd, void *buf, size_t cap,
	    char *err, size_t errlen);
/*
 * Encodes cmd into a new buffer stored in *out (owned by the caller, free()
 * it) and its length in *len.  Returns 0, -EINVAL or -ENOMEM.
 */
int	 kvcmd_encode_alloc(const struct kvcmd *cmd, void **out, size_t *len,
	    char *err, size_t errlen);
/*
 * Decodes len bytes at buf (borrowed) into cmd, whose key and value then
 * point into buf.  Returns 0 or -EINVAL with a message in err naming the
 * offending field and its offset; cmd is undefined on error.
 */
int	 kvcmd_decode(const void *buf, size_t len, struct kvcmd *cmd, char *err,
	    size_t errlen);

#endif /* RAFTKV_KVCMD_H */
