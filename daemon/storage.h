/*
 * storage.h -- durable storage of one raftkvd node: the segmented log, the
 * hard state, snapshot files, and the data directory that holds them.
 *
 * Threading: not thread-safe.  The daemon calls everything from one disk
 * thread, serially.  Inside, one helper thread (started by storage_open(),
 * joined by storage_close()) preallocates and zero-fills the next segment
 * file while the current one fills, so that no append waits for it.
 *
 * Errors: every function returning int returns 0 or a negative errno, and
 * writes what failed -- file, offset, what was expected -- into the
 * caller's buffer err of errlen bytes.  Codes used:
 *   -EBADMSG   corruption (names file and offset); the node must not start;
 *   -EBUSY     another process holds the data directory's lock;
 *   -ESTALE    the directory belongs to another cluster or node;
 *   -EIO, -ENOSPC (or another write errno)  a write or sync failed: the
 *              storage is then STORAGE_FAILED and every later call returns
 *              that same error, since nothing written after a failed write
 *              or fsync can be trusted;
 *   -EINVAL    a call that breaks the log's rules (gap, compacted index).
 *
 * Durability contract: when storage_sync() (or storage_append_sync())
 * returns 0, every entry appended before it is durable.  When
 * storage_save_hard_state() returns 0 the hard state is durable.  Snapshot
 * installation is durable when storage_snapshot_commit() returns 0.
 * See docs/storage.md.
 */
#ifndef RAFTKV_STORAGE_H
#define RAFTKV_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

struct logger;
struct vfs;
struct storage;
struct storage_snapshot_writer;

enum storage_state {
	STORAGE_OK = 0,
	STORAGE_FAILED,		/* a write or sync failed; see storage_error() */
};

struct storage_options {
	uint64_t	 cluster_id;	/* nonzero */
	uint64_t	 node_id;	/* nonzero */
	size_t		 segment_bytes;	/* preallocated size, default 64 MiB */
	/*
	 * The most bytes ever written without a sync (default 32 MiB): a
	 * larger batch is synced in parts.  Recovery accepts valid records
	 * within this window after an invalid one as a torn tail.
	 */
	size_t		 max_unsynced_bytes;
	struct vfs	*vfs;		/* borrowed; NULL: plain POSIX */
	const struct logger *log;	/* borrowed; NULL: silent */
};

/* Fills *o with the defaults; the caller then sets the ids. */
void	 storage_options_init(struct storage_options *o);

/*
 * Opens (creating if needed) the data directory dir (copied) and recovers
 * it: takes the flock, checks the identity, cleans partial files, truncates
 * a torn log tail (logged at warn), and refuses corruption.  On success
 * *out is new and owned by the caller (storage_close()).  opts is copied;
 * opts->vfs and opts->log must outlive the storage.
 */
int	 storage_open(const char *dir, const struct storage_options *opts,
	    struct storage **out, char *err, size_t errlen);

/* What the node restores its core from. */
struct storage_loaded {
	struct raft_hard_state hs;	/* commit: a lower bound */
	bool		 has_snapshot;
	raft_index_t	 snapshot_index;
	raft_term_t	 snapshot_term;
	uint8_t		*snapshot_config;	/* owned; raft_cluster_encode() */
	size_t		 snapshot_config_len;
	uint64_t	 snapshot_image_len;
	/*
	 * Entries snapshot_index+1 .. last, contiguous.  The array and every
	 * entries[i].data are owned by this struct until
	 * storage_loaded_free().
	 */
	struct raft_entry *entries;
	size_t		 n_entries;
	void		*arena;			/* owned; the payload bytes */
};

/* Fills *out (caller's struct, contents new) with everything to restore. */
int	 storage_load(struct storage *st, struct storage_loaded *out,
	    char *err, size_t errlen);
/* Frees what storage_load() put in *l (the struct itself is the caller's). */
void	 storage_loaded_free(struct storage_loaded *l);

/*
 * Appends entries[0..n) (borrowed; data copied to the file).  If
 * entries[0].index <= the last index, the log is first truncated from
 * entries[0].index (a conflict).  Indices must be contiguous.  commit is
 * recorded with the batch (lazily persisted; 0 = unchanged).  Bytes are
 * written (page cache) but only durable after storage_sync(); a batch
 * larger than max_unsynced_bytes is synced in parts.  n may be 0.
 */
int	 storage_append(struct storage *st, const struct raft_entry *entries,
	    size_t n, raft_index_t commit, char *err, size_t errlen);
