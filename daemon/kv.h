/*
 * kv.h -- the replicated key-value state machine of raftkv.
 *
 * Pure and deterministic: apart from the snapshot stream callbacks it does
 * no I/O, reads no clock and draws no randomness, so every node that applies
 * the same log entries reaches the same state and the same state hash.
 * Semantics, the session table and the snapshot format are in docs/kv.md.
 *
 * Errors: functions return 0 or a negative errno code and, when given a
 * buffer, write a message naming what failed (key, index, offset).
 * Outcomes of commands (CAS mismatch, missing key, stale retry...) are not
 * errors: kv_apply() returns 0 and describes them in struct kv_result.
 */
#ifndef RAFTKV_KV_H
#define RAFTKV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvcmd.h"

struct kv;

struct kv_config {
	size_t		 max_key_len;	/* default 4096 */
	size_t		 max_value_len;	/* default 1 MiB */
	uint64_t	 session_window; /* indexes of inactivity before a
					    session expires; default 100000 */
	size_t		 max_sessions;	/* live sessions; default 100000 */
	size_t		 tombstone_capacity; /* expired ids remembered;
					    default 100000 */
	uint64_t	 table_seed;	/* hash-table layout only (sessions and
					    the key index); may differ between
					    nodes, never changes what they hold */
};

/* The outcome of one command. */
enum kv_status {
	KV_OK = 0,		/* applied */
	KV_NOT_FOUND,		/* DELETE of a missing key (nothing changed) */
	KV_CAS_FAILED,		/* cas mismatch; mod_index = current, 0 if absent */
	KV_STALE,		/* seq lower than the session's last seq */
	KV_SESSION_EXPIRED,	/* unknown or expired client session */
	KV_INVALID,		/* malformed payload or a limit exceeded */
};

struct kv_result {
	enum kv_status	 status;
	uint64_t	 index;		/* log index of the entry that produced
					   this result (the original one for a
					   duplicate) */
	uint64_t	 mod_index;	/* OK PUT: index; OK DELETE: the deleted
					   record's last mod index; CAS_FAILED:
					   current mod index (0 if absent) */
	bool		 existed;	/* the key existed before the command */
	bool		 duplicate;	/* a stored result replayed for a retry */
};

/* A record as seen by readers; pointers borrowed, valid until next apply. */
struct kv_entry {
	const void	*key;
	size_t		 key_len;
	const void	*value;
	size_t		 value_len;
	uint64_t	 mod_index;
	uint64_t	 create_index;
};

/*
 * Snapshot stream callbacks.  The writer returns 0 or a negative errno.  The
 * reader returns the number of bytes it stored in buf (1..len), 0 at the end
 * of the stream, or a negative errno; short reads are fine.
 */
typedef int	(*kv_write_fn)(void *arg, const void *buf, size_t len);
typedef ssize_t	(*kv_read_fn)(void *arg, void *buf, size_t len);

/* Returns a constant name for status ("OK", "CAS_FAILED"...). */
const char	*kv_status_name(enum kv_status status);
/* Fills cfg with the defaults above. */
void		 kv_config_default(struct kv_config *cfg);
/*
 * Makes an empty state machine at applied index 0 into *out (new; release
 * with kv_free()).  cfg is copied.  Returns 0, -EINVAL or -ENOMEM.
 */
int		 kv_new(const struct kv_config *cfg, struct kv **out, char *err,
		    size_t errlen);
/* Frees kv and everything it owns; NULL is fine. */
void		 kv_free(struct kv *kv);

/*
 * Applies the NORMAL log entry at index whose payload (borrowed) is a kvcmd
 * encoding.  index must be above the applied index.  A payload that does not
 * decode is applied as a no-op with status KV_INVALID and the reason in err.
 * Returns 0 (outcome in *res), -EINVAL if index does not advance (nothing
 * changes), or -ENOMEM (see docs/kv.md: retrying the same call is safe).
 */
int		 kv_apply(struct kv *kv, uint64_t index, const void *payload,
		    size_t len, struct kv_result *res, char *err, size_t errlen);
/* Same as kv_apply() with an already decoded command (borrowed). */
int		 kv_apply_cmd(struct kv *kv, uint64_t index,
		    const struct kvcmd *cmd, struct kv_result *res, char *err,
		    size_t errlen);
/*
 * Advances the applied index over a NOOP or CONFIG entry, expiring sessions.
 * Returns 0 or -EINVAL if index does not advance.
 */
int		 kv_apply_noop(struct kv *kv, uint64_t index, char *err,
		    size_t errlen);

/* Looks key up (borrowed).  Returns 0 with *out filled, or -ENOENT. */
int		 kv_get(const struct kv *kv, const void *key, size_t key_len,
		    struct kv_entry *out);
/*
 * Lists up to limit records whose key starts with prefix, in key order,
 * starting after start_after (none when start_after_len is 0).  Fills out[]
 * (caller's array of limit entries; pointers borrowed) and returns the
 * count; *more says whether further records match, in which case the last
 * returned key is the continuation key.
 */
size_t		 kv_list(const struct kv *kv, const void *prefix,
		    size_t prefix_len, const void *start_after,
		    size_t start_after_len, struct kv_entry *out, size_t limit,
		    bool *more);

/* Returns the index of the last applied entry (0 when empty). */
uint64_t	 kv_applied_index(const struct kv *kv);
/* Returns the order-independent 64-bit state hash, in O(1). */
uint64_t	 kv_state_hash(const struct kv *kv);
/* Returns the number of records. */
size_t		 kv_count(const struct kv *kv);
/* Returns the total key plus value bytes stored. */
uint64_t	 kv_data_bytes(const struct kv *kv);
/* Returns the number of live sessions. */
size_t		 kv_session_count(const struct kv *kv);
/* Returns the number of expired client ids remembered. */
size_t		 kv_tombstone_count(const struct kv *kv);
/*
 * Looks a live session up.  Returns 0 with its last seq and last activity
 * index, -ENOENT if unknown, or -ESTALE if the id is a tombstone.
 */
int		 kv_session_get(const struct kv *kv, uint64_t client_id,
		    uint64_t *last_seq, uint64_t *last_index);

/*
 * Streams the whole state to fn.  Only reads kv (safe in a forked child or
 * against a frozen copy).  Returns 0 or the first error from fn.
 */
int		 kv_snapshot_write(const struct kv *kv, kv_write_fn fn,
		    void *arg, char *err, size_t errlen);
/*
 * Builds a new state machine from a snapshot stream into *out (new; release
 * with kv_free()).  cfg (copied) gives the size limits and table seed; the
 * session window and capacities come from the snapshot.  Verifies the format,
 * every invariant, the checksum and the state hash.  Returns 0, -EINVAL
 * (corrupt or truncated input, with the offset in err), -ENOMEM, or the
 * reader's error.
 */
int		 kv_snapshot_read(const struct kv_config *cfg, kv_read_fn fn,
		    void *arg, struct kv **out, char *err, size_t errlen);

#endif /* RAFTKV_KV_H */
