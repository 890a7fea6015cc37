/*
 * snapload.h -- builds the key-value state machine from a snapshot file,
 * and writes one from it.
 *
 * Used at startup, after installing a snapshot received from the leader
 * (on the disk thread), and by `raftkvd restore`.  Every caller has
 * verified the file as a whole already (storage_open(), the receiver,
 * restore's source check), so only its header and trailer are read again
 * (storage_snapshot_file_meta()); the image is read with pread and decoded
 * by kv_snapshot_read(), which checks the image's own checksum, every
 * invariant and the state hash.
 */
#ifndef RAFTKV_SNAPLOAD_H
#define RAFTKV_SNAPLOAD_H

#include <stddef.h>
#include <stdint.h>

/* The tags of the daemon's snapshot files (storage_snapshot_create()). */
#define SNAPLOAD_TAG_LOCAL	"build"	/* written by the forked child */
#define SNAPLOAD_TAG_RECEIVED	"recv"	/* received from the leader */

struct kv;
struct kv_config;
struct storage_snapshot_meta;
struct vfs;

/*
 * Loads the snapshot file at path (borrowed) into a new state machine
 * *out (release with kv_free()), configured by cfg (copied).  The file
 * must have been verified as a whole already.  meta, when not NULL,
 * receives the file's metadata (its config is owned by the
 * caller then).  The state machine's applied index must equal the
 * snapshot's index.  Returns 0, -EBADMSG (corrupt file or image, err says
 * where), -ENOMEM or another negative errno.
 */
int	 snapload_kv(const char *path, const struct kv_config *cfg,
	    struct kv **out, struct storage_snapshot_meta *meta, char *err,
	    size_t errlen);

/*
 * Writes kv (only read: safe in a forked child) as the finished snapshot
 * file DIR/snapshot-INDEX.TAG.tmp (storage_snapshot_create() .. finish();
 * config borrowed), ready for storage_snapshot_install().  When
 * progress_fd >= 0, one byte '.' is written to it for every
 * SNAPLOAD_PROGRESS_BYTES of image, so that a parent can tell a slow child
 * from a stuck one.  On failure the file is removed.  Returns 0 or a
 * negative errno with err filled.
 */
#define SNAPLOAD_PROGRESS_BYTES	(4u << 20)
int	 snapload_save(const struct kv *kv, const char *dir, struct vfs *vfs,
	    const char *tag, uint64_t index, uint64_t term,
	    const uint8_t *config, size_t config_len, int progress_fd,
	    char *err, size_t errlen);

#endif /* RAFTKV_SNAPLOAD_H */