/* Makes everything appended so far durable: one fdatasync (+ dir fsync). */
int	 storage_sync(struct storage *st, char *err, size_t errlen);
/* storage_append() then storage_sync(). */
int	 storage_append_sync(struct storage *st,
	    const struct raft_entry *entries, size_t n, raft_index_t commit,
	    char *err, size_t errlen);

/*
 * Writes hs (borrowed) atomically and durably (temp file, fdatasync,
 * rename, directory fsync).  Call when term or vote change; the commit
 * index in it is also a lower bound.
 */
int	 storage_save_hard_state(struct storage *st,
	    const struct raft_hard_state *hs, char *err, size_t errlen);

/* Drops every entry after last_kept (durable on return). */
int	 storage_truncate_suffix(struct storage *st, raft_index_t last_kept,
	    char *err, size_t errlen);
/*
 * Deletes whole closed segments whose entries are all <= upto (compaction
 * after a snapshot at upto).  Entries <= upto may remain in a segment that
 * also holds later ones.
 */
int	 storage_compact(struct storage *st, raft_index_t upto, char *err,
	    size_t errlen);
/*
 * Discards the whole log; the next append starts at index + 1.  For after
 * installing a snapshot at index that is ahead of the log.
 */
int	 storage_reset(struct storage *st, raft_index_t index, char *err,
	    size_t errlen);

/*
 * Reads entry index from its file.  On success *e is filled and e->data
 * points into *buf, a new buffer the caller frees with free().
 */
int	 storage_read_entry(struct storage *st, raft_index_t index,
	    struct raft_entry *e, uint8_t **buf, char *err, size_t errlen);
/* Called per entry by storage_read_range(); e->data borrowed for the call. */
typedef int storage_entry_fn(void *ctx, const struct raft_entry *e);
/* Calls cb for lo..hi (inclusive) in order; stops on cb's nonzero return. */
int	 storage_read_range(struct storage *st, raft_index_t lo,
	    raft_index_t hi, storage_entry_fn *cb, void *ctx, char *err,
	    size_t errlen);

/* First and last index in the log (first > last when it is empty). */
raft_index_t storage_first_index(const struct storage *st);
raft_index_t storage_last_index(const struct storage *st);
/* The last index made durable by a sync. */
raft_index_t storage_durable_index(const struct storage *st);
enum storage_state storage_get_state(const struct storage *st);
/* The error that failed the storage (0 if OK); its message (borrowed). */
int	 storage_error(const struct storage *st, const char **msg);

/*
 * Snapshots.  begin() starts a temporary file for a snapshot at index/term
 * with config (borrowed, copied); write() streams the image (borrowed);
 * commit() syncs, renames it into place, syncs the directory, and only
 * then removes older snapshots; abort() deletes the temporary file.  Both
 * commit() and abort() free *w.
 */
int	 storage_snapshot_begin(struct storage *st, raft_index_t index,
	    raft_term_t term, const uint8_t *config, size_t config_len,
	    struct storage_snapshot_writer **w, char *err, size_t errlen);
int	 storage_snapshot_write(struct storage_snapshot_writer *w,
	    const void *buf, size_t len, char *err, size_t errlen);
int	 storage_snapshot_commit(struct storage_snapshot_writer *w, char *err,
	    size_t errlen);
void	 storage_snapshot_abort(struct storage_snapshot_writer *w);
/* Called with successive chunks of the image (borrowed for the call). */
typedef int storage_chunk_fn(void *ctx, const uint8_t *buf, size_t len);
/*
 * Streams the latest snapshot's image to cb, verifying its checksum again
 * (-EBADMSG if it fails at the end: discard what was read).  -ENOENT if
 * there is no snapshot.
 */
int	 storage_snapshot_read(struct storage *st, storage_chunk_fn *cb,
	    void *ctx, char *err, size_t errlen);

/*
 * Checks the data directory dir (borrowed) without starting a node and
 * writes a report to report (borrowed).  With repair, a problem that
 * truncating the log can fix is fixed, after copying every file it cuts
 * into dir/repair-TIMESTAMP/.  vfs borrowed (NULL: POSIX), log optional.
 * Returns 0 if the directory is (now) sound, -EBADMSG if problems remain,
 * or another negative errno.
 */
int	 storage_check(const char *dir, bool repair, FILE *report,
	    struct vfs *vfs, char *err, size_t errlen);

/* Stops the helper thread, closes files and frees st (NULL allowed). */
void	 storage_close(struct storage *st);

#endif /* RAFTKV_STORAGE_H */
